/* frame.c — see frame.h. */
#include "common/frame.h"
#include "common/util.h"

#include <errno.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAC_TAG "resched-frame/1"
#define HEX_MAC_LEN (2 * FRAME_MAC_LEN)

const char *frame_role_name(char role)
{
	if (role == FRAME_ROLE_AGENT)
		return "agent";
	if (role == FRAME_ROLE_REGISTRY)
		return "registry";
	return NULL;
}

/* ---- hex ---------------------------------------------------------------- */

void frame_hex(const unsigned char *in, size_t n, char *out)
{
	static const char hex[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = hex[in[i] >> 4];
		out[2 * i + 1] = hex[in[i] & 15];
	}
	out[2 * n] = '\0';
}

static int lhex(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

int frame_unhex(const char *in, size_t n, unsigned char *out)
{
	for (size_t i = 0; i < n; i++) {
		int hi = lhex(in[2 * i]), lo = lhex(in[2 * i + 1]);

		if (hi < 0 || lo < 0)
			return -1;
		out[i] = (unsigned char)(hi << 4 | lo);
	}
	return 0;
}

/* ---- header ------------------------------------------------------------- */

/* A decimal number of digits [s, s+n): no sign, no leading zero, fits
 * uint64.  0 or -1. */
static int parse_dec(const char *s, size_t n, uint64_t *out)
{
	uint64_t v = 0;

	if (n == 0 || n > 20 || (n > 1 && s[0] == '0'))
		return -1;
	for (size_t i = 0; i < n; i++) {
		unsigned d = (unsigned)(s[i] - '0');

		if (d > 9 || v > (UINT64_MAX - d) / 10)
			return -1;
		v = v * 10 + d;
	}
	*out = v;
	return 0;
}

/* Could bytes [0, n) (no '\n' among them) start a header?  Cheap check so
 * garbage is refused at once rather than after FRAME_HDR_MAX bytes. */
static int header_prefix_ok(const char *buf, size_t n)
{
	int spaces = 0;

	for (size_t i = 0; i < n; i++) {
		char c = buf[i];

		if (c == ' ')
			spaces++;
		else if (!(c >= '0' && c <= '9') && !(spaces == 2 && (lhex(c) >= 0 || c == '-')))
			return 0;
		if (spaces > 2)
			return 0;
	}
	return 1;
}

static int parse_mac_field(const char *s, size_t n, struct frame_hdr *h)
{
	if (n == 1 && s[0] == '-') {
		h->has_mac = 0;
		return 0;
	}
	if (n != HEX_MAC_LEN || frame_unhex(s, FRAME_MAC_LEN, h->mac) < 0)
		return -1;
	h->has_mac = 1;
	return 0;
}

/* Parse a complete header line [buf, buf+n) without its '\n'. */
static int parse_header_line(const char *buf, size_t n, struct frame_hdr *h,
			     char *err, size_t errlen)
{
	const char *sp1 = memchr(buf, ' ', n), *sp2, *end = buf + n;
	uint64_t len;

	sp2 = sp1 ? memchr(sp1 + 1, ' ', (size_t)(end - sp1 - 1)) : NULL;
	if (!sp2) {
		util_set_err(err, errlen, "frame header needs 3 fields");
		return FRAME_ERROR;
	}
	if (parse_dec(buf, (size_t)(sp1 - buf), &len) < 0 ||
	    parse_dec(sp1 + 1, (size_t)(sp2 - sp1 - 1), &h->seq) < 0) {
		util_set_err(err, errlen, "bad number in frame header");
		return FRAME_ERROR;
	}
	if (len == 0 || len > FRAME_MAX) {
		util_set_err(err, errlen, "frame length %llu out of range 1..%d",
			(unsigned long long)len, FRAME_MAX);
		return FRAME_ERROR;
	}
	if (parse_mac_field(sp2 + 1, (size_t)(end - sp2 - 1), h) < 0) {
		util_set_err(err, errlen, "bad MAC field in frame header");
		return FRAME_ERROR;
	}
	h->len = (size_t)len;
	h->hdr_len = n + 1;
	return FRAME_OK;
}

int frame_parse_header(const char *buf, size_t avail, struct frame_hdr *h,
		       char *err, size_t errlen)
{
	size_t scan = avail < FRAME_HDR_MAX ? avail : FRAME_HDR_MAX;
	const char *nl = memchr(buf, '\n', scan);

	if (!nl) {
		if (!header_prefix_ok(buf, scan)) {
			util_set_err(err, errlen, "bad byte in frame header");
			return FRAME_ERROR;
		}
		if (avail >= FRAME_HDR_MAX) {
			util_set_err(err, errlen, "frame header longer than %d bytes",
				FRAME_HDR_MAX);
			return FRAME_ERROR;
		}
		return FRAME_NEED_MORE;
	}
	return parse_header_line(buf, (size_t)(nl - buf), h, err, errlen);
}

/* ---- MAC ---------------------------------------------------------------- */

void frame_mac(const unsigned char *key, char dir, uint64_t seq,
	       const char *payload, size_t len, unsigned char out[FRAME_MAC_LEN])
{
	crypto_auth_hmacsha256_state st;
	unsigned char be[8], d = (unsigned char)dir;

	for (int i = 0; i < 8; i++)
		be[i] = (unsigned char)(seq >> (56 - 8 * i));
	crypto_auth_hmacsha256_init(&st, key, FRAME_KEY_LEN);
	crypto_auth_hmacsha256_update(&st, (const unsigned char *)MAC_TAG,
				      sizeof(MAC_TAG) - 1);
	crypto_auth_hmacsha256_update(&st, &d, 1);
	crypto_auth_hmacsha256_update(&st, be, sizeof(be));
	crypto_auth_hmacsha256_update(&st, (const unsigned char *)payload, len);
	crypto_auth_hmacsha256_final(&st, out);
	sodium_memzero(&st, sizeof(st));
}

size_t frame_header(char *out, const unsigned char *key, char dir,
		    uint64_t seq, const char *payload, size_t len)
{
	unsigned char mac[FRAME_MAC_LEN];
	char hex[HEX_MAC_LEN + 1] = "-";
	int n;

	if (len == 0 || len > FRAME_MAX)
		return 0;
	if (key) {
		frame_mac(key, dir, seq, payload, len, mac);
		frame_hex(mac, sizeof(mac), hex);
	}
	n = snprintf(out, FRAME_HDR_MAX, "%zu %llu %s\n", len,
		     (unsigned long long)seq, hex);
	return n > 0 && n < FRAME_HDR_MAX ? (size_t)n : 0;
}

char *frame_build(const unsigned char *key, char dir, uint64_t seq,
		  const char *payload, size_t len, size_t *out_len)
{
	char hdr[FRAME_HDR_MAX];
	size_t hl = frame_header(hdr, key, dir, seq, payload, len);
	char *buf;

	if (hl == 0) {
		errno = EMSGSIZE;
		return NULL;
	}
	buf = malloc(hl + len);
	if (!buf)
		return NULL;
	memcpy(buf, hdr, hl);
	memcpy(buf + hl, payload, len);
	*out_len = hl + len;
	return buf;
}

int frame_verify(const unsigned char *key, char dir, uint64_t expect_seq,
		 const struct frame_hdr *h, const char *payload, char *err,
		 size_t errlen)
{
	unsigned char mac[FRAME_MAC_LEN];

	if (key && !h->has_mac) {
		util_set_err(err, errlen, "frame without MAC on an authenticated connection");
		return -1;
	}
	if (!key && h->has_mac) {
		util_set_err(err, errlen, "frame with MAC on an unauthenticated connection");
		return -1;
	}
	if (key) {
		frame_mac(key, dir, h->seq, payload, h->len, mac);
		if (sodium_memcmp(mac, h->mac, FRAME_MAC_LEN) != 0) {
			util_set_err(err, errlen, "bad MAC on frame %llu",
				(unsigned long long)h->seq);
			return -1;
		}
	}
	if (h->seq != expect_seq) {
		util_set_err(err, errlen, "frame seq %llu, expected %llu (replayed or reordered)",
			(unsigned long long)h->seq, (unsigned long long)expect_seq);
		return -1;
	}
	return 0;
}

/* ---- greeting ----------------------------------------------------------- */

size_t frame_greeting_build(char *out, char role, const unsigned char *nonce,
			    const char *host)
{
	char hex[2 * FRAME_NONCE_LEN + 1];
	const char *name = frame_role_name(role);
	int n;

	if (!name)
		return 0;
	if (nonce) {
		frame_hex(nonce, FRAME_NONCE_LEN, hex);
		n = snprintf(out, FRAME_GREETING_MAX, "%s %s auth=hmac-sha256 nonce=%s%s%s\n",
			     FRAME_VERSION, name, hex, host && host[0] ? " host=" : "",
			     host && host[0] ? host : "");
	} else {
		n = snprintf(out, FRAME_GREETING_MAX, "%s %s auth=none\n",
			     FRAME_VERSION, name);
	}
	return n > 0 && n < FRAME_GREETING_MAX ? (size_t)n : 0;
}

static int greeting_role(const char *s, size_t n, char *role)
{
	if (n == 5 && memcmp(s, "agent", 5) == 0)
		*role = FRAME_ROLE_AGENT;
	else if (n == 8 && memcmp(s, "registry", 8) == 0)
		*role = FRAME_ROLE_REGISTRY;
	else
		return -1;
	return 0;
}

/* " host=NAME" in [s, s+n): NAME is 1..FRAME_HOST_MAX-1 bytes of
 * [A-Za-z0-9._-]. */
static int greeting_host(const char *s, size_t n, struct frame_greeting *g)
{
	static const char hk[] = " host=";
	size_t kl = sizeof(hk) - 1;

	if (n <= kl || n - kl >= FRAME_HOST_MAX || memcmp(s, hk, kl) != 0)
		return -1;
	for (size_t i = kl; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-'))
			return -1;
	}
	memcpy(g->host, s + kl, n - kl);
	g->host[n - kl] = '\0';
	return 0;
}

/* "auth=none" or "auth=hmac-sha256 nonce=<64 hex>[ host=NAME]" in [s, s+n). */
static int greeting_auth(const char *s, size_t n, struct frame_greeting *g)
{
	static const char none[] = "auth=none", hm[] = "auth=hmac-sha256 nonce=";
	size_t hl = sizeof(hm) - 1, nl = hl + 2 * FRAME_NONCE_LEN;

	g->host[0] = '\0';
	if (n == sizeof(none) - 1 && memcmp(s, none, n) == 0) {
		g->auth = 0;
		return 0;
	}
	if (n < nl || memcmp(s, hm, hl) != 0 ||
	    frame_unhex(s + hl, FRAME_NONCE_LEN, g->nonce) < 0)
		return -1;
	if (n > nl && greeting_host(s + nl, n - nl, g) < 0)
		return -1;
	g->auth = 1;
	return 0;
}

/* Parse a complete greeting line [buf, buf+n) without its '\n'. */
static int greeting_line(const char *buf, size_t n, struct frame_greeting *g,
			 char *err, size_t errlen)
{
	size_t vl = sizeof(FRAME_VERSION) - 1;
	const char *role = buf + vl + 1, *sp;

	if (n > 6 && memcmp(buf, "ERROR ", 6) == 0) {
		util_set_err(err, errlen, "peer says: %.*s", (int)(n - 6), buf + 6);
		return FRAME_ERROR;
	}
	if (n < 8 || memcmp(buf, FRAME_VERSION, 8) != 0) {  /* "RESCHED/" */
		util_set_err(err, errlen, "not a resched peer (no %s greeting)", FRAME_VERSION);
		return FRAME_ERROR;
	}
	if (n <= vl || memcmp(buf, FRAME_VERSION, vl) != 0 || buf[vl] != ' ') {
		util_set_err(err, errlen, "version mismatch: peer greets '%.*s', we speak %s",
			(int)(n < 40 ? n : 40), buf, FRAME_VERSION);
		return FRAME_ERROR;
	}
	sp = memchr(role, ' ', (size_t)(buf + n - role));
	if (!sp || greeting_role(role, (size_t)(sp - role), &g->role) < 0 ||
	    greeting_auth(sp + 1, (size_t)(buf + n - sp - 1), g) < 0) {
		util_set_err(err, errlen, "malformed greeting");
		return FRAME_ERROR;
	}
	g->line_len = n + 1;
	return FRAME_OK;
}

int frame_greeting_parse(const char *buf, size_t avail,
			 struct frame_greeting *g, char *err, size_t errlen)
{
	size_t scan = avail < FRAME_GREETING_MAX ? avail : FRAME_GREETING_MAX;
	const char *nl = memchr(buf, '\n', scan);
	size_t cmp = scan < 8 ? scan : 8;

	if (nl)
		return greeting_line(buf, (size_t)(nl - buf), g, err, errlen);
	if (memcmp(buf, FRAME_VERSION, cmp) != 0 && memcmp(buf, "ERROR ", cmp < 6 ? cmp : 6) != 0) {
		util_set_err(err, errlen, "not a resched peer (no %s greeting)", FRAME_VERSION);
		return FRAME_ERROR;
	}
	if (avail >= FRAME_GREETING_MAX) {
		util_set_err(err, errlen, "greeting longer than %d bytes", FRAME_GREETING_MAX);
		return FRAME_ERROR;
	}
	return FRAME_NEED_MORE;
}
