#!/bin/bash
# it_hostkeys.sh - host key management with sshtun as the client against a
# real OpenSSH sshd (issue 12): UpdateHostKeys learning the server's other
# keys with proof (yes, and ask through askpass), host key rotation end to
# end (sshd gets a new key, sshtun learns it, sshd drops the old one, sshtun
# still verifies and forgets the old one), what UpdateHostKeys leaves alone,
# and KnownHostsCommand with its tokens.
. "$(dirname "$0")/lib.sh"
it_init "$1"

KH="$HOME/.ssh/known_hosts" # ssh's default file: UpdateHostKeys defaults to yes
ssh-keygen -q -t ed25519 -N '' -f "$T/host_new" -C host-new

# it_start_sshd lists the standard keys first; a test that wants exactly
# its own keys writes the configuration itself.
it_start_sshd_keys() {
    [ -n "${SSHD_PID:-}" ] && it_stop_sshd
    PORT=$(it_free_port)
    {
        echo "Port $PORT"
        echo "ListenAddress 127.0.0.1"
        for k in "$@"; do echo "HostKey $T/$k"; done
        echo "AuthorizedKeysFile $T/authorized_keys"
        echo "StrictModes no"
        echo "UsePAM no"
        echo "PidFile $T/sshd.pid"
        echo "PermitRootLogin yes"
        echo "LogLevel VERBOSE"
    } > "$T/sshd_config"
    setsid "$SSHD" -D -e -f "$T/sshd_config" > "$T/sshd.log" 2>&1 &
    SSHD_PID=$!
    it_wait_port "$PORT" || { echo "FAIL: sshd did not start"; cat "$T/sshd.log"; exit 1; }
}

keyline() { echo "[127.0.0.1]:$PORT $(cut -d' ' -f1,2 "$T/$1.pub")"; }
has() { grep -qF "$(cut -d' ' -f2 "$T/$1.pub")" "$KH"; }

# connect [sshtun options]: log in with the test user key, default
# known_hosts handling (no UserKnownHostsFile option).
connect() {
    timeout 60 "$SSHTUN" -F none -p "$PORT" -l "$USER_NAME" -i "$T/user_ed25519" \
        -o GlobalKnownHostsFile=/dev/null -o StrictHostKeyChecking=yes -o BatchMode=yes "$@" \
        127.0.0.1 'echo hk-ok' >"$T/out" 2>"$T/err"
    RC=$?
}

# ---- learning the other keys --------------------------------------------------------------------
it_start_sshd_keys host_ed25519 host_ecdsa host_rsa
keyline host_ed25519 > "$KH"
connect -v
[ $RC -eq 0 ] && it_pass "connects with one known key" || { it_fail "connect ($RC)"; cat "$T/err"; }
if has host_ecdsa && has host_rsa && has host_ed25519; then
    it_pass "UpdateHostKeys learnt the ECDSA and RSA keys (with proof)"
else
    it_fail "keys not learnt: $(cat "$KH")"
    grep -i "hostkey\|prove" "$T/err" | sed 's/^/    /'
fi
grep -q "Learned new hostkey" "$T/err" && it_pass "-v says what was learnt" || it_fail "no Learned line"
[ "$(grep -c . "$KH")" = 3 ] && it_pass "three lines, no duplicates" || it_fail "$(cat "$KH")"
cp "$KH" "$T/kh.before"
connect
cmp -s "$KH" "$T/kh.before" && it_pass "nothing new: the file is left alone" ||
    it_fail "file changed without reason"

# Each learnt key now verifies on its own.
for a in ecdsa-sha2-nistp256 rsa-sha2-512; do
    connect -o HostKeyAlgorithms=$a -o UpdateHostKeys=no
    [ $RC -eq 0 ] && it_pass "learnt key verifies ($a)" || it_fail "learnt key $a ($RC)"
done

