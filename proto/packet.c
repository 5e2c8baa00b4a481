/*
 * packet.c - the binary packet protocol (RFC 4253 section 6).
 *
 *     uint32    packet_length
 *     byte      padding_length
 *     byte[n1]  payload; n1 = packet_length - padding_length - 1
 *     byte[n2]  random padding; n2 = padding_length (>= 4)
 *     byte[m]   mac (or AEAD tag)
 *
 * Sending: a packet is built directly at the end of the output buffer, with
 * five bytes reserved for the header, then padded, encrypted and MACed in
 * place.  There is no intermediate payload buffer and no allocation once the
 * output buffer has grown to its working size.
 *
 * Receiving: bytes are read straight into the input buffer; each packet is
 * authenticated and decrypted where it lies and its payload handed to the
 * dispatcher as a pointer into that buffer.
 *
 * With compression on (comp.h), a payload is deflated just before it is
 * padded and encrypted, and inflated just after it is decrypted; that costs
 * one copy through a scratch buffer each way, and only then.
 *
 * During a key exchange (after we sent KEXINIT and before we sent NEWKEYS)
 * only transport messages may be sent (section 7.1); everything else is
 * parked, in plaintext, in the pending queue and protected with the new keys
 * once NEWKEYS is out, so nothing is lost while keys change.
 */
#include "conn_int.h"
#include "kex.h"

#include <string.h>

void ssh_pktdir_clear(ssh_pktdir *d)
{
    ssh_cipher_free(d->cipher);
    ssh_mac_free(d->mac);
    ssh_comp_free(d->z);
    d->cipher = NULL;
    d->mac = NULL;
    d->z = NULL;
}

/* Start the direction's zlib stream if its method says it is due: "zlib"
 * at once, "zlib@openssh.com" once authenticated. */
static int comp_start(ssh_conn *c, ssh_pktdir *d, int tx)
{
    if (d->z != NULL)
        return 0;
    if (d->comp_type == SSH_COMP_ZLIB || (d->comp_type == SSH_COMP_DELAYED && c->comp_authed)) {
        d->z = ssh_comp_new(tx);
        if (d->z == NULL)
            return SSH_ERR_ALLOC;
        ssh_conn_logf(c, 2, "%s compression started", tx ? "outgoing" : "incoming");
    }
    return 0;
}

int ssh_pkt_auth_done(ssh_conn *c)
{
    c->comp_authed = 1;
    int rv = comp_start(c, &c->tx, 1);
    return rv != 0 ? rv : comp_start(c, &c->rx, 0);
}

/* Replace the payload of the packet under construction in c->out with its
 * deflated form. */
static int compress_payload(ssh_conn *c)
{
    size_t start = c->pkt_start + 5;
    size_t n = c->out.len - start;
    ssh_buf_reset(&c->zout);
    int rv = ssh_comp_deflate(c->tx.z, ssh_buf_ptr(&c->out) + start, n, &c->zout);
    if (rv != 0)
        return rv;
    if ((rv = ssh_buf_consume_end(&c->out, n)) != 0)
        return rv;
    return ssh_buf_put(&c->out, ssh_buf_ptr(&c->zout), ssh_buf_len(&c->zout));
}

/* Messages that may be sent while our KEXINIT is out and NEWKEYS is not. */
static int allowed_during_kex(uint8_t type)
{
    return (type >= 1 && type <= 4) || (type >= 20 && type <= 49);
}

static int kex_blocks_output(const ssh_conn *c)
{
    return c->kex != NULL && ssh_kex_sent_init(c->kex) && !ssh_kex_sent_newkeys(c->kex);
}

static ssh_buf *begin(ssh_conn *c, int to_pending)
{
    ssh_buf *b = to_pending ? &c->pending : &c->out;
    c->pkt = b;
    c->pkt_start = b->len;
    c->pkt_open = 1;
    /* pending entries: uint32 payload length; output: packet_length and
     * padding_length, filled in by ssh_pkt_end(). */
    uint8_t *h;
    if (ssh_buf_append_space(b, to_pending ? 4 : 5, &h) != 0)
        c->pkt_open = -1; /* remembered as a failure for ssh_pkt_end */
    return b;
}

ssh_buf *ssh_pkt_begin(ssh_conn *c, uint8_t type)
{
    ssh_buf *b = begin(c, kex_blocks_output(c) && !allowed_during_kex(type));
    if (c->pkt_open > 0 && ssh_buf_put_u8(b, type) != 0)
        c->pkt_open = -1;
    return b;
}

void ssh_pkt_cancel(ssh_conn *c)
{
    if (c->pkt_open == 0)
        return;
    ssh_buf_consume_end(c->pkt, c->pkt->len - c->pkt_start);
    c->pkt_open = 0;
}

