/*
 * tun_srvconfig_inc.c - what Include reads, recorded and replayed (see
 * tun_srvconfig.h, "Include sources").
 *
 * Why: the network process runs in a mount namespace that shows only /etc,
 * and on SIGHUP it builds its settings from the bundle the privileged side
 * read.  The bundle carried the main file's text only, so the network
 * process re-read every Include itself: a pattern outside /etc then
 * matched nothing -- which Include treats as nothing to include -- and the
 * reload went through silently without that file's lines (a DenyUsers or
 * PermitOpen kept there was dropped).  Now the privileged side records each
 * pattern's matches and each file's text while it parses, the bundle
 * carries the recording, and the network process parses from it: the same
 * text in the same order, and anything the recording lacks is an error.
 *
 * Bundle form: u32 count, then per entry: byte kind ('g' a glob pattern,
 * 'f' a file), string name, u32 result (glob: 0 matches, 1 none, 2 error;
 * file: 0 read, else why not), string data (glob: the matches, each
 * NUL-terminated; file: its text, or the reason).
 */
#include "tun_srvconfig_int.h"
#include "tun_log.h"
#include "tun_util.h"

#include <errno.h>
#include <glob.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "sshtun/buf.h"

#define INC_MAX_ENTRIES 4096
#define INC_MAX_BYTES   (16 * 1024 * 1024)

typedef struct inc_entry {
    char kind;
    char *name;
    uint32_t result;
    uint8_t *data;
    size_t len;
} inc_entry;

struct tun_srvcfg_incs {
    inc_entry *e;
    size_t n, cap;
    size_t bytes;
};

tun_srvcfg_incs *tun_srvcfg_incs_new(void)
{
    return calloc(1, sizeof(tun_srvcfg_incs));
}

void tun_srvcfg_incs_free(tun_srvcfg_incs *r)
{
    if (r == NULL)
        return;
    for (size_t i = 0; i < r->n; i++) {
        free(r->e[i].name);
        free(r->e[i].data);
    }
    free(r->e);
    free(r);
}

static int add(tun_srvcfg_incs *r, char kind, const char *name, size_t nl, uint32_t result,
               const uint8_t *data, size_t len)
{
    if (r->n >= INC_MAX_ENTRIES || r->bytes + len + nl > INC_MAX_BYTES)
        return -1;
    if (r->n == r->cap) {
        size_t cap = r->cap ? r->cap * 2 : 8;
        inc_entry *e = realloc(r->e, cap * sizeof(*e));
        if (e == NULL)
            return -1;
        r->e = e;
        r->cap = cap;
    }
    inc_entry *x = &r->e[r->n];
    x->kind = kind;
    x->name = strndup(name, nl);
    x->data = malloc(len + 1);
    if (x->name == NULL || x->data == NULL) {
        free(x->name);
        free(x->data);
        return -1;
    }
    memcpy(x->data, data, len);
    x->data[len] = '\0';
    x->len = len;
    x->result = result;
    r->n++;
    r->bytes += len + nl;
    return 0;
}

static const inc_entry *find(const tun_srvcfg_incs *r, char kind, const char *name)
{
    for (size_t i = 0; r && i < r->n; i++)
        if (r->e[i].kind == kind && strcmp(r->e[i].name, name) == 0)
            return &r->e[i];
    return NULL;
}

int tun_srvcfg_incs_put(const tun_srvcfg_incs *r, ssh_buf *out)
{
    size_t n = r ? r->n : 0;
    if (ssh_buf_put_u32(out, (uint32_t)n) != 0)
        return -1;
    for (size_t i = 0; i < n; i++) {
        const inc_entry *x = &r->e[i];
        if (ssh_buf_put_u8(out, (uint8_t)x->kind) != 0 || ssh_buf_put_cstring(out, x->name) != 0 ||
            ssh_buf_put_u32(out, x->result) != 0 || ssh_buf_put_string(out, x->data, x->len) != 0)
            return -1;
    }
    return 0;
}

tun_srvcfg_incs *tun_srvcfg_incs_get(ssh_cur *c)
{
    uint32_t n;
    if (ssh_cur_get_u32(c, &n) != 0 || n > INC_MAX_ENTRIES)
        return NULL;
    tun_srvcfg_incs *r = tun_srvcfg_incs_new();
    if (r == NULL)
        return NULL;
    for (uint32_t i = 0; i < n; i++) {
        uint8_t kind;
        const uint8_t *name, *data;
        size_t nl, len;
        uint32_t result;
        if (ssh_cur_get_u8(c, &kind) != 0 || (kind != 'g' && kind != 'f') ||
            ssh_cur_get_string(c, &name, &nl) != 0 || memchr(name, '\0', nl) != NULL ||
            ssh_cur_get_u32(c, &result) != 0 || ssh_cur_get_string(c, &data, &len) != 0 ||
            add(r, (char)kind, (const char *)name, nl, result, data, len) != 0) {
            tun_srvcfg_incs_free(r);
            return NULL;
        }
    }
    return r;
}

