/*
 * tun_hostupdate.h - UpdateHostKeys: learning a server's other and new host
 * keys after authentication (OpenSSH PROTOCOL 2.5, "hostkeys-00@openssh.com"
 * and "hostkeys-prove-00@openssh.com").
 *
 * The server lists all its host keys after authentication.  Keys already
 * recorded for the host stay; keys it no longer offers are removed from
 * the user's known_hosts files; keys not seen before are accepted only
 * after the server signs, with each, the session identifier (proving it
 * holds the private halves), and are then written to the known_hosts file
 * in which the key the connection was verified with was found.  As ssh
 * does, nothing is changed when the host key was trusted through a
 * certificate, a global file or KnownHostsCommand, when the host's lines
 * are not plain "host" / "host,address" lines (wildcards, lists, @markers),
 * or when a key appears under another name; UpdateHostKeys ask shows the
 * changes and asks first.
 */
#ifndef SSHTUN_TUN_HOSTUPDATE_H
#define SSHTUN_TUN_HOSTUPDATE_H

#include "sshtun/conn.h"
#include "tun_chan.h"
#include "tun_hostkey.h"
#include "tun_options.h"

typedef struct tun_hostupdate {
    tun_reqcb reply; /* for the hostkeys-prove-00 answer */
    const tun_options *o;
    ssh_conn *c;
    tun_hk_verdict verdict; /* copied from the host key check */
    int done;               /* hostkeys-00 seen (only the first counts) */
    int waiting;            /* a proof request is out */
    ssh_key **keys;         /* what the server offered */
    unsigned *match;        /* per key: 1 host, 2 address (found in a file) */
    size_t nkeys, nnew;
    ssh_key **old; /* recorded for the host, no longer offered */
    size_t nold;
} tun_hostupdate;

/* Prepare for connection `c` (nothing is sent). */
void tun_hostupdate_init(tun_hostupdate *u, const tun_options *o, ssh_conn *c,
                         const tun_hk_verdict *v);
void tun_hostupdate_free(tun_hostupdate *u);

/* A "hostkeys-00@openssh.com" global request arrived (its data: the key
 * blobs).  Returns the answer for the engine (the server learns nothing
 * from it: always success). */
int tun_hostupdate_input(tun_hostupdate *u, const uint8_t *data, size_t len);

#endif
