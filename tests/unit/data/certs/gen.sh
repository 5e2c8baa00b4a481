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
rm -f ./*_key ./*_key.pub ./*-cert.pub
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
