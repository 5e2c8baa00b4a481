/*
 * tun_canon.c - host name canonicalisation (see tun_canon.h), following
 * ssh.c's resolve_canonicalize() and check_follow_cname().
 */
#include "tun_canon.h"
#include "tun_log.h"
#include "tun_match.h"
#include "tun_resolve.h"

#include <arpa/inet.h>
#include <sys/socket.h>
#include <ev.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct wait {
    int done;
    size_t n;
    char *canon;
};

static void on_lookup(void *arg, const tun_addr *addrs, size_t n, const char *canonical,
                      const char *err)
{
    (void)addrs;
    (void)err;
    struct wait *w = arg;
    w->done = 1;
    w->n = n;
    w->canon = canonical ? strdup(canonical) : NULL;
}

/* Resolve `name` to completion on the private loop: 1 if it has
 * addresses (and *canon its CNAME target, or NULL), 0 if not. */
static int resolve(struct ev_loop *loop, tun_resolver *r, const tun_options *o, const char *name,
                   char **canon)
{
    struct wait w = {0, 0, NULL};
    *canon = NULL;
    tun_lookup *l =
        tun_resolve_canon(r, name, (unsigned)(o->port > 0 ? o->port : 22),
                          o->address_family >= 0 ? o->address_family : AF_UNSPEC, on_lookup, &w);
    if (l == NULL)
        return 0;
    while (!w.done)
        ev_run(loop, EVRUN_ONCE);
    if (w.n == 0) {
        free(w.canon);
        return 0;
    }
    *canon = w.canon;
    return 1;
}

static void lower(char *s)
{
    for (; *s; s++)
        if (*s >= 'A' && *s <= 'Z')
            *s = (char)(*s - 'A' + 'a');
}

/* CanonicalizePermittedCNAMEs: may `name` be replaced by its CNAME target? */
static int follow_cname(const tun_options *o, char **name, const char *cname)
{
    if (cname == NULL || strcasecmp(*name, cname) == 0)
        return 0;
    for (int i = 0; i < o->n_permitted_cnames; i++) {
        char rule[1024];
        snprintf(rule, sizeof(rule), "%s", o->permitted_cnames[i]);
        char *colon = strchr(rule, ':');
        if (colon == NULL)
            continue;
        *colon = '\0';
        if (tun_match_pattern_list(*name, rule) != 1 ||
            tun_match_pattern_list(cname, colon + 1) != 1)
            continue;
        char *c = strdup(cname);
        if (c == NULL)
            return 0;
        lower(c);
        tun_verbose("Canonicalized DNS aliased hostname \"%s\" => \"%s\"", *name, c);
        free(*name);
        *name = c;
        return 1;
    }
    return 0;
}

int tun_canonicalize(const tun_options *o, const char *host, char **out)
{
    *out = NULL;
    char *name = strdup(host);
    if (name == NULL)
        return -1;
    lower(name);
    struct in6_addr a6;
    if (o->canonicalize_hostname <= CANON_NO || inet_pton(AF_INET, name, &a6) == 1 ||
        inet_pton(AF_INET6, name, &a6) == 1) {
        *out = name;
        return 0;
    }
    struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
    tun_resolver *r = loop ? tun_resolver_new_flags(loop, TUN_RESOLVE_NOSEARCH) : NULL;
    /* Called between the two configuration passes: unset values are the
     * defaults (CanonicalizeMaxDots 1, CanonicalizeFallbackLocal yes). */
    int max_dots = o->canonicalize_max_dots >= 0 ? o->canonicalize_max_dots : 1;
    int fallback = o->canonicalize_fallback_local != 0;
    int rv = 0, found = 0, skipped = 0;
    char *cname = NULL;
    if (r == NULL) {
        rv = -1;
        goto out;
    }
    size_t len = strlen(name), ndots = 0;
    for (const char *p = name; *p; p++)
        ndots += *p == '.';
    if (len > 0 && name[len - 1] == '.') {
        /* Anchored: resolve it as it is (without the dot). */
        name[len - 1] = '\0';
        if ((found = resolve(loop, r, o, name, &cname)) != 0)
            follow_cname(o, &name, cname);
    } else if (ndots > (size_t)max_dots) {
        tun_debug3("not canonicalizing hostname \"%s\" (max dots %d)", name, max_dots);
        skipped = 1;
    } else {
        for (int i = 0; i < o->n_canonical_domains && !found; i++) {
            const char *d = o->canonical_domains[i];
            if (strcasecmp(d, "none") == 0)
                break;
            char *full = malloc(strlen(name) + strlen(d) + 2);
            if (full == NULL)
                break;
            sprintf(full, "%s.%s", name, d);
            lower(full);
            tun_debug3("attempting \"%s\" => \"%s\"", name, full);
            free(cname);
            cname = NULL;
            if (!resolve(loop, r, o, full, &cname)) {
                free(full);
                continue;
            }
            found = 1;
            if (!follow_cname(o, &full, cname))
                tun_debug("Canonicalized hostname \"%s\" => \"%s\"", name, full);
            free(name);
            name = full;
        }
    }
    if (!found && !skipped) {
        if (!fallback) {
            tun_error("sshtun: Could not resolve host \"%s\"", name);
            rv = -1;
            goto out;
        }
        tun_debug2("host %s not found in any suffix", name);
    }
    /* Not canonicalised through a suffix: ssh still follows a permitted
     * CNAME of the name itself. */
    if (!found && o->n_permitted_cnames > 0) {
        free(cname);
        cname = NULL;
        if (resolve(loop, r, o, name, &cname))
            follow_cname(o, &name, cname);
    }
out:
    free(cname);
    tun_resolver_free(r);
    if (loop)
        ev_loop_destroy(loop);
    if (rv == 0)
        *out = name;
    else
        free(name);
    return rv;
}
