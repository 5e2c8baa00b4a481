/*
 * fuzz_comp.c - the payload decompressor (proto/comp.c) as a peer's packets
 * reach it: one inflate stream, fed packet after packet.
 *
 * Input: a sequence of packets, each a 2-byte big-endian length and that
 * many bytes (a short last one takes what is left); byte 0 picks the output
 * limit (1 KiB to 256 KiB).  Checked for every packet: the call returns 0,
 * SSH_ERR_COMPRESSION or SSH_ERR_ALLOC and nothing else; the output never
 * exceeds the limit on success; after an error the stream is not used again
 * (the engine disconnects).  A deflate stream then compresses what came out
 * and a fresh inflate stream must give it back byte for byte.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "comp.h"
#include "sshtun/err.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "fuzz_comp: check failed at line %d: %s\n", __LINE__, #cond);          \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    size_t max = (size_t)1024 << (data[0] % 9); /* 1 KiB .. 256 KiB */
    data++;
    size--;
    ssh_comp *in = ssh_comp_new(0), *out = ssh_comp_new(1), *check = ssh_comp_new(0);
    ssh_buf plain, z, back;
    ssh_buf_init(&plain, 4 * max, 0);
    ssh_buf_init(&z, 8 * max + 65536, 0);
    ssh_buf_init(&back, 4 * max, 0);
    if (in == NULL || out == NULL || check == NULL)
        goto done;
    while (size > 0) {
        size_t n = size >= 2 ? ((size_t)data[0] << 8 | data[1]) : size;
        size_t hdr = size >= 2 ? 2 : 0;
        if (n > size - hdr)
            n = size - hdr;
        int rv = ssh_comp_inflate(in, data + hdr, n, &plain, max);
        data += hdr + n;
        size -= hdr + n;
        CHECK(rv == 0 || rv == SSH_ERR_COMPRESSION || rv == SSH_ERR_ALLOC);
        if (rv != 0)
            break;
        CHECK(ssh_buf_len(&plain) <= max);
        /* Round trip what came out through our own streams. */
        ssh_buf_reset(&z);
        CHECK(ssh_comp_deflate(out, ssh_buf_ptr(&plain), ssh_buf_len(&plain), &z) == 0);
        CHECK(ssh_comp_inflate(check, ssh_buf_ptr(&z), ssh_buf_len(&z), &back, max) == 0);
        CHECK(ssh_buf_len(&back) == ssh_buf_len(&plain));
        CHECK(memcmp(ssh_buf_ptr(&back), ssh_buf_ptr(&plain), ssh_buf_len(&plain)) == 0);
    }
done:
    ssh_comp_free(in);
    ssh_comp_free(out);
    ssh_comp_free(check);
    ssh_buf_free(&plain);
    ssh_buf_free(&z);
    ssh_buf_free(&back);
    return 0;
}
