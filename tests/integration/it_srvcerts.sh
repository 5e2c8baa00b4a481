#!/bin/bash
# it_srvcerts.sh - OpenSSH certificates, revocation and host keys with
# sshtund as the server (issue 12), against OpenSSH's ssh and sshtun.
#
# Every certificate is made here with ssh-keygen -s.  Host side:
# HostCertificate for each key type judged by ssh and sshtun through
# @cert-authority.  User side: certificates of each key type through
# TrustedUserCAKeys (and no authorized_keys at all), principals (the
# account's name, AuthorizedPrincipalsFile with options,
# AuthorizedPrincipalsCommand), expired / not yet valid, force-command,
# source-address, verify-required and unknown critical options refused,
# CASignatureAlgorithms, cert-authority lines of authorized_keys with
# principals=, RevokedKeys as a KRL made by ssh-keygen -k (by serial, by
# key) and as a plain list, AuthorizedKeysCommand (tokens, exit status,
# time and output limits, unsafe paths).  Host keys: ssh and sshtun learn a
# new sshtund key through UpdateHostKeys (hostkeys-00 / hostkeys-prove-00)
# and still verify once the old key is gone.
. "$(dirname "$0")/lib.sh"
it_init "$1"
[ -x "$BUILD/sshtund" ] || { echo "FAIL: sshtund not built"; exit 1; }
if [ "$(id -u)" != 0 ]; then
    echo "SKIP-NOT-COUNTED: it_srvcerts.sh needs root (sshtund's helper runs commands as users)"
    exit 77
fi

# The Authorized*Command programs must be root's, in root's directories
# that nobody else may write (sshd's rule); /tmp is not such a place.
# They run as nobody: what they read and write is in $CMDDIR ($T is not
# theirs to see).
CMDDIR=$(mktemp -d /run/sshtun-srvcerts.XXXXXX)
chmod 755 "$CMDDIR"
mkdir -m 1777 "$CMDDIR/out"
srvcerts_cleanup() {
    local rc=$?
    rm -rf "$CMDDIR"
    (exit $rc)
    it_cleanup
}
trap srvcerts_cleanup EXIT INT TERM

CA="$T/ca"
ssh-keygen -q -t ed25519 -N '' -f "$CA" -C user-ca
ssh-keygen -q -t ecdsa -N '' -f "$T/ca_ecdsa" -C ecdsa-ca
ssh-keygen -q -t rsa -b 2048 -N '' -f "$T/ca_rsa" -C rsa-ca
ssh-keygen -q -t ed25519 -N '' -f "$T/hca" -C host-ca
for k in ed25519 ecdsa rsa; do
    ssh-keygen -q -s "$T/hca" -h -I "sshtund-$k" -n 127.0.0.1,sshtund.test -V -1h:+1h \
        "$T/host_$k.pub"
done
# One user key per type; certificates are made per test.
ssh-keygen -q -t ed25519 -N '' -f "$T/u_ed25519" -C u
ssh-keygen -q -t ecdsa -b 256 -N '' -f "$T/u_ecdsa256" -C u
ssh-keygen -q -t ecdsa -b 384 -N '' -f "$T/u_ecdsa384" -C u
ssh-keygen -q -t ecdsa -b 521 -N '' -f "$T/u_ecdsa521" -C u
ssh-keygen -q -t rsa -b 2048 -N '' -f "$T/u_rsa" -C u
cut -d' ' -f1,2 "$CA.pub" > "$T/trusted_cas"
SERIAL=100

# ucert <key> <ssh-keygen options...>: sign $T/u_<key>.pub with $CA (or
# $SIGNER) into $T/u_<key>-cert.pub, serial $SERIAL (then incremented).
ucert() {
    local k=$1
    shift
    rm -f "$T/u_$k-cert.pub"
    ssh-keygen -q -s "${SIGNER:-$CA}" -I "id-$k-$SERIAL" -z $SERIAL "$@" "$T/u_$k.pub"
    SERIAL=$((SERIAL + 1))
}

