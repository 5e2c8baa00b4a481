/*
 * delayline.c - a TCP relay that delays every byte by a fixed time in each
 * direction: the shape of a long path (a bastion, a TCP proxy, a load
 * balancer, a far-away server) on one machine without netem.
 *
 *   delayline LISTEN_PORT TARGET_PORT DELAY_MS
 *
 * Listens on 127.0.0.1:LISTEN_PORT; every accepted connection is relayed to
 * 127.0.0.1:TARGET_PORT.  Whatever one side sends is held DELAY_MS
 * milliseconds and then written to the other side, so the path's round
 * trip is 2 x DELAY_MS plus what the endpoints add.  The relay reads as soon
 * as data arrives and keeps what is in flight in its own memory (up to 512
 * MiB per direction, then it stops reading that side), so neither the TCP
 * windows of the two hops nor the relay limit the throughput: only the
 * endpoints' flow control does, as on a real long fat path.  An EOF is
 * delayed like data, then passed on (shutdown).  Prints "ready" once
 * listening; runs until killed.
 *
 * One thread, poll(2); chunks are read into a 1 MiB scratch buffer and
 * queued as exactly-sized copies with their release time.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_CONNS   64
#define READ_CHUNK  (1u << 20)
#define QUEUE_LIMIT (512u << 20)

typedef struct chunk {
    struct chunk *next;
    uint64_t due_us;
    size_t len, off; /* len 0: EOF marker */
    unsigned char data[];
} chunk;

/* One direction: bytes read from `from`, written to `to` when due. */
typedef struct dir {
    int from, to;
    chunk *head, *tail;
    size_t queued;
    int eof_read, eof_sent;
} dir;

typedef struct relay {
    int used;
    dir d[2];
} relay;

static relay relays[MAX_CONNS];
static uint64_t delay_us;
static unsigned char scratch[READ_CHUNK];

static uint64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static void nodelay(int fd)
{
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

static void relay_close(relay *r)
{
    for (int i = 0; i < 2; i++) {
        chunk *c = r->d[i].head;
        while (c) {
            chunk *n = c->next;
            free(c);
            c = n;
        }
    }
    close(r->d[0].from);
    close(r->d[1].from);
    memset(r, 0, sizeof(*r));
}

static int enqueue(dir *d, const void *p, size_t n, uint64_t due)
{
    chunk *c = malloc(sizeof(*c) + n);
    if (c == NULL)
        return -1;
    c->next = NULL;
    c->due_us = due;
    c->len = n;
    c->off = 0;
    if (n)
        memcpy(c->data, p, n);
    if (d->tail)
        d->tail->next = c;
    else
        d->head = c;
    d->tail = c;
    d->queued += n;
    return 0;
}

/* Read what is there; -1 when the relay must end. */
static int do_read(dir *d)
{
    while (!d->eof_read && d->queued < QUEUE_LIMIT) {
        ssize_t r = read(d->from, scratch, sizeof(scratch));
        if (r < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN)
                return 0;
            return -1;
        }
        if (enqueue(d, scratch, (size_t)r, now_us() + delay_us) != 0)
            return -1;
        if (r == 0)
            d->eof_read = 1;
        if ((size_t)r < sizeof(scratch))
            return 0;
    }
    return 0;
}

/* Write every chunk that is due; -1 when the relay must end. */
static int do_write(dir *d, uint64_t now)
{
    while (d->head && d->head->due_us <= now) {
        chunk *c = d->head;
        if (c->len == 0) {
            shutdown(d->to, SHUT_WR);
            d->eof_sent = 1;
        } else {
            while (c->off < c->len) {
                ssize_t w = write(d->to, c->data + c->off, c->len - c->off);
                if (w < 0) {
                    if (errno == EINTR)
                        continue;
                    if (errno == EAGAIN)
                        return 0;
                    return -1;
                }
                c->off += (size_t)w;
                d->queued -= (size_t)w;
            }
        }
        d->head = c->next;
        if (d->head == NULL)
            d->tail = NULL;
        free(c);
    }
    return 0;
}

static int connect_target(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return -1;
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: delayline LISTEN_PORT TARGET_PORT DELAY_MS\n");
        return 2;
    }
    int lport = atoi(argv[1]), tport = atoi(argv[2]);
    delay_us = (uint64_t)strtoull(argv[3], NULL, 10) * 1000u;
    signal(SIGPIPE, SIG_IGN);
    int ls = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    int one = 1;
    setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)lport)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (ls < 0 || bind(ls, (struct sockaddr *)&sa, sizeof(sa)) != 0 || listen(ls, 128) != 0) {
        perror("delayline: listen");
        return 1;
    }
    printf("ready\n");
    fflush(stdout);
    for (;;) {
        struct pollfd pf[1 + 2 * MAX_CONNS];
        relay *owner[1 + 2 * MAX_CONNS];
        int side[1 + 2 * MAX_CONNS];
        nfds_t n = 0;
        pf[n].fd = ls;
        pf[n].events = POLLIN;
        owner[n++] = NULL;
        uint64_t now = now_us(), next = UINT64_MAX;
        for (int i = 0; i < MAX_CONNS; i++) {
            relay *r = &relays[i];
            if (!r->used)
                continue;
            for (int k = 0; k < 2; k++) {
                dir *d = &r->d[k], *o = &r->d[1 - k];
                short ev = 0;
                if (!d->eof_read && d->queued < QUEUE_LIMIT)
                    ev |= POLLIN; /* read side of direction k */
                if (o->head && o->head->due_us <= now && o->head->len)
                    ev |= POLLOUT; /* fd d->from is the write side of o */
                if (o->head && o->head->due_us > now && o->head->due_us < next)
                    next = o->head->due_us;
                pf[n].fd = d->from;
                pf[n].events = ev;
                owner[n] = r;
                side[n++] = k;
            }
        }
        int timeout = -1;
        if (next != UINT64_MAX)
            timeout = (int)((next - now + 999) / 1000);
        if (poll(pf, n, timeout) < 0 && errno != EINTR)
            return 1;
        if (pf[0].revents & POLLIN) {
            int c = accept4(ls, NULL, NULL, SOCK_NONBLOCK);
            if (c >= 0) {
                int t = connect_target(tport);
                int slot = -1;
                for (int i = 0; i < MAX_CONNS && slot < 0; i++)
                    if (!relays[i].used)
                        slot = i;
                if (t < 0 || slot < 0) {
                    close(c);
                    if (t >= 0)
                        close(t);
                } else {
                    fcntl(t, F_SETFL, fcntl(t, F_GETFL) | O_NONBLOCK);
                    nodelay(c);
                    nodelay(t);
                    relay *r = &relays[slot];
                    r->used = 1;
                    r->d[0].from = c;
                    r->d[0].to = t;
                    r->d[1].from = t;
                    r->d[1].to = c;
                }
            }
        }
        now = now_us();
        for (nfds_t i = 1; i < n; i++) {
            relay *r = owner[i];
            if (!r->used)
                continue;
            int k = side[i];
            int bad = 0;
            if (pf[i].revents & (POLLIN | POLLHUP | POLLERR))
                bad |= do_read(&r->d[k]);
            bad |= do_write(&r->d[1 - k], now);
            if (bad || (r->d[0].eof_sent && r->d[1].eof_sent))
                relay_close(r);
        }
    }
}
