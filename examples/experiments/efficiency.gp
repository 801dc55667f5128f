# efficiency.gp — CPU of both hosts during one automatic migration.
# gnuplot -e "datafile='...'; marks='...'; outfile='...'; quota=50" efficiency.gp
# datafile: "t h1% h2%" (percent of one core); marks: "label t" per event.
set terminal pngcairo size 1000,500 font "sans,10" noenhanced
set output outfile
set title "Efficiency: CPU use of h1 (source) and h2 (destination), cgroup cpuacct every 0.5 s"
set xlabel "time since the start of the test (s)"
set ylabel "CPU (% of one core)"
set yrange [0:quota * 1.5]
set grid
set key bottom left opaque
plot datafile using 1:2 with lines lw 2 title "h1 (source)", \
     datafile using 1:3 with lines lw 2 title "h2 (destination)", \
     marks using 2:(0):(0):(quota * 1.5) with vectors nohead lc rgb "gray50" dt 2 notitle, \
     marks using 2:(quota * (1.12 + 0.06 * $0)):1 with labels left font ",8" notitle