printf '@cert-authority 127.0.0.1,[127.0.0.1]:* %s\n' "$(cut -d' ' -f1,2 "$T/hca.pub")" > "$T/kh_ca"
# The plain host keys too, for the tests whose sshtund has no certificate.
cp "$T/kh_ca" "$T/kh_all"
for k in ed25519 ecdsa rsa; do
    printf '[127.0.0.1]:* %s\n' "$(cut -d' ' -f1,2 "$T/host_$k.pub")" >> "$T/kh_all"
done

# ssh_run <key> [ssh options]: OpenSSH's ssh as root with only that key
# (and its certificate); $T/out, $T/err, $RC; the command prints srv-ok and
# what the session was given (forced command, original command).
ssh_run() {
    local k=$1
    shift
    timeout 60 ssh -F /dev/null -p "$PORT" -i "$T/u_$k" -o IdentitiesOnly=yes \
        -o UserKnownHostsFile="$T/${KH:-kh_all}" -o GlobalKnownHostsFile=/dev/null \
        -o StrictHostKeyChecking=yes -o BatchMode=yes -o LogLevel=ERROR "$@" root@127.0.0.1 \
        "${CMD:-echo srv-ok}" >"$T/out" 2>"$T/err" </dev/null
    RC=$?
}
LOGPOS=0
log_mark() { LOGPOS=$(wc -c < "$T/sshtund.log"); }
log_since() { tail -c +$((LOGPOS + 1)) "$T/sshtund.log"; }
expect_in() { # expect_in <what> <ok|refused> [log text that must appear since the mark]
    local ok=0
    if [ "$2" = ok ]; then
        [ $RC -eq 0 ] && grep -q srv-ok "$T/out" && ok=1
    else
        [ $RC -eq 255 ] && ! grep -q srv-ok "$T/out" && ok=1
    fi
    if [ $ok = 1 ] && [ -n "${3:-}" ] && ! log_since | grep -qF -- "$3"; then
        ok=0
        echo "    (sshtund did not log: $3)"
    fi
    if [ $ok = 1 ]; then it_pass "$1"; else
        it_fail "$1 (rc $RC)"
        sed 's/^/    err: /' "$T/err" | tail -5
        log_since | grep -v "^debug" | sed 's/^/    log: /' | tail -8
    fi
}

# ---- host certificates ------------------------------------------------------------------------
SSHTUND_AUTHKEYS=none it_sshtund_start "HostCertificate $T/host_ed25519-cert.pub" "HostCertificate $T/host_ecdsa-cert.pub" \
    "HostCertificate $T/host_rsa-cert.pub" "TrustedUserCAKeys $T/trusted_cas"
ucert ed25519 -n root -V -5m:+1h
for alg in ssh-ed25519-cert-v01@openssh.com ecdsa-sha2-nistp256-cert-v01@openssh.com \
    rsa-sha2-512-cert-v01@openssh.com rsa-sha2-256-cert-v01@openssh.com; do
    log_mark
    KH=kh_ca ssh_run ed25519 -o HostKeyAlgorithms=$alg
    expect_in "ssh verifies sshtund's host certificate $alg (@cert-authority)" ok
done
# sshtun too, naming the host by an alias only the certificate lists.
printf '@cert-authority sshtund.test %s\n' "$(cut -d' ' -f1,2 "$T/hca.pub")" > "$T/known_hosts"
it_sshtun -l root -i "$T/u_ed25519" -o HostKeyAlias=sshtund.test \
    -o HostKeyAlgorithms=ssh-ed25519-cert-v01@openssh.com 127.0.0.1 'echo srv-ok' \
    >"$T/out" 2>"$T/err"
RC=$?
expect_in "sshtun verifies sshtund's host certificate and logs in with a user certificate" ok
# A certificate whose key sshtund does not hold is skipped with sshd's words.
ssh-keygen -q -t ed25519 -N '' -f "$T/stray" && ssh-keygen -q -s "$T/hca" -h -I stray -n x "$T/stray.pub"
it_sshtund_start "HostCertificate $T/stray-cert.pub"
grep -q "does not match any host key" "$T/sshtund.log" &&
    it_pass "HostCertificate for no host key: skipped with a message" ||
    it_fail "HostCertificate for no host key: no message"

