/*
 * buf.c - ssh_buf and ssh_cur, the wire codec of RFC 4251 section 5.
 *
 * Growth strategy: a buffer used as a FIFO (input and output queues of a
 * connection) consumes from the front by moving `off`.  Before growing the
 * allocation we first slide the live bytes back to offset 0, so a queue that
 * is drained as fast as it fills never reallocates; that is what keeps the
 * data path free of per-packet allocations.
 */
#include "sshtun/buf.h"
#include "sshtun/err.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

void ssh_buf_init(ssh_buf *b, size_t max, unsigned flags)
{
    memset(b, 0, sizeof(*b));
    b->max = max ? max : SSH_BUF_DEFAULT_MAX;
    b->flags = flags;
}

void ssh_buf_free(ssh_buf *b)
{
    if (b->data) {
        if (b->flags & SSH_BUF_SECRET)
            OPENSSL_cleanse(b->data, b->cap);
        free(b->data);
    }
    b->data = NULL;
    b->off = b->len = b->cap = 0;
}

void ssh_buf_reset(ssh_buf *b)
{
    if (b->data && (b->flags & SSH_BUF_SECRET))
        OPENSSL_cleanse(b->data, b->cap);
    b->off = b->len = 0;
}

size_t ssh_buf_avail(const ssh_buf *b)
{
    return b->cap - b->off - b->len;
}

/* Ensure n writable bytes after the live data. */
static int make_room(ssh_buf *b, size_t n)
{
    if (n > b->max || b->len > b->max - n)
        return SSH_ERR_NO_SPACE;
    /* A buffer without memory allocates even for n == 0, so that callers
     * always get a real pointer (NULL + 0 is undefined behaviour). */
    if (b->data != NULL && b->cap - b->off - b->len >= n)
        return 0;
    /* Reclaim consumed space by sliding the live bytes to the front, but
     * only when that moves no more than it reclaims: a queue holding
     * megabytes for a slow socket would otherwise be copied again and
     * again to win back the few kilobytes the last write consumed.
     * Growing instead is amortised by doubling, and the maximum still
     * bounds it (then we slide whatever the cost). */
    int at_max = b->cap >= b->max;
    if (b->off > 0 && b->cap - b->len >= n && (b->off >= b->len || at_max)) {
        memmove(b->data, b->data + b->off, b->len);
        if (b->flags & SSH_BUF_SECRET)
            OPENSSL_cleanse(b->data + b->len, b->off);
        b->off = 0;
        return 0;
    }
    size_t need = b->len + n;
    size_t ncap = b->cap ? b->cap : 256;
    while (ncap < need)
        ncap = ncap > SIZE_MAX / 2 ? need : ncap * 2;
    /* We chose growing over sliding: really grow. */
    if (b->data != NULL && ncap <= b->cap)
        ncap = b->cap > SIZE_MAX / 2 ? SIZE_MAX : b->cap * 2;
    /* Do not allocate far beyond the limit: round to it. */
    if (ncap > b->max && need <= b->max)
        ncap = b->max;
    uint8_t *nd = malloc(ncap);
    if (nd == NULL)
        return SSH_ERR_ALLOC;
    if (b->len)
        memcpy(nd, b->data + b->off, b->len);
    if (b->data) {
        if (b->flags & SSH_BUF_SECRET)
            OPENSSL_cleanse(b->data, b->cap);
        free(b->data);
    }
    b->data = nd;
    b->cap = ncap;
    b->off = 0;
    return 0;
}

int ssh_buf_reserve(ssh_buf *b, size_t n, uint8_t **p)
{
    int rv = make_room(b, n);
    if (rv != 0)
        return rv;
    if (p)
        *p = b->data + b->off + b->len;
    return 0;
}

int ssh_buf_commit(ssh_buf *b, size_t n)
{
    if (n > ssh_buf_avail(b) || b->len + n > b->max)
        return SSH_ERR_ARGUMENT;
    b->len += n;
    return 0;
}

int ssh_buf_append_space(ssh_buf *b, size_t n, uint8_t **p)
{
    uint8_t *q;
    int rv = ssh_buf_reserve(b, n, &q);
    if (rv != 0)
        return rv;
    b->len += n;
    if (p)
        *p = q;
    return 0;
}

int ssh_buf_consume(ssh_buf *b, size_t n)
{
    if (n > b->len)
        return SSH_ERR_ARGUMENT;
    b->off += n;
    b->len -= n;
    if (b->len == 0)
        b->off = 0;
    return 0;
}

