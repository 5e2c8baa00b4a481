/*
 * comp.c - zlib compression of packet payloads (RFC 4253 section 6.2).
 *
 * RFC 1950 zlib streams, one per direction, each packet ended with a
 * partial flush: that flush emits every byte of the packet and aligns to a
 * byte boundary without resetting the dictionary, so later packets still
 * compress against earlier ones (the point of a per-connection stream),
 * and the receiver can inflate each packet as soon as it arrives.  The
 * receiver inflates with Z_SYNC_FLUSH until zlib has nothing more to give.
 *
 * Output is produced in bounded steps straight into the destination
 * buffer; on inflate, the destination never holds more than `max` bytes,
 * which is how a packet that would expand into gigabytes (a few hundred
 * bytes of compressed zeros can) is stopped after `max`.
 */
#include "comp.h"

#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "sshtun/err.h"

struct ssh_comp {
    z_stream zs;
    int compress;
};

int ssh_comp_type_by_name(const char *name)
{
    if (strcmp(name, "none") == 0)
        return SSH_COMP_NONE;
    if (strcmp(name, "zlib") == 0)
        return SSH_COMP_ZLIB;
    if (strcmp(name, "zlib@openssh.com") == 0)
        return SSH_COMP_DELAYED;
    return -1;
}

ssh_comp *ssh_comp_new(int compress)
{
    ssh_comp *z = calloc(1, sizeof(*z));
    if (z == NULL)
        return NULL;
    z->compress = compress;
    /* Level 6 as OpenSSH; the default window and memLevel are what every
     * implementation uses, and they bound the memory per direction. */
    int zr = compress ? deflateInit(&z->zs, 6) : inflateInit(&z->zs);
    if (zr != Z_OK) {
        free(z);
        return NULL;
    }
    return z;
}

void ssh_comp_free(ssh_comp *z)
{
    if (z == NULL)
        return;
    if (z->compress)
        deflateEnd(&z->zs);
    else
        inflateEnd(&z->zs);
    free(z);
}

/* Room for the next step of output: at least 4 KiB, or what is left. */
#define STEP 16384u

int ssh_comp_deflate(ssh_comp *z, const uint8_t *in, size_t n, ssh_buf *out)
{
    if (!z->compress)
        return SSH_ERR_STATE;
    z->zs.next_in = (Bytef *)(uintptr_t)in;
    z->zs.avail_in = (uInt)n;
    /* A partial flush is complete when deflate leaves output space unused:
     * then everything buffered has been emitted. */
    for (;;) {
        uint8_t *p;
        int rv = ssh_buf_reserve(out, STEP, &p);
        if (rv != 0)
            return rv;
        z->zs.next_out = p;
        z->zs.avail_out = STEP;
        int zr = deflate(&z->zs, Z_PARTIAL_FLUSH);
        if (zr != Z_OK && zr != Z_BUF_ERROR)
            return SSH_ERR_COMPRESSION;
        if ((rv = ssh_buf_commit(out, STEP - z->zs.avail_out)) != 0)
            return rv;
        if (z->zs.avail_out != 0 && z->zs.avail_in == 0)
            return 0;
    }
}

int ssh_comp_inflate(ssh_comp *z, const uint8_t *in, size_t n, ssh_buf *out, size_t max)
{
    if (z->compress)
        return SSH_ERR_STATE;
    ssh_buf_reset(out);
    z->zs.next_in = (Bytef *)(uintptr_t)in;
    z->zs.avail_in = (uInt)n;
    for (;;) {
        /* One byte beyond the limit is enough to know it was passed. */
        size_t room = max + 1 - out->len;
        if (room > STEP)
            room = STEP;
        uint8_t *p;
        int rv = ssh_buf_reserve(out, room, &p);
        if (rv != 0)
            return rv == SSH_ERR_NO_SPACE ? SSH_ERR_COMPRESSION : rv;
        z->zs.next_out = p;
        z->zs.avail_out = (uInt)room;
        int zr = inflate(&z->zs, Z_SYNC_FLUSH);
        size_t got = room - z->zs.avail_out;
        if ((rv = ssh_buf_commit(out, got)) != 0)
            return rv;
        if (out->len > max)
            return SSH_ERR_COMPRESSION;
        /* Z_BUF_ERROR: no progress possible, i.e. all input consumed and
         * all output given.  Z_STREAM_END would end the connection's
         * stream, which SSH never does: treat it as corrupt. */
        if (zr == Z_BUF_ERROR || (zr == Z_OK && z->zs.avail_in == 0 && z->zs.avail_out != 0))
            return z->zs.avail_in == 0 ? 0 : SSH_ERR_COMPRESSION;
        if (zr != Z_OK)
            return SSH_ERR_COMPRESSION;
    }
}

void ssh_comp_stats(const ssh_comp *z, uint64_t *in, uint64_t *out)
{
    *in = z ? z->zs.total_in : 0;
    *out = z ? z->zs.total_out : 0;
}
