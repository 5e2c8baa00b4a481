#!/usr/bin/env bash
# it_pq.sh - the post-quantum hybrid key exchanges against real OpenSSH:
# 10.0 (Debian 12's backports, unpacked into a private folder by
# tests/openssh10.sh; the system's 9.2 is left alone) and the system's 9.2.
#
#   - sshtun -> sshd 10.0: mlkem768x25519-sha256 by default, no warning;
#     each hybrid forced with -o KexAlgorithms; against a server without
#     post-quantum methods the OpenSSH 10.1 warning, once, and not with -q,
#     WarnWeakCrypto no / no-pq-kex, or an explicit KexAlgorithms;
#   - ssh 10.0 -> sshtund: mlkem768x25519-sha256 by default, nothing about
#     post-quantum on ssh's stderr; each hybrid forced;
#   - sntrup761x25519-sha512 (both names) both ways with the system's 9.2
#     (the default between sshtun and 9.2, which has no ML-KEM);
#   - a 256 MiB transfer with RekeyLimit 32M each way (sshtun -> sshd 10.0,
#     ssh 10.0 -> sshtund): every re-exchange runs the hybrid again, and
#     the data arrives intact.
. "$(dirname "$0")/lib.sh"
it_init "$1"

O10=$(sh "$(dirname "$0")/../openssh10.sh") || { echo "FAIL: OpenSSH 10.0 not available"; exit 1; }
SSH10="$O10/usr/bin/ssh"
"$SSH10" -V 2>&1 | grep -q '^OpenSSH_10\.' && it_pass "OpenSSH 10 unpacked in $O10: $("$SSH10" -V 2>&1 | cut -d, -f1)" ||
    it_fail "OpenSSH 10.0: $("$SSH10" -V 2>&1)"
SYS_SSHD=$SSHD
# -Q kex lists the hybrids first, in OpenSSH 10's order.
it_check "sshtun -Q kex starts with the hybrids" \
    "mlkem768x25519-sha256 sntrup761x25519-sha512 sntrup761x25519-sha512@openssh.com curve25519-sha256" \
    "$("$SSHTUN" -Q kex | head -4 | tr '\n' ' ' | sed 's/ $//')"
it_check "sshtun -G: kexalgorithms as OpenSSH 10.0's ssh -G" \
    "$("$SSH10" -F none -G x | sed -n 's/^kexalgorithms //p')" \
    "$("$SSHTUN" -F none -G x | sed -n 's/^kexalgorithms //p')"
it_check "sshtun -G: warnweakcrypto yes by default" "warnweakcrypto yes" \
    "$("$SSHTUN" -F none -G x | grep '^warnweakcrypto')"
it_check "sshtun -G: WarnWeakCrypto=no-pq-kex shows as no (as OpenSSH prints it)" \
    "warnweakcrypto no" "$("$SSHTUN" -F none -o WarnWeakCrypto=no-pq-kex -G x | grep '^warnweakcrypto')"
HYBRIDS="mlkem768x25519-sha256 sntrup761x25519-sha512 sntrup761x25519-sha512@openssh.com"
PQWARN='** WARNING: connection is not using a post-quantum key exchange algorithm.'

# sshd 10.0 from the private folder, with its two helpers next to it.
# SSHD10_OPTS: command line options (they win over lib.sh's config lines).
start_sshd10() {
    SSHD="$O10/usr/sbin/sshd"
    if [ -n "${SSHD10_OPTS:-}" ]; then
        printf '#!/bin/sh\nexec "%s" %s "$@"\n' "$O10/usr/sbin/sshd" "$SSHD10_OPTS" > "$T/sshd10"
        chmod +x "$T/sshd10"
        SSHD="$T/sshd10"
    fi
    it_start_sshd "SshdSessionPath $O10/usr/lib/openssh/sshd-session" \
        "SshdAuthPath $O10/usr/lib/openssh/sshd-auth" "$@"
    SSHD=$SYS_SSHD
}

kex_of() { tr -d '\r' < "$1" | grep -o 'kex: algorithm: [^ ]*' | head -1 | sed 's/.*: //'; }

# ---- sshtun -> sshd 10.0 -------------------------------------------------------------
start_sshd10
grep -q "OpenSSH_10" "$T/sshd.log" 2>/dev/null || "$O10/usr/sbin/sshd" -V 2>&1 | grep -q OpenSSH_10 ||
    it_fail "sshd 10.0 version"