int ssh_buf_consume_end(ssh_buf *b, size_t n)
{
    if (n > b->len)
        return SSH_ERR_ARGUMENT;
    b->len -= n;
    return 0;
}

int ssh_buf_put(ssh_buf *b, const void *p, size_t n)
{
    uint8_t *q;
    int rv = ssh_buf_append_space(b, n, &q);
    if (rv != 0)
        return rv;
    if (n)
        memcpy(q, p, n);
    return 0;
}

int ssh_buf_put_u8(ssh_buf *b, uint8_t v)
{
    return ssh_buf_put(b, &v, 1);
}

int ssh_buf_put_bool(ssh_buf *b, int v)
{
    return ssh_buf_put_u8(b, v ? 1 : 0);
}

int ssh_buf_put_u32(ssh_buf *b, uint32_t v)
{
    uint8_t *q;
    int rv = ssh_buf_append_space(b, 4, &q);
    if (rv != 0)
        return rv;
    ssh_poke_u32(q, v);
    return 0;
}

int ssh_buf_put_u64(ssh_buf *b, uint64_t v)
{
    uint8_t *q;
    int rv = ssh_buf_append_space(b, 8, &q);
    if (rv != 0)
        return rv;
    ssh_poke_u32(q, (uint32_t)(v >> 32));
    ssh_poke_u32(q + 4, (uint32_t)v);
    return 0;
}

int ssh_buf_put_string(ssh_buf *b, const void *p, size_t n)
{
    uint8_t *q;
    if (n > UINT32_MAX)
        return SSH_ERR_TOO_LONG;
    int rv = ssh_buf_append_space(b, 4 + n, &q);
    if (rv != 0)
        return rv;
    ssh_poke_u32(q, (uint32_t)n);
    if (n)
        memcpy(q + 4, p, n);
    return 0;
}

int ssh_buf_put_cstring(ssh_buf *b, const char *s)
{
    return ssh_buf_put_string(b, s, s ? strlen(s) : 0);
}

int ssh_buf_put_stringb(ssh_buf *b, const ssh_buf *v)
{
    return ssh_buf_put_string(b, ssh_buf_ptr(v), ssh_buf_len(v));
}

int ssh_buf_put_mpint(ssh_buf *b, const uint8_t *mag, size_t n)
{
    while (n > 0 && mag[0] == 0) {
        mag++;
        n--;
    }
    int pad = n > 0 && (mag[0] & 0x80);
    if (n + pad > UINT32_MAX)
        return SSH_ERR_TOO_LONG;
    uint8_t *q;
    int rv = ssh_buf_append_space(b, 4 + pad + n, &q);
    if (rv != 0)
        return rv;
    ssh_poke_u32(q, (uint32_t)(n + pad));
    if (pad)
        q[4] = 0;
    if (n)
        memcpy(q + 4 + pad, mag, n);
    return 0;
}

/* ---- cursor ------------------------------------------------------------ */

int ssh_cur_get_bytes(ssh_cur *c, size_t n, const uint8_t **p)
{
    if (c->len < n)
        return SSH_ERR_INCOMPLETE;
    if (p)
        *p = c->p;
    if (n > 0) { /* a cursor over no memory may have p == NULL */
        c->p += n;
        c->len -= n;
    }
    return 0;
}

int ssh_cur_skip(ssh_cur *c, size_t n)
{
    return ssh_cur_get_bytes(c, n, NULL);
}

int ssh_cur_get_u8(ssh_cur *c, uint8_t *v)
{
    const uint8_t *p;
    int rv = ssh_cur_get_bytes(c, 1, &p);
    if (rv == 0 && v)
        *v = p[0];
    return rv;
}

int ssh_cur_get_bool(ssh_cur *c, int *v)
{
    uint8_t u;
    int rv = ssh_cur_get_u8(c, &u);
    if (rv == 0 && v)
        *v = u != 0;
    return rv;
}

int ssh_cur_get_u32(ssh_cur *c, uint32_t *v)
{
    const uint8_t *p;
    int rv = ssh_cur_get_bytes(c, 4, &p);
    if (rv == 0 && v)
        *v = ssh_peek_u32(p);
    return rv;
}

int ssh_cur_get_u64(ssh_cur *c, uint64_t *v)
{
    const uint8_t *p;
    int rv = ssh_cur_get_bytes(c, 8, &p);
    if (rv == 0 && v)
        *v = ((uint64_t)ssh_peek_u32(p) << 32) | ssh_peek_u32(p + 4);
    return rv;
}

