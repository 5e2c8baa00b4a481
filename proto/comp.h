/*
 * comp.h - packet payload compression (RFC 4253 section 6.2; OpenSSH
 * PROTOCOL section 2.2 for "zlib@openssh.com").
 *
 * Methods:
 *   none              no compression
 *   zlib              zlib from the first packet after NEWKEYS
 *   zlib@openssh.com  "delayed": zlib only once user authentication has
 *                     succeeded (after the server sends, and the client
 *                     receives, USERAUTH_SUCCESS), so an unauthenticated peer
 *                     never reaches the decompressor.
 * One zlib stream per direction; each packet's payload is deflated and
 * ended with a partial flush (Z_PARTIAL_FLUSH), so the peer can inflate it
 * alone.  The streams start afresh at every NEWKEYS.
 *
 * Memory is fixed per direction by the zlib parameters (deflate level 6,
 * window 2^15, memLevel 8: about 260 KiB; inflate about 40 KiB), and a
 * packet that inflates beyond the caller's maximum is an error, so a
 * "decompression bomb" costs the receiver no more than one packet's bound.
 */
#ifndef SSHTUN_PROTO_COMP_H
#define SSHTUN_PROTO_COMP_H

#include <stddef.h>
#include <stdint.h>

#include "sshtun/buf.h"

enum ssh_comp_type {
    SSH_COMP_NONE = 0,
    SSH_COMP_ZLIB,    /* "zlib" */
    SSH_COMP_DELAYED, /* "zlib@openssh.com" */
};

/* The method for a name, or -1 for a name we do not implement. */
int ssh_comp_type_by_name(const char *name);

typedef struct ssh_comp ssh_comp;

/* A deflate (`compress` != 0) or inflate stream.  NULL if out of memory. */
ssh_comp *ssh_comp_new(int compress);
void ssh_comp_free(ssh_comp *z);

/* Deflate `n` bytes (one packet payload) with a partial flush and append the
 * result to `out`.  0, SSH_ERR_ALLOC/NO_SPACE, or SSH_ERR_COMPRESSION. */
int ssh_comp_deflate(ssh_comp *z, const uint8_t *in, size_t n, ssh_buf *out);

/* Inflate one packet payload into `out` (reset first).  More than `max`
 * bytes of output is SSH_ERR_COMPRESSION, as is a corrupt stream; `out`
 * never grows beyond `max` (plus zlib's own window). */
int ssh_comp_inflate(ssh_comp *z, const uint8_t *in, size_t n, ssh_buf *out, size_t max);

/* Bytes in and out so far (for logs and -O status). */
void ssh_comp_stats(const ssh_comp *z, uint64_t *in, uint64_t *out);

#endif
