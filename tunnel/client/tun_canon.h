/*
 * tun_canon.h - CanonicalizeHostname, CanonicalDomains, CanonicalizeMaxDots,
 * CanonicalizeFallbackLocal and CanonicalizePermittedCNAMEs, as ssh(1)
 * applies them before it reads its configuration a second time.
 *
 * With CanonicalizeHostname yes (or always: the same here, sshtun has no
 * proxy), a name with at most CanonicalizeMaxDots dots is tried with each
 * CanonicalDomains suffix in turn (a name ending in '.' alone, without
 * it); the first that resolves is the canonical name, or the target of its
 * CNAME when a CanonicalizePermittedCNAMEs rule ("source:target" domain
 * pattern lists) allows following it.  Nothing resolving is an error with
 * CanonicalizeFallbackLocal no, otherwise the name stays as it is.
 * Lookups go through c-ares on a private loop, without resolv.conf search
 * domains (the suffixes are the point).
 */
#ifndef SSHTUN_TUN_CANON_H
#define SSHTUN_TUN_CANON_H

#include "tun_options.h"

/* The canonical form of `host` (HostName applied, lowercase) as a
 * malloc'd string in *out (a copy of host when nothing applies).  Returns
 * 0, or -1 after printing "Could not resolve host" (FallbackLocal no). */
int tun_canonicalize(const tun_options *o, const char *host, char **out);

#endif