/* Refill padding bytes from the random callback in batches, so the data path
 * does not call back into the application for every packet. */
static void padding(ssh_conn *c, uint8_t *p, size_t n)
{
    while (n > 0) {
        if (c->padpool_left == 0) {
            ssh_conn_random(c, c->padpool, sizeof(c->padpool));
            c->padpool_left = sizeof(c->padpool);
        }
        size_t k = n < c->padpool_left ? n : c->padpool_left;
        memcpy(p, c->padpool + sizeof(c->padpool) - c->padpool_left, k);
        c->padpool_left -= k;
        p += k;
        n -= k;
    }
}

/* RFC 4253 section 6: the padded length is a multiple of the block size (at
 * least 8), with at least four bytes of padding.  With AEAD and
 * encrypt-then-MAC the length field is not encrypted and is left out of the
 * alignment, as OpenSSH does. */
static size_t pad_len(const ssh_pktdir *d, size_t payload_len)
{
    size_t aligned = 5 + payload_len - ((d->aead || d->etm) ? 4 : 0);
    size_t padlen = d->block - (aligned % d->block);
    if (padlen < 4)
        padlen += d->block;
    return padlen;
}

int ssh_pkt_wire_len(const ssh_conn *c, size_t payload_len, size_t *len)
{
    /* Compression changes the size; a key exchange may park the packet or
     * change the keys (and the MAC length) before it is built. */
    if (c->tx.z != NULL || c->kex != NULL || c->pkt_open)
        return SSH_ERR_AGAIN;
    *len = 4 + 1 + payload_len + pad_len(&c->tx, payload_len) + c->tx.maclen;
    return 0;
}

static int protect(ssh_conn *c)
{
    ssh_pktdir *d = &c->tx;
    ssh_buf *b = &c->out;
    int rv;
    uint8_t type = ssh_buf_ptr(b)[c->pkt_start + 5];
    /* The peer bounds the inflated payload as it bounds a packet: so do we,
     * before compression hides the size. */
    if (d->z != NULL) {
        if (b->len - c->pkt_start - 5 > SSH_PACKET_MAX - 5)
            return SSH_ERR_PACKET_TOO_LARGE;
        if ((rv = compress_payload(c)) != 0)
            return rv;
    }
    size_t payload_len = b->len - c->pkt_start - 5;
    size_t padlen = pad_len(d, payload_len);
    size_t plen = 1 + payload_len + padlen;
    if (plen > SSH_PACKET_MAX)
        return SSH_ERR_PACKET_TOO_LARGE;

    uint8_t *tail;
    rv = ssh_buf_append_space(b, padlen + d->maclen, &tail);
    if (rv != 0)
        return rv;
    padding(c, tail, padlen);
    uint8_t *pkt = ssh_buf_mutable_ptr(b) + c->pkt_start;
    if (c->cfg.log_level >= 3) /* still plaintext: the message number */
        ssh_conn_logf(c, 3, "send packet: type %u", pkt[5]);
    ssh_poke_u32(pkt, (uint32_t)plen);
    pkt[4] = (uint8_t)padlen;
    size_t total = 4 + plen;
    uint8_t *mac = pkt + total;

    if (d->cipher == NULL) {
        rv = 0;
    } else if (d->aead) {
        rv = ssh_cipher_aead_seal(d->cipher, d->seq, pkt, total, mac);
    } else if (d->etm) {
        rv = ssh_cipher_crypt(d->cipher, pkt + 4, plen);
        if (rv == 0)
            rv = ssh_mac_compute(d->mac, d->seq, pkt, total, mac);
    } else {
        rv = ssh_mac_compute(d->mac, d->seq, pkt, total, mac);
        if (rv == 0)
            rv = ssh_cipher_crypt(d->cipher, pkt, total);
    }
    if (rv != 0)
        return rv;

    d->seq++;
    d->bytes += total + d->maclen;
    d->packets++;
    c->bytes_out += total + d->maclen;
    c->packets_out++;
    /* Strict KEX: a wrapping sequence number during the initial exchange
     * would let an attacker realign the streams. */
    if (d->seq == 0 && !c->kex_done_once)
        return SSH_ERR_SEQ_WRAP;
    /* The server's delayed compression starts right after its
     * USERAUTH_SUCCESS goes out (OpenSSH PROTOCOL section 2.2), whenever
     * that is: a SUCCESS parked during a re-exchange is protected only
     * after NEWKEYS, and must still go out uncompressed. */
    if (c->server && type == SSH_MSG_USERAUTH_SUCCESS)
        return ssh_pkt_auth_done(c);
    return 0;
}

