/*
 * tun_jump.c - ProxyJump in process (see tun_jump.h).
 *
 * OpenSSH turns "-J a,b dest" into ProxyCommand "ssh -J a -W [%h]:%p b":
 * one process per hop, each a full client whose stdin/stdout carry the
 * next connection.  Here each hop is a tun_conn of this process, built
 * from the same inputs that command line would give it (the -F file, the
 * hop's user and port, the hops before it as its own ProxyJump), and the
 * next connection runs over a direct-tcpip channel of it.
 */
#include "tun_jump.h"
#include "tun_chanwire.h"
#include "tun_config.h"
#include "tun_conn.h"
#include "tun_idstore.h"
#include "tun_jumpspec.h"
#include "tun_log.h"

#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_HOPS 16 /* nested jump hosts: beyond this, a ProxyJump loop */

struct tun_jump {
    struct ev_loop *loop;
    tun_options ho; /* the hop's options */
    tun_idstore ids;
    int have_ids;
    tun_conn *hop;
    tun_chanwire *cw;
    char *target;
    int port;
    char *name; /* the hop as written in the ProxyJump list */
    tun_jump_cb cb;
    void *arg;
    int delivered, freeing;
    char fail[1024];
    int failed;
    int fail_kind;  /* enum tun_conn_failure of the hop */
    ev_timer later; /* a failure found while starting, reported from the loop */
};

static void deliver(tun_jump *j, tun_wire *w, const char *err)
{
    if (j->delivered)
        return;
    j->delivered = 1;
    j->cb(j->arg, w, err);
}

static void fail(tun_jump *j, const char *why)
{
    j->failed = 1;
    snprintf(j->fail, sizeof(j->fail), "%s", why);
    deliver(j, NULL, j->fail);
}

static void on_opened(void *arg, tun_chanwire *cw, uint32_t reason, const char *msg)
{
    (void)cw;
    tun_jump *j = arg;
    if (reason == 0) {
        tun_debug("Channel to %s port %d open through jump host %s", j->target, j->port, j->name);
        deliver(j, tun_chanwire_wire(j->cw), NULL);
        return;
    }
    /* As ssh words a refused channel: "connect failed: Connection
     * refused", "administratively prohibited: open failed". */
    static const char *const reasons[] = {"open failed", "administratively prohibited",
                                          "connect failed", "unknown channel type",
                                          "resource shortage"};
    const char *r = reason < sizeof(reasons) / sizeof(reasons[0]) ? reasons[reason] : reasons[0];
    char why[600];
    snprintf(why, sizeof(why), "connect to host %s port %d via jump host %s: %s%s%s", j->target,
             j->port, j->name, r, *msg ? ": " : "", msg);
    fail(j, why);
}

static void hop_ready(tun_conn *c, void *arg)
{
    tun_jump *j = arg;
    tun_debug("Opening a channel to %s port %d through jump host %s", j->target, j->port, j->name);
    j->cw =
        tun_chanwire_open(j->loop, tun_conn_link(c), j->target, (unsigned)j->port, on_opened, j);
    if (j->cw == NULL) {
        char why[600];
        snprintf(why, sizeof(why), "jump host %s: cannot open a channel", j->name);
        fail(j, why);
    }
}

static void hop_dead(tun_conn *c, const char *msg, void *arg)
{
    tun_jump *j = arg;
    if (j->freeing)
        return;
    j->fail_kind = (int)tun_conn_failure(c);
    if (!j->failed) {
        j->failed = 1;
        if (msg && *msg)
            snprintf(j->fail, sizeof(j->fail), "%s", msg);
        else
            snprintf(j->fail, sizeof(j->fail), "jump host %s closed the connection", j->name);
    }
    if (!j->delivered) {
        deliver(j, NULL, j->fail);
        return;
    }
    /* The connection on the wire learns it from the end of its input. */
    tun_chanwire_lost(j->cw);
}

static void on_later(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)loop;
    (void)revents;
    tun_jump *j = w->data;
    deliver(j, NULL, j->fail);
}

static const char *local_user(void)
{
    struct passwd *pw = getpwuid(getuid());
    return pw && pw->pw_name ? pw->pw_name : "root";
}

