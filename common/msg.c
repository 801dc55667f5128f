/* msg.c — see msg.h.  Pure codec plus blocking fd helpers. */
#include "common/msg.h"
#include "common/util.h"

#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

struct msg_pair {
	char *key;
	char *val;
};

struct msg {
	char *type;
	struct msg_pair *p;  /* n used of cap */
	size_t n, cap;
};

/* ---- words and escapes -------------------------------------------------- */

static int word_char(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
	       c == '.' || c == '-';
}

static int word_ok_n(const char *s, size_t n)
{
	if (n == 0 || n > MSG_WORD_MAX)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!word_char((unsigned char)s[i]))
			return 0;
	return 1;
}

int msg_word_ok(const char *s)
{
	return s && word_ok_n(s, strlen(s));
}

static int needs_escape(unsigned char c)
{
	return c < 0x20 || c == 0x7f || c == '%' || c == ' ' || c == '=';
}

static int hex_val(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

size_t msg_escaped_len(const char *v)
{
	size_t n = 0;

	for (; *v; v++)
		n += needs_escape((unsigned char)*v) ? 3 : 1;
	return n;
}

static char *escape_into(char *out, const char *v)
{
	static const char hex[] = "0123456789ABCDEF";

	for (; *v; v++) {
		unsigned char c = (unsigned char)*v;

		if (needs_escape(c)) {
			*out++ = '%';
			*out++ = hex[c >> 4];
			*out++ = hex[c & 15];
		} else {
			*out++ = (char)c;
		}
	}
	return out;
}

/* ---- building ----------------------------------------------------------- */

struct msg *msg_new(const char *type)
{
	struct msg *m;

	if (!msg_word_ok(type)) {
		errno = EINVAL;
		return NULL;
	}
	m = calloc(1, sizeof(*m));
	if (!m)
		return NULL;
	m->type = strdup(type);
	if (!m->type) {
		free(m);
		return NULL;
	}
	return m;
}

void msg_free(struct msg *m)
{
	if (!m)
		return;
	for (size_t i = 0; i < m->n; i++) {
		free(m->p[i].key);
		free(m->p[i].val);
	}
	free(m->p);
	free(m->type);
	free(m);
}

static struct msg_pair *find_pair(const struct msg *m, const char *key)
{
	for (size_t i = 0; i < m->n; i++)
		if (strcmp(m->p[i].key, key) == 0)
			return &m->p[i];
	return NULL;
}

static int grow(struct msg *m)
{
	size_t cap;
	struct msg_pair *np;

	if (m->n < m->cap)
		return 0;
	if (m->n >= MSG_KEYS_MAX) {
		errno = E2BIG;
		return -1;
	}
	cap = m->cap ? m->cap * 2 : 8;
	if (cap > MSG_KEYS_MAX)
		cap = MSG_KEYS_MAX;
	np = realloc(m->p, cap * sizeof(*np));
	if (!np)
		return -1;
	m->p = np;
	m->cap = cap;
	return 0;
}

/* Append a pair taking ownership of key and val (freed on failure). */
static int append_owned(struct msg *m, char *key, char *val)
{
	if (grow(m) < 0) {
		free(key);
		free(val);
		return -1;
	}
	m->p[m->n].key = key;
	m->p[m->n].val = val;
	m->n++;
	return 0;
}

int msg_set(struct msg *m, const char *key, const char *val)
{
	struct msg_pair *p;
	char *v, *k;

	if (!m || !msg_word_ok(key) || !val) {
		errno = EINVAL;
		return -1;
	}
	v = strdup(val);
	if (!v)
		return -1;
	p = find_pair(m, key);
	if (p) {
		free(p->val);
		p->val = v;
		return 0;
	}
	k = strdup(key);
	if (!k) {
		free(v);
		return -1;
	}
	return append_owned(m, k, v);
}

int msg_vsetf(struct msg *m, const char *key, const char *fmt, va_list ap)
{
	char *s;
	int rc;

	if (vasprintf(&s, fmt, ap) < 0)
		return -1;
	rc = msg_set(m, key, s);
	free(s);
	return rc;
}

int msg_setf(struct msg *m, const char *key, const char *fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = msg_vsetf(m, key, fmt, ap);
	va_end(ap);
	return rc;
}

int msg_set_num(struct msg *m, const char *key, double v)
{
	char buf[64];

	return msg_set(m, key, util_fmt_num(buf, sizeof(buf), v));
}

int msg_del(struct msg *m, const char *key)
{
	struct msg_pair *p = find_pair(m, key);
	size_t i;

	if (!p)
		return -1;
	i = (size_t)(p - m->p);
	free(p->key);
	free(p->val);
	memmove(&m->p[i], &m->p[i + 1], (m->n - i - 1) * sizeof(*p));
	m->n--;
	return 0;
}

/* ---- reading ------------------------------------------------------------ */

const char *msg_type(const struct msg *m) { return m->type; }
size_t msg_count(const struct msg *m) { return m->n; }

const char *msg_get(const struct msg *m, const char *key)
{
	const struct msg_pair *p = key ? find_pair(m, key) : NULL;

	return p ? p->val : NULL;
}

int msg_get_num(const struct msg *m, const char *key, double *out)
{
	const char *v = msg_get(m, key);
	double d;

	if (!v || util_parse_double(v, &d) < 0)
		return -1;
	*out = d;
	return 0;
}

const char *msg_key(const struct msg *m, size_t i)
{
	return i < m->n ? m->p[i].key : NULL;
}

const char *msg_val(const struct msg *m, size_t i)
{
	return i < m->n ? m->p[i].val : NULL;
}

/* ---- encoding ----------------------------------------------------------- */

static size_t encoded_len(const struct msg *m)
{
	size_t n = strlen(m->type) + 1;  /* '\n' */

	for (size_t i = 0; i < m->n; i++) {
		n += 2 + strlen(m->p[i].key) + msg_escaped_len(m->p[i].val);
		if (n > MSG_LINE_MAX)
			break;
	}
	return n;
}

char *msg_encode(const struct msg *m, size_t *len)
{
	size_t n = encoded_len(m), tl = strlen(m->type);
	char *buf, *o;

	if (n > MSG_LINE_MAX) {
		errno = EMSGSIZE;
		return NULL;
	}
	buf = malloc(n + 1);
	if (!buf)
		return NULL;
	memcpy(buf, m->type, tl);
	o = buf + tl;
	for (size_t i = 0; i < m->n; i++) {
		size_t kl = strlen(m->p[i].key);

		*o++ = ' ';
		memcpy(o, m->p[i].key, kl);
		o += kl;
		*o++ = '=';
		o = escape_into(o, m->p[i].val);
	}
	*o++ = '\n';
	*o = '\0';
	if (len)
		*len = n;
	return buf;
}

/* ---- decoding ----------------------------------------------------------- */

/* Unescape s[0..n) into a new string; NULL with a reason on error. */
static char *unescape(const char *s, size_t n, char *err, size_t errlen)
{
	char *out = malloc(n + 1), *o = out;

	if (!out) {
		util_set_err(err, errlen, "out of memory");
		return NULL;
	}
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		int hi, lo;

		if (c != '%') {
			if (needs_escape(c)) {
				util_set_err(err, errlen, "raw byte 0x%02x must be escaped", c);
				goto fail;
			}
			*o++ = (char)c;
			continue;
		}
		hi = i + 1 < n ? hex_val((unsigned char)s[i + 1]) : -1;
		lo = i + 2 < n ? hex_val((unsigned char)s[i + 2]) : -1;
		if (hi < 0 || lo < 0) {
			util_set_err(err, errlen, "bad escape");
			goto fail;
		}
		if (hi == 0 && lo == 0) {
			util_set_err(err, errlen, "embedded NUL");
			goto fail;
		}
		*o++ = (char)(hi << 4 | lo);
		i += 2;
	}
	*o = '\0';
	return out;
fail:
	free(out);
	return NULL;
}