it_known_hosts
out=$(it_sshtun -v 127.0.0.1 'echo default' 2>"$T/err" </dev/null)
it_check "sshtun -> sshd 10.0: default session" "default" "$out"
it_check "sshtun -> sshd 10.0: default kex" "mlkem768x25519-sha256" "$(kex_of "$T/err")"
grep -qF "$PQWARN" "$T/err" && it_fail "post-quantum warning with a post-quantum kex" ||
    it_pass "sshtun -> sshd 10.0: no post-quantum warning"
grep -q "Accepted publickey" "$T/sshd.log" && it_pass "sshd 10.0 accepted the login" ||
    it_fail "sshd 10.0 log: $(tail -3 "$T/sshd.log")"
for k in $HYBRIDS; do
    out=$(it_sshtun -v -o KexAlgorithms=$k 127.0.0.1 "echo $k" 2>"$T/err" </dev/null)
    it_check "sshtun -> sshd 10.0: forced $k" "$k" "$out"
    it_check "sshtun -> sshd 10.0: negotiated $k" "$k" "$(kex_of "$T/err")"
done

# 256 MiB up, rekeying every 32 MiB: each exchange must be the hybrid.
head -c $((256 * 1024 * 1024)) /dev/urandom > "$T/big"
want=$(sha256sum < "$T/big" | cut -d' ' -f1)
got=$(it_sshtun -v -o RekeyLimit=32M 127.0.0.1 'sha256sum' < "$T/big" 2>"$T/err" | cut -d' ' -f1)
it_check "sshtun -> sshd 10.0: 256 MiB with RekeyLimit 32M arrives intact" "$want" "$got"
n_kex=$(grep -c 'kex: algorithm: ' "$T/err")
n_pq=$(grep -c 'kex: algorithm: mlkem768x25519-sha256' "$T/err")
[ "$n_kex" -ge 8 ] && [ "$n_kex" = "$n_pq" ] &&
    it_pass "sshtun -> sshd 10.0: all $n_kex key exchanges of the transfer were mlkem768x25519-sha256" ||
    it_fail "sshtun -> sshd 10.0 rekeys: $n_kex exchanges, $n_pq of them mlkem768x25519-sha256"
it_stop_sshd

# ---- the warning, against a server without post-quantum methods -----------------------------
SSHD10_OPTS="-o KexAlgorithms=curve25519-sha256" start_sshd10
it_known_hosts
it_sshtun -v 127.0.0.1 true 2>"$T/err" </dev/null
it_check "classical server: curve25519-sha256 negotiated" "curve25519-sha256" "$(kex_of "$T/err")"
it_check "classical server: warned once" 1 "$(grep -cF "$PQWARN" "$T/err")"
grep -q 'store now, decrypt later' "$T/err" && grep -q 'openssh.com/pq.html' "$T/err" &&
    it_pass "classical server: OpenSSH 10.1's three lines" || it_fail "warning text: $(cat "$T/err")"
for opt in "-q" "-o WarnWeakCrypto=no" "-o WarnWeakCrypto=no-pq-kex" \
    "-o KexAlgorithms=curve25519-sha256"; do
    it_sshtun $opt 127.0.0.1 true 2>"$T/err" </dev/null
    rc=$?
    [ $rc = 0 ] && ! grep -q 'post-quantum' "$T/err" && it_pass "classical server, $opt: no warning" ||
        it_fail "classical server, $opt: rc=$rc $(cat "$T/err")"
done
it_stop_sshd

