# overhead.gp — 1-minute load average and CPU of the machine, without and
# with the rescheduler (each phase from its own start).
# gnuplot -e "without='...'; with='...'; outfile='...'" overhead.gp
# files: "t load1 load5 cpu%" once a second.
set terminal pngcairo size 1000,600 font "sans,10" noenhanced
set output outfile
set multiplot layout 2,1 title "Overhead: the machine without and with reschedfs + 2 agents (1 s samples)"
set grid
set xlabel "time since the start of the phase (s)"
set ylabel "1-minute load average"
plot without using 1:2 with lines lw 2 title "without", with using 1:2 with lines lw 2 title "with"
set ylabel "CPU busy (% of the machine)"
plot without using 1:4 with lines title "without", with using 1:4 with lines title "with"
unset multiplot
