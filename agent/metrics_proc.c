/* metrics_proc.c — machine metrics from /proc, see metrics.h. */
#include "agent/metrics.h"
#include "common/util.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>

#define PROC_SMALL_MAX (1u << 20)   /* stat, meminfo, net/dev ... */
#define PROC_TCP_MAX   (64u << 20)  /* /proc/net/tcp of a busy server */

/* ---- parsers ------------------------------------------------------------- */

int mp_parse_loadavg(const char *text, struct mp_loadavg *out)
{
	if (sscanf(text, "%lf %lf %lf %ld/%ld", &out->load[0], &out->load[1],
		   &out->load[2], &out->running, &out->total) != 5)
		return -1;
	return 0;
}

/* Start of the line after p (or the terminating NUL). */
static const char *next_line(const char *p)
{
	const char *nl = strchr(p, '\n');

	return nl ? nl + 1 : p + strlen(p);
}

static int parse_cpu_line(const char *line, struct mp_cpu *out)
{
	uint64_t f[8] = { 0 };
	int n = sscanf(line, "cpu %" SCNu64 " %" SCNu64 " %" SCNu64 " %" SCNu64
			     " %" SCNu64 " %" SCNu64 " %" SCNu64 " %" SCNu64,
		       &f[0], &f[1], &f[2], &f[3], &f[4], &f[5], &f[6], &f[7]);

	if (n < 4)
		return -1;
	out->total = 0;
	for (int i = 0; i < 8; i++)
		out->total += f[i];
	out->idle = f[3] + f[4];
	return 0;
}

int mp_parse_stat(const char *text, struct mp_stat *out)
{
	int have_cpu = 0;

	out->ncpu = 0;
	out->procs_running = -1;
	for (const char *p = text; *p; p = next_line(p)) {
		if (strncmp(p, "cpu ", 4) == 0)
			have_cpu = parse_cpu_line(p, &out->cpu) == 0;
		else if (strncmp(p, "cpu", 3) == 0 && isdigit((unsigned char)p[3]))
			out->ncpu++;
		else if (strncmp(p, "procs_running ", 14) == 0)
			out->procs_running = strtol(p + 14, NULL, 10);
	}
	return have_cpu && out->ncpu > 0 ? 0 : -1;
}

double mp_cpu_util(const struct mp_cpu *prev, const struct mp_cpu *now)
{
	double dt, di;

	if (now->total <= prev->total || now->idle < prev->idle)
		return NAN;
	dt = (double)(now->total - prev->total);
	di = (double)(now->idle - prev->idle);
	if (di > dt)
		di = dt;
	return 100.0 * (dt - di) / dt;
}

/* "Key:   123 kB" -> bytes. */
static int meminfo_value(const char *line, const char *key, uint64_t *out)
{
	size_t n = strlen(key);
	char *end;
	uint64_t v;

	if (strncmp(line, key, n) != 0 || line[n] != ':')
		return 0;
	v = strtoull(line + n + 1, &end, 10);
	while (*end == ' ')
		end++;
	*out = strncmp(end, "kB", 2) == 0 ? v * 1024 : v;
	return 1;
}

int mp_parse_meminfo(const char *text, struct mp_meminfo *out)
{
	int seen = 0;

	memset(out, 0, sizeof(*out));
	for (const char *p = text; *p; p = next_line(p)) {
		seen |= meminfo_value(p, "MemTotal", &out->total) << 0;
		seen |= meminfo_value(p, "MemAvailable", &out->avail) << 1;
		seen |= meminfo_value(p, "SwapTotal", &out->swap_total) << 2;
		seen |= meminfo_value(p, "SwapFree", &out->swap_free) << 3;
	}
	return (seen & 3) == 3 ? 0 : -1;
}