# ---- sshtun -> the system's sshd 9.2 ------------------------------------------------------
# Debian's 9.2 has sntrup761x25519 under both names (the plain one came to
# Debian as a backport) and no ML-KEM: the first hybrid of ours it has is
# the default.
HYBRIDS92=$(/usr/bin/ssh -Q kex | grep -x -F "$(echo $HYBRIDS | tr ' ' '\n')" | tr '\n' ' ')
PQ92=""
for k in $HYBRIDS; do case " $HYBRIDS92 " in *" $k "*) PQ92=$k; break ;; esac; done
[ -n "$PQ92" ] && it_pass "OpenSSH 9.2 has: $HYBRIDS92" || it_fail "OpenSSH 9.2 has no sntrup761x25519"
it_start_sshd
it_known_hosts
out=$(it_sshtun -v 127.0.0.1 'echo nine' 2>"$T/err" </dev/null)
it_check "sshtun -> sshd 9.2: session" "nine" "$out"
it_check "sshtun -> sshd 9.2: default kex" "$PQ92" "$(kex_of "$T/err")"
for k in $HYBRIDS92; do
    out=$(it_sshtun -v -o KexAlgorithms=$k 127.0.0.1 "echo $k" 2>"$T/err" </dev/null)
    it_check "sshtun -> sshd 9.2: forced $k" "$k" "$out"
    it_check "sshtun -> sshd 9.2: negotiated $k" "$k" "$(kex_of "$T/err")"
done
it_stop_sshd

# ---- ssh 10.0 and 9.2 -> sshtund ---------------------------------------------------------------
it_sshtund_start
: > "$T/kh_srv"
for k in ed25519 ecdsa rsa; do
    echo "[127.0.0.1]:$PORT $(cut -d' ' -f1,2 "$T/host_$k.pub")" >> "$T/kh_srv"
done
ssh_to() {  # ssh_to <ssh binary> [options...] -- command
    local bin=$1
    shift
    timeout 120 "$bin" -F none -p "$PORT" -l "$USER_NAME" -i "$T/user_ed25519" \
        -o UserKnownHostsFile="$T/kh_srv" -o GlobalKnownHostsFile=/dev/null \
        -o StrictHostKeyChecking=yes -o BatchMode=yes "$@"
}
out=$(ssh_to "$SSH10" -v 127.0.0.1 'echo sshtund' 2>"$T/err" </dev/null)
it_check "ssh 10.0 -> sshtund: session" "sshtund" "$out"
it_check "ssh 10.0 -> sshtund: default kex" "mlkem768x25519-sha256" "$(kex_of "$T/err")"
grep -qi 'post-quantum' "$T/err" && it_fail "ssh 10.0 warned: $(grep -i post-quantum "$T/err")" ||
    it_pass "ssh 10.0 -> sshtund: nothing about post-quantum on ssh's stderr"
for k in $HYBRIDS; do
    out=$(ssh_to "$SSH10" -v -o KexAlgorithms=$k 127.0.0.1 "echo $k" 2>"$T/err" </dev/null)
    it_check "ssh 10.0 -> sshtund: forced $k" "$k" "$out"
    it_check "ssh 10.0 -> sshtund: negotiated $k" "$k" "$(kex_of "$T/err")"
done
out=$(ssh_to /usr/bin/ssh -v 127.0.0.1 'echo nine' 2>"$T/err" </dev/null)
it_check "ssh 9.2 -> sshtund: session" "nine" "$out"
it_check "ssh 9.2 -> sshtund: default kex" "$PQ92" "$(kex_of "$T/err")"
for k in $HYBRIDS92; do
    out=$(ssh_to /usr/bin/ssh -v -o KexAlgorithms=$k 127.0.0.1 "echo $k" 2>"$T/err" </dev/null)
    it_check "ssh 9.2 -> sshtund: forced $k" "$k" "$out"
    it_check "ssh 9.2 -> sshtund: negotiated $k" "$k" "$(kex_of "$T/err")"
done

# 256 MiB down from sshtund to ssh 10.0, rekeying every 32 MiB.
got=$(ssh_to "$SSH10" -v -o RekeyLimit=32M 127.0.0.1 "cat $T/big" </dev/null 2>"$T/err" |
    sha256sum | cut -d' ' -f1)
it_check "ssh 10.0 -> sshtund: 256 MiB with RekeyLimit 32M arrives intact" "$want" "$got"
n_kex=$(grep -c 'kex: algorithm: ' "$T/err")
n_pq=$(grep -c 'kex: algorithm: mlkem768x25519-sha256' "$T/err")
[ "$n_kex" -ge 8 ] && [ "$n_kex" = "$n_pq" ] &&
    it_pass "ssh 10.0 -> sshtund: all $n_kex key exchanges of the transfer were mlkem768x25519-sha256" ||
    it_fail "ssh 10.0 -> sshtund rekeys: $n_kex exchanges, $n_pq of them mlkem768x25519-sha256"
it_sshtund_stop
rm -f "$T/big"

it_done
