/*
 * sshtun/buf.h - byte buffers and the SSH wire encoding (RFC 4251 section 5).
 *
 * Two types:
 *
 *  - ssh_buf, an owned, growable byte buffer with a maximum size.  Data lives
 *    in data[off .. off+len); consuming from the front only moves `off`, and
 *    the space is reclaimed lazily when the buffer needs to grow, so a buffer
 *    used as a queue costs no allocation in steady state.  A buffer created
 *    with SSH_BUF_SECRET is wiped (OPENSSL_cleanse) whenever its memory is
 *    released or reused: use it for keys, shared secrets and passwords.
 *
 *  - ssh_cur, a non-owning read cursor over bytes that live elsewhere.  Every
 *    getter checks bounds and leaves the cursor unchanged when it fails, so a
 *    parser can simply bail out on the first error.  ssh_cur_end() rejects
 *    trailing bytes.
 *
 * Wire types (RFC 4251 section 5): byte, boolean, uint32, uint64, string,
 * mpint and name-list.  Strings handed out by the cursor point into the
 * parsed bytes and are NOT NUL-terminated; use ssh_cur_get_cstr() or
 * ssh_cur_get_strdup() when a C string is needed (embedded NULs rejected).
 */
#ifndef SSHTUN_BUF_H
#define SSHTUN_BUF_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define SSH_BUF_SECRET 0x1u /* cleanse on free/reset/realloc */

/* Default maximum size when 0 is given to ssh_buf_init(): 16 MiB. */
#define SSH_BUF_DEFAULT_MAX (16u * 1024 * 1024)

typedef struct ssh_buf {
    uint8_t *data;
    size_t off;     /* start of live data */
    size_t len;     /* live bytes */
    size_t cap;     /* allocated bytes */
    size_t max;     /* off-independent limit on len */
    unsigned flags; /* SSH_BUF_* */
} ssh_buf;

typedef struct ssh_cur {
    const uint8_t *p;
    size_t len;
} ssh_cur;

/* ---- ssh_buf: life cycle ---------------------------------------------- */

/* Initialise an empty buffer that may hold up to `max` bytes (0: default). */
void ssh_buf_init(ssh_buf *b, size_t max, unsigned flags);
/* Release memory (cleansing it first for secret buffers).  Safe to call twice. */
void ssh_buf_free(ssh_buf *b);
/* Empty the buffer but keep its memory (cleansed if secret). */
void ssh_buf_reset(ssh_buf *b);

static inline const uint8_t *ssh_buf_ptr(const ssh_buf *b)
{
    return b->data ? b->data + b->off : (const uint8_t *)"";
}
static inline uint8_t *ssh_buf_mutable_ptr(ssh_buf *b)
{
    return b->data ? b->data + b->off : NULL;
}
static inline size_t ssh_buf_len(const ssh_buf *b)
{
    return b->len;
}

/* Make room for `n` more bytes at the end and return a pointer to them in
 * *p without changing the length; follow with ssh_buf_commit().  The pointer
 * is valid until the next call that may grow the buffer.  SSH_ERR_NO_SPACE if
 * len + n would exceed the maximum. */
int ssh_buf_reserve(ssh_buf *b, size_t n, uint8_t **p);
/* Append `n` bytes that were written at the pointer ssh_buf_reserve() gave. */
int ssh_buf_commit(ssh_buf *b, size_t n);
/* Reserve and commit in one: append `n` uninitialised bytes. */
int ssh_buf_append_space(ssh_buf *b, size_t n, uint8_t **p);
/* Drop `n` bytes from the front / from the end. */
int ssh_buf_consume(ssh_buf *b, size_t n);
int ssh_buf_consume_end(ssh_buf *b, size_t n);
/* Bytes that can be reserved without reallocating. */
size_t ssh_buf_avail(const ssh_buf *b);

/* ---- ssh_buf: encoders (append) ---------------------------------------- */

