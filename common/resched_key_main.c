/*
 * resched-key — make the keys of a cluster (docs/TRUST.md).
 *
 *   resched-key new > cluster.key              a new random cluster key
 *   resched-key host NAME < cluster.key > NAME.key
 *                                              host NAME's key
 *
 * The cluster key stays with the registry (reschedfs --key); each agent
 * gets only its own host's key (resched-agent --key), which proves that
 * host and no other.  Output files are written with mode 0600 when stdout
 * is a regular file we created (umask 077 is set); a key on a terminal is
 * refused.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "common/auth.h"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: resched-key new > cluster.key\n"
		"       resched-key host NAME < cluster.key > NAME.key\n"
		"\n"
		"  new        print a new random cluster key (for reschedfs --key)\n"
		"  host NAME  read a cluster key on standard input and print host\n"
		"             NAME's key (for resched-agent --key on NAME)\n"
		"  -h, --help this text\n"
		"\n"
		"NAME: 1-63 characters of A-Z a-z 0-9 . _ - (not starting with . or -).\n");
}

/* A key must not end up on a terminal or in a file others can read. */
static int check_stdout(void)
{
	struct stat st;

	if (isatty(STDOUT_FILENO)) {
		fprintf(stderr, "resched-key: standard output is a terminal; redirect it to a file\n");
		return -1;
	}
	if (fstat(STDOUT_FILENO, &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & 077) &&
	    fchmod(STDOUT_FILENO, st.st_mode & 0700) < 0) {
		fprintf(stderr, "resched-key: cannot make the output file private: %s\n",
			strerror(errno));
		return -1;
	}
	return 0;
}

static int write_all(const char *buf, size_t n)
{
	if (fwrite(buf, 1, n, stdout) != n || fflush(stdout) != 0 ||
	    (fsync(STDOUT_FILENO) < 0 && errno != EINVAL && errno != EROFS)) {
		fprintf(stderr, "resched-key: cannot write the key: %s\n", strerror(errno));
		return -1;
	}
	return 0;
}

static int cmd_new(void)
{
	unsigned char k[AUTH_KEY_LEN];
	char hex[2 * AUTH_KEY_LEN + 2];
	int rc;

	if (check_stdout() < 0)
		return 1;
	randombytes_buf(k, sizeof(k));
	sodium_bin2hex(hex, sizeof(hex) - 1, k, sizeof(k));
	strcat(hex, "\n");
	rc = write_all(hex, strlen(hex));
	sodium_memzero(k, sizeof(k));
	sodium_memzero(hex, sizeof(hex));
	return rc < 0 ? 1 : 0;
}

static int cmd_host(const char *name)
{
	unsigned char *buf;
	struct auth_key *cluster, host;
	char text[256];
	size_t n = 0, len;
	int rc = 1;

	if (!auth_host_name_ok(name)) {
		fprintf(stderr, "resched-key: '%s' is not a host name (1-63 characters "
			"of A-Z a-z 0-9 . _ -, not starting with . or -)\n", name);
		return 2;
	}
	if (isatty(STDIN_FILENO)) {
		fprintf(stderr, "resched-key: give the cluster key on standard input "
			"(resched-key host %s < cluster.key)\n", name);
		return 2;
	}
	if (check_stdout() < 0)
		return 1;
	buf = sodium_malloc(AUTH_FILE_MAX + 1);
	if (!buf) {
		fprintf(stderr, "resched-key: out of memory\n");
		return 1;
	}
	while (n <= AUTH_FILE_MAX && (len = fread(buf + n, 1, AUTH_FILE_MAX + 1 - n, stdin)) > 0)
		n += len;
	if (ferror(stdin) || n == 0 || n > AUTH_FILE_MAX) {
		fprintf(stderr, "resched-key: the cluster key on standard input must be "
			"1-%d bytes\n", AUTH_FILE_MAX);
		goto out;
	}
	if (n > sizeof(AUTH_HOST_MAGIC) && memcmp(buf, AUTH_HOST_MAGIC " ",
						  sizeof(AUTH_HOST_MAGIC)) == 0) {
		fprintf(stderr, "resched-key: standard input is a host key, not the "
			"cluster key\n");
		goto out;
	}
	cluster = auth_key_from_bytes(buf, n);
	if (!cluster || auth_host_derive(cluster, name, &host) < 0 ||
	    !(len = auth_host_key_text(&host, text, sizeof(text)))) {
		fprintf(stderr, "resched-key: cannot derive the key of %s\n", name);
		auth_key_free(cluster);
		goto out;
	}
	auth_key_free(cluster);
	rc = write_all(text, len) < 0 ? 1 : 0;
	sodium_memzero(&host, sizeof(host));
	sodium_memzero(text, sizeof(text));
out:
	sodium_free(buf);
	return rc;
}

int main(int argc, char **argv)
{
	umask(077);
	if (argc >= 2 && (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0)) {
		usage(stdout);
		return 0;
	}
	if (auth_init() < 0) {
		fprintf(stderr, "resched-key: libsodium cannot initialise\n");
		return 1;
	}
	if (argc == 2 && strcmp(argv[1], "new") == 0)
		return cmd_new();
	if (argc == 3 && strcmp(argv[1], "host") == 0)
		return cmd_host(argv[2]);
	usage(stderr);
	return 2;
}
