/*
 * cert_int.h - the certificate parser's entry points for key.c (internal to
 * libsshtun).
 */
#ifndef SSHTUN_PROTO_CERT_INT_H
#define SSHTUN_PROTO_CERT_INT_H

#include <stddef.h>
#include <stdint.h>

#include "sshtun/buf.h"
#include "sshtun/cert.h"
#include "sshtun/key.h"

/* Parse a certificate whose type name string (at `start`) has been read:
 * the cursor stands after it; `ktype` is the certified key's type.  On
 * success *out is a public key with the certificate attached and the
 * cursor stands after the signature; on failure the cursor is unchanged.
 * The CA signature is verified (SSH_ERR_CERT_SIGNATURE). */
int ssh_cert_parse(ssh_cur *cur, const uint8_t *start, enum ssh_key_type ktype, ssh_key **out);

/* Deep copy. */
int ssh_cert_dup(const ssh_cert *c, ssh_cert **out);
void ssh_cert_free(ssh_cert *c);

/* The whole certificate blob (owned by c). */
const uint8_t *ssh_cert_blob(const ssh_cert *c, size_t *len);

#endif