# ---- rotation ---------------------------------------------------------------------------------------
# 1. sshd gets a new Ed25519 key beside the old one: sshtun learns it.
it_start_sshd_keys host_ed25519 host_new host_ecdsa host_rsa
keyline host_ed25519 > "$KH"
connect
has host_new && it_pass "rotation: the new key is learnt while the old one serves" ||
    it_fail "rotation: new key not learnt"
# 2. sshd drops the old key: sshtun verifies with the new one and forgets
#    the old one.
it_start_sshd_keys host_new host_ecdsa host_rsa
cp "$KH" "$T/kh.rot"
# The known_hosts file of the previous step is for the previous port.
sed -i "s/\[127.0.0.1\]:[0-9]*/[127.0.0.1]:$PORT/" "$KH"
connect -v
[ $RC -eq 0 ] && it_pass "rotation: the new key verifies after the old one is gone" ||
    { it_fail "rotation: connect ($RC)"; tail -5 "$T/err"; }
has host_ed25519 && it_fail "rotation: the old key is still recorded" ||
    it_pass "rotation: the old key is removed"
grep -q "Deprecating obsolete hostkey" "$T/err" && it_pass "-v says what was removed" ||
    it_fail "no Deprecating line"
[ -f "$KH.old" ] && it_pass "the previous file is kept as known_hosts.old" || it_fail "no .old"
# 3. A client that only ever knew the old key now refuses, loudly.
keyline host_ed25519 > "$KH"
connect -o HostKeyAlgorithms=ssh-ed25519
[ $RC -eq 255 ] && grep -q "HAS CHANGED" "$T/err" && it_pass "the retired key alone: refused" ||
    it_fail "old key only: rc $RC"

# ---- what is left alone -------------------------------------------------------------------------------
it_start_sshd_keys host_ed25519 host_ecdsa host_rsa
keyline host_ed25519 > "$KH"
connect -o UpdateHostKeys=no
[ "$(grep -c . "$KH")" = 1 ] && it_pass "UpdateHostKeys no: nothing learnt" || it_fail "learnt with no"
connect -o UserKnownHostsFile='~/.ssh/known_hosts'
[ "$(grep -c . "$KH")" = 3 ] && it_pass "UserKnownHostsFile ~/.ssh/known_hosts: still on" ||
    it_fail "not learnt with the default file named"
keyline host_ed25519 > "$T/other_kh"
connect -o UserKnownHostsFile="$T/other_kh"
[ "$(grep -c . "$T/other_kh")" = 1 ] && it_pass "another UserKnownHostsFile: off by default" ||
    it_fail "learnt into a chosen file"
connect -o UserKnownHostsFile="$T/other_kh" -o UpdateHostKeys=yes
[ "$(grep -c . "$T/other_kh")" = 3 ] && it_pass "... and on when asked for" || it_fail "not learnt"
# The key found in the second user file: new keys go to that file.
: > "$KH"
keyline host_ed25519 > "$T/kh2"
connect -o UserKnownHostsFile="$KH $T/kh2" -o UpdateHostKeys=yes
[ "$(grep -c . "$T/kh2")" = 3 ] && [ ! -s "$KH" ] &&
    it_pass "keys learnt into the file that matched" || it_fail "kh2: $(cat "$T/kh2") kh: $(cat "$KH")"
# Wildcard and marker lines: no rewriting.
echo "[127.0.0.1]:* $(cut -d' ' -f1,2 "$T/host_ed25519.pub")" > "$KH"
connect
[ "$(grep -c . "$KH")" = 1 ] && it_pass "a wildcard line: left alone" || it_fail "wildcard rewritten"
# Hashed names are learnt hashed (HashKnownHosts).
keyline host_ed25519 > "$KH"
connect -o HashKnownHosts=yes
[ "$(grep -c '^|1|' "$KH")" = 2 ] && it_pass "learnt keys hashed with HashKnownHosts" ||
    it_fail "hashing: $(cat "$KH")"