/* One "  eth0: rx ... tx ..." line; 1 counted, 0 skipped (lo, header). */
static int netdev_line(const char *line, uint64_t *rx, uint64_t *tx)
{
	const char *colon = strchr(line, ':');
	const char *nl = strchr(line, '\n');
	const char *name = line;
	uint64_t f[9];

	if (!colon || (nl && colon > nl))
		return 0;
	while (*name == ' ')
		name++;
	if (colon - name == 2 && strncmp(name, "lo", 2) == 0)
		return 0;
	if (sscanf(colon + 1, "%" SCNu64 " %" SCNu64 " %" SCNu64 " %" SCNu64
			      " %" SCNu64 " %" SCNu64 " %" SCNu64 " %" SCNu64
			      " %" SCNu64,
		   &f[0], &f[1], &f[2], &f[3], &f[4], &f[5], &f[6], &f[7],
		   &f[8]) != 9)
		return -1;
	*rx += f[0];
	*tx += f[8];
	return 1;
}

int mp_parse_netdev(const char *text, uint64_t *rx, uint64_t *tx)
{
	int lines = 0;

	*rx = *tx = 0;
	for (const char *p = text; *p; p = next_line(p)) {
		if (lines++ < 2)
			continue;   /* two header lines */
		if (netdev_line(p, rx, tx) < 0)
			return -1;
	}
	return lines >= 2 ? 0 : -1;
}

const char *const mp_tcp_state_names[MP_TCP_STATES] = {
	NULL,                  "sockets_established", "sockets_syn_sent",
	"sockets_syn_recv",    "sockets_fin_wait1",   "sockets_fin_wait2",
	"sockets_time_wait",   "sockets_close",       "sockets_close_wait",
	"sockets_last_ack",    "sockets_listen",      "sockets_closing",
};

/* "   0: 00000000:07E8 00000000:0000 0A ..." -> state field. */
static int tcp_line_state(const char *line)
{
	unsigned st;
	char la[64], ra[64];

	if (sscanf(line, " %*u: %63s %63s %x", la, ra, &st) != 3)
		return -1;
	return st < MP_TCP_STATES && st > 0 ? (int)st : -1;
}

int mp_parse_tcp(const char *text, unsigned counts[MP_TCP_STATES])
{
	const char *p = text;

	if (!strstr(text, "local_address"))
		return -1;
	for (p = next_line(p); *p; p = next_line(p)) {
		int st = tcp_line_state(p);

		if (st > 0)
			counts[st]++;
	}
	return 0;
}

int mp_parse_snmp_estab(const char *text, double *estab)
{
	const char *hdr = strstr(text, "Tcp: "), *val;
	int col = 0;

	if (!hdr || !(val = strstr(hdr + 5, "\nTcp: ")))
		return -1;
	/* the column of CurrEstab in the header line, then that value */
	for (const char *p = hdr + 5; *p && *p != '\n'; p++) {
		if (strncmp(p, "CurrEstab", 9) == 0 && (p[9] == ' ' || p[9] == '\n')) {
			const char *v = val + 6;

			for (int i = 0; i < col; i++) {
				v = strchr(v, ' ');
				if (!v)
					return -1;
				v++;
			}
			return sscanf(v, "%lf", estab) == 1 ? 0 : -1;
		}
		if (*p == ' ')
			col++;
	}
	return -1;
}

int mp_parse_sockstat_tw(const char *text, double *tw)
{
	const char *p = strstr(text, "TCP: ");
	const char *q = p ? strstr(p, " tw ") : NULL;
	const char *nl = p ? strchr(p, '\n') : NULL;

	if (!q || (nl && q > nl))
		return -1;
	return sscanf(q + 4, "%lf", tw) == 1 ? 0 : -1;
}

int mp_parse_psi(const char *text, double *some10)
{
	const char *p = strstr(text, "some avg10=");

	if (!p || (p != text && p[-1] != '\n'))
		return -1;
	return sscanf(p + 11, "%lf", some10) == 1 ? 0 : -1;
}

/* Decode the \ooo escapes of a mounts field in place. */
static void unescape_octal(char *s)
{
	char *w = s;

	for (char *r = s; *r; r++) {
		if (r[0] == '\\' && r[1] >= '0' && r[1] <= '3' && r[2] >= '0' &&
		    r[2] <= '7' && r[3] >= '0' && r[3] <= '7') {
			*w++ = (char)((r[1] - '0') * 64 + (r[2] - '0') * 8 + (r[3] - '0'));
			r += 3;
		} else {
			*w++ = *r;
		}
	}
	*w = '\0';
}