# ---- user certificates: TrustedUserCAKeys, each key type ---------------------------------------
SSHTUND_AUTHKEYS=none it_sshtund_start "TrustedUserCAKeys $T/trusted_cas"
for k in ed25519 ecdsa256 ecdsa384 ecdsa521 rsa; do
    ucert $k -n root -V -5m:+1h
    log_mark
    ssh_run $k
    expect_in "user certificate $k accepted through TrustedUserCAKeys" ok "Accepted certificate ID"
done
cp "$T/u_ecdsa256" "$T/u_plain"
cp "$T/u_ecdsa256.pub" "$T/u_plain.pub"
log_mark
ssh_run plain
expect_in "the plain key of a certified pair is not let in by TrustedUserCAKeys" refused
# Principals: the account's name must be listed.
ucert ed25519 -n alice,bob -V -5m:+1h
log_mark
ssh_run ed25519
expect_in "certificate without the account's name as principal refused" refused \
    "name is not a listed principal"
ucert ed25519 -V -5m:+1h # no principals at all
log_mark
ssh_run ed25519
expect_in "certificate without principals refused" refused "lacks principal"
# Validity against sshtund's clock.
ucert ed25519 -n root -V -2h:-1h
log_mark
ssh_run ed25519
expect_in "expired certificate refused" refused "Certificate invalid: expired"
ucert ed25519 -n root -V +1h:+2h
log_mark
ssh_run ed25519
expect_in "not yet valid certificate refused" refused "not yet valid"
# Another CA.
SIGNER="$T/ca_ecdsa" ucert ed25519 -n root -V -5m:+1h
log_mark
ssh_run ed25519
expect_in "certificate of a CA not in TrustedUserCAKeys refused" refused
# Critical options and extensions.
ucert ed25519 -n root -V -5m:+1h -O force-command="echo forced:\$SSH_ORIGINAL_COMMAND"
log_mark
ssh_run ed25519
if [ $RC -eq 0 ] && grep -q "forced:echo srv-ok" "$T/out"; then
    it_pass "force-command runs instead of the client's command (SSH_ORIGINAL_COMMAND kept)"
else
    it_fail "force-command (rc $RC: $(head -c 200 "$T/out"))"
fi
ucert ed25519 -n root -V -5m:+1h -O source-address=127.0.0.0/8,::1
log_mark
ssh_run ed25519
expect_in "source-address that holds the client: accepted" ok
ucert ed25519 -n root -V -5m:+1h -O source-address=10.0.0.0/8
log_mark
ssh_run ed25519
expect_in "source-address without the client: refused" refused "not from a permitted source address"
ucert ed25519 -n root -V -5m:+1h -O verify-required
log_mark
ssh_run ed25519
expect_in "verify-required: refused with a reason" refused "verify-required"
ucert ed25519 -n root -V -5m:+1h -O critical:frobnicate@example.com=1
log_mark
ssh_run ed25519
expect_in "unknown critical option: refused" refused "critical option"
ucert ed25519 -n root -V -5m:+1h -O clear
log_mark
ssh_run ed25519
expect_in "certificate without extensions (-O clear): logs in" ok
log_mark
CMD='tty; echo srv-ok' ssh_run ed25519 -tt
# (ssh -tt gives up when its pty is refused, as it does with sshd)
if grep -q "PTY allocation request failed" "$T/err" && log_since | grep -q "pty refused"; then
    it_pass "certificate without permit-pty (-O clear): the pty is refused"
else
    it_fail "-O clear certificate (rc $RC): $(head -c 300 "$T/out")"
fi
ucert ed25519 -n root -V -5m:+1h
log_mark
CMD='tty; echo srv-ok' ssh_run ed25519 -tt
grep -q "^/dev/pts" "$T/out" && it_pass "certificate with permit-pty: a pty" ||
    it_fail "permit-pty certificate got no pty: $(head -c 300 "$T/out")"

