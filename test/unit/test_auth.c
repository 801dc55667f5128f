/* Unit tests for common/auth.c: key file checks on real files, proofs,
 * session keys. */
#include "common/auth.h"
#include "test/unit/unit.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

static char tdir[64];
static void rmtdir(void);

static const char *mkkey(const char *name, const char *content, int mode)
{
	static char path[128];
	int fd;

	if (!tdir[0]) {
		snprintf(tdir, sizeof(tdir), "/tmp/resched-auth-%d-XXXXXX", (int)getpid());
		if (!mkdtemp(tdir))
			return NULL;
		atexit(rmtdir);  /* removed even when a CHECK fails */
	}
	snprintf(path, sizeof(path), "%s/%s", tdir, name);
	unlink(path);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd < 0 || write(fd, content, strlen(content)) != (ssize_t)strlen(content) ||
	    fchmod(fd, (mode_t)mode) < 0) {
		if (fd >= 0)
			close(fd);
		return NULL;
	}
	close(fd);
	return path;
}

static void rmtdir(void)
{
	char cmd[128];

	if (tdir[0]) {
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tdir);
		(void)!system(cmd);
		tdir[0] = '\0';
	}
}

/* Two keys are equal iff one's proof checks with the other. */
static int same_key(const struct auth_key *a, const struct auth_key *b)
{
	unsigned char n1[FRAME_NONCE_LEN], n2[FRAME_NONCE_LEN], p[FRAME_MAC_LEN];

	auth_nonce(n1);
	auth_nonce(n2);
	auth_proof(a, 'a', n2, n1, p);
	return auth_proof_check(b, 'a', n2, n1, p) == 0;
}

static int load_fails(const char *path, const char *why)
{
	char err[256] = "";
	struct auth_key *k = auth_key_load(path, err, sizeof(err));

	if (k) {
		auth_key_free(k);
		return 0;
	}
	return strstr(err, why) != NULL;
}

TEST(auth_key_file_modes_and_owner)
{
	char err[256], link[160];
	struct auth_key *a, *b, *c;
	const char *p;

	CHECK((p = mkkey("k600", "secret\n", 0600)));
	a = auth_key_load(p, err, sizeof(err));
	CHECK(a);
	CHECK((p = mkkey("k400", "secret\n", 0400)));
	b = auth_key_load(p, err, sizeof(err));
	CHECK(b && same_key(a, b));
	CHECK((p = mkkey("other", "secreT\n", 0600)));
	c = auth_key_load(p, err, sizeof(err));
	CHECK(c && !same_key(a, c));
	CHECK((p = mkkey("k644", "secret\n", 0644)) && load_fails(p, "mode 0644"));
	CHECK((p = mkkey("k640", "secret\n", 0640)) && load_fails(p, "mode 0640"));
	CHECK((p = mkkey("k604", "secret\n", 0604)) && load_fails(p, "chmod 600"));
	CHECK((p = mkkey("empty", "", 0600)) && load_fails(p, "size 0"));
	CHECK(load_fails(tdir, "not a regular file"));
	CHECK(load_fails("/nonexistent/resched.key", "No such file"));
	snprintf(link, sizeof(link), "%s/link", tdir);
	CHECK(symlink("k600", link) == 0 && load_fails(link, "link"));
	if (geteuid() == 0) {
		CHECK((p = mkkey("nobody", "secret\n", 0600)));
		CHECK(chown(p, 65534, 65534) == 0 && load_fails(p, "owned by uid 65534"));
	}
	auth_key_free(a);
	auth_key_free(b);
	auth_key_free(c);
	rmtdir();
}

TEST(auth_proof_binds_key_role_and_nonces)
{
	struct auth_key *k = auth_key_from_bytes("shared", 6);
	struct auth_key *o = auth_key_from_bytes("other", 5);
	unsigned char an[FRAME_NONCE_LEN], rn[FRAME_NONCE_LEN], p[FRAME_MAC_LEN];

	CHECK(k && o);
	CHECK(auth_key_from_bytes("", 0) == NULL);
	auth_nonce(an);
	auth_nonce(rn);
	CHECK(memcmp(an, rn, sizeof(an)) != 0);
	auth_proof(k, 'a', rn, an, p);                       /* agent's proof */
	CHECK(auth_proof_check(k, 'a', rn, an, p) == 0);     /* registry checks */
	CHECK(auth_proof_check(k, 'r', rn, an, p) == -1);    /* reflected */
	CHECK(auth_proof_check(k, 'a', an, rn, p) == -1);    /* nonces swapped */
	CHECK(auth_proof_check(o, 'a', rn, an, p) == -1);    /* other key */
	p[0] ^= 1;
	CHECK(auth_proof_check(k, 'a', rn, an, p) == -1);
	auth_key_free(k);
	auth_key_free(o);
}

TEST(auth_session_keys_agree_and_differ_per_session)
{
	struct auth_key *k = auth_key_from_bytes("shared", 6);
	unsigned char an[FRAME_NONCE_LEN], rn[FRAME_NONCE_LEN];
	unsigned char *s1, *s2, *s3;

	CHECK(k);
	auth_nonce(an);
	auth_nonce(rn);
	s1 = auth_session_key(k, an, rn);
	s2 = auth_session_key(k, an, rn);
	auth_nonce(rn);
	s3 = auth_session_key(k, an, rn);
	CHECK(s1 && s2 && s3);
	CHECK(memcmp(s1, s2, FRAME_KEY_LEN) == 0);
	CHECK(memcmp(s1, s3, FRAME_KEY_LEN) != 0);
	auth_session_free(s1);
	auth_session_free(s2);
	auth_session_free(s3);
	auth_key_free(k);
}
