/*
 * tun_randomart.c - the visual host key (see tun_randomart.h).
 *
 * The "drunken bishop" walk as OpenSSH documents and draws it (Dirk Loss,
 * Tobias Limmer and Alexander von Gernler, "The drunken bishop: An
 * analysis of the OpenSSH fingerprint visualization algorithm"): a bishop
 * starts in the middle of a 17 x 9 board and, for every byte of the
 * digest, makes four diagonal moves, one per pair of bits from the least
 * significant: bit 0 of the pair picks right (1) or left (0), bit 1 down
 * (1) or up (0); a move into a wall slides along it.  Each square counts
 * its visits (up to 14), drawn with " .o+=*BOX@%&#/^", then the start is
 * marked S and the end E.  The borders carry the key's "[TYPE BITS]" and
 * the hash's "[SHA256]", centred.
 */
#include "tun_randomart.h"

#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>

#include "sshtun/buf.h"

#define FIELD_X 17
#define FIELD_Y 9

static const char symbols[] = " .o+=*BOX@%&#/^SE";
#define SYM_START (sizeof(symbols) - 3) /* 'S' */
#define SYM_END   (sizeof(symbols) - 2) /* 'E' */

/* "+" title "+", the title centred in FIELD_X dashes. */
static size_t border(char *p, const char *title)
{
    size_t tl = strlen(title), o = 0;
    if (tl > FIELD_X)
        tl = 0;
    size_t left = (FIELD_X - tl) / 2;
    p[o++] = '+';
    for (size_t i = 0; i < left; i++)
        p[o++] = '-';
    memcpy(p + o, title, tl);
    o += tl;
    for (size_t i = left + tl; i < FIELD_X; i++)
        p[o++] = '-';
    p[o++] = '+';
    return o;
}

int tun_randomart_draw(const uint8_t *digest, size_t dlen, const char *title, const char *hash,
                       char *out, size_t outsz)
{
    uint8_t field[FIELD_X][FIELD_Y];
    memset(field, 0, sizeof(field));
    int x = FIELD_X / 2, y = FIELD_Y / 2;
    for (size_t i = 0; i < dlen; i++) {
        unsigned in = digest[i];
        for (int b = 0; b < 4; b++) {
            x += (in & 1) ? 1 : -1;
            y += (in & 2) ? 1 : -1;
            x = x < 0 ? 0 : x > FIELD_X - 1 ? FIELD_X - 1 : x;
            y = y < 0 ? 0 : y > FIELD_Y - 1 ? FIELD_Y - 1 : y;
            if (field[x][y] < SYM_START - 1)
                field[x][y]++;
            in >>= 2;
        }
    }
    field[FIELD_X / 2][FIELD_Y / 2] = SYM_START;
    field[x][y] = SYM_END;
    /* 11 lines of FIELD_X + 2 characters and their newlines. */
    if (outsz < (size_t)(FIELD_Y + 2) * (FIELD_X + 3))
        return -1;
    size_t o = border(out, title);
    out[o++] = '\n';
    for (int r = 0; r < FIELD_Y; r++) {
        out[o++] = '|';
        for (int c = 0; c < FIELD_X; c++)
            out[o++] = symbols[field[c][r]];
        out[o++] = '|';
        out[o++] = '\n';
    }
    o += border(out + o, hash);
    out[o] = '\0';
    return 0;
}

int tun_randomart_key(const ssh_key *key, const char *type, char *out, size_t outsz)
{
    ssh_buf blob;
    ssh_buf_init(&blob, 64 * 1024, 0);
    uint8_t md[EVP_MAX_MD_SIZE];
    unsigned ml = 0;
    int rv = -1;
    if (ssh_key_to_blob(key, &blob) == 0 &&
        EVP_Digest(ssh_buf_ptr(&blob), ssh_buf_len(&blob), md, &ml, EVP_sha256(), NULL) == 1) {
        char title[FIELD_X + 1];
        /* "[TYPE BITS]", or "[TYPE]" when that does not fit (ssh's rule). */
        int n = snprintf(title, sizeof(title), "[%s %u]", type, ssh_key_bits(key));
        if (n < 0 || (size_t)n >= sizeof(title))
            snprintf(title, sizeof(title), "[%s]", type);
        rv = tun_randomart_draw(md, ml, title, "[SHA256]", out, outsz);
    }
    ssh_buf_free(&blob);
    return rv;
}
