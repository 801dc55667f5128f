/* auth.c — see auth.h. */
#include "common/auth.h"
#include "common/util.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define PROOF_TAG "resched-proof"
#define SESSION_TAG "resched-session/1"
#define HOST_TAG "resched-host/1"

int auth_init(void)
{
	return sodium_init() < 0 ? -1 : 0;
}

struct auth_key *auth_key_from_bytes(const void *buf, size_t len)
{
	struct auth_key *k;

	if (len == 0 || auth_init() < 0)
		return NULL;
	k = sodium_malloc(sizeof(*k));
	if (!k)
		return NULL;
	crypto_generichash(k->k, sizeof(k->k), buf, len, NULL, 0);
	k->host[0] = '\0';
	return k;
}

void auth_key_free(struct auth_key *k)
{
	sodium_free(k);  /* wipes; NULL is fine */
}

int auth_host_name_ok(const char *name)
{
	size_t n = name ? strlen(name) : 0;

	if (n == 0 || n >= AUTH_HOST_MAX || name[0] == '.' || name[0] == '-')
		return 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)name[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-'))
			return 0;
	}
	return 1;
}

int auth_host_derive(const struct auth_key *cluster, const char *name,
		     struct auth_key *out)
{
	crypto_generichash_state st;
	static const unsigned char zero = 0;

	if (!auth_host_name_ok(name) || auth_init() < 0)
		return -1;
	crypto_generichash_init(&st, cluster->k, sizeof(cluster->k), AUTH_KEY_LEN);
	crypto_generichash_update(&st, (const unsigned char *)HOST_TAG,
				  sizeof(HOST_TAG) - 1);
	crypto_generichash_update(&st, &zero, 1);
	crypto_generichash_update(&st, (const unsigned char *)name, strlen(name));
	crypto_generichash_final(&st, out->k, AUTH_KEY_LEN);
	sodium_memzero(&st, sizeof(st));
	snprintf(out->host, sizeof(out->host), "%s", name);
	return 0;
}

size_t auth_host_key_text(const struct auth_key *k, char *buf, size_t size)
{
	char hex[2 * AUTH_KEY_LEN + 1];
	int n;

	if (!k->host[0])
		return 0;
	sodium_bin2hex(hex, sizeof(hex), k->k, sizeof(k->k));
	n = snprintf(buf, size, "%s %s %s\n", AUTH_HOST_MAGIC, k->host, hex);
	sodium_memzero(hex, sizeof(hex));
	return n > 0 && (size_t)n < size ? (size_t)n : 0;
}

/* "resched-host-key/1 NAME HEX[\n]" in buf[0..n): the host key, or NULL
 * with the reason in err. */
static struct auth_key *host_key_parse(const char *path, const unsigned char *buf,
				       size_t n, char *err, size_t errlen)
{
	size_t ml = sizeof(AUTH_HOST_MAGIC) - 1, i = ml + 1, ns;
	struct auth_key *k;
	char name[AUTH_HOST_MAX];

	if (n && buf[n - 1] == '\n')
		n--;
	ns = i;
	while (i < n && buf[i] != ' ')
		i++;
	if (i - ns == 0 || i - ns >= sizeof(name) || i >= n ||
	    n - i - 1 != 2 * AUTH_KEY_LEN) {
		util_set_err(err, errlen, "%s: not a host key (%s NAME HEX)",
			     path, AUTH_HOST_MAGIC);
		return NULL;
	}
	memcpy(name, buf + ns, i - ns);
	name[i - ns] = '\0';
	if (!auth_host_name_ok(name)) {
		util_set_err(err, errlen, "%s: bad host name in the key", path);
		return NULL;
	}
	if (!(k = sodium_malloc(sizeof(*k)))) {
		util_set_err(err, errlen, "out of memory");
		return NULL;
	}
	if (frame_unhex((const char *)buf + i + 1, AUTH_KEY_LEN, k->k) < 0) {
		sodium_free(k);
		util_set_err(err, errlen, "%s: the host key's HEX is not 64 lower-case hex digits", path);
		return NULL;
	}
	snprintf(k->host, sizeof(k->host), "%s", name);
	return k;
}

/* Refuse a key file anyone but its owner could read or that we don't own. */
static int check_key_stat(const char *path, const struct stat *st, char *err,
			  size_t errlen)
{
	if (!S_ISREG(st->st_mode)) {
		util_set_err(err, errlen, "%s: not a regular file", path);
		return -1;
	}
	if (st->st_uid != geteuid()) {
		util_set_err(err, errlen, "%s: owned by uid %u, not by us (uid %u)",
			path, (unsigned)st->st_uid, (unsigned)geteuid());
		return -1;
	}
	if (st->st_mode & 077) {
		util_set_err(err, errlen, "%s: mode %04o lets others read it; chmod 600",
			path, (unsigned)(st->st_mode & 07777));
		return -1;
	}
	if (st->st_size <= 0 || st->st_size > AUTH_FILE_MAX) {
		util_set_err(err, errlen, "%s: size %lld not in 1..%d bytes",
			path, (long long)st->st_size, AUTH_FILE_MAX);
		return -1;
	}
	return 0;
}

