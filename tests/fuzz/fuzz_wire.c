/*
 * fuzz_wire.c - the ssh_cur decoders and the name-list functions of
 * sshtun/buf.h, driven by a small interpreter.
 *
 * Input: byte 0 = program length L; the next L bytes are the program, the
 * rest is the data the cursor reads.  Each program byte picks an operation
 * (low 4 bits) and some take the following program byte as an argument.  A
 * stack of cursors lets "string as nested cursor" descend and "pop" return.
 *
 * Every call is checked against the contract in buf.h: a failing getter
 * leaves the cursor and its outputs untouched, a succeeding one moves the
 * cursor by exactly the encoded size and returns what the bytes say; mpints
 * are minimal and re-encode to the same bytes; C strings hold no NUL;
 * name-list answers agree with a plain reading of RFC 4251 section 5 and
 * RFC 4253 section 7.1.  A violation aborts.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sshtun/buf.h"
#include "sshtun/err.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "fuzz_wire: check failed at line %d: %s\n", __LINE__, #cond);          \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

#define SENT8  0xa5u
#define SENT32 0xdeadbeefu
#define SENT64 0x0123456789abcdefull

static volatile unsigned sink;

static uint32_t be32(const uint8_t *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

static int same(const ssh_cur *a, const ssh_cur *b)
{
    return a->p == b->p && a->len == b->len;
}

static int moved(const ssh_cur *before, const ssh_cur *after, size_t n)
{
    return before->len >= n && after->len == before->len - n &&
           (n == 0 ? after->p == before->p : after->p == before->p + n);
}

/* Would a plain reader find a string here?  Its body length, or -1. */
static long long string_len(const ssh_cur *c)
{
    if (c->len < 4)
        return -1;
    uint32_t l = be32(c->p);
    return (size_t)l <= c->len - 4 ? (long long)l : -1;
}

/* Reference name-list membership (RFC 4251 section 5). */
static int ref_has(const char *list, const char *name)
{
    size_t nl = strlen(name);
    if (nl == 0)
        return 0;
    for (const char *p = list;;) {
        const char *e = strchr(p, ',');
        size_t l = e ? (size_t)(e - p) : strlen(p);
        if (l == nl && strncmp(p, name, nl) == 0)
            return 1;
        if (e == NULL)
            return 0;
        p = e + 1;
    }
}

/* Read a C string from the cursor for the name-list ops (NULL if none). */
static char *take_cstr(ssh_cur *c)
{
    char *s = NULL;
    if (ssh_cur_get_strdup(c, 4096, &s) != 0)
        return NULL;
    return s;
}

static void op_namelist_match(ssh_cur *c, unsigned arg)
{
    char *cl = take_cstr(c), *sv = take_cstr(c);
    char out[300];
    size_t outsz = arg + 1;
    if (cl && sv) {
        memset(out, SENT8, sizeof(out));
        int rv = ssh_namelist_match(cl, sv, out, outsz);
        if (rv == 0) {
            size_t l = strlen(out);
            CHECK(l > 0 && l < outsz);
            CHECK(ref_has(cl, out) && ref_has(sv, out));
            /* It is the first client name (of a sane length) the server has. */
            for (const char *p = cl;;) {
                const char *e = strchr(p, ',');
                size_t n = e ? (size_t)(e - p) : strlen(p);
                if (n == l && strncmp(p, out, l) == 0)
                    break;
                if (n > 0 && n < 128) {
                    char name[128];
                    memcpy(name, p, n);
                    name[n] = '\0';
                    CHECK(!ref_has(sv, name));
                }
                CHECK(e != NULL);
                p = e + 1;
            }
        } else {
            CHECK(rv == SSH_ERR_FORMAT || rv == SSH_ERR_TOO_LONG);
            if (rv == SSH_ERR_FORMAT) {
                /* No name of a sane length is common. */
                for (const char *p = cl;;) {
                    const char *e = strchr(p, ',');
                    size_t n = e ? (size_t)(e - p) : strlen(p);
                    if (n > 0 && n < 128) {
                        char name[128];
                        memcpy(name, p, n);
                        name[n] = '\0';
                        CHECK(!ref_has(sv, name));
                    }
                    if (e == NULL)
                        break;
                    p = e + 1;
                }
            }
        }
    }
    free(cl);
    free(sv);
}

