/*
 * tun_agent.h - talking to ssh-agent (OpenSSH PROTOCOL.agent,
 * draft-miller-ssh-agent) over its Unix socket, without blocking the loop.
 *
 * Requests are queued and answered in order: list identities
 * (SSH_AGENTC_REQUEST_IDENTITIES) and sign (SSH_AGENTC_SIGN_REQUEST with the
 * SSH_AGENT_RSA_SHA2_256/512 flags chosen from the signature algorithm).
 */
#ifndef SSHTUN_TUN_AGENT_H
#define SSHTUN_TUN_AGENT_H

#include <ev.h>
#include <stddef.h>
#include <stdint.h>

#include "sshtun/key.h"

typedef struct tun_agent tun_agent;

/* keys/comments are owned by the callee and freed after the call; err != 0
 * (an SSH_ERR_*) when the agent failed. */
typedef void (*tun_agent_list_cb)(void *arg, ssh_key *const *keys, char *const *comments,
                                  size_t n, int err);
/* sig: the SSH signature blob (string alg, string sig). */
typedef void (*tun_agent_sign_cb)(void *arg, const uint8_t *sig, size_t len, int err);

/* Connect to the agent at `path` (NULL: $SSH_AUTH_SOCK).  NULL when there is
 * no agent (logged at debug level). */
tun_agent *tun_agent_connect(struct ev_loop *loop, const char *path);
int tun_agent_list(tun_agent *a, tun_agent_list_cb cb, void *arg);
int tun_agent_sign(tun_agent *a, const ssh_key *key, const char *alg, const uint8_t *data,
                   size_t len, tun_agent_sign_cb cb, void *arg);
/* Pending callbacks are not called after this. */
void tun_agent_free(tun_agent *a);

/* Parse an identities answer body (after the type byte) - for the fuzzer. */
int tun_agent_parse_identities(const uint8_t *p, size_t len, ssh_key ***keys, char ***comments,
                               size_t *n);

#endif
