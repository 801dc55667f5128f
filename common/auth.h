/*
 * auth.h — shared-key handling and the challenge-response handshake of
 * the agent <-> registry protocol (libsodium; docs/PROTOCOL.md).
 *
 * Key file (--key FILE): a regular file, owned by the effective user, with
 * no group or other permission bits (0600 or 0400), 1..AUTH_FILE_MAX bytes.
 * Two kinds (docs/TRUST.md):
 *   a cluster key   anything else (`resched-key new` writes 64 hex digits);
 *                   the key is BLAKE2b-256 (crypto_generichash) of the
 *                   file's whole content.
 *   a host key      one line "resched-host-key/1 NAME HEX" (`resched-key
 *                   host NAME`): the key of host NAME, HEX its 32 bytes.
 * A host's key is derived from the cluster key, so the registry holds
 * nothing per host:
 *   host_key(NAME) = BLAKE2b-256(keyed with cluster key,
 *                                "resched-host/1" || 0 || NAME)
 * An agent that holds a host key names its host in its greeting; the
 * registry derives that host's key and runs the handshake below with it.
 *
 * Handshake, after both greetings (each carries a fresh 32-byte nonce):
 *   proof(role) = HMAC-SHA256(key, "resched-proof" || role || peer_nonce
 *                             || own_nonce)          role: 'a' or 'r'
 *   session key = BLAKE2b-256(keyed with key, "resched-session/1" ||
 *                             agent_nonce || registry_nonce)
 * Each side sends its proof in its first frame (seq 0, MAC'd with the
 * session key) and accepts nothing from the peer before the peer's proof
 * checks out.  Fresh nonces make each session key, and so each session's
 * MACs, unique: frames of one session cannot be replayed into another.
 *
 * Memory: key material lives in sodium_malloc'd (guarded, mlocked) memory
 * and is wiped when freed.  Errors: NULL / -1 with the reason in err.
 */
#ifndef RESCHED_AUTH_H
#define RESCHED_AUTH_H

#include <stddef.h>

#include "common/frame.h"

#define AUTH_KEY_LEN 32
#define AUTH_FILE_MAX (64 * 1024)
#define AUTH_HOST_MAX 64          /* host name, NUL included */
#define AUTH_HOST_MAGIC "resched-host-key/1"

struct auth_key {
	unsigned char k[AUTH_KEY_LEN];
	char host[AUTH_HOST_MAX];     /* a host key's host; "" for a cluster key */
};

/* sodium_init once; 0 or -1.  Every function below calls it. */
int auth_init(void);

/* Load and check a key file.  Returns a key the caller frees with
 * auth_key_free, or NULL with the reason in err. */
struct auth_key *auth_key_load(const char *path, char *err, size_t errlen);
/* A key from bytes held in memory (hashed as a key file's content is);
 * NULL on an empty buffer or no memory. */
struct auth_key *auth_key_from_bytes(const void *buf, size_t len);
void auth_key_free(struct auth_key *k);  /* wipes; NULL is fine */

/* 1 when name is a host name the protocol carries: 1..63 bytes of
 * [A-Za-z0-9._-], not starting with '.' or '-'. */
int auth_host_name_ok(const char *name);
/* Host name's key from the cluster key into out (which may be caller
 * memory; wipe it with sodium_memzero when done).  0, or -1 on a bad name. */
int auth_host_derive(const struct auth_key *cluster, const char *name,
		     struct auth_key *out);
/* A host key file's text ("resched-host-key/1 NAME HEX\n") into buf;
 * its length, or 0 when it does not fit or k is not a host key. */
size_t auth_host_key_text(const struct auth_key *k, char *buf, size_t size);

/* A fresh random nonce. */
void auth_nonce(unsigned char out[FRAME_NONCE_LEN]);

/* The proof a side of `role` sends (see above). */
void auth_proof(const struct auth_key *k, char role,
		const unsigned char peer_nonce[FRAME_NONCE_LEN],
		const unsigned char own_nonce[FRAME_NONCE_LEN],
		unsigned char out[FRAME_MAC_LEN]);
/* Check the proof received from a peer of `peer_role`; constant time.
 * 0 good, -1 bad. */
int auth_proof_check(const struct auth_key *k, char peer_role,
		     const unsigned char own_nonce[FRAME_NONCE_LEN],
		     const unsigned char peer_nonce[FRAME_NONCE_LEN],
		     const unsigned char proof[FRAME_MAC_LEN]);

/* The session key in new sodium_malloc'd memory (FRAME_KEY_LEN bytes),
 * freed with auth_session_free; NULL on no memory. */
unsigned char *auth_session_key(const struct auth_key *k,
				const unsigned char agent_nonce[FRAME_NONCE_LEN],
				const unsigned char registry_nonce[FRAME_NONCE_LEN]);
void auth_session_free(unsigned char *skey);  /* wipes; NULL is fine */

#endif
