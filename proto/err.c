/*
 * err.c - texts for error codes and their mapping onto DISCONNECT reasons.
 */
#include "sshtun/err.h"

const char *ssh_strerror(int err)
{
    switch (err) {
    case SSH_OK: return "success";
    case SSH_DEFERRED: return "deferred";
    case SSH_ERR_INTERNAL: return "internal error";
    case SSH_ERR_ALLOC: return "out of memory";
    case SSH_ERR_INCOMPLETE: return "message incomplete";
    case SSH_ERR_FORMAT: return "invalid format";
    case SSH_ERR_NO_SPACE: return "buffer size limit exceeded";
    case SSH_ERR_TRAILING: return "unexpected trailing data";
    case SSH_ERR_EMBEDDED_NUL: return "string contains a NUL byte";
    case SSH_ERR_TOO_LONG: return "string too long";
    case SSH_ERR_NEGATIVE: return "negative number not allowed";
    case SSH_ERR_ARGUMENT: return "invalid argument";
    case SSH_ERR_STATE: return "not allowed in this state";
    case SSH_ERR_LIBCRYPTO: return "error in libcrypto";
    case SSH_ERR_AGAIN: return "try again later";
    case SSH_ERR_BANNER: return "invalid identification string";
    case SSH_ERR_VERSION: return "protocol version not supported";
    case SSH_ERR_PACKET_TOO_LARGE: return "packet too large";
    case SSH_ERR_PACKET_FORMAT: return "invalid packet format";
    case SSH_ERR_MAC_INVALID: return "message authentication code incorrect";
    case SSH_ERR_NO_KEX_ALG: return "no matching key exchange method";
    case SSH_ERR_NO_HOSTKEY_ALG: return "no matching host key type";
    case SSH_ERR_NO_CIPHER_ALG: return "no matching cipher";
    case SSH_ERR_NO_MAC_ALG: return "no matching MAC";
    case SSH_ERR_NO_COMPRESS_ALG: return "no matching compression method";
    case SSH_ERR_KEX: return "key exchange failed";
    case SSH_ERR_STRICT_KEX: return "strict KEX violation";
    case SSH_ERR_UNEXPECTED: return "unexpected message";
    case SSH_ERR_HOSTKEY_REJECTED: return "host key verification failed";
    case SSH_ERR_SIGNATURE: return "incorrect signature";
    case SSH_ERR_SEQ_WRAP: return "sequence number wrapped during initial key exchange";
    case SSH_ERR_SERVICE: return "service not available";
    case SSH_ERR_COMPRESSION: return "compression error";
    case SSH_ERR_KEY_TYPE: return "unknown or unsupported key type";
    case SSH_ERR_KEY_INVALID: return "invalid key";
    case SSH_ERR_KEY_ENCRYPTED: return "key is encrypted, passphrase needed";
    case SSH_ERR_KEY_PASSPHRASE: return "incorrect passphrase";
    case SSH_ERR_KEY_ALG_MISMATCH: return "signature algorithm does not match key type";
    case SSH_ERR_KEY_ALG_DISABLED: return "signature algorithm disabled";
    case SSH_ERR_AUTH_TOO_MANY: return "too many authentication failures";
    case SSH_ERR_AUTH_TIMEOUT: return "timeout before authentication";
    case SSH_ERR_CHANNEL_UNKNOWN: return "unknown channel";
    case SSH_ERR_TOO_MANY_CHANNELS: return "too many channels";
    case SSH_ERR_WINDOW_EXCEEDED: return "channel window exceeded";
    case SSH_ERR_CHANNEL_STATE: return "channel state does not allow this";
    case SSH_ERR_REPLY_QUEUE: return "too many outstanding requests";
    case SSH_ERR_DISCONNECTED: return "disconnected by peer";
    case SSH_ERR_CONN_LOST: return "connection closed";
    case SSH_ERR_TIMEOUT: return "timeout";
    case SSH_ERR_CLOSED: return "disconnected by application";
    case SSH_ERR_CERT_CA: return "invalid certificate signing key";
    case SSH_ERR_CERT_SIGNATURE: return "certificate signature does not verify";
    case SSH_ERR_CERT_TYPE: return "wrong certificate type";
    case SSH_ERR_CERT_EXPIRED: return "certificate expired";
    case SSH_ERR_CERT_NOT_YET_VALID: return "certificate not yet valid";
    case SSH_ERR_CERT_NO_PRINCIPALS: return "certificate lacks principal list";
    case SSH_ERR_CERT_PRINCIPAL: return "name is not a listed principal";
    case SSH_ERR_CERT_CRITICAL: return "certificate has an unsupported critical option";
    case SSH_ERR_CERT_SIG_ALG: return "certificate signed with disallowed algorithm";
    case SSH_ERR_KEY_REVOKED: return "key is revoked";
    }
    return "unknown error";
}

uint32_t ssh_err_disconnect(int err)
{
    switch (err) {
    case SSH_ERR_MAC_INVALID: return SSH_DISCONNECT_MAC_ERROR;
    case SSH_ERR_VERSION:
    case SSH_ERR_BANNER: return SSH_DISCONNECT_PROTOCOL_VERSION_NOT_SUPPORTED;
    case SSH_ERR_NO_KEX_ALG:
    case SSH_ERR_NO_HOSTKEY_ALG:
    case SSH_ERR_NO_CIPHER_ALG:
    case SSH_ERR_NO_MAC_ALG:
    case SSH_ERR_NO_COMPRESS_ALG:
    case SSH_ERR_KEX:
    case SSH_ERR_SIGNATURE: return SSH_DISCONNECT_KEY_EXCHANGE_FAILED;
    case SSH_ERR_HOSTKEY_REJECTED: return SSH_DISCONNECT_HOST_KEY_NOT_VERIFIABLE;
    case SSH_ERR_SERVICE: return SSH_DISCONNECT_SERVICE_NOT_AVAILABLE;
    case SSH_ERR_COMPRESSION: return SSH_DISCONNECT_COMPRESSION_ERROR;
    case SSH_ERR_AUTH_TOO_MANY: return SSH_DISCONNECT_NO_MORE_AUTH_METHODS_AVAILABLE;
    case SSH_ERR_TIMEOUT:
    case SSH_ERR_CONN_LOST: return SSH_DISCONNECT_CONNECTION_LOST;
    case SSH_ERR_CLOSED: return SSH_DISCONNECT_BY_APPLICATION;
    }
    return SSH_DISCONNECT_PROTOCOL_ERROR;
}

const char *ssh_disconnect_reason_str(uint32_t reason)
{
    static const char *const names[] = {
        "unknown reason",
        "host not allowed to connect",
        "protocol error",
        "key exchange failed",
        "reserved",
        "MAC error",
        "compression error",
        "service not available",
        "protocol version not supported",
        "host key not verifiable",
        "connection lost",
        "disconnected by application",
        "too many connections",
        "authentication cancelled by user",
        "no more authentication methods available",
        "illegal user name",
    };
    if (reason >= sizeof(names) / sizeof(names[0]))
        return names[0];
    return names[reason];
}
