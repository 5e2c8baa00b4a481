/*
 * tun_jumpspec.c - ProxyJump values (see tun_jumpspec.h).
 *
 * Read as OpenSSH's parse_jump() reads them: elements split at commas,
 * each either an ssh:// URI or [user@]host[:port] (the user ends at the
 * last '@'; a host in brackets may hold colons), and a '#' ends the value.
 */
#include "tun_jumpspec.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int valid_name(const char *s)
{
    if (*s == '-')
        return 0;
    for (; *s; s++)
        if (strchr("'`\"$\\;&<>|(){},", *s) != NULL || isspace((unsigned char)*s) ||
            iscntrl((unsigned char)*s))
            return 0;
    return 1;
}

static int parse_port(const char *s, int *port)
{
    char *end;
    long p = strtol(s, &end, 10);
    if (*s == '\0' || *end != '\0' || p <= 0 || p > 65535)
        return -1;
    *port = (int)p;
    return 0;
}

/* One element, modified in place: [user@]host[:port] or ssh://...  */
static int parse_one(char *e, int strict, char **user, char **host, int *port)
{
    *user = *host = NULL;
    *port = -1;
    if (strncmp(e, "ssh://", 6) == 0) {
        e += 6;
        size_t l = strlen(e);
        if (l && e[l - 1] == '/')
            e[--l] = '\0'; /* a trailing slash, but no path */
        if (strchr(e, '/') != NULL)
            return -1;
    }
    char *h = e;
    char *at = strrchr(e, '@');
    if (at) {
        *at = '\0';
        e[strcspn(e, ";")] = '\0'; /* URI connection parameters: none used */
        if (*e == '\0')
            return -1;
        *user = e;
        h = at + 1;
    }
    char *portstr = NULL;
    if (*h == '[') {
        char *close = strchr(h, ']');
        if (close == NULL || (close[1] != '\0' && close[1] != ':'))
            return -1;
        *close = '\0';
        if (close[1] == ':')
            portstr = close + 2;
        h++;
    } else if ((portstr = strchr(h, ':')) != NULL) {
        *portstr++ = '\0';
    }
    if (*h == '\0' || (portstr && parse_port(portstr, port) != 0))
        return -1;
    if (strict && (!valid_name(h) || (*user && !valid_name(*user))))
        return -1;
    *host = h;
    return 0;
}

int tun_jumpspec_parse_one(const char *dest, char **user, char **host, int *port)
{
    char *e = strdup(dest);
    char *u, *h;
    int rv = -1;
    *user = *host = NULL;
    if (e != NULL && parse_one(e, 0, &u, &h, port) == 0) {
        *user = u ? strdup(u) : NULL;
        *host = strdup(h);
        rv = *host == NULL || (u && *user == NULL) ? -1 : 0;
        if (rv != 0) {
            free(*user);
            free(*host);
            *user = *host = NULL;
        }
    }
    free(e);
    return rv;
}

int tun_jumpspec_parse(const char *spec, int strict, tun_jumpspec *out)
{
    memset(out, 0, sizeof(*out));
    out->port = -1;
    char *orig = strdup(spec);
    if (orig == NULL)
        return -1;
    orig[strcspn(orig, "#")] = '\0';
    size_t l = strlen(orig);
    while (l && isspace((unsigned char)orig[l - 1]))
        orig[--l] = '\0';
    char *work = strdup(orig);
    if (work == NULL) {
        free(orig);
        return -1;
    }
    int rv = 0, first = 1;
    char *cp;
    do {
        /* From the end backwards, as OpenSSH: the last hop is kept. */
        if ((cp = strrchr(work, ',')) == NULL)
            cp = work;
        else
            *cp++ = '\0';
        char *u, *h;
        int p;
        if (parse_one(cp, strict, &u, &h, &p) != 0) {
            rv = -1;
            break;
        }
        if (first) {
            out->user = u ? strdup(u) : NULL;
            out->host = strdup(h);
            out->port = p;
            first = 0;
        }
    } while (cp != work);
    if (rv == 0 && out->host == NULL)
        rv = -1;
    char *comma = strrchr(orig, ',');
    if (rv == 0 && comma != NULL) {
        *comma = '\0';
        out->extra = strdup(orig);
    }
    free(work);
    free(orig);
    if (rv != 0)
        tun_jumpspec_free(out);
    return rv;
}

void tun_jumpspec_free(tun_jumpspec *j)
{
    free(j->user);
    free(j->host);
    free(j->extra);
    memset(j, 0, sizeof(*j));
    j->port = -1;
}

void tun_jumpspec_format(const tun_jumpspec *j, char *buf, size_t len)
{
    int numeric = strchr(j->host, ':') != NULL || strspn(j->host, "1234567890.") == strlen(j->host);
    char port[16] = "";
    if (j->port > 0)
        snprintf(port, sizeof(port), ":%d", j->port);
    snprintf(buf, len, "%s%s%s%s%s%s%s%s", j->extra ? j->extra : "", j->extra ? "," : "",
             j->user ? j->user : "", j->user ? "@" : "", numeric ? "[" : "", j->host,
             numeric ? "]" : "", port);
}