static void op_mpint(ssh_cur *c)
{
    ssh_cur before = *c;
    const uint8_t *mag = (const uint8_t *)&before; /* sentinel */
    size_t n = SENT32;
    int rv = ssh_cur_get_mpint(c, &mag, &n);
    if (rv != 0) {
        CHECK(same(c, &before));
        CHECK(mag == (const uint8_t *)&before && n == SENT32);
        CHECK(rv == SSH_ERR_INCOMPLETE || rv == SSH_ERR_NEGATIVE || rv == SSH_ERR_FORMAT);
        return;
    }
    long long sl = string_len(&before);
    CHECK(sl >= 0 && moved(&before, c, 4 + (size_t)sl));
    CHECK(n == 0 || mag[0] != 0);
    CHECK(n <= (size_t)sl && (n == 0 || (mag >= before.p + 4 && mag + n == before.p + 4 + sl)));
    /* Minimal encodings re-encode to exactly the bytes read. */
    ssh_buf b;
    ssh_buf_init(&b, 0, 0);
    CHECK(ssh_buf_put_mpint(&b, mag, n) == 0);
    CHECK(ssh_buf_len(&b) == 4 + (size_t)sl);
    CHECK(memcmp(ssh_buf_ptr(&b), before.p, ssh_buf_len(&b)) == 0);
    ssh_buf_free(&b);
}

static void op_cstr(ssh_cur *c, unsigned outsz)
{
    char out[300];
    ssh_cur before = *c;
    memset(out, SENT8, sizeof(out));
    int rv = ssh_cur_get_cstr(c, out, outsz);
    long long sl = string_len(&before);
    if (rv != 0) {
        CHECK(same(c, &before));
        CHECK((uint8_t)out[0] == SENT8);
        if (sl < 0)
            CHECK(rv == SSH_ERR_INCOMPLETE);
        else if (memchr(before.p + 4, 0, (size_t)sl) != NULL)
            CHECK(rv == SSH_ERR_EMBEDDED_NUL);
        else
            CHECK(rv == SSH_ERR_TOO_LONG && (size_t)sl >= outsz);
        return;
    }
    CHECK(sl >= 0 && moved(&before, c, 4 + (size_t)sl));
    CHECK((size_t)sl < outsz && strlen(out) == (size_t)sl);
    CHECK(memcmp(out, before.p + 4, (size_t)sl) == 0);
}

static void op_strdup(ssh_cur *c, size_t max)
{
    char *s = (char *)&max; /* sentinel */
    ssh_cur before = *c;
    int rv = ssh_cur_get_strdup(c, max, &s);
    if (rv != 0) {
        CHECK(same(c, &before) && s == (char *)&max);
        return;
    }
    long long sl = string_len(&before);
    CHECK(sl >= 0 && (size_t)sl <= max && moved(&before, c, 4 + (size_t)sl));
    CHECK(strlen(s) == (size_t)sl && memcmp(s, before.p + 4, (size_t)sl) == 0);
    free(s);
}