int ssh_cur_get_string(ssh_cur *c, const uint8_t **p, size_t *n)
{
    if (c->len < 4)
        return SSH_ERR_INCOMPLETE;
    uint32_t l = ssh_peek_u32(c->p);
    if (c->len - 4 < l)
        return SSH_ERR_INCOMPLETE;
    if (p)
        *p = c->p + 4;
    if (n)
        *n = l;
    c->p += 4 + (size_t)l;
    c->len -= 4 + (size_t)l;
    return 0;
}

int ssh_cur_get_cur(ssh_cur *c, ssh_cur *sub)
{
    const uint8_t *p;
    size_t n;
    int rv = ssh_cur_get_string(c, &p, &n);
    if (rv == 0 && sub)
        ssh_cur_init(sub, p, n);
    return rv;
}

/* Peek a text string: checks without moving. */
static int peek_text(const ssh_cur *c, const uint8_t **p, size_t *n)
{
    ssh_cur t = *c;
    int rv = ssh_cur_get_string(&t, p, n);
    if (rv != 0)
        return rv;
    if (*n && memchr(*p, 0, *n) != NULL)
        return SSH_ERR_EMBEDDED_NUL;
    return 0;
}

int ssh_cur_get_cstr(ssh_cur *c, char *out, size_t outsz)
{
    const uint8_t *p;
    size_t n;
    int rv = peek_text(c, &p, &n);
    if (rv != 0)
        return rv;
    if (outsz == 0 || n > outsz - 1)
        return SSH_ERR_TOO_LONG;
    memcpy(out, p, n);
    out[n] = '\0';
    return ssh_cur_skip(c, 4 + n);
}

int ssh_cur_get_strdup(ssh_cur *c, size_t max, char **out)
{
    const uint8_t *p;
    size_t n;
    int rv = peek_text(c, &p, &n);
    if (rv != 0)
        return rv;
    if (n > max)
        return SSH_ERR_TOO_LONG;
    char *s = malloc(n + 1);
    if (s == NULL)
        return SSH_ERR_ALLOC;
    memcpy(s, p, n);
    s[n] = '\0';
    *out = s;
    return ssh_cur_skip(c, 4 + n);
}

int ssh_cur_get_mpint(ssh_cur *c, const uint8_t **mag, size_t *n)
{
    ssh_cur t = *c;
    const uint8_t *p;
    size_t l;
    int rv = ssh_cur_get_string(&t, &p, &l);
    if (rv != 0)
        return rv;
    if (l > 0 && (p[0] & 0x80))
        return SSH_ERR_NEGATIVE;
    /* Minimal encoding: a leading zero only to clear a set top bit. */
    if (l > 0 && p[0] == 0 && (l == 1 || (p[1] & 0x80) == 0))
        return SSH_ERR_FORMAT;
    if (l > 0 && p[0] == 0) {
        p++;
        l--;
    }
    if (mag)
        *mag = p;
    if (n)
        *n = l;
    *c = t;
    return 0;
}

int ssh_cur_end(const ssh_cur *c)
{
    return c->len == 0 ? 0 : SSH_ERR_TRAILING;
}

/* ---- name-lists -------------------------------------------------------- */

int ssh_namelist_has(const char *list, const char *name)
{
    size_t nl = strlen(name);
    if (list == NULL || nl == 0)
        return 0;
    const char *p = list;
    while (*p) {
        const char *e = strchr(p, ',');
        size_t l = e ? (size_t)(e - p) : strlen(p);
        if (l == nl && memcmp(p, name, nl) == 0)
            return 1;
        if (!e)
            break;
        p = e + 1;
    }
    return 0;
}

int ssh_namelist_match(const char *client, const char *server, char *out, size_t outsz)
{
    const char *p = client;
    char name[128];
    while (p && *p) {
        const char *e = strchr(p, ',');
        size_t l = e ? (size_t)(e - p) : strlen(p);
        if (l > 0 && l < sizeof(name)) {
            memcpy(name, p, l);
            name[l] = '\0';
            if (ssh_namelist_has(server, name)) {
                if (l >= outsz)
                    return SSH_ERR_TOO_LONG;
                memcpy(out, name, l + 1);
                return 0;
            }
        }
        if (!e)
            break;
        p = e + 1;
    }
    return SSH_ERR_FORMAT;
}