# UpdateHostKeys ask, answered through SSH_ASKPASS.  A shell session (its
# commands on stdin): with a command, ask is turned off, as ssh does.
for answer in no yes; do
    printf '#!/bin/sh\necho "$1" >> %s/askpass.log\necho %s\n' "$T" "$answer" > "$T/askpass"
    chmod +x "$T/askpass"
    keyline host_ed25519 > "$KH"
    : > "$T/askpass.log"
    SSH_ASKPASS="$T/askpass" SSH_ASKPASS_REQUIRE=force DISPLAY=:0 \
        timeout 60 "$SSHTUN" -F none -p "$PORT" -l "$USER_NAME" -i "$T/user_ed25519" \
        -o GlobalKnownHostsFile=/dev/null -o StrictHostKeyChecking=yes -o UpdateHostKeys=ask \
        127.0.0.1 2>"$T/err" <<<"true"
    grep -q "Accept updated hostkeys" "$T/askpass.log" && it_pass "ask: the question is asked ($answer)" ||
        it_fail "ask: not asked ($answer): $(cat "$T/err")"
    n=$(grep -c . "$KH")
    if [ $answer = yes ]; then want=3; else want=1; fi
    [ "$n" = $want ] && it_pass "ask: answered $answer, $n key(s) recorded" || it_fail "ask $answer: $n lines"
done
# With a command (or -T, or RemoteCommand) nobody is asked and nothing is
# learnt, as ssh ("UpdateHostKeys=ask is incompatible with remote command
# execution; disabling").
for extra in "true" "-T true"; do
    keyline host_ed25519 > "$KH"
    : > "$T/askpass.log"
    SSH_ASKPASS="$T/askpass" SSH_ASKPASS_REQUIRE=force DISPLAY=:0 \
        timeout 60 "$SSHTUN" -F none -p "$PORT" -l "$USER_NAME" -i "$T/user_ed25519" \
        -o GlobalKnownHostsFile=/dev/null -o StrictHostKeyChecking=yes -o UpdateHostKeys=ask \
        127.0.0.1 $extra 2>"$T/err" </dev/null
    it_check "ask with '$extra': not asked, nothing learnt" "0 1" \
        "$(grep -c . "$T/askpass.log") $(grep -c . "$KH")"
done

# ---- KnownHostsCommand --------------------------------------------------------------------------------
cat > "$T/khc" <<EOF
#!/bin/sh
echo "\$@" >> $T/khc.log
[ "\$2" = HOSTNAME ] && cat $T/khc.out
exit 0
EOF
chmod +x "$T/khc"
keyline host_ed25519 > "$T/khc.out"
: > "$T/khc.log"
: > "$KH"
connect -o KnownHostsCommand="$T/khc %H %I %t %f" -o UserKnownHostsFile=none
[ $RC -eq 0 ] && it_pass "KnownHostsCommand's lines verify the host" || it_fail "khc: $(cat "$T/err")"
fp=$(ssh-keygen -lf "$T/host_ed25519.pub" | cut -d' ' -f2)
grep -q "^\[127.0.0.1\]:$PORT HOSTNAME ssh-ed25519 $fp\$" "$T/khc.log" &&
    it_pass "KnownHostsCommand tokens %H %I %t %f" || it_fail "tokens: $(cat "$T/khc.log")"
grep -q "ORDER" "$T/khc.log" && it_pass "KnownHostsCommand consulted for the algorithm order" ||
    it_fail "no ORDER call"
: > "$T/khc.out"
connect -o KnownHostsCommand="$T/khc %H %I" -o UserKnownHostsFile=none
[ $RC -eq 255 ] && grep -q "No ED25519 host key is known" "$T/err" &&
    it_pass "KnownHostsCommand without the key: unknown, refused" || it_fail "empty khc: rc $RC"
connect -o KnownHostsCommand="/bin/false" -o UserKnownHostsFile=none
[ $RC -eq 255 ] && grep -q "KnownHostsCommand failed" "$T/err" &&
    it_pass "a failing KnownHostsCommand refuses" || it_fail "failing khc: rc $RC"

it_done