int mp_parse_mounts(const char *text, mp_mount_fn fn, void *ctx)
{
	char src[1024], mnt[1024], type[128];

	for (const char *p = text; *p; p = next_line(p)) {
		if (sscanf(p, "%1023s %1023s %127s", src, mnt, type) != 3)
			continue;
		unescape_octal(src);
		unescape_octal(mnt);
		if (fn(ctx, src, mnt, type) != 0)
			break;
	}
	return 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(a, *(const char *const *)b);
}

int mp_fs_is_pseudo(const char *type)
{
	/* sorted for bsearch */
	static const char *const pseudo[] = {
		"autofs", "binfmt_misc", "bpf", "cgroup", "cgroup2", "configfs",
		"debugfs", "devpts", "devtmpfs", "efivarfs", "fuse", "fusectl",
		"hugetlbfs", "mqueue", "nsfs", "proc", "pstore", "ramfs",
		"rootfs", "rpc_pipefs", "securityfs", "selinuxfs", "sysfs",
		"tmpfs", "tracefs",
	};

	if (strncmp(type, "fuse.", 5) == 0)
		return 1;   /* reschedfs itself, sshfs ...: statvfs may block */
	return bsearch(type, pseudo, ARRAY_SIZE(pseudo), sizeof(pseudo[0]),
		       cmp_str) != NULL;
}

int mp_mount_suffix(const char *mnt, char *buf, size_t size)
{
	size_t n = 0;

	if (mnt[0] != '/')
		return -1;
	for (const char *p = mnt + 1; *p; p++) {
		char c = *p == '/' ? '_' : *p;

		if (!isalnum((unsigned char)c) && !strchr("_-.", c))
			return -1;
		if (n + 1 >= size)
			return -1;
		buf[n++] = c;
	}
	if (n > 0 && buf[n - 1] == '_')
		n--;                /* "/data/" */
	if (size == 0)
		return -1;
	buf[n] = '\0';
	return 0;
}

/* ---- the sampler --------------------------------------------------------- */

void metrics_proc_init(struct mp_sampler *s, const char *root)
{
	memset(s, 0, sizeof(*s));
	s->root = root ? root : "/proc";
	s->with_disk = 1;
	s->tcp_period = MP_TCP_PERIOD;
	s->util_last = NAN;
}

static char *read_proc(const struct mp_sampler *s, const char *rel, size_t max)
{
	char path[1024];

	if ((size_t)snprintf(path, sizeof(path), "%s/%s", s->root, rel) >=
	    sizeof(path))
		return NULL;
	return util_read_file(path, max, NULL);
}

static void seterr(char *err, size_t errlen, const char *what, const char *rel)
{
	if (err && errlen)
		snprintf(err, errlen, "%s: %s", rel, what);
}

static int sample_loadavg(struct mp_sampler *s, struct metric_set *out,
			  char *err, size_t errlen)
{
	struct mp_loadavg la;
	char *t = read_proc(s, "loadavg", PROC_SMALL_MAX);
	int r = t ? mp_parse_loadavg(t, &la) : -1;

	free(t);
	if (r < 0) {
		seterr(err, errlen, t ? "unexpected format" : strerror(errno),
		       "loadavg");
		return -1;
	}
	metric_set_put(out, "load1", la.load[0]);
	metric_set_put(out, "load5", la.load[1]);
	metric_set_put(out, "load15", la.load[2]);
	return 0;
}

static int sample_stat(struct mp_sampler *s, struct metric_set *out,
		       char *err, size_t errlen)
{
	struct mp_stat st;
	char *t = read_proc(s, "stat", PROC_SMALL_MAX);
	int r = t ? mp_parse_stat(t, &st) : -1;

	free(t);
	if (r < 0) {
		seterr(err, errlen, t ? "unexpected format" : strerror(errno),
		       "stat");
		return -1;
	}
	metric_set_put(out, "cpus", st.ncpu);
	if (st.procs_running >= 0)
		metric_set_put(out, "procs_running", (double)st.procs_running);
	if (s->have_prev) {
		double u = mp_cpu_util(&s->cpu_prev, &st.cpu);

		if (isnan(u) && st.cpu.total == s->cpu_prev.total)
			u = s->util_last;   /* no tick since: keep the last value */
		else
			s->cpu_prev = st.cpu;
		if (!isnan(u)) {
			s->util_last = u;
			metric_set_put(out, "cpu_util", u);
			metric_set_put(out, "cpu_idle", 100.0 - u);
		}
	} else {
		s->cpu_prev = st.cpu;
	}
	return 0;
}

