/*
 * tun_startups.h - sshd's MaxStartups decision, shared by the network
 * process (one worker) and the privileged helper (several workers: it
 * counts every worker's unauthenticated connections).
 */
#ifndef SSHTUN_TUN_STARTUPS_H
#define SSHTUN_TUN_STARTUPS_H

#include "tun_srvconfig.h"

/* Drop a new connection, with `n_unauth` connections not authenticated
 * yet?  MaxStartups "start:rate:full": below start none is dropped; from
 * start on, with probability rising linearly from rate% to 100% at full
 * (drop when `r100`, uniform in 0..99, is below it).  1 or 0. */
int tun_max_startups_drop(const tun_srvcfg *c, unsigned n_unauth, unsigned r100);
/* A uniform 0..99 from libcrypto's generator; 0 (a drop whenever one is
 * possible) if the generator fails. */
unsigned tun_max_startups_rand(void);

#endif
