#!/bin/bash
# it_certs.sh - OpenSSH certificates, revocation and host key management
# with sshtun as the client, against a real OpenSSH sshd (issue 12).
#
# Every certificate is made here with ssh-keygen -s: host certificates for
# each key type (sshd HostCertificate) judged through @cert-authority lines
# (plain, hashed, wildcard, HostKeyAlias), refused when expired, not yet
# valid, for another name, without principals, signed with ssh-rsa, or
# revoked (@revoked CA, RevokedHostKeys as a KRL by serial and by CA, and as
# a plain list); user certificates (sshd TrustedUserCAKeys with no
# authorized_keys at all) through -i with key-cert.pub, CertificateFile, and
# ssh-agent (certificate held by the agent, or only its key).
. "$(dirname "$0")/lib.sh"
it_init "$1"

CA="$T/ca"
ssh-keygen -q -t ed25519 -N '' -f "$CA" -C ca
ssh-keygen -q -t ed25519 -N '' -f "$T/ca2" -C other-ca
ssh-keygen -q -t rsa -b 2048 -N '' -f "$T/carsa" -C rsa-ca
NAME=certhost.test # a name only HostKeyAlias gives: nothing resolves it

# host_cert <key> <principals|-> <validity> [ssh-keygen options]: sign
# $T/host_<key>.pub into $T/host_<key>-cert.pub with $CA.
host_cert() {
    local k=$1 p=$2 v=$3 np=()
    shift 3
    [ "$p" != - ] && np=(-n "$p")
    ssh-keygen -q -s "${SIGNER:-$CA}" -h -I "host-$k" -z "${SERIAL:-1}" "${np[@]}" -V "$v" "$@" \
        "$T/host_$k.pub"
}

# sshd with every host key and its certificate.
start_sshd() {
    local l=()
    for k in ed25519 ecdsa ecdsa384 ecdsa521 rsa; do
        l+=("HostCertificate $T/host_$k-cert.pub")
    done
    it_start_sshd "${l[@]}" "$@"
}

ca_line() { # ca_line <hosts> [ca key file]
    echo "@cert-authority $1 $(cut -d' ' -f1,2 "${2:-$CA}.pub")"
}

# run <known_hosts text> <sshtun args...>: $T/out, $T/err, $RC.
run() {
    printf '%s\n' "$1" > "$T/known_hosts"
    shift
    it_sshtun -o HostKeyAlias=$NAME "$@" 127.0.0.1 'echo certs-ok' >"$T/out" 2>"$T/err"
    RC=$?
}

expect_ok() { # expect_ok <what>
    if [ $RC -eq 0 ] && grep -q certs-ok "$T/out"; then
        it_pass "$1"
    else
        it_fail "$1 (rc $RC)"
        sed 's/^/    /' "$T/err" | tail -15
    fi
}
expect_refused() { # expect_refused <what> <message that must be printed>
    if [ $RC -eq 255 ] && ! grep -q certs-ok "$T/out" && grep -qF -- "$2" "$T/err" &&
        grep -q "Host key verification failed." "$T/err"; then
        it_pass "$1"
    else
        it_fail "$1 (rc $RC, wanted: $2)"
        sed 's/^/    /' "$T/err" | tail -15
    fi
}

# ---- host certificates, every key type --------------------------------------------------------
for k in ed25519 ecdsa ecdsa384 ecdsa521 rsa; do host_cert $k $NAME -1h:+1h; done
start_sshd
KH=$(ca_line $NAME)
for alg in ssh-ed25519-cert-v01@openssh.com ecdsa-sha2-nistp256-cert-v01@openssh.com \
    ecdsa-sha2-nistp384-cert-v01@openssh.com ecdsa-sha2-nistp521-cert-v01@openssh.com \
    rsa-sha2-512-cert-v01@openssh.com rsa-sha2-256-cert-v01@openssh.com; do
    run "$KH" -v -o HostKeyAlgorithms=$alg
    expect_ok "host certificate $alg through @cert-authority"