/* Read exactly n bytes of fd into buf; 0 or -1. */
static int read_exact(int fd, unsigned char *buf, size_t n)
{
	while (n > 0) {
		ssize_t r = read(fd, buf, n);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		buf += r;
		n -= (size_t)r;
	}
	return 0;
}

struct auth_key *auth_key_load(const char *path, char *err, size_t errlen)
{
	struct auth_key *k = NULL;
	unsigned char *buf = NULL;
	struct stat st;
	size_t n;
	int fd;

	if (auth_init() < 0) {
		util_set_err(err, errlen, "libsodium init failed");
		return NULL;
	}
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	if (fd < 0) {
		util_set_err(err, errlen, "%s: %s", path, strerror(errno));
		return NULL;
	}
	if (fstat(fd, &st) < 0) {
		util_set_err(err, errlen, "%s: %s", path, strerror(errno));
		goto out_fd;
	}
	if (check_key_stat(path, &st, err, errlen) < 0)
		goto out_fd;
	n = (size_t)st.st_size;
	buf = sodium_malloc(n);
	if (!buf || read_exact(fd, buf, n) < 0) {
		util_set_err(err, errlen, "%s: cannot read", path);
		goto out_buf;
	}
	if (n > sizeof(AUTH_HOST_MAGIC) && memcmp(buf, AUTH_HOST_MAGIC " ",
						  sizeof(AUTH_HOST_MAGIC)) == 0)
		k = host_key_parse(path, buf, n, err, errlen);
	else if (!(k = auth_key_from_bytes(buf, n)))
		util_set_err(err, errlen, "out of memory");
out_buf:
	sodium_free(buf);
out_fd:
	close(fd);
	return k;
}

void auth_nonce(unsigned char out[FRAME_NONCE_LEN])
{
	if (auth_init() < 0)
		sodium_misuse();
	randombytes_buf(out, FRAME_NONCE_LEN);
}

void auth_proof(const struct auth_key *k, char role,
		const unsigned char peer_nonce[FRAME_NONCE_LEN],
		const unsigned char own_nonce[FRAME_NONCE_LEN],
		unsigned char out[FRAME_MAC_LEN])
{
	crypto_auth_hmacsha256_state st;
	unsigned char r = (unsigned char)role;

	crypto_auth_hmacsha256_init(&st, k->k, sizeof(k->k));
	crypto_auth_hmacsha256_update(&st, (const unsigned char *)PROOF_TAG,
				      sizeof(PROOF_TAG) - 1);
	crypto_auth_hmacsha256_update(&st, &r, 1);
	crypto_auth_hmacsha256_update(&st, peer_nonce, FRAME_NONCE_LEN);
	crypto_auth_hmacsha256_update(&st, own_nonce, FRAME_NONCE_LEN);
	crypto_auth_hmacsha256_final(&st, out);
	sodium_memzero(&st, sizeof(st));
}

int auth_proof_check(const struct auth_key *k, char peer_role,
		     const unsigned char own_nonce[FRAME_NONCE_LEN],
		     const unsigned char peer_nonce[FRAME_NONCE_LEN],
		     const unsigned char proof[FRAME_MAC_LEN])
{
	unsigned char want[FRAME_MAC_LEN];
	int rc;

	/* the peer computed it with its peer_nonce = our own nonce */
	auth_proof(k, peer_role, own_nonce, peer_nonce, want);
	rc = sodium_memcmp(want, proof, FRAME_MAC_LEN) == 0 ? 0 : -1;
	sodium_memzero(want, sizeof(want));
	return rc;
}

unsigned char *auth_session_key(const struct auth_key *k,
				const unsigned char agent_nonce[FRAME_NONCE_LEN],
				const unsigned char registry_nonce[FRAME_NONCE_LEN])
{
	crypto_generichash_state st;
	unsigned char *s = sodium_malloc(FRAME_KEY_LEN);

	if (!s)
		return NULL;
	crypto_generichash_init(&st, k->k, sizeof(k->k), FRAME_KEY_LEN);
	crypto_generichash_update(&st, (const unsigned char *)SESSION_TAG,
				  sizeof(SESSION_TAG) - 1);
	crypto_generichash_update(&st, agent_nonce, FRAME_NONCE_LEN);
	crypto_generichash_update(&st, registry_nonce, FRAME_NONCE_LEN);
	crypto_generichash_final(&st, s, FRAME_KEY_LEN);
	sodium_memzero(&st, sizeof(st));
	return s;
}

void auth_session_free(unsigned char *skey)
{
	sodium_free(skey);
}
