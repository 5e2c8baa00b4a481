/*
 * tun_fwdspec.c - parsing forwarding specifications (see tun_fwdspec.h).
 */
#include "tun_fwdspec.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_FIELDS 4

typedef struct field {
    char text[1024];
    int bracketed;
} field;

/* Split on ':' outside brackets; a space (config syntax) also separates. */
static int split(const char *spec, field *f, int max)
{
    int n = 0;
    const char *p = spec;
    while (isspace((unsigned char)*p))
        p++;
    if (*p == '\0')
        return 0;
    for (;;) {
        if (n >= max)
            return -1;
        size_t o = 0;
        f[n].bracketed = 0;
        if (*p == '[') {
            const char *close = strchr(p, ']');
            if (close == NULL || (size_t)(close - p - 1) >= sizeof(f[n].text))
                return -1;
            o = (size_t)(close - p - 1);
            memcpy(f[n].text, p + 1, o);
            f[n].bracketed = 1;
            p = close + 1;
            if (*p != '\0' && *p != ':' && !isspace((unsigned char)*p))
                return -1;
        } else {
            while (*p && *p != ':' && !isspace((unsigned char)*p)) {
                if (o + 1 >= sizeof(f[n].text))
                    return -1;
                f[n].text[o++] = *p++;
            }
        }
        f[n].text[o] = '\0';
        n++;
        if (*p == '\0')
            return n;
        p++; /* the separator */
        while (isspace((unsigned char)*p))
            p++;
        if (*p == '\0')
            return -1; /* trailing separator */
    }
}

/* A field with a '/' is a Unix socket path, bracketed or not (OpenSSH's
 * parse_fwd_field: brackets only let a path or an IPv6 address hold ':'). */
static int is_path(const field *f)
{
    return strchr(f->text, '/') != NULL;
}

static int port_of(const char *s)
{
    if (*s == '\0')
        return -1;
    char *end;
    long v = strtol(s, &end, 10);
    if (*end != '\0' || v < 0 || v > 65535)
        return -1;
    return (int)v;
}

static char *dup_or_null(const char *s)
{
    return s ? strdup(s) : NULL;
}

void tun_fwdspec_free(tun_fwdspec *f)
{
    free(f->listen_host);
    free(f->listen_path);
    free(f->connect_host);
    free(f->connect_path);
    memset(f, 0, sizeof(*f));
}

int tun_fwdspec_parse(const char *spec, enum tun_fwd_kind kind, tun_fwdspec *out)
{
    field f[MAX_FIELDS];
    int n = split(spec, f, MAX_FIELDS);
    const char *lhost = NULL, *lpath = NULL, *chost = NULL, *cpath = NULL;
    int lport = -1, cport = -1, dynamic = 0;
    memset(out, 0, sizeof(*out));
    switch (n) {
    case 1: /* port | path (dynamic) */
        if (kind == TUN_FWD_LOCAL)
            return -1;
        if (is_path(&f[0]))
            lpath = f[0].text;
        else if ((lport = port_of(f[0].text)) < 0)
            return -1;
        dynamic = 1;
        break;
    case 2: /* bind:port (dynamic) | path:path | port:path */
        if (is_path(&f[0]) && is_path(&f[1])) {
            lpath = f[0].text;
            cpath = f[1].text;
        } else if (is_path(&f[1])) {
            if ((lport = port_of(f[0].text)) < 0)
                return -1;
            cpath = f[1].text;
        } else {
            if (kind == TUN_FWD_LOCAL)
                return -1;
            lhost = f[0].text;
            if ((lport = port_of(f[1].text)) < 0)
                return -1;
            dynamic = 1;
        }
        break;
    case 3: /* bind:port:path | port:host:hostport | path:host:hostport */
        if (kind == TUN_FWD_DYNAMIC)
            return -1;
        if (is_path(&f[2])) {
            lhost = f[0].text;
            if ((lport = port_of(f[1].text)) < 0)
                return -1;
            cpath = f[2].text;
        } else {
            if (is_path(&f[0]))
                lpath = f[0].text;
            else if ((lport = port_of(f[0].text)) < 0)
                return -1;
            chost = f[1].text;
            if ((cport = port_of(f[2].text)) < 0)
                return -1;
        }
        break;
    case 4: /* bind:port:host:hostport */
        if (kind == TUN_FWD_DYNAMIC)
            return -1;
        lhost = f[0].text;
        if ((lport = port_of(f[1].text)) < 0)
            return -1;
        chost = f[2].text;
        if ((cport = port_of(f[3].text)) < 0)
            return -1;
        break;
    default:
        return -1;
    }
    if (kind == TUN_FWD_DYNAMIC && !dynamic)
        return -1;
    if (chost && *chost == '\0')
        return -1;
    /* A listening port of 0 only makes sense remotely (allocation). */
    if (lport == 0 && kind != TUN_FWD_REMOTE)
        return -1;
    if (cport == 0)
        return -1;
    out->kind = kind;
    out->listen_host = lhost && *lhost ? strdup(lhost) : (lhost ? strdup("") : NULL);
    out->listen_port = lpath ? -1 : lport;
    out->listen_path = dup_or_null(lpath);
    out->connect_host = dup_or_null(chost);
    out->connect_port = cport;
    out->connect_path = dup_or_null(cpath);
    out->dynamic = dynamic;
    return 0;
}

void tun_fwdspec_describe_listen(const tun_fwdspec *f, char *buf, unsigned len)
{
    if (f->listen_path)
        snprintf(buf, len, "%s", f->listen_path);
    else if (f->listen_host && strchr(f->listen_host, ':'))
        snprintf(buf, len, "[%s]:%d", f->listen_host, f->listen_port);
    else
        snprintf(buf, len, "%s:%d", f->listen_host ? f->listen_host : "localhost", f->listen_port);
}

void tun_fwdspec_describe_connect(const tun_fwdspec *f, char *buf, unsigned len)
{
    if (f->dynamic)
        snprintf(buf, len, "socks");
    else if (f->connect_path)
        snprintf(buf, len, "%s", f->connect_path);
    else if (strchr(f->connect_host, ':'))
        snprintf(buf, len, "[%s]:%d", f->connect_host, f->connect_port);
    else
        snprintf(buf, len, "%s:%d", f->connect_host, f->connect_port);
}