/* Parse one `key=value` token of n bytes and append it to m. */
static int decode_pair(struct msg *m, const char *tok, size_t n, char *err,
		       size_t errlen)
{
	const char *eq = memchr(tok, '=', n);
	size_t kl;
	char *key, *val;

	if (!eq) {
		util_set_err(err, errlen, "pair %zu has no '='", m->n + 1);
		return -1;
	}
	kl = (size_t)(eq - tok);
	if (!word_ok_n(tok, kl)) {
		util_set_err(err, errlen, "bad key in pair %zu", m->n + 1);
		return -1;
	}
	if (m->n >= MSG_KEYS_MAX) {
		util_set_err(err, errlen, "more than %d keys", MSG_KEYS_MAX);
		return -1;
	}
	val = unescape(eq + 1, n - kl - 1, err, errlen);
	if (!val)
		return -1;
	key = strndup(tok, kl);
	if (!key || append_owned(m, key, val) < 0) {
		if (!key)
			free(val);
		util_set_err(err, errlen, "out of memory");
		return -1;
	}
	return 0;
}

static int cmp_keys(const void *a, const void *b)
{
	const char *const *x = a, *const *y = b;

	return strcmp(*x, *y);
}

/* 0 if all keys are distinct; else -1 with the duplicate named in err. */
static int check_dups(const struct msg *m, char *err, size_t errlen)
{
	const char **k;
	int rc = 0;

	if (m->n < 2)
		return 0;
	k = malloc(m->n * sizeof(*k));
	if (!k) {
		util_set_err(err, errlen, "out of memory");
		return -1;
	}
	for (size_t i = 0; i < m->n; i++)
		k[i] = m->p[i].key;
	qsort(k, m->n, sizeof(*k), cmp_keys);
	for (size_t i = 1; i < m->n && rc == 0; i++)
		if (strcmp(k[i - 1], k[i]) == 0) {
			util_set_err(err, errlen, "duplicate key '%.64s'", k[i]);
			rc = -1;
		}
	free(k);
	return rc;
}