# CASignatureAlgorithms: ssh-rsa (SHA-1) CA signatures refused by default.
cut -d' ' -f1,2 "$T/ca_rsa.pub" >> "$T/trusted_cas"
SIGNER="$T/ca_rsa" ucert ed25519 -n root -V -5m:+1h -t ssh-rsa
log_mark
ssh_run ed25519
expect_in "CA signature ssh-rsa refused by default" refused "not in CASignatureAlgorithms"
SSHTUND_AUTHKEYS=none it_sshtund_start "TrustedUserCAKeys $T/trusted_cas" \
    "CASignatureAlgorithms +ssh-rsa"
log_mark
ssh_run ed25519
expect_in "CASignatureAlgorithms +ssh-rsa lets it in" ok
SIGNER="$T/ca_rsa" ucert ed25519 -n root -V -5m:+1h -t rsa-sha2-256
SSHTUND_AUTHKEYS=none it_sshtund_start "TrustedUserCAKeys $T/trusted_cas" \
    "CASignatureAlgorithms ssh-ed25519,rsa-sha2-512"
log_mark
ssh_run ed25519
expect_in "CA signature rsa-sha2-256 refused when only rsa-sha2-512 is allowed" refused \
    "not in CASignatureAlgorithms"

# ---- AuthorizedPrincipalsFile and AuthorizedPrincipalsCommand ------------------------------------
mkdir -p "$T/principals"
printf '# principals of root\ncommand="echo via-principals" carol\nfrom="10.0.0.0/8" dave\n' \
    > "$T/principals/root"
SSHTUND_AUTHKEYS=none it_sshtund_start "TrustedUserCAKeys $T/trusted_cas" \
    "AuthorizedPrincipalsFile $T/principals/%u"
ucert ed25519 -n carol -V -5m:+1h
log_mark
ssh_run ed25519
if [ $RC -eq 0 ] && grep -q via-principals "$T/out"; then
    it_pass "AuthorizedPrincipalsFile: principal listed, the line's command= applies"
else
    it_fail "AuthorizedPrincipalsFile (rc $RC)"
    log_since | grep -v ^debug | tail -5
fi
ucert ed25519 -n root -V -5m:+1h
log_mark
ssh_run ed25519
expect_in "AuthorizedPrincipalsFile set: the account's name alone is not enough" refused \
    "does not contain an authorized principal"
ucert ed25519 -n dave -V -5m:+1h
log_mark
ssh_run ed25519
expect_in "AuthorizedPrincipalsFile from= refuses another address" refused

cat > "$CMDDIR/principals" <<EOF
#!/bin/sh
echo "\$*" > $CMDDIR/out/pcmd.args
echo erin
EOF
chmod 755 "$CMDDIR/principals"
SSHTUND_AUTHKEYS=none it_sshtund_start "TrustedUserCAKeys $T/trusted_cas" \
    "AuthorizedPrincipalsCommand $CMDDIR/principals %u %i %s %T %U" \
    "AuthorizedPrincipalsCommandUser nobody"
ucert ed25519 -n erin -V -5m:+1h
ID="id-ed25519-$((SERIAL - 1))"
log_mark
ssh_run ed25519
expect_in "AuthorizedPrincipalsCommand names the principal" ok "Accepted certificate ID"
it_check "AuthorizedPrincipalsCommand got its tokens" "root $ID $((SERIAL - 1)) ssh-ed25519 0" \
    "$(cat "$CMDDIR/out/pcmd.args" 2>/dev/null)"

# ---- cert-authority lines of authorized_keys -----------------------------------------------------
printf 'cert-authority,principals="ops,web" %s\n' "$(cut -d' ' -f1,2 "$CA.pub")" > "$T/ak_ca"
SSHTUND_AUTHKEYS=$T/ak_ca it_sshtund_start
ucert ecdsa384 -n web -V -5m:+1h
log_mark
ssh_run ecdsa384
expect_in "authorized_keys cert-authority,principals= lets a certificate in" ok
ucert ecdsa384 -n root -V -5m:+1h
log_mark
ssh_run ecdsa384
expect_in "cert-authority,principals=: a certificate for none of them refused" refused
printf '%s\n' "$(cut -d' ' -f1,2 "$CA.pub")" > "$T/ak_ca"
log_mark
ssh_run ecdsa384
expect_in "the CA's key on a plain line lets no certificate in" refused