tun_jump *tun_jump_start(struct ev_loop *loop, const tun_options *o, const char *host,
                         tun_resolver *res, tun_jump_cb cb, void *arg)
{
    /* ProxyJump takes %h %n %p %r (ssh expands them in the command it
     * builds from the hop list). */
    tun_tokens t;
    tun_tokens_init(&t, o, o->original_host ? o->original_host : host);
    char *spec = tun_expand(o->proxy_jump, &t, "hnpr%");
    tun_tokens_free(&t);
    if (spec == NULL)
        return NULL;
    tun_jumpspec js;
    if (tun_jumpspec_parse(spec, 0, &js) != 0) {
        tun_error("Invalid ProxyJump \"%s\"", spec);
        free(spec);
        return NULL;
    }
    free(spec);
    const char *user = o->user ? o->user : local_user();
    int jport = js.port > 0 ? js.port : 22;
    if (strcmp(js.host, host) == 0 && jport == o->port &&
        strcmp(js.user ? js.user : user, user) == 0) {
        tun_error("jumphost loop via %s", js.host);
        tun_jumpspec_free(&js);
        return NULL;
    }
    if (o->jump_depth >= MAX_HOPS) {
        tun_error("More than %d jump hosts to reach %s: is there a ProxyJump loop in the "
                  "configuration?",
                  MAX_HOPS, host);
        tun_jumpspec_free(&js);
        return NULL;
    }
    tun_jump *j = calloc(1, sizeof(*j));
    if (j == NULL) {
        tun_jumpspec_free(&js);
        return NULL;
    }
    j->loop = loop;
    j->cb = cb;
    j->arg = arg;
    j->port = o->port;
    j->target = strdup(host);
    j->name = strdup(js.host);
    ev_timer_init(&j->later, on_later, 0., 0.);
    j->later.data = j;
    tun_options_init(&j->ho);
    /* What "ssh -l user -p port -J extra -F file host" would start with. */
    char line[1200];
    int bad = j->target == NULL || j->name == NULL;
    if (!bad && js.user) {
        snprintf(line, sizeof(line), "User %s", js.user);
        bad = tun_options_apply(&j->ho, line, "command-line") != 0;
    }
    if (!bad && js.port > 0) {
        snprintf(line, sizeof(line), "Port %d", js.port);
        bad = tun_options_apply(&j->ho, line, "command-line") != 0;
    }
    if (!bad && js.extra)
        bad = tun_options_jump_flag(&j->ho, js.extra) != 0;
    if (!bad && o->config_file)
        bad = (j->ho.config_file = strdup(o->config_file)) == NULL;
    j->ho.jump_depth = o->jump_depth + 1;
    tun_jumpspec_free(&js);
    if (!bad)
        bad = tun_config_load(&j->ho, j->name) != 0;
    if (bad) {
        tun_jump_free(j);
        return NULL;
    }
    tun_debug("Connecting to jump host %s (%s port %d) for %s port %d", j->name,
              j->ho.hostname ? j->ho.hostname : j->name, j->ho.port, host, o->port);
    tun_idstore_init(&j->ids, loop, &j->ho);
    j->have_ids = 1;
    tun_conn_hooks h = {hop_ready, hop_dead, NULL};
    j->hop = tun_conn_start(loop, &j->ho, j->ho.hostname ? j->ho.hostname : j->name, res, &j->ids,
                            &h, j);
    if (j->hop == NULL) {
        j->failed = 1;
        snprintf(j->fail, sizeof(j->fail), "jump host %s: out of memory", j->name);
        ev_timer_start(loop, &j->later);
    }
    return j;
}

const char *tun_jump_failure(const tun_jump *j)
{
    return j && j->failed ? j->fail : NULL;
}

int tun_jump_failure_kind(const tun_jump *j)
{
    return j ? j->fail_kind : 0;
}

int tun_jump_local_addr(const tun_jump *j, struct sockaddr_storage *ss)
{
    return j && j->hop ? tun_conn_local_addr(j->hop, ss) : -1;
}

void tun_jump_kick(tun_jump *j)
{
    if (j && j->hop)
        tun_conn_kick(j->hop);
}

void tun_jump_free(tun_jump *j)
{
    if (j == NULL)
        return;
    j->freeing = 1;
    ev_timer_stop(j->loop, &j->later);
    tun_chanwire_free(j->cw);
    if (j->hop) {
        /* A DISCONNECT for the jump host too, flushed now if it can be. */
        tun_conn_close(j->hop);
        tun_conn_kick(j->hop);
        tun_conn_free(j->hop);
    }
    if (j->have_ids)
        tun_idstore_free(&j->ids);
    tun_options_free(&j->ho);
    free(j->target);
    free(j->name);
    free(j);
}