/* Check the line as a whole; returns its length without the final '\n'. */
static int check_line(const char *buf, size_t len, size_t *body, char *err,
		      size_t errlen)
{
	if (len > 0 && buf[len - 1] == '\n')
		len--;
	if (len + 1 > MSG_LINE_MAX) {  /* counted with its '\n' */
		util_set_err(err, errlen, "line longer than %d bytes", MSG_LINE_MAX);
		return -1;
	}
	if (len == 0) {
		util_set_err(err, errlen, "empty line");
		return -1;
	}
	if (memchr(buf, '\0', len)) {
		util_set_err(err, errlen, "embedded NUL");
		return -1;
	}
	*body = len;
	return 0;
}

static struct msg *decode_type(const char *buf, size_t tl, char *err,
			       size_t errlen)
{
	char type[MSG_WORD_MAX + 1];
	struct msg *m;

	if (!word_ok_n(buf, tl)) {
		util_set_err(err, errlen, "bad message type");
		return NULL;
	}
	memcpy(type, buf, tl);
	type[tl] = '\0';
	m = msg_new(type);
	if (!m)
		util_set_err(err, errlen, "out of memory");
	return m;
}

struct msg *msg_decode(const char *buf, size_t len, char *err, size_t errlen)
{
	const char *p, *end, *sp;
	struct msg *m;
	size_t n;

	if (!buf || check_line(buf, len, &n, err, errlen) < 0)
		return NULL;
	end = buf + n;
	sp = memchr(buf, ' ', n);
	m = decode_type(buf, (size_t)((sp ? sp : end) - buf), err, errlen);
	if (!m)
		return NULL;
	for (p = sp; p; p = sp) {
		p++;  /* past the space */
		sp = memchr(p, ' ', (size_t)(end - p));
		if (decode_pair(m, p, (size_t)((sp ? sp : end) - p), err,
				errlen) < 0)
			goto fail;
	}
	if (check_dups(m, err, errlen) < 0)
		goto fail;
	return m;
fail:
	msg_free(m);
	return NULL;
}

