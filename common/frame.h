/*
 * frame.h — framing of the agent <-> registry TCP stream (docs/PROTOCOL.md).
 * Pure functions over byte buffers: no sockets, no allocation but where a
 * function says so.  MACs use libsodium (call sodium_init, or auth_init,
 * once before frame_mac / frame_build with a key / frame_verify).
 *
 * Greeting, one line each way before any frame:
 *     RESCHED/1 ROLE auth=hmac-sha256 nonce=<64 hex>\n   (with a key)
 *     RESCHED/1 ROLE auth=none\n                         (without)
 *   ROLE is "agent" or "registry".  A side that cannot speak the peer's
 *   version sends "ERROR <reason>\n" and closes.
 *
 * Frame:  <len> <seq> <mac>\n  then exactly <len> payload bytes.
 *   len   decimal, 1..FRAME_MAX, no leading zeros
 *   seq   decimal uint64, no leading zeros; 0 for each direction's first
 *         frame, then +1 per frame
 *   mac   64 lower-case hex: HMAC-SHA256(session key, "resched-frame/1" ||
 *         dir || seq as 8 bytes big-endian || payload), dir the sender's
 *         role byte ('a' agent, 'r' registry); or "-" when unauthenticated
 *   the header line, '\n' included, is at most FRAME_HDR_MAX bytes.
 *
 * Return codes of the incremental parsers: FRAME_NEED_MORE (a valid prefix,
 * feed more bytes), FRAME_OK, FRAME_ERROR (reason in err; close the
 * connection: the stream cannot be resynchronised).
 */
#ifndef RESCHED_FRAME_H
#define RESCHED_FRAME_H

#include <stddef.h>
#include <stdint.h>

#define FRAME_VERSION "RESCHED/1"
#define FRAME_MAX (1024 * 1024)  /* payload bytes; one msg line (MSG_LINE_MAX) */
#define FRAME_HDR_MAX 128        /* header line, '\n' included */
#define FRAME_GREETING_MAX 192   /* greeting line, '\n' included */
#define FRAME_HOST_MAX 64        /* greeting host name, NUL included */
#define FRAME_MAC_LEN 32
#define FRAME_KEY_LEN 32         /* session key bytes */
#define FRAME_NONCE_LEN 32
#define FRAME_ROLE_AGENT 'a'
#define FRAME_ROLE_REGISTRY 'r'

enum frame_rc { FRAME_ERROR = -1, FRAME_NEED_MORE = 0, FRAME_OK = 1 };

struct frame_hdr {
	size_t hdr_len;               /* bytes of the header line, '\n' included */
	size_t len;                   /* payload bytes that follow */
	uint64_t seq;
	int has_mac;                  /* 0 when the header says "-" */
	unsigned char mac[FRAME_MAC_LEN];
};

struct frame_greeting {
	size_t line_len;              /* bytes of the greeting, '\n' included */
	char role;                    /* FRAME_ROLE_AGENT or FRAME_ROLE_REGISTRY */
	int auth;                     /* 1 hmac-sha256 (nonce set), 0 none */
	unsigned char nonce[FRAME_NONCE_LEN];
	char host[FRAME_HOST_MAX];    /* "host=NAME" of an agent holding a host
	                               * key (auth only); "" when absent */
};

/* "agent" / "registry" for a role byte; NULL for anything else. */
const char *frame_role_name(char role);

/* Parse the header at the start of buf[0..avail).  Rejects as soon as the
 * bytes seen cannot start a valid header.  On FRAME_OK *h is filled; the
 * payload starts at buf + h->hdr_len and is not looked at. */
int frame_parse_header(const char *buf, size_t avail, struct frame_hdr *h,
		       char *err, size_t errlen);

/* The MAC of one frame.  key is FRAME_KEY_LEN bytes. */
void frame_mac(const unsigned char *key, char dir, uint64_t seq,
	       const char *payload, size_t len, unsigned char out[FRAME_MAC_LEN]);

/* Write the header line for a frame into out (FRAME_HDR_MAX bytes, NUL
 * terminated) and return its length; key NULL means unauthenticated.
 * 0 if len is 0 or over FRAME_MAX. */
size_t frame_header(char *out, const unsigned char *key, char dir,
		    uint64_t seq, const char *payload, size_t len);

/* A whole frame (header + payload) in a malloc'd buffer the caller frees;
 * *out_len gets its length.  NULL on a bad length (errno EMSGSIZE) or
 * ENOMEM. */
char *frame_build(const unsigned char *key, char dir, uint64_t seq,
		  const char *payload, size_t len, size_t *out_len);

/* Check a received frame: MAC present iff key, MAC right (constant time),
 * seq == expect_seq (so replayed, skipped and reordered frames fail).
 * dir is the SENDER's role.  0 ok, -1 with the reason in err. */
int frame_verify(const unsigned char *key, char dir, uint64_t expect_seq,
		 const struct frame_hdr *h, const char *payload, char *err,
		 size_t errlen);

/* Greeting line into out (FRAME_GREETING_MAX bytes, NUL terminated); nonce
 * NULL means auth=none; host (NULL or "" for none) is the host an agent's
 * key belongs to, sent as " host=NAME" after the nonce.  Returns its
 * length, 0 when it does not fit. */
size_t frame_greeting_build(char *out, char role, const unsigned char *nonce,
			    const char *host);

/* Parse the peer's greeting at the start of buf[0..avail).  A peer's
 * "ERROR ..." line, another version, or anything else fails with the
 * reason in err. */
int frame_greeting_parse(const char *buf, size_t avail,
			 struct frame_greeting *g, char *err, size_t errlen);

/* Hex helpers: encode n bytes as 2n lower-case hex chars + NUL; decode
 * exactly 2n lower-case hex chars.  Decode returns 0 or -1. */
void frame_hex(const unsigned char *in, size_t n, char *out);
int frame_unhex(const char *in, size_t n, unsigned char *out);

#endif
