#!/bin/sh
# Regenerate the certificate fixtures of tests/unit/test_cert.c with
# ssh-keygen (OpenSSH 9.2 made the committed ones).  The test knows the
# names, serials, principals, options and validity set here; change both
# together.  Throwaway keys, unencrypted: they protect nothing.
#
#   sh tests/unit/data/certs/gen.sh      (from anywhere)
set -eu
cd "$(dirname "$0")"
export TZ=UTC # -V times are local times to ssh-keygen
rm -f ./*_key ./*_key.pub ./*-cert.pub ./*.krl ./revoked_keys
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT

key() { # name type [bits]
    ssh-keygen -q -t "$2" ${3:+-b "$3"} -N '' -C "$1" -f "$1_key"
}
# sign NAME SUBJECT_KEY CA_KEY [ssh-keygen options...] -> NAME-cert.pub
sign() {
    name=$1 subject=$2 ca=$3
    shift 3
    cp "${subject}_key.pub" "$T/$name.pub"
    ssh-keygen -q -s "${ca}_key" "$@" "$T/$name.pub"
    mv "$T/$name-cert.pub" "$name-cert.pub"
}

key ca_ed25519 ed25519
key ca_ecdsa ecdsa 256
key ca_rsa rsa 2048
key user_ed25519 ed25519
key user_ecdsa256 ecdsa 256
key user_ecdsa384 ecdsa 384
key user_ecdsa521 ecdsa 521
key user_rsa rsa 2048
key host_ed25519 ed25519
key host_rsa rsa 2048

V=20200101000000:20400101000000 # 1577836800 .. 2208988800

# One user certificate per key type; serial 42, two principals.
sign user_ed25519 user_ed25519 ca_ed25519 -I alice@example -n alice,bob -z 42 -V $V
sign user_ecdsa256 user_ecdsa256 ca_ecdsa -I alice@example -n alice,bob -z 42 -V $V
sign user_ecdsa384 user_ecdsa384 ca_ecdsa -I alice@example -n alice,bob -z 42 -V $V
sign user_ecdsa521 user_ecdsa521 ca_ecdsa -I alice@example -n alice,bob -z 42 -V $V
sign user_rsa user_rsa ca_ed25519 -I alice@example -n alice,bob -z 42 -V $V
# RSA CA, each signature algorithm (rsa-sha2-512 is ssh-keygen's default).
sign ca_rsa512 user_ed25519 ca_rsa -I rsa512 -n alice -z 1 -V $V
sign ca_rsa256 user_ed25519 ca_rsa -I rsa256 -n alice -z 2 -V $V -t rsa-sha2-256
sign ca_sha1 user_ed25519 ca_rsa -I sha1 -n alice -z 3 -V $V -t ssh-rsa
# Host certificates: an exact name and a wildcard principal.
sign host_ed25519 host_ed25519 ca_ed25519 -h -I host1 -n host.example.com,*.example.org -z 7 -V $V
sign host_rsa host_rsa ca_ecdsa -h -I host2 -n host.example.com -z 8 -V $V
# Options: force-command and source-address, a custom extension, no pty.
sign opts user_ed25519 ca_ed25519 -I opts -n alice -z 10 -V $V \
    -O force-command="echo forced" -O source-address=127.0.0.1/32,::1 \
    -O no-pty -O extension:custom@example.com=value
sign crit user_ed25519 ca_ed25519 -I crit -n alice -z 11 -V $V -O critical:unknown@example.com=x
sign verify user_ed25519 ca_ed25519 -I verify -n alice -z 12 -V $V -O verify-required
sign clear user_ed25519 ca_ed25519 -I clear -n alice -z 13 -V $V -O clear
# No principals; valid forever.
sign noprinc user_ed25519 ca_ed25519 -I noprinc -z 14 -V $V
sign forever user_ed25519 ca_ed25519 -I forever -n alice -z 15

# Revocation (ssh-keygen -k).  serial.krl, CA ca_ed25519: serial 42, serials
# 100-200, key id "verify" (version 7).  bitmap.krl, CA ca_ecdsa: every even
# serial 2..100 (ssh-keygen encodes these as a bitmap).  keys.krl: host_rsa by
# SHA-256, user_ecdsa384 by SHA-1, user_ecdsa521 by fingerprint, user_rsa and
# the CA ca_ecdsa explicitly.  revoked_keys: a plain list (host_ed25519 and
# the CA ca_rsa), with a comment and a DSA key we skip.
printf 'serial: 42\nserial: 100-200\nid: verify\n' >"$T/spec"
ssh-keygen -q -k -f serial.krl -z 7 -s ca_ed25519_key.pub "$T/spec"
seq 2 2 100 | sed 's/^/serial: /' >"$T/spec"
ssh-keygen -q -k -f bitmap.krl -s ca_ecdsa_key.pub "$T/spec"
printf 'sha256: %s\nsha1: %s\nhash: %s\n' "$(cat host_rsa_key.pub)" "$(cat user_ecdsa384_key.pub)" \
    "$(ssh-keygen -lf user_ecdsa521_key.pub | cut -d' ' -f2)" >"$T/spec"
ssh-keygen -q -k -f keys.krl "$T/spec" user_rsa_key.pub ca_ecdsa_key.pub
{
    echo "# revoked by hand"
    cat host_ed25519_key.pub
    echo
    echo "ssh-dss AAAAB3NzaC1kc3MAAACBAP1/U4EddRIpUt9KnC7s5Of2EbdSPO9EAMMeP4C2USZpRV1AIlH7WT2NWPq/xfW6MPbLm1Vs14E7gB00b/JmYLdrmVClpJ+f6AR7ECLCT7up1/63xhv4O1fnxqimFQ8E+4P208UewwI1VBNaFpEy9nXzrith1yrv8iIDGZ3RSAHHAAAAFQCXYFCPFSMLzLKSuYKi64QL8Fgc9QAAAIEA9+GghdabPd7LvKtcNrhXuXmUr7v6OuqC+VdMCz0HgmdRWVeOutRZT+ZxBxCBgLRJFnEj6EwoFhO3zwkyjMim4TwWeotUfI0o4KOuHiuzpnWRbqN/C/ohNWLx+2J6ASQ7zKTxvqhRkImog9/hWuWfBpKLZl6Ae1UlZAFMO/7PSSoAAACBAJYGb1Zx7k3ll0EZ5eY3YYzB1SUn9CfxPVGQRGnNLH8tGpu4N4mUUEY0HiBn9UzX2Clnm0Y8IZcJOsxCHHJiq5e9o7x9I6EP+SaUiGJwEQmE1+z4vxLtqQIO5EBdDHPI2JAGZtJYsn8fdIcJvVaqYJgZrcj/XZFOoQrqXQ1F3VYA dsa"
    cat ca_rsa_key.pub
} >revoked_keys