/* ---- blocking fd helpers ------------------------------------------------ */

void msg_rbuf_free(struct msg_rbuf *rb)
{
	free(rb->buf);
	rb->buf = NULL;
	rb->len = rb->cap = 0;
}

static int write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);

		if (w < 0 && errno == ENOTSOCK)
			w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

int msg_send_fd(int fd, const struct msg *m)
{
	size_t len;
	char *line = msg_encode(m, &len);
	int rc, e;

	if (!line)
		return -1;
	rc = write_all(fd, line, len);
	e = errno;
	free(line);
	errno = e;
	return rc;
}

/* Take a complete line out of rb, if there is one: 1 with *m set (or NULL
 * and err set on a decode error), 0 if no complete line yet. */
static int rbuf_take_line(struct msg_rbuf *rb, struct msg **m, char *err,
			  size_t errlen)
{
	char *nl = rb->len ? memchr(rb->buf, '\n', rb->len) : NULL;
	size_t n;

	if (!nl)
		return 0;
	n = (size_t)(nl - rb->buf) + 1;
	*m = msg_decode(rb->buf, n, err, errlen);
	memmove(rb->buf, rb->buf + n, rb->len - n);
	rb->len -= n;
	return 1;
}

static int rbuf_reserve(struct msg_rbuf *rb, size_t want)
{
	size_t cap = rb->cap ? rb->cap : 4096;
	char *nb;

	if (rb->cap - rb->len >= want)
		return 0;
	while (cap - rb->len < want)
		cap *= 2;
	nb = realloc(rb->buf, cap);
	if (!nb)
		return -1;
	rb->buf = nb;
	rb->cap = cap;
	return 0;
}

/* Wait until fd is readable or the deadline passes: 1 ready, 0 timeout,
 * -1 error.  deadline 0 means block. */
static int wait_readable(int fd, uint64_t deadline, int timeout_ms)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };

	for (;;) {
		int ms = -1, r;

		if (timeout_ms >= 0) {
			uint64_t now = util_now_ns();

			ms = now >= deadline ? 0 : (int)((deadline - now + 999999) / 1000000);
		}
		r = poll(&pfd, 1, ms);
		if (r < 0 && errno == EINTR)
			continue;
		return r < 0 ? -1 : r > 0;
	}
}

/* Read once into rb: 1 got bytes, 0 end of stream, -1 error. */
static int rbuf_fill(int fd, struct msg_rbuf *rb)
{
	size_t room;
	ssize_t r;

	if (rbuf_reserve(rb, 4096) < 0)
		return -1;
	room = rb->cap - rb->len;
	if (room > MSG_LINE_MAX + 1 - rb->len)
		room = MSG_LINE_MAX + 1 - rb->len;
	do
		r = read(fd, rb->buf + rb->len, room);
	while (r < 0 && errno == EINTR);
	if (r > 0)
		rb->len += (size_t)r;
	return r < 0 ? -1 : r > 0;
}

struct msg *msg_recv_fd(int fd, struct msg_rbuf *rb, int timeout_ms,
			char *err, size_t errlen)
{
	uint64_t deadline = util_now_ns() +
			    (uint64_t)(timeout_ms > 0 ? timeout_ms : 0) * 1000000u;
	struct msg *m = NULL;

	for (;;) {
		int r;

		if (rbuf_take_line(rb, &m, err, errlen))
			return m;
		if (rb->len > MSG_LINE_MAX) {
			util_set_err(err, errlen, "line longer than %d bytes", MSG_LINE_MAX);
			return NULL;
		}
		r = wait_readable(fd, deadline, timeout_ms);
		if (r == 0) {
			util_set_err(err, errlen, "timeout");
			return NULL;
		}
		if (r > 0)
			r = rbuf_fill(fd, rb);
		if (r == 0) {
			util_set_err(err, errlen, "closed");
			return NULL;
		}
		if (r < 0) {
			util_set_err(err, errlen, "%s", strerror(errno));
			return NULL;
		}
	}
}
