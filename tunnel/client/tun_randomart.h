/*
 * tun_randomart.h - the "visual host key" (VisualHostKey): a key's SHA-256
 * fingerprint drawn as the random art ssh and `ssh-keygen -lv` draw, so
 * that the same key gives the same picture in all three.
 */
#ifndef SSHTUN_TUN_RANDOMART_H
#define SSHTUN_TUN_RANDOMART_H

#include <stddef.h>
#include <stdint.h>

#include "sshtun/key.h"

/* The picture of `digest` (dlen bytes) with `title` ("[ED25519 256]") in
 * the top border and `hash` ("[SHA256]") in the bottom one: 11 lines of 19
 * characters joined by '\n', no final newline.  Returns 0, or -1 when out
 * is too small (TUN_RANDOMART_MAX always suffices). */
#define TUN_RANDOMART_MAX 256
int tun_randomart_draw(const uint8_t *digest, size_t dlen, const char *title, const char *hash,
                       char *out, size_t outsz);
/* The picture of `key`'s SHA-256 fingerprint, titled with its type
 * (`type`, e.g. "ED25519") and size as ssh titles it. */
int tun_randomart_key(const ssh_key *key, const char *type, char *out, size_t outsz);

#endif