/* Encoders against a buffer with a small maximum. */
static void op_put(ssh_cur *c, unsigned arg)
{
    ssh_buf b;
    const uint8_t *p;
    size_t n;
    uint32_t v = SENT32;
    ssh_buf_init(&b, 1 + arg, (arg & 1) ? SSH_BUF_SECRET : 0);
    CHECK(ssh_buf_put_u8(&b, 7) == 0);
    size_t before = ssh_buf_len(&b);
    if (ssh_cur_get_string(c, &p, &n) == 0) {
        int rv = ssh_buf_put_string(&b, p, n);
        if (rv == 0) {
            ssh_cur r;
            const uint8_t *q;
            size_t m;
            ssh_cur_from_buf(&r, &b);
            CHECK(ssh_cur_skip(&r, 1) == 0 && ssh_cur_get_string(&r, &q, &m) == 0);
            CHECK(m == n && memcmp(q, p, n) == 0 && ssh_cur_end(&r) == 0);
        } else {
            CHECK(rv == SSH_ERR_NO_SPACE && 4 + n > b.max - before);
            CHECK(ssh_buf_len(&b) == before);
        }
    } else if (ssh_cur_get_u32(c, &v) == 0) {
        int rv = ssh_buf_put_u32(&b, v);
        CHECK(rv == 0 ? ssh_buf_len(&b) == before + 4 : ssh_buf_len(&b) == before);
        if (rv == 0)
            CHECK(be32(ssh_buf_ptr(&b) + before) == v);
    }
    /* Consume from both ends, then reuse the space. */
    if (ssh_buf_len(&b) > 2) {
        CHECK(ssh_buf_consume(&b, 1) == 0);
        CHECK(ssh_buf_consume_end(&b, 1) == 0);
    }
    CHECK(ssh_buf_consume(&b, ssh_buf_len(&b) + 1) != 0);
    ssh_buf_reset(&b);
    CHECK(ssh_buf_len(&b) == 0);
    ssh_buf_free(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    size_t plen = data[0];
    if (plen > size - 1)
        plen = size - 1;
    const uint8_t *prog = data + 1;
    ssh_cur stack[8];
    int top = 0;
    ssh_cur_init(&stack[0], data + 1 + plen, size - 1 - plen);

    for (size_t pc = 0; pc < plen; pc++) {
        ssh_cur *c = &stack[top];
        ssh_cur before = *c;
        unsigned op = prog[pc] & 15u;
        unsigned arg = pc + 1 < plen ? prog[pc + 1] : 0;
        int rv;
        switch (op) {
        case 0: {
            uint8_t v = SENT8;
            rv = ssh_cur_get_u8(c, &v);
            if (rv == 0)
                CHECK(moved(&before, c, 1) && v == before.p[0]);
            else
                CHECK(same(c, &before) && v == SENT8 && before.len < 1);
            break;
        }
        case 1: {
            int v = 77;
            rv = ssh_cur_get_bool(c, &v);
            if (rv == 0)
                CHECK(moved(&before, c, 1) && v == (before.p[0] != 0));
            else
                CHECK(same(c, &before) && v == 77);
            break;
        }
        case 2: {
            uint32_t v = SENT32;
            rv = ssh_cur_get_u32(c, &v);
            if (rv == 0)
                CHECK(moved(&before, c, 4) && v == be32(before.p));
            else
                CHECK(same(c, &before) && v == SENT32 && before.len < 4);
            break;
        }
        case 3: {
            uint64_t v = SENT64;
            rv = ssh_cur_get_u64(c, &v);
            if (rv == 0)
                CHECK(moved(&before, c, 8) &&
                      v == (((uint64_t)be32(before.p) << 32) | be32(before.p + 4)));
            else
                CHECK(same(c, &before) && v == SENT64 && before.len < 8);
            break;
        }
        case 4: {
            const uint8_t *p = NULL;
            rv = ssh_cur_get_bytes(c, arg, &p);
            if (rv == 0)
                CHECK(moved(&before, c, arg) && p == before.p);
            else
                CHECK(same(c, &before) && p == NULL && before.len < arg);
            pc++;
            break;
        }
        case 5:
            rv = ssh_cur_skip(c, (size_t)arg * arg);
            CHECK(rv == 0 ? moved(&before, c, (size_t)arg * arg) : same(c, &before));
            pc++;
            break;
        case 6: {
            const uint8_t *p = NULL;
            size_t n = SENT32;
            long long sl = string_len(&before);
            rv = ssh_cur_get_string(c, &p, &n);
            if (rv == 0)
                CHECK(sl >= 0 && n == (size_t)sl && p == before.p + 4 && moved(&before, c, 4 + n));
            else
                CHECK(sl < 0 && same(c, &before) && p == NULL && n == SENT32);
            break;
        }
        case 7: {
            ssh_cur sub = {NULL, SENT32};
            rv = ssh_cur_get_cur(c, &sub);
            if (rv == 0) {
                CHECK(sub.p == before.p + 4 && moved(&before, c, 4 + sub.len));
                if (top < 7)
                    stack[++top] = sub;
            } else {
                CHECK(same(c, &before) && sub.p == NULL && sub.len == SENT32);
            }
            break;
        }
        case 8:
            if (top > 0)
                top--;
            break;
        case 9:
            op_cstr(c, arg);
            pc++;
            break;
        case 10:
            op_strdup(c, (size_t)arg * 4);
            pc++;
            break;
        case 11:
            op_mpint(c);
            break;
        case 12:
            rv = ssh_cur_end(c);
            CHECK((rv == 0) == (c->len == 0) && (rv == 0 || rv == SSH_ERR_TRAILING));
            break;
        case 13: {
            char *list = take_cstr(c), *name = take_cstr(c);
            if (list && name)
                CHECK(ssh_namelist_has(list, name) == ref_has(list, name));
            free(list);
            free(name);
            break;
        }
        case 14:
            op_namelist_match(c, arg);
            pc++;
            break;
        case 15:
            op_put(c, arg);
            pc++;
            break;
        }
        sink += (unsigned)c->len;
    }
    return 0;
}