# ---- RevokedKeys: KRL by serial and by key, key list, unreadable file ------------------------------
ucert rsa -n root -V -5m:+1h
REVOKED_SERIAL=$((SERIAL - 1))
printf 'serial: %s\n' "$REVOKED_SERIAL" > "$T/krl.spec"
ssh-keygen -q -k -f "$T/revoked.krl" -s "$CA.pub" "$T/krl.spec"
ucert ed25519 -n root -V -5m:+1h
SSHTUND_AUTHKEYS=none it_sshtund_start "TrustedUserCAKeys $T/trusted_cas" \
    "RevokedKeys $T/revoked.krl"
log_mark
ssh_run rsa
expect_in "RevokedKeys KRL: the certificate revoked by serial is refused" refused "revoked by file"
log_mark
ssh_run ed25519
expect_in "RevokedKeys KRL: another serial of the same CA is accepted" ok
ssh-keygen -q -k -u -f "$T/revoked.krl" "$T/u_ed25519.pub"
log_mark
ssh_run ed25519
expect_in "RevokedKeys KRL re-read: the certified key revoked by key (ssh-keygen -k -u)" refused \
    "revoked by file"
cut -d' ' -f1,2 "$CA.pub" > "$T/revoked.list"
SSHTUND_AUTHKEYS=$T/authorized_keys it_sshtund_start "TrustedUserCAKeys $T/trusted_cas" \
    "RevokedKeys $T/revoked.list"
log_mark
ssh_run ecdsa521
expect_in "RevokedKeys list with the CA: its certificates refused" refused "revoked by file"
timeout 60 ssh -F /dev/null -p "$PORT" -i "$T/user_ed25519" -o IdentitiesOnly=yes \
    -o UserKnownHostsFile=/dev/null -o StrictHostKeyChecking=no -o BatchMode=yes -o LogLevel=ERROR \
    root@127.0.0.1 'echo srv-ok' >"$T/out" 2>"$T/err"
RC=$?
expect_in "RevokedKeys list: a key not in it still logs in" ok
SSHTUND_AUTHKEYS=$T/authorized_keys it_sshtund_start "RevokedKeys $T/no-such-file"
log_mark
timeout 60 ssh -F /dev/null -p "$PORT" -i "$T/user_ed25519" -o IdentitiesOnly=yes \
    -o UserKnownHostsFile=/dev/null -o StrictHostKeyChecking=no -o BatchMode=yes -o LogLevel=ERROR \
    root@127.0.0.1 'echo srv-ok' >"$T/out" 2>"$T/err"
RC=$?
expect_in "RevokedKeys that cannot be read refuses every key (fails closed)" refused \
    "Error checking authentication key"

# ---- AuthorizedKeysCommand --------------------------------------------------------------------------
cat > "$CMDDIR/keys" <<EOF
#!/bin/sh
echo "\$(id -un) \$*" > $CMDDIR/out/akc.args
case "\$1" in
root) cat $CMDDIR/key.pub ;;
fail) cat $CMDDIR/key.pub; exit 3 ;;
esac
EOF
cat > "$CMDDIR/slow" <<EOF
#!/bin/sh
sleep 300 # sshtund-it-slow-marker
EOF
cat > "$CMDDIR/flood" <<EOF
#!/bin/sh
cat $CMDDIR/key.pub
exec yes 'ssh-ed25519 AAAA'
EOF
cp "$T/u_ed25519.pub" "$CMDDIR/key.pub"
chmod 644 "$CMDDIR/key.pub"
chmod 755 "$CMDDIR"/keys "$CMDDIR"/slow "$CMDDIR"/flood
SSHTUND_AUTHKEYS=none it_sshtund_start "AuthorizedKeysCommand $CMDDIR/keys %u %t %f" \
    "AuthorizedKeysCommandUser nobody"