done
grep -q "matches the RSA-CERT host certificate" "$T/err" &&
    it_pass "-v says the certificate matched a CA" || it_fail "no CA match in -v output"
[ "$(grep -c . "$T/known_hosts")" = 1 ] &&
    it_pass "nothing recorded for a certificate" || it_fail "known_hosts grew: $(cat "$T/known_hosts")"

# Default algorithms: the certificate is what sshd shows first.
run "$KH" -v
expect_ok "default HostKeyAlgorithms negotiate a certificate"
grep -q "host key algorithm: ssh-ed25519-cert-v01@openssh.com" "$T/err" &&
    it_pass "ssh-ed25519-cert-v01 negotiated by default" || it_fail "no certificate negotiated"

# Host patterns: a wildcard, a list, a negated name, and the name itself
# hashed; without HostKeyAlias, [127.0.0.1]:port (the name ssh looks up).
run "$(ca_line '*.test')"
expect_ok "@cert-authority with a wildcard pattern"
run "$(ca_line 'a.example,certhost.test,b.example')"
expect_ok "@cert-authority with a pattern list"
run "$(ca_line '*.test,!certhost.test')"
expect_refused "a negated name does not trust the CA" "No ED25519 host key is known"
HASHED=$(python3 -c '
import base64, hashlib, hmac, os, sys
s = os.urandom(20)
print("|1|%s|%s" % (base64.b64encode(s).decode(),
      base64.b64encode(hmac.new(s, sys.argv[1].encode(), hashlib.sha1).digest()).decode()))' $NAME)
run "$(ca_line "$HASHED")"
expect_ok "@cert-authority with a hashed host name"
HASHED_OTHER=$(echo "$HASHED" | python3 -c '
import base64, hashlib, hmac, sys
salt = base64.b64decode(sys.stdin.read().split("|")[2])
print("|1|%s|%s" % (base64.b64encode(salt).decode(),
      base64.b64encode(hmac.new(salt, b"other.test", hashlib.sha1).digest()).decode()))')
run "$(ca_line "$HASHED_OTHER")"
expect_refused "a hashed name for another host" "No ED25519 host key is known"
for k in ed25519 ecdsa ecdsa384 ecdsa521 rsa; do host_cert $k 127.0.0.1 -1h:+1h; done
it_stop_sshd
start_sshd
printf '%s\n' "$(ca_line "[127.0.0.1]:$PORT")" > "$T/known_hosts"
it_sshtun 127.0.0.1 'echo certs-ok' >"$T/out" 2>"$T/err"
RC=$?
expect_ok "without HostKeyAlias: [127.0.0.1]:port and principal 127.0.0.1"

# ---- refusals ---------------------------------------------------------------------------------
refuse_cert() { # refuse_cert <what> <message> <principals> <validity> [options]
    local what=$1 msg=$2
    shift 2
    host_cert ed25519 "$@"
    it_stop_sshd
    start_sshd
    run "$KH" -o HostKeyAlgorithms=ssh-ed25519-cert-v01@openssh.com,ssh-ed25519
    expect_refused "$what" "$msg"
}
refuse_cert "expired host certificate" "Certificate invalid: expired" $NAME 20200101:20200201
grep -q "past its end" "$T/err" && it_pass "expired: the validity is shown" ||
    it_fail "expired: no validity line"
refuse_cert "host certificate not yet valid" "Certificate invalid: not yet valid" $NAME +1d:+2d
refuse_cert "host certificate for another name" \
    "Certificate invalid: name is not a listed principal" other.test -1h:+1h
grep -q "is for other.test, not for certhost.test" "$T/err" &&
    it_pass "wrong principal: both names shown" || it_fail "wrong principal: names not shown"
refuse_cert "host certificate without principals" "Certificate lacks principal list" - -1h:+1h
KH=$(ca_line $NAME "$T/carsa")
SIGNER=$T/carsa refuse_cert "host certificate signed with ssh-rsa (SHA-1)" \
    "Certificate signed with disallowed algorithm" $NAME -1h:+1h -t ssh-rsa
run "$KH" -o HostKeyAlgorithms=ssh-ed25519-cert-v01@openssh.com,ssh-ed25519 \
    -o CASignatureAlgorithms=+ssh-rsa
expect_ok "CASignatureAlgorithms +ssh-rsa accepts it"
KH=$(ca_line $NAME)
# A refused certificate falls back to the plain key, which may be known.
refuse_cert "expired certificate, plain key unknown" "Certificate invalid: expired" $NAME \
    20200101:20200201
run "$KH
$NAME $(cut -d' ' -f1,2 "$T/host_ed25519.pub")" -o HostKeyAlgorithms=ssh-ed25519-cert-v01@openssh.com,ssh-ed25519
expect_ok "expired certificate, plain key known: accepted as a plain key"
grep -q "Certificate invalid: expired" "$T/err" && it_pass "... after saying the certificate expired" ||
    it_fail "no expiry message before the fallback"
run "$KH" -o HostKeyAlgorithms=ssh-ed25519-cert-v01@openssh.com
expect_refused "fallback needs the plain algorithm in HostKeyAlgorithms" \
    "host key ssh-ed25519 not permitted by HostKeyAlgorithms"

# Revocation: the CA marked @revoked, RevokedHostKeys as KRLs and a list.
SERIAL=77 host_cert ed25519 $NAME -1h:+1h
it_stop_sshd
start_sshd
run "$KH
@revoked * $(cut -d' ' -f1,2 "$CA.pub")"
expect_refused "@revoked CA" "The certificate authority ED25519"
grep -q "is marked as revoked" "$T/err" && it_pass "@revoked CA: says the CA is revoked" ||
    it_fail "@revoked CA: message"
run "$KH
@revoked * $(cut -d' ' -f1,2 "$T/host_ed25519.pub")"
expect_refused "@revoked host key under the certificate" "is marked as revoked"
printf 'serial: 77\n' > "$T/krlspec"
ssh-keygen -q -k -f "$T/serial.krl" -s "$CA.pub" "$T/krlspec"
run "$KH" -o RevokedHostKeys="$T/serial.krl"
expect_refused "RevokedHostKeys KRL revoking the serial" "revoked by file $T/serial.krl"
ssh-keygen -q -k -f "$T/ca.krl" "$CA.pub"
run "$KH" -o RevokedHostKeys="$T/ca.krl"
expect_refused "RevokedHostKeys KRL revoking the CA" "its certificate authority ED25519"
printf '# revoked\n%s\n' "$(cat "$T/ca2.pub")" > "$T/revoked.list"
run "$KH" -o RevokedHostKeys="$T/revoked.list"
expect_ok "RevokedHostKeys list of other keys: accepted"
cat "$T/host_ed25519.pub" >> "$T/revoked.list"
run "$KH" -o RevokedHostKeys="$T/revoked.list"
expect_refused "RevokedHostKeys list with the host key" "revoked by file $T/revoked.list"
run "$KH" -o RevokedHostKeys="$T/missing.krl"
expect_refused "an unreadable RevokedHostKeys refuses" "in revoked keys file $T/missing.krl"
printf 'serial: 78\n' > "$T/krlspec"
ssh-keygen -q -k -f "$T/other.krl" -s "$CA.pub" "$T/krlspec"
run "$KH" -o RevokedHostKeys="$T/other.krl"
expect_ok "a KRL revoking another serial: accepted"

# A CA that is not the one that signed: no trust, and no plain key known.
run "$(ca_line $NAME "$T/ca2")"
expect_refused "another CA's @cert-authority line" "No ED25519 host key is known"

# ---- user certificates ------------------------------------------------------------------------
host_cert ed25519 $NAME -1h:+1h
it_stop_sshd
SSHD_AUTHKEYS=none start_sshd "TrustedUserCAKeys $CA.pub"
KH=$(ca_line $NAME)
user_run() { # user_run <what> <sshtun args...>: must log in
    local what=$1
    shift
    printf '%s\n' "$KH" > "$T/known_hosts"
    timeout 60 "$SSHTUN" -F none -p "$PORT" -l "$USER_NAME" -o HostKeyAlias=$NAME \
        -o UserKnownHostsFile="$T/known_hosts" -o GlobalKnownHostsFile=/dev/null \
        -o StrictHostKeyChecking=yes -o BatchMode=yes "$@" \
        127.0.0.1 'echo certs-ok' >"$T/out" 2>"$T/err"
    RC=$?
    expect_ok "$what"
}
for k in ed25519 ecdsa rsa; do
    ssh-keygen -q -s "$CA" -I "user-$k" -n "$USER_NAME" -V -1h:+1h "$T/user_$k.pub"
    user_run "-i $k key with its key-cert.pub" -v -o IdentitiesOnly=yes -i "$T/user_$k"
    grep -q "Authenticated to" "$T/err" && grep -qi "cert" "$T/err" &&
        it_pass "-v names the certificate ($k)" || it_fail "certificate not mentioned ($k)"
done
grep -q "Offering public key: .* rsa-sha2-512-cert-v01@openssh.com" "$T/err" &&
    it_pass "RSA certificate signs with rsa-sha2-512" || it_fail "RSA cert algorithm"
mkdir -p "$T/sep"
mv "$T/user_ed25519-cert.pub" "$T/sep/cert.pub"
printf '%s\n' "$KH" > "$T/known_hosts"
timeout 60 "$SSHTUN" -F none -p "$PORT" -l "$USER_NAME" -o HostKeyAlias=$NAME \
    -o UserKnownHostsFile="$T/known_hosts" -o GlobalKnownHostsFile=/dev/null \
    -o BatchMode=yes -o IdentitiesOnly=yes -i "$T/user_ed25519" 127.0.0.1 true 2>"$T/err"
[ $? -eq 255 ] && grep -q "Permission denied" "$T/err" &&
    it_pass "the key alone is refused (no authorized_keys)" || it_fail "plain key let in"
user_run "CertificateFile" -o IdentitiesOnly=yes -i "$T/user_ed25519" \
    -o CertificateFile="$T/sep/cert.pub"
ssh-keygen -q -s "$CA" -I expired -n "$USER_NAME" -V 20200101:20200201 "$T/user_ecdsa.pub"
printf '%s\n' "$KH" > "$T/known_hosts"
timeout 60 "$SSHTUN" -F none -p "$PORT" -l "$USER_NAME" -o HostKeyAlias=$NAME \
    -o UserKnownHostsFile="$T/known_hosts" -o GlobalKnownHostsFile=/dev/null \
    -o BatchMode=yes -o IdentitiesOnly=yes -i "$T/user_ecdsa" 127.0.0.1 true 2>"$T/err"
[ $? -eq 255 ] && grep -q "Permission denied" "$T/err" &&
    it_pass "an expired user certificate is refused by sshd" || it_fail "expired user cert accepted"

# ssh-agent: the certificate held by the agent (ssh-add adds key-cert.pub
# with the key), then only the key in the agent and the certificate on disk.
eval "$(ssh-agent -s)" >/dev/null
BG_PIDS="${BG_PIDS:-} $SSH_AGENT_PID"
cp "$T/sep/cert.pub" "$T/user_ed25519-cert.pub"
ssh-add -q "$T/user_ed25519" 2>/dev/null
ssh-add -l | grep -q CERT && it_pass "agent holds the certificate" || it_fail "ssh-add added no cert"
mkdir -p "$T/nokeys"
user_run "certificate held by ssh-agent" -i "$T/nokeys/none"
ssh-add -q -D
mv "$T/user_ed25519-cert.pub" "$T/sep/cert.pub"
ssh-add -q "$T/user_ed25519" 2>/dev/null
ssh-add -l | grep -q CERT && it_fail "agent still has a cert" || it_pass "agent holds the key only"
cp "$T/user_ed25519.pub" "$T/nokeys/id.pub"
user_run "CertificateFile signed by the agent's key" -o IdentitiesOnly=yes -i "$T/nokeys/id.pub" \
    -o CertificateFile="$T/sep/cert.pub"
kill "$SSH_AGENT_PID" 2>/dev/null

it_done
