/*
 * tun_srvconfig_int.h - what tun_srvconfig.c (reading) and
 * tun_srvconfig_for.c (per-connection settings) share.
 */
#ifndef SSHTUN_TUN_SRVCONFIG_INT_H
#define SSHTUN_TUN_SRVCONFIG_INT_H

#include "tun_srvconfig.h"

struct tun_match_block {
    int all;
    int never;   /* the Match line was invalid: validate lines, never apply */
    char *users; /* pattern list, NULL: no User criterion */
    char *addrs; /* pattern list, NULL: no Address criterion */
    tun_srvopts opts;
    tun_match_block *next;
};

/* Every field unset (-1, NULL, empty lists). */
void srvcfg_opts_init(tun_srvopts *o);
/* Is `s` in v[0..n)? */
int srvcfg_list_has(char *const *v, int n, const char *s);
/* Does block `b` apply to `user` (NULL: not known yet) from `addr`? */
int srvcfg_block_matches(const tun_match_block *b, const char *user, const char *addr);

/* Include's file access (tun_srvconfig_inc.c), through the recording the
 * configuration uses if any (tun_srvcfg_incs_use).  Glob: 0 with the
 * matches in *paths (free with srvcfg_inc_paths_free), 1 no match, 2 an
 * error, 3 (replay) a pattern the recording does not have.  Read: 0 with the file's text (NUL-terminated, malloc'd), or -1
 * with why in `why`. */
int srvcfg_inc_glob(tun_srvcfg *c, const char *pat, char ***paths, size_t *n);
void srvcfg_inc_paths_free(char **paths, size_t n);
int srvcfg_inc_read(tun_srvcfg *c, const char *path, size_t max, uint8_t **data, size_t *len,
                    char *why, size_t whysz);

#endif