log_mark
ssh_run ed25519
expect_in "AuthorizedKeysCommand output lets the key in" ok
FP=$(ssh-keygen -lf "$T/u_ed25519.pub" | cut -d' ' -f2)
it_check "AuthorizedKeysCommand runs as its user with the tokens" "nobody root ssh-ed25519 $FP" \
    "$(cat "$CMDDIR/out/akc.args" 2>/dev/null)"
SSHTUND_AUTHKEYS=none it_sshtund_start "AuthorizedKeysCommand $CMDDIR/keys fail" \
    "AuthorizedKeysCommandUser nobody"
log_mark
ssh_run ed25519
expect_in "AuthorizedKeysCommand exiting 3: its output is not used" refused "status 3"
SSHTUND_AUTHKEYS=none it_sshtund_start "AuthorizedKeysCommand $CMDDIR/slow" \
    "AuthorizedKeysCommandUser nobody"
log_mark
START=$(date +%s)
ssh_run ed25519
ELAPSED=$(($(date +%s) - START))
expect_in "AuthorizedKeysCommand that never ends: killed, key refused" refused "timed out"
[ $ELAPSED -lt 40 ] && it_pass "... and the attempt was decided in ${ELAPSED}s" ||
    it_fail "AuthorizedKeysCommand timeout took ${ELAPSED}s"
sleep 0.5
pgrep -f sshtund-it-slow-marker >/dev/null && it_fail "the slow command is still running" ||
    it_pass "the slow command's process group was killed"
# The helper was not blocked meanwhile: another login during a slow command.
SSHTUND_AUTHKEYS=$T/authorized_keys it_sshtund_start "AuthorizedKeysCommand $CMDDIR/slow" \
    "AuthorizedKeysCommandUser nobody"
timeout 60 ssh -F /dev/null -p "$PORT" -i "$T/u_ed25519" -o IdentitiesOnly=yes \
    -o UserKnownHostsFile=/dev/null -o StrictHostKeyChecking=no -o BatchMode=yes \
    -o LogLevel=ERROR root@127.0.0.1 true >/dev/null 2>&1 &
SLOWPID=$!
sleep 1
START=$(date +%s)
timeout 60 ssh -F /dev/null -p "$PORT" -i "$T/user_ed25519" -o IdentitiesOnly=yes \
    -o UserKnownHostsFile=/dev/null -o StrictHostKeyChecking=no -o BatchMode=yes -o LogLevel=ERROR \
    root@127.0.0.1 'echo srv-ok' >"$T/out" 2>"$T/err"
RC=$?
ELAPSED=$(($(date +%s) - START))
expect_in "another user's login goes on while a command runs" ok
[ $ELAPSED -lt 5 ] && it_pass "... in ${ELAPSED}s" || it_fail "login took ${ELAPSED}s beside a slow command"
wait $SLOWPID 2>/dev/null
SSHTUND_AUTHKEYS=none it_sshtund_start "AuthorizedKeysCommand $CMDDIR/flood" \
    "AuthorizedKeysCommandUser nobody"
log_mark
ssh_run ed25519
expect_in "AuthorizedKeysCommand writing without end: killed, output ignored" refused \
    "wrote more than"
cp "$CMDDIR/keys" "$CMDDIR/out/keys-unsafe"
chmod 755 "$CMDDIR/out/keys-unsafe"
SSHTUND_AUTHKEYS=none it_sshtund_start "AuthorizedKeysCommand $CMDDIR/out/keys-unsafe %u" \
    "AuthorizedKeysCommandUser nobody"
log_mark
ssh_run ed25519
expect_in "AuthorizedKeysCommand under a world-writable directory refused" refused "Unsafe"
SSHTUND_AUTHKEYS=none it_sshtund_start "AuthorizedKeysCommand $CMDDIR/keys %u"
log_mark
ssh_run ed25519
expect_in "AuthorizedKeysCommand without AuthorizedKeysCommandUser: skipped" refused \
    "No user for AuthorizedKeysCommand"