static double pct(uint64_t part, uint64_t whole)
{
	return whole ? 100.0 * (double)part / (double)whole : 0.0;
}

static int sample_meminfo(struct mp_sampler *s, struct metric_set *out,
			  char *err, size_t errlen)
{
	struct mp_meminfo mi;
	char *t = read_proc(s, "meminfo", PROC_SMALL_MAX);
	int r = t ? mp_parse_meminfo(t, &mi) : -1;

	free(t);
	if (r < 0) {
		seterr(err, errlen, t ? "unexpected format" : strerror(errno),
		       "meminfo");
		return -1;
	}
	metric_set_put(out, "mem_total", (double)mi.total);
	metric_set_put(out, "mem_avail", (double)mi.avail);
	metric_set_put(out, "mem_avail_pct", pct(mi.avail, mi.total));
	metric_set_put(out, "swap_total", (double)mi.swap_total);
	metric_set_put(out, "swap_free", (double)mi.swap_free);
	metric_set_put(out, "swap_used_pct",
		       pct(mi.swap_total - mi.swap_free, mi.swap_total));
	return 0;
}

/* Number of processes: numeric entries of the proc root. */
static void sample_procs(struct mp_sampler *s, struct metric_set *out)
{
	DIR *d = opendir(s->root);
	struct dirent *e;
	long n = 0;

	if (!d)
		return;
	while ((e = readdir(d)))
		if (isdigit((unsigned char)e->d_name[0]))
			n++;
	closedir(d);
	metric_set_put(out, "procs", (double)n);
}

static void sample_net(struct mp_sampler *s, double now, struct metric_set *out)
{
	uint64_t rx, tx;
	char *t = read_proc(s, "net/dev", PROC_SMALL_MAX);
	int r = t ? mp_parse_netdev(t, &rx, &tx) : -1;
	double dt = now - s->t_prev;

	free(t);
	if (r < 0)
		return;
	if (s->have_prev && dt > 0 && rx >= s->rx_prev && tx >= s->tx_prev) {
		double rbps = (double)(rx - s->rx_prev) / dt;
		double tbps = (double)(tx - s->tx_prev) / dt;

		metric_set_put(out, "net_rx_bps", rbps);
		metric_set_put(out, "net_tx_bps", tbps);
		metric_set_put(out, "net_bps", rbps + tbps);
	}
	s->rx_prev = rx;
	s->tx_prev = tx;
}

static void tcp_walk(struct mp_sampler *s, double now)
{
	static const char *const files[] = { "net/tcp", "net/tcp6" };
	unsigned counts[MP_TCP_STATES] = { 0 };
	int any = 0;

	for (size_t i = 0; i < ARRAY_SIZE(files); i++) {
		char *t = read_proc(s, files[i], PROC_TCP_MAX);

		if (t && mp_parse_tcp(t, counts) == 0)
			any = 1;
		free(t);
	}
	s->t_tcp = now;
	s->have_tcp = any;
	memcpy(s->tcp_counts, counts, sizeof(counts));
}

/* Overwrite one socket metric from a cheap counter file, when present. */
static void tcp_counter(struct mp_sampler *s, const char *rel, const char *name,
			int (*parse)(const char *, double *), struct metric_set *out)
{
	char *t = read_proc(s, rel, PROC_SMALL_MAX);
	double v;

	if (t && parse(t, &v) == 0)
		metric_set_put(out, name, v);
	free(t);
}