int ssh_pkt_end(ssh_conn *c)
{
    int rv;
    if (c->pkt_open == 0)
        return SSH_ERR_INTERNAL;
    if (c->pkt_open < 0) {
        ssh_pkt_cancel(c);
        return SSH_ERR_NO_SPACE;
    }
    if (c->pkt == &c->pending) {
        size_t n = c->pending.len - c->pkt_start - 4;
        ssh_poke_u32(ssh_buf_mutable_ptr(&c->pending) + c->pkt_start, (uint32_t)n);
        c->pkt_open = 0;
        return 0;
    }
    rv = protect(c);
    if (rv != 0) {
        ssh_pkt_cancel(c);
        return rv;
    }
    c->pkt_open = 0;
    /* Rekey by volume (RFC 4253 section 9, RFC 4344 section 3.2). */
    if (c->kex == NULL && c->kex_done_once &&
        (c->tx.bytes >= c->tx.rekey_bytes || c->tx.packets >= SSH_REKEY_PACKETS))
        return ssh_kex_start(c);
    return 0;
}

int ssh_pkt_flush_pending(ssh_conn *c)
{
    if (c->pending.len == 0)
        return 0;
    /* Take the queue out: if a new key exchange starts while we flush, the
     * rest goes back into a fresh pending queue via begin(). */
    ssh_buf q = c->pending;
    ssh_buf_init(&c->pending, q.max, 0);
    ssh_cur cur;
    ssh_cur_from_buf(&cur, &q);
    int rv = 0;
    while (cur.len > 0 && rv == 0) {
        const uint8_t *p;
        size_t n;
        uint32_t l;
        if ((rv = ssh_cur_get_u32(&cur, &l)) != 0 || (rv = ssh_cur_get_bytes(&cur, l, &p)) != 0)
            break;
        n = l;
        if (n == 0) {
            rv = SSH_ERR_INTERNAL;
            break;
        }
        ssh_buf *b = begin(c, kex_blocks_output(c) && !allowed_during_kex(p[0]));
        if ((rv = ssh_buf_put(b, p, n)) != 0) {
            ssh_pkt_cancel(c);
            break;
        }
        rv = ssh_pkt_end(c);
    }
    ssh_buf_free(&q);
    return rv;
}

int ssh_pkt_set_keys(ssh_conn *c, int tx, ssh_newkeys *nk)
{
    ssh_pktdir *d = tx ? &c->tx : &c->rx;
    ssh_pktdir_clear(d);
    d->cipher = nk->cipher;
    d->mac = nk->mac;
    nk->cipher = NULL;
    nk->mac = NULL;
    d->aead = (nk->ci->flags & SSH_CIPHER_AEAD) != 0;
    d->etm = !d->aead && nk->mi && nk->mi->etm;
    d->block = nk->ci->block_size < 8 ? 8 : nk->ci->block_size;
    d->maclen = d->aead ? nk->ci->tag_len : nk->mi->out_len;
    d->bytes = 0;
    d->packets = 0;
    /* Default volume limit: as OpenSSH, 2^(2*blocksize_bits/... ) simplified
     * to 1 GiB for every cipher here (the ceiling), or the
     * configured RekeyLimit if lower. */
    uint64_t lim = SSH_REKEY_BYTES_MAX;
    if (c->cfg.rekey_bytes && c->cfg.rekey_bytes < lim)
        lim = c->cfg.rekey_bytes;
    d->rekey_bytes = lim;
    /* RFC 4253 section 6.2: the compression context starts anew with each
     * key exchange (ssh_pktdir_clear() ended the old one). */
    d->comp_type = nk->comp;
    return comp_start(c, d, tx);
}

void ssh_pkt_send_disconnect(ssh_conn *c, uint32_t reason, const char *msg)
{
    /* A binary packet makes sense only after our identification line: not
     * before ssh_conn_start().  Once it is queued (or already written) the
     * peer can parse a DISCONNECT, whether or not we have its line yet. */
    if (c->bytes_out == 0)
        return;
    if (c->pkt_open)
        ssh_pkt_cancel(c);
    ssh_buf *b = ssh_pkt_begin(c, SSH_MSG_DISCONNECT);
    if (ssh_buf_put_u32(b, reason) != 0 || ssh_buf_put_cstring(b, msg ? msg : "") != 0 ||
        ssh_buf_put_cstring(b, "") != 0) {
        ssh_pkt_cancel(c);
        return;
    }
    ssh_pkt_end(c);
}

/* ---- receiving --------------------------------------------------------------- */

/* Try to extract one packet from the input buffer.  Returns 1 with the
 * payload and total wire size, 0 if more bytes are needed, or an error. */