int ssh_buf_put(ssh_buf *b, const void *p, size_t n);
int ssh_buf_put_u8(ssh_buf *b, uint8_t v);
int ssh_buf_put_bool(ssh_buf *b, int v);
int ssh_buf_put_u32(ssh_buf *b, uint32_t v);
int ssh_buf_put_u64(ssh_buf *b, uint64_t v);
/* string: uint32 length followed by the bytes. */
int ssh_buf_put_string(ssh_buf *b, const void *p, size_t n);
int ssh_buf_put_cstring(ssh_buf *b, const char *s);
/* string whose contents are another buffer's live bytes. */
int ssh_buf_put_stringb(ssh_buf *b, const ssh_buf *v);
/* mpint from an unsigned big-endian magnitude (leading zeros are stripped,
 * a 0x00 is prepended when the top bit is set; zero encodes as empty). */
int ssh_buf_put_mpint(ssh_buf *b, const uint8_t *mag, size_t n);

/* Big-endian helpers for code that patches buffers in place. */
static inline void ssh_poke_u32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}
static inline uint32_t ssh_peek_u32(const uint8_t *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

/* ---- ssh_cur: decoders ------------------------------------------------- */

static inline void ssh_cur_init(ssh_cur *c, const void *p, size_t n)
{
    c->p = (const uint8_t *)p;
    c->len = n;
}
static inline void ssh_cur_from_buf(ssh_cur *c, const ssh_buf *b)
{
    ssh_cur_init(c, ssh_buf_ptr(b), ssh_buf_len(b));
}

/* All getters return 0 or SSH_ERR_INCOMPLETE / SSH_ERR_FORMAT / ...; on
 * failure the cursor is unchanged and outputs are not written. */
int ssh_cur_get_u8(ssh_cur *c, uint8_t *v);
/* boolean: any non-zero byte is TRUE (RFC 4251 section 5). */
int ssh_cur_get_bool(ssh_cur *c, int *v);
int ssh_cur_get_u32(ssh_cur *c, uint32_t *v);
int ssh_cur_get_u64(ssh_cur *c, uint64_t *v);
/* `n` raw bytes (pointer into the input). */
int ssh_cur_get_bytes(ssh_cur *c, size_t n, const uint8_t **p);
int ssh_cur_skip(ssh_cur *c, size_t n);
/* string: pointer into the input and its length; may contain NULs. */
int ssh_cur_get_string(ssh_cur *c, const uint8_t **p, size_t *n);
/* string read as a nested cursor. */
int ssh_cur_get_cur(ssh_cur *c, ssh_cur *sub);
/* text string copied into out[outsz] and NUL-terminated; SSH_ERR_EMBEDDED_NUL
 * if it contains a NUL, SSH_ERR_TOO_LONG if it does not fit. */
int ssh_cur_get_cstr(ssh_cur *c, char *out, size_t outsz);
/* text string as a malloc'd C string (caller frees); at most `max` bytes. */
int ssh_cur_get_strdup(ssh_cur *c, size_t max, char **out);
/* mpint as an unsigned magnitude (pointer into input, no leading zeros).
 * Negative values fail with SSH_ERR_NEGATIVE and non-minimal encodings with
 * SSH_ERR_FORMAT, as RFC 4251 requires. */
int ssh_cur_get_mpint(ssh_cur *c, const uint8_t **mag, size_t *n);
/* SSH_ERR_TRAILING unless every byte has been read. */
int ssh_cur_end(const ssh_cur *c);

/* ---- name-lists -------------------------------------------------------- */

/* Does the comma-separated list contain `name` exactly? */
int ssh_namelist_has(const char *list, const char *name);
/* The first name of `ours` (client preference) that also appears in
 * `theirs`; copied into out[outsz].  RFC 4253 section 7.1: the client's
 * order decides.  Returns 0 or SSH_ERR_FORMAT when nothing matches. */
int ssh_namelist_match(const char *client, const char *server, char *out, size_t outsz);

#ifdef __cplusplus
}
#endif
#endif