void tun_srvcfg_incs_use(tun_srvcfg *c, tun_srvcfg_incs *r, int replay)
{
    c->incs = r;
    c->incs_replay = r != NULL && replay;
}

int srvcfg_inc_glob(tun_srvcfg *c, const char *pat, char ***paths, size_t *n)
{
    *paths = NULL;
    *n = 0;
    if (c->incs_replay) {
        const inc_entry *x = find(c->incs, 'g', pat);
        if (x == NULL)
            return 3; /* not what the privileged side read */
        if (x->result != 0)
            return x->result == 1 ? 1 : 2;
        size_t k = 0;
        for (size_t i = 0; i < x->len; i++)
            k += x->data[i] == '\0';
        char **v = calloc(k + 1, sizeof(char *));
        if (v == NULL)
            return 2;
        const char *p = (const char *)x->data;
        for (size_t i = 0; i < k; i++) {
            v[i] = strdup(p);
            if (v[i] == NULL) {
                srvcfg_inc_paths_free(v, i);
                return 2;
            }
            p += strlen(p) + 1;
        }
        *paths = v;
        *n = k;
        return 0;
    }
    glob_t g;
    int gr = glob(pat, 0, NULL, &g);
    uint32_t result = gr == 0 ? 0 : gr == GLOB_NOMATCH ? 1 : 2;
    ssh_buf list;
    ssh_buf_init(&list, INC_MAX_BYTES, 0);
    char **v = result == 0 ? calloc(g.gl_pathc + 1, sizeof(char *)) : NULL;
    if (result == 0 && v == NULL)
        result = 2;
    for (size_t i = 0; result == 0 && i < g.gl_pathc; i++) {
        v[i] = strdup(g.gl_pathv[i]);
        if (v[i] == NULL || ssh_buf_put(&list, g.gl_pathv[i], strlen(g.gl_pathv[i]) + 1) != 0) {
            srvcfg_inc_paths_free(v, i + 1);
            v = NULL;
            result = 2;
        }
    }
    if (result == 0) {
        *paths = v;
        *n = g.gl_pathc;
    }
    if (gr == 0)
        globfree(&g);
    /* (a recording that cannot take it just stops the reload later:
     * the network process finds the entry missing) */
    if (c->incs)
        (void)add(c->incs, 'g', pat, strlen(pat), result, ssh_buf_ptr(&list), ssh_buf_len(&list));
    ssh_buf_free(&list);
    return (int)result;
}

void srvcfg_inc_paths_free(char **paths, size_t n)
{
    for (size_t i = 0; paths && i < n; i++)
        free(paths[i]);
    free(paths);
}

int srvcfg_inc_read(tun_srvcfg *c, const char *path, size_t max, uint8_t **data, size_t *len,
                    char *why, size_t whysz)
{
    if (c->incs_replay) {
        const inc_entry *x = find(c->incs, 'f', path);
        if (x == NULL) {
            snprintf(why, whysz, "not read by the privileged side");
            return -1;
        }
        if (x->result != 0) {
            snprintf(why, whysz, "%.*s", (int)x->len, (const char *)x->data);
            return -1;
        }
        *data = malloc(x->len + 1);
        if (*data == NULL) {
            snprintf(why, whysz, "%s", strerror(ENOMEM));
            return -1;
        }
        memcpy(*data, x->data, x->len + 1);
        *len = x->len;
        return 0;
    }
    struct stat st;
    int rv = -1;
    if (stat(path, &st) != 0)
        snprintf(why, whysz, "%s", strerror(errno));
    else if (!S_ISREG(st.st_mode))
        snprintf(why, whysz, "not a regular file");
    else if (tun_read_file(path, max, data, len) != 0)
        snprintf(why, whysz, "%s", strerror(errno));
    else
        rv = 0;
    if (c->incs) {
        if (rv == 0)
            (void)add(c->incs, 'f', path, strlen(path), 0, *data, *len);
        else
            (void)add(c->incs, 'f', path, strlen(path), 1, (const uint8_t *)why, strlen(why));
    }
    return rv;
}