static int read_packet(ssh_conn *c, const uint8_t **payload, size_t *plen_out, size_t *total_out)
{
    ssh_pktdir *d = &c->rx;
    uint8_t *p = ssh_buf_mutable_ptr(&c->in);
    size_t avail = c->in.len;
    int rv;

    if (c->rx_plen == 0) {
        uint32_t plen;
        if (d->cipher == NULL || d->etm) {
            if (avail < 4)
                return 0;
            plen = ssh_peek_u32(p);
        } else if (d->aead) {
            if (avail < 4)
                return 0;
            if ((rv = ssh_cipher_aead_length(d->cipher, d->seq, p, &plen)) != 0)
                return rv;
        } else {
            /* CTR with MAC-then-encrypt: decrypt the first block to learn
             * the length (the MAC can only be checked at the end). */
            if (avail < d->block)
                return 0;
            if ((rv = ssh_cipher_crypt(d->cipher, p, d->block)) != 0)
                return rv;
            c->rx_done = d->block;
            plen = ssh_peek_u32(p);
        }
        if (plen > SSH_PACKET_MAX)
            return SSH_ERR_PACKET_TOO_LARGE;
        /* At least padding_length, one message byte and four bytes of
         * padding, and block-aligned (the length field is excluded from the
         * alignment for AEAD and ETM). */
        size_t aligned = (d->aead || d->etm) ? plen : (size_t)plen + 4;
        if (plen < 1 + 1 + 4 || aligned % d->block != 0)
            return SSH_ERR_PACKET_FORMAT;
        if (c->rx_done > 4 + (size_t)plen)
            return SSH_ERR_PACKET_FORMAT;
        c->rx_plen = plen;
    }

    size_t plen = c->rx_plen;
    size_t total = 4 + plen + d->maclen;
    if (avail < total)
        return 0;
    uint8_t *mac = p + 4 + plen;
    if (d->cipher == NULL) {
        rv = 0;
    } else if (d->aead) {
        rv = ssh_cipher_aead_open(d->cipher, d->seq, p, 4 + plen, mac);
    } else if (d->etm) {
        rv = ssh_mac_verify(d->mac, d->seq, p, 4 + plen, mac);
        if (rv == 0)
            rv = ssh_cipher_crypt(d->cipher, p + 4, plen);
    } else {
        rv = ssh_cipher_crypt(d->cipher, p + c->rx_done, 4 + plen - c->rx_done);
        if (rv == 0)
            rv = ssh_mac_verify(d->mac, d->seq, p, 4 + plen, mac);
    }
    if (rv != 0)
        return rv;
    size_t padlen = p[4];
    if (padlen < 4 || padlen + 1 >= plen)
        return SSH_ERR_PACKET_FORMAT;
    *payload = p + 5;
    *plen_out = plen - padlen - 1;
    *total_out = total;
    c->rx_plen = 0;
    c->rx_done = 0;
    return 1;
}

int ssh_pkt_process(ssh_conn *c)
{
    int rv = 0;
    while (c->err == 0 && !c->paused && c->phase != PHASE_CLOSED) {
        if (c->phase == PHASE_IDENT) {
            rv = ssh_ident_process(c);
            if (rv <= 0)
                break;
            continue;
        }
        const uint8_t *payload = NULL;
        size_t len = 0, total = 0;
        rv = read_packet(c, &payload, &len, &total);
        if (rv <= 0)
            break;
        if (c->rx.z != NULL) {
            /* Inflated into the scratch buffer, at most one packet's
             * worth: anything that expands further is a bomb. */
            if ((rv = ssh_comp_inflate(c->rx.z, payload, len, &c->zin, SSH_PACKET_MAX)) != 0)
                break;
            payload = ssh_buf_ptr(&c->zin);
            len = ssh_buf_len(&c->zin);
            if (len == 0) {
                rv = SSH_ERR_PACKET_FORMAT;
                break;
            }
        }
        uint32_t seq = c->rx.seq++;
        c->rx.bytes += total;
        c->rx.packets++;
        c->bytes_in += total;
        c->packets_in++;
        if (c->rx.seq == 0 && !c->kex_done_once) {
            rv = SSH_ERR_SEQ_WRAP;
            break;
        }
        if (c->cfg.log_level >= 3)
            ssh_conn_logf(c, 3, "receive packet: type %u", payload[0]);
        rv = ssh_conn_dispatch(c, payload, len, seq);
        /* The payload lived in the input buffer: drop it only now. */
        if (c->in.len >= total)
            ssh_buf_consume(&c->in, total);
        if (rv < 0)
            break;
        rv = 0;
        if (c->kex == NULL && c->kex_done_once &&
            (c->rx.bytes >= c->rx.rekey_bytes || c->rx.packets >= SSH_REKEY_PACKETS)) {
            if ((rv = ssh_kex_start(c)) != 0)
                break;
        }
    }
    return rv < 0 ? rv : 0;
}
