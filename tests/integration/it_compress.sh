#!/usr/bin/env bash
# it_compress.sh - compression (-C, Compression; zlib@openssh.com delayed
# compression and zlib) against real peers, both roles.
#
# - sshtun -C against OpenSSH sshd (Compression yes, its default): the
#   negotiated method is zlib@openssh.com in both directions, 8 MiB of text
#   and 4 MiB of random bytes go up and come back intact through `cat`;
#   without -C, none; against sshd with Compression no, none (and it still
#   works).
# - OpenSSH ssh -C against sshtund: ssh's own log says zlib@openssh.com both
#   ways, the data comes back intact, and a rekey every 1 MiB re-starts the
#   streams without harm; sshtund with Compression no: none.
# - sshtun -C against sshtund, and -G's "compression" line.
. "$(dirname "$0")/lib.sh"
it_init "$1"

seq 1 2000000 | head -c 8388608 > "$T/text"
head -c 4194304 /dev/urandom > "$T/random"
sum() { sha256sum | cut -d' ' -f1; }
TEXT_SUM=$(sum < "$T/text")
RAND_SUM=$(sum < "$T/random")

# comp_of <log>: the "compression:" words of both kex lines, as "ctos stoc".
comp_of() {
    sed -n 's/.*kex: server->client cipher: .* compression: \([^ ]*\).*/stoc=\1/p;
            s/.*kex: client->server cipher: .* compression: \([^ ]*\).*/ctos=\1/p' "$1" |
        tr -d '\r' | sort -u | tr '\n' ' ' | sed 's/ $//'
}
roundtrip() { # roundtrip <label> <client command...>: text and random through cat
    local label=$1
    shift
    local got
    got=$("$@" cat < "$T/text" 2> "$T/c.log" | sum)
    it_check "$label: 8 MiB of text back intact" "$TEXT_SUM" "$got"
    got=$("$@" cat < "$T/random" 2>> "$T/c.log" | sum)
    it_check "$label: 4 MiB of random bytes back intact" "$RAND_SUM" "$got"
}

# ---- sshtun -> OpenSSH sshd ----------------------------------------------------
it_start_sshd "Compression yes"
it_known_hosts
roundtrip "sshtun -C -> sshd" it_sshtun -C -v 127.0.0.1
it_check "sshtun -C -> sshd negotiates delayed zlib" \
    "ctos=zlib@openssh.com stoc=zlib@openssh.com" "$(comp_of "$T/c.log")"
it_sshtun -v 127.0.0.1 true 2> "$T/c.log"
it_check "sshtun without -C -> sshd: none" "ctos=none stoc=none" "$(comp_of "$T/c.log")"
it_sshtun -o Compression=yes -v 127.0.0.1 true 2> "$T/c.log"
it_check "Compression=yes is -C" "ctos=zlib@openssh.com stoc=zlib@openssh.com" \
    "$(comp_of "$T/c.log")"
it_check "-G with -C prints compression yes" "compression yes" \
    "$("$SSHTUN" -F none -C -G somehost | grep '^compression ')"
it_check "-Q compression lists what ssh -Q lists" "$(ssh -Q compression | tr '\n' ' ')" \
    "$("$SSHTUN" -Q compression | tr '\n' ' ')"
it_check "-G without -C prints compression no" "compression no" \
    "$("$SSHTUN" -F none -G somehost | grep '^compression ')"
it_start_sshd "Compression no"
it_known_hosts
out=$(it_sshtun -C -v 127.0.0.1 echo works 2> "$T/c.log")
it_check "sshtun -C -> sshd with Compression no: runs" works "$out"
it_check "sshtun -C -> sshd with Compression no: none" "ctos=none stoc=none" "$(comp_of "$T/c.log")"
it_stop_sshd

# ---- clients -> sshtund (root: privilege separation) ------------------------------
if [ "$(id -u)" -ne 0 ]; then
    echo "SKIP-NOT-COUNTED: the sshtund part needs root"
    it_done
    exit $?
fi
srv_known_hosts() {
    : > "$T/known_hosts"
    for k in ed25519 ecdsa rsa; do
        echo "[127.0.0.1]:$PORT $(cut -d' ' -f1,2 "$T/host_$k.pub")" >> "$T/known_hosts"
    done
}
ssh_c() {
    timeout 120 ssh -F none -p "$PORT" -i "$T/user_ed25519" -o UserKnownHostsFile="$T/known_hosts" \
        -o GlobalKnownHostsFile=/dev/null -o StrictHostKeyChecking=yes -o BatchMode=yes \
        -l "$USER_NAME" "$@"
}
it_sshtund_start
srv_known_hosts
roundtrip "ssh -C -> sshtund" ssh_c -C -v 127.0.0.1
it_check "ssh -C -> sshtund negotiates delayed zlib (ssh's log)" \
    "ctos=zlib@openssh.com stoc=zlib@openssh.com" "$(comp_of "$T/c.log")"
# RekeyLimit counts wire bytes: random data, which does not compress,
# makes several re-exchanges; the text then runs through the restarted
# streams.
got=$( (cat "$T/random" "$T/text") | ssh_c -C -o RekeyLimit=1M -v 127.0.0.1 cat 2> "$T/c.log" | sum)
it_check "ssh -C -> sshtund, rekey every 1 MiB: data intact" \
    "$(cat "$T/random" "$T/text" | sum)" "$got"
n=$(grep -c "SSH2_MSG_NEWKEYS received" "$T/c.log")
[ "$n" -ge 4 ] && it_pass "ssh -C -> sshtund rekeyed ($n key exchanges)" ||
    it_fail "ssh -C -> sshtund: only $n key exchanges with RekeyLimit 1M"
roundtrip "sshtun -C -> sshtund" it_sshtun -C -v 127.0.0.1
it_check "sshtun -C -> sshtund negotiates delayed zlib" \
    "ctos=zlib@openssh.com stoc=zlib@openssh.com" "$(comp_of "$T/c.log")"
it_check "sshtund -T prints compression yes by default" "compression yes" \
    "$("$BUILD/sshtund" -T -f "$T/sshtund_config" | grep '^compression ')"

it_sshtund_start "Compression no"
srv_known_hosts
out=$(ssh_c -C -v 127.0.0.1 echo works 2> "$T/c.log")
it_check "ssh -C -> sshtund with Compression no: runs" works "$out"
it_check "ssh -C -> sshtund with Compression no: none" "ctos=none stoc=none" "$(comp_of "$T/c.log")"
it_sshtund_stop
it_done
