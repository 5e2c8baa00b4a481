#!/usr/bin/env bash
# it_engine_sshd.sh - the engine against a real OpenSSH sshd at the wire.
#
# For every key exchange method, cipher, MAC, host key algorithm and user key
# type sshtun supports, connect to a throwaway sshd on 127.0.0.1, complete
# KEX and publickey authentication, run a command and check its output and
# exit status.  Also: strict KEX is negotiated, ssh-rsa (SHA-1) is refused
# unless asked for, a wrong host key refuses and runs nothing.
. "$(dirname "$0")/lib.sh"
it_init "$1"
it_start_sshd
it_known_hosts

run() {  # run <description> <expected-output> <expected-rc> sshtun-args...
    local desc=$1 want_out=$2 want_rc=$3
    shift 3
    local out rc
    out=$(it_sshtun "$@" 2>"$T/err")
    rc=$?
    if [ "$out" = "$want_out" ] && [ "$rc" = "$want_rc" ]; then
        it_pass "$desc"
    else
        it_fail "$desc: rc=$rc (want $want_rc) out='$out' (want '$want_out')"
        sed 's/^/    /' "$T/err" | tail -5
    fi
}

# The system's OpenSSH 9.2 knows sntrup761x25519 only by its @openssh.com
# name (mlkem768x25519 came in 9.9: tests/integration/it_pq.sh has 10.0).
for kex in sntrup761x25519-sha512@openssh.com curve25519-sha256 curve25519-sha256@libssh.org ecdh-sha2-nistp256 \
    ecdh-sha2-nistp384 ecdh-sha2-nistp521 diffie-hellman-group14-sha256 \
    diffie-hellman-group16-sha512 diffie-hellman-group18-sha512 \
    diffie-hellman-group-exchange-sha256; do
    run "kex $kex" "kex-$kex" 3 -o KexAlgorithms=$kex 127.0.0.1 "echo kex-$kex; exit 3"
done

for c in chacha20-poly1305@openssh.com aes128-gcm@openssh.com aes256-gcm@openssh.com \
    aes128-ctr aes192-ctr aes256-ctr; do
    run "cipher $c" "cipher-$c" 0 -c $c 127.0.0.1 "echo cipher-$c"
done

for m in hmac-sha2-256-etm@openssh.com hmac-sha2-512-etm@openssh.com hmac-sha2-256 \
    hmac-sha2-512; do
    for c in aes128-ctr aes256-ctr; do
        run "mac $m with $c" "mac-$m" 0 -c $c -m $m 127.0.0.1 "echo mac-$m"
    done
done

for h in ssh-ed25519 ecdsa-sha2-nistp256 ecdsa-sha2-nistp384 ecdsa-sha2-nistp521 \
    rsa-sha2-512 rsa-sha2-256; do
    run "host key $h" "hk-$h" 0 -o HostKeyAlgorithms=$h 127.0.0.1 "echo hk-$h"
done

for u in ed25519 ecdsa rsa; do
    run "user key $u" "uk-$u" 0 -i "$T/user_$u" -o IdentitiesOnly=yes 127.0.0.1 "echo uk-$u"
done

# Exit statuses pass through; a large output crosses many packets.
run "exit status 0" "" 0 127.0.0.1 true
run "exit status 1" "" 1 127.0.0.1 false
run "exit status 255 from the command" "" 255 127.0.0.1 "exit 255"
want=$(head -c 3000000 /dev/zero | tr '\0' 'x' | sha256sum | cut -d' ' -f1)
run "3 MB of output" "$want" 0 127.0.0.1 "head -c 3000000 /dev/zero | tr '\\0' x | sha256sum | cut -d' ' -f1"

# Strict KEX is in force against OpenSSH (it advertises kex-strict-s).
it_sshtun -vv 127.0.0.1 true 2>"$T/err"
if grep -q "strict KEX enabled" "$T/err"; then it_pass "strict KEX negotiated"; else it_fail "strict KEX not negotiated"; fi

# ssh-rsa (SHA-1) is refused unless asked for: with only ssh-rsa configured
# there is nothing to negotiate... unless the user explicitly enables it.
run "ssh-rsa host key when explicitly enabled" "sha1" 0 -o HostKeyAlgorithms=ssh-rsa 127.0.0.1 "echo sha1"

# A wrong known host key refuses the connection and runs nothing.
echo "[127.0.0.1]:$PORT $(cut -d' ' -f1,2 "$T/user_ed25519.pub")" > "$T/known_hosts"
rm -f "$T/marker"
it_sshtun -o HostKeyAlgorithms=ssh-ed25519 127.0.0.1 "touch $T/marker" 2>"$T/err"
rc=$?
it_check "changed host key exits 255" 255 "$rc"
if [ ! -e "$T/marker" ] && grep -q "Host key verification failed." "$T/err"; then
    it_pass "changed host key: nothing ran, clear message"
else
    it_fail "changed host key: command ran or no message"; cat "$T/err"
fi
it_done