static void sample_tcp(struct mp_sampler *s, double now, struct metric_set *out)
{
	if (!s->have_prev || now - s->t_tcp >= s->tcp_period || now < s->t_tcp)
		tcp_walk(s, now);
	if (!s->have_tcp)
		return;
	for (int st = 1; st < MP_TCP_STATES; st++)
		metric_set_put(out, mp_tcp_state_names[st], s->tcp_counts[st]);
	tcp_counter(s, "net/snmp", "sockets_established", mp_parse_snmp_estab, out);
	tcp_counter(s, "net/sockstat", "sockets_time_wait", mp_parse_sockstat_tw, out);
}

static void sample_psi(struct mp_sampler *s, struct metric_set *out)
{
	static const char *const files[][2] = {
		{ "pressure/cpu", "psi_cpu_some10" },
		{ "pressure/memory", "psi_mem_some10" },
		{ "pressure/io", "psi_io_some10" },
	};

	for (size_t i = 0; i < ARRAY_SIZE(files); i++) {
		char *t = read_proc(s, files[i][0], PROC_SMALL_MAX);
		double v;

		if (t && mp_parse_psi(t, &v) == 0)
			metric_set_put(out, files[i][1], v);
		free(t);
	}
}

/* Devices already reported, so bind mounts count once. */
struct disk_ctx {
	struct metric_set *out;
	dev_t seen[64];
	size_t nseen;
};

static int disk_seen(struct disk_ctx *c, dev_t dev)
{
	for (size_t i = 0; i < c->nseen; i++)
		if (c->seen[i] == dev)
			return 1;
	if (c->nseen < ARRAY_SIZE(c->seen))
		c->seen[c->nseen++] = dev;
	return 0;
}

static void disk_put(struct metric_set *out, const char *suffix,
		     const struct statvfs *v)
{
	char name[METRIC_NAME_MAX];
	double avail = (double)v->f_bavail * (double)v->f_frsize;
	double total = (double)v->f_blocks * (double)v->f_frsize;
	const char *dot = *suffix ? "." : "";

	snprintf(name, sizeof(name), "disk_avail%s%s", dot, suffix);
	metric_set_put(out, name, avail);
	snprintf(name, sizeof(name), "disk_avail_pct%s%s", dot, suffix);
	metric_set_put(out, name, total > 0 ? 100.0 * avail / total : 0.0);
}

static int disk_mount(void *ctx, const char *src, const char *mnt,
		      const char *type)
{
	struct disk_ctx *c = ctx;
	char suffix[METRIC_NAME_MAX - 20];
	struct statvfs v;
	struct stat st;

	(void)src;
	if (strcmp(mnt, "/") == 0 || mp_fs_is_pseudo(type) ||
	    strcmp(type, "overlay") == 0 ||
	    mp_mount_suffix(mnt, suffix, sizeof(suffix)) < 0)
		return 0;   /* "/" is done; pseudo filesystems have no disk */
	if (stat(mnt, &st) < 0 || statvfs(mnt, &v) < 0 || disk_seen(c, st.st_dev))
		return 0;
	disk_put(c->out, suffix, &v);
	return 0;
}

static void sample_disk(struct mp_sampler *s, struct metric_set *out)
{
	struct disk_ctx c = { .out = out, .nseen = 0 };
	struct statvfs v;
	struct stat st;
	char *t;

	/* "/" first, so it owns its device even when a bind mount precedes */
	if (stat("/", &st) == 0 && statvfs("/", &v) == 0) {
		disk_seen(&c, st.st_dev);
		disk_put(out, "", &v);
	}
	t = read_proc(s, "self/mounts", PROC_SMALL_MAX);
	if (t)
		mp_parse_mounts(t, disk_mount, &c);
	free(t);
}

int metrics_proc_sample(struct mp_sampler *s, double now,
			struct metric_set *out, char *err, size_t errlen)
{
	if (sample_loadavg(s, out, err, errlen) < 0 ||
	    sample_stat(s, out, err, errlen) < 0 ||
	    sample_meminfo(s, out, err, errlen) < 0)
		return -1;
	sample_procs(s, out);
	sample_net(s, now, out);
	sample_tcp(s, now, out);
	sample_psi(s, out);
	if (s->with_disk)
		sample_disk(s, out);
	s->t_prev = now;
	s->have_prev = 1;
	return 0;
}