# ---- host key rotation: UpdateHostKeys against sshtund -------------------------------------------
# sshtund serves the old key (ed25519) and a new one (ecdsa); the clients
# know only the old one and learn the new one, with proof; then sshtund
# drops the old key and the clients still verify it.
rotation() { # rotation <client: ssh|sshtun>
    local kh="$T/kh_rot_$1"
    printf '[127.0.0.1]:%s %s\n' "$PORT" "$(cut -d' ' -f1,2 "$T/host_ed25519.pub")" > "$kh"
    local opts=(-p "$PORT" -o UserKnownHostsFile="$kh" -o GlobalKnownHostsFile=/dev/null
        -o StrictHostKeyChecking=yes -o BatchMode=yes -o UpdateHostKeys=yes)
    if [ "$1" = ssh ]; then
        timeout 60 ssh -F /dev/null -i "$T/user_ed25519" -o IdentitiesOnly=yes \
            -o HostKeyAlgorithms=ssh-ed25519,ecdsa-sha2-nistp256 -v "${opts[@]}" root@127.0.0.1 \
            'echo srv-ok' >"$T/out" 2>"$T/err"
    else
        timeout 60 "$SSHTUN" -F none -l root -i "$T/user_ed25519" -v "${opts[@]}" 127.0.0.1 \
            'echo srv-ok' >"$T/out" 2>"$T/err"
    fi
    RC=$?
    grep -q "ecdsa-sha2-nistp256 $(cut -d' ' -f2 "$T/host_ecdsa.pub")" "$kh" &&
        grep -q "Learned new hostkey" "$T/err" &&
        it_pass "$1 learns sshtund's new host key (hostkeys-00, proved by hostkeys-prove-00)" ||
        { it_fail "$1 did not learn the new key (rc $RC)"; grep -i "hostkey" "$T/err" | tail -5; }
}
rotate_check() { # rotate_check <client>
    local kh="$T/kh_rot_$1"
    local opts=(-p "$PORT" -o UserKnownHostsFile="$kh" -o GlobalKnownHostsFile=/dev/null
        -o StrictHostKeyChecking=yes -o BatchMode=yes -o UpdateHostKeys=yes)
    if [ "$1" = ssh ]; then
        timeout 60 ssh -F /dev/null -i "$T/user_ed25519" -o IdentitiesOnly=yes "${opts[@]}" \
            root@127.0.0.1 'echo srv-ok' >"$T/out" 2>"$T/err"
    else
        timeout 60 "$SSHTUN" -F none -l root -i "$T/user_ed25519" "${opts[@]}" 127.0.0.1 \
            'echo srv-ok' >"$T/out" 2>"$T/err"
    fi
    RC=$?
    expect_in "$1 still verifies sshtund after the old key is gone" ok
    grep -q "$(cut -d' ' -f2 "$T/host_ed25519.pub")" "$kh" &&
        it_fail "$1 kept the retired key" || it_pass "$1 forgot the retired key"
}
# it_sshtund_start names all three of the test's host keys; the rotation
# wants exactly ed25519 + ecdsa, then ecdsa alone, on the same port: its
# configuration is rewritten and sshtund restarted on it.
rot_restart() { # rot_restart <key types...>
    grep -v '^HostKey' "$T/sshtund_config" > "$T/sshtund_config.rot"
    for k in "$@"; do echo "HostKey $T/host_$k"; done >> "$T/sshtund_config.rot"
    it_sshtund_stop
    : > "$T/sshtund.log"
    setsid "$BUILD/sshtund" -D -e -f "$T/sshtund_config.rot" >> "$T/sshtund.log" 2>&1 &
    IT_SSHTUND_PID=$!
    for _ in $(seq 1 200); do
        grep -q ready "$T/sshtund.log" && return 0
        sleep 0.05
    done
    it_fail "sshtund did not restart on port $PORT"
    cat "$T/sshtund.log"
}
SSHTUND_AUTHKEYS=$T/authorized_keys it_sshtund_start
rot_restart ed25519 ecdsa
rotation ssh
rotation sshtun
rot_restart ecdsa
rotate_check ssh
rotate_check sshtun

it_sshtund_stop
it_done
