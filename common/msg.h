/*
 * msg.h — the message codec of the agent <-> registry protocol (and of
 * libmigrate's local socket).  Pure: no libevent, no libsodium.
 *
 * A message is a TYPE word and an ordered list of key=value pairs.  Its
 * encoding is ONE line:
 *
 *     TYPE key=value key=value\n
 *
 *   TYPE and keys    [a-z0-9_.-]+ (at most MSG_WORD_MAX bytes)
 *   values           any bytes but NUL; '%', ' ', '=', '\n', '\r', '\t',
 *                    every byte < 0x20 and 0x7f are written %XX (upper-case
 *                    hex), everything else (UTF-8 too) travels as is; an
 *                    empty value is `key=`.
 *   separators       exactly one space; no leading or trailing space.
 *
 * Limits: a line is at most MSG_LINE_MAX bytes including its '\n'; a
 * message holds at most MSG_KEYS_MAX pairs.  msg_decode rejects duplicate
 * keys, bad escapes, bad keys, raw bytes that must be escaped, embedded
 * NUL (raw or %00) and anything over the limits.
 *
 * Ownership: a struct msg owns copies of everything put in it; strings it
 * returns (msg_type, msg_get, msg_key, msg_val) live until the pair is
 * replaced or the message is freed.  Functions that return memory say who
 * frees it.  Errors: -1 / NULL, with errno (msg_set*, msg_encode) or a
 * reason in the caller's err buffer (msg_decode, msg_recv_fd).
 */
#ifndef RESCHED_MSG_H
#define RESCHED_MSG_H

#include <stdarg.h>
#include <stddef.h>

#define MSG_LINE_MAX (1024 * 1024)  /* bytes in one encoded line, '\n' included */
#define MSG_KEYS_MAX 4096           /* pairs in one message */
#define MSG_WORD_MAX 256            /* bytes in a TYPE or a key */
#define MSG_ERR_LEN 128             /* a good size for err buffers */

struct msg;

/* A new empty message of `type` (must be a valid word), or NULL with errno
 * EINVAL / ENOMEM.  Caller frees with msg_free. */
struct msg *msg_new(const char *type);
void msg_free(struct msg *m);                 /* NULL is fine */

/* Set `key` to a copy of `val` (replacing an existing value, keeping its
 * place).  0, or -1 with errno EINVAL (bad key, NULL val), E2BIG (already
 * MSG_KEYS_MAX pairs) or ENOMEM; on failure m is unchanged. */
int msg_set(struct msg *m, const char *key, const char *val);
int msg_setf(struct msg *m, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
int msg_vsetf(struct msg *m, const char *key, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));
int msg_set_num(struct msg *m, const char *key, double v);  /* util_fmt_num */
/* Remove `key`; 0 if it was there, -1 if not. */
int msg_del(struct msg *m, const char *key);

const char *msg_type(const struct msg *m);
/* The value of `key`, or NULL if absent.  Owned by m. */
const char *msg_get(const struct msg *m, const char *key);
/* The value of `key` as a number (util_parse_double); 0, or -1 when absent
 * or not a number (then *out is untouched). */
int msg_get_num(const struct msg *m, const char *key, double *out);
size_t msg_count(const struct msg *m);
const char *msg_key(const struct msg *m, size_t i);   /* NULL if i >= count */
const char *msg_val(const struct msg *m, size_t i);   /* NULL if i >= count */

/* Bytes the value v takes once percent-encoded (the rule above). */
size_t msg_escaped_len(const char *v);

/* 1 if s is a valid TYPE / key word, else 0. */
int msg_word_ok(const char *s);

/* Encode as one line ending in '\n'.  Returns a malloc'd NUL-terminated
 * string the caller frees; *len (may be NULL) gets its length without the
 * NUL.  NULL with errno EMSGSIZE (longer than MSG_LINE_MAX) or ENOMEM. */
char *msg_encode(const struct msg *m, size_t *len);

/* Decode one line of `len` bytes, with or without its final '\n'.  Returns
 * a new message (caller frees) or NULL with the reason in err. */
struct msg *msg_decode(const char *buf, size_t len, char *err, size_t errlen);

/* ---- blocking helpers for a local (UNIX) stream socket ------------------
 * Used by libmigrate and the agent's local socket; no event loop.  A
 * struct msg_rbuf holds bytes read past the current line; the caller keeps
 * one per socket, starts it as MSG_RBUF_INIT and releases it with
 * msg_rbuf_free.  After any error but "timeout" the stream is not usable:
 * close the socket. */
struct msg_rbuf {
	char *buf;
	size_t len, cap;
};
#define MSG_RBUF_INIT { NULL, 0, 0 }
void msg_rbuf_free(struct msg_rbuf *rb);

/* Send m whole (retrying on EINTR / short writes, no SIGPIPE).  0, or -1
 * with errno. */
int msg_send_fd(int fd, const struct msg *m);

/* Receive the next message.  timeout_ms < 0 blocks; 0 polls once.  Returns
 * a new message (caller frees), or NULL with err "timeout", "closed"
 * (end of stream), or a decode / system error reason. */
struct msg *msg_recv_fd(int fd, struct msg_rbuf *rb, int timeout_ms,
			char *err, size_t errlen);

#endif
