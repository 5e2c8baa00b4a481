#!/usr/bin/env bash
# it_client.sh - the sshtun client as an OpenSSH user meets it, against a
# throwaway sshd on 127.0.0.1: exit statuses, streams, known_hosts policy,
# identities (files, encrypted via SSH_ASKPASS, ssh-agent), password auth,
# configuration files, ptys, half-close, and failure messages.
. "$(dirname "$0")/lib.sh"
it_init "$1"
it_start_sshd "AcceptEnv LC_* SSHTUN_*" "PasswordAuthentication yes" \
    "KbdInteractiveAuthentication no"
it_known_hosts

# ---- exit statuses and streams ---------------------------------------------
for st in 0 1 7 255; do
    it_sshtun 127.0.0.1 "exit $st" </dev/null
    it_check "exit status $st" "$st" "$?"
done
it_sshtun 127.0.0.1 'kill -TERM $$' </dev/null 2>"$T/err"
rc=$?
it_check "exit-signal gives 255" 255 "$rc"
grep -q "signal TERM" "$T/err" && it_pass "exit-signal reported" || it_fail "exit-signal not reported: $(cat "$T/err")"

out=$(it_sshtun 127.0.0.1 'echo out; echo err >&2' 2>"$T/err" </dev/null)
it_check "stdout kept apart" "out" "$out"
it_check "stderr kept apart" "err" "$(cat "$T/err")"

head -c $((64 * 1024 * 1024)) /dev/urandom > "$T/big"
want=$(sha256sum < "$T/big" | cut -d' ' -f1)
got=$(it_sshtun 127.0.0.1 'sha256sum' < "$T/big" | cut -d' ' -f1)
it_check "64 MiB through stdin" "$want" "$got"
got=$(it_sshtun 127.0.0.1 "cat $T/big" </dev/null | sha256sum | cut -d' ' -f1)
it_check "64 MiB through stdout" "$want" "$got"

start=$(date +%s)
first=$(it_sshtun 127.0.0.1 'cat /dev/zero' </dev/null | head -c1 | od -An -c | tr -d ' ')
elapsed=$(($(date +%s) - start))
it_check "cat /dev/zero | head -c1 delivers" '\0' "$first"
[ "$elapsed" -le 5 ] && it_pass "cat /dev/zero | head -c1 ends promptly (${elapsed}s)" ||
    it_fail "cat /dev/zero | head -c1 took ${elapsed}s"

LC_SSHTUN=sent it_sshtun -o SendEnv=LC_SSHTUN -o SetEnv=SSHTUN_SET=yes 127.0.0.1 \
    'echo "$LC_SSHTUN $SSHTUN_SET"' </dev/null >"$T/out"
it_check "SendEnv and SetEnv" "sent yes" "$(cat "$T/out")"

# ---- pty ------------------------------------------------------------------------
out=$(it_sshtun -tt 127.0.0.1 'tty' </dev/null | tr -d '\r')
case "$out" in /dev/pts/*) it_pass "-tt allocates a pty ($out)" ;; *) it_fail "-tt: got '$out'" ;; esac
out=$(it_sshtun -T 127.0.0.1 'tty' </dev/null)
it_check "-T: no pty" "not a tty" "$out"

# ---- known_hosts ----------------------------------------------------------------
KH="$T/kh_test"
run_kh() { timeout 30 "$SSHTUN" -F none -p "$PORT" -l "$USER_NAME" -i "$T/user_ed25519" \
    -o UserKnownHostsFile="$KH" -o GlobalKnownHostsFile=/dev/null -o BatchMode=yes \
    -o HostKeyAlgorithms=ssh-ed25519 "$@" </dev/null; }
rm -f "$KH"
run_kh -o StrictHostKeyChecking=yes 127.0.0.1 true 2>"$T/err"
it_check "unknown host refused with StrictHostKeyChecking=yes" 255 "$?"
grep -q "Host key verification failed." "$T/err" && it_pass "unknown host: message" || it_fail "unknown host: $(cat "$T/err")"
run_kh -o StrictHostKeyChecking=ask 127.0.0.1 true 2>/dev/null
it_check "ask without a terminal (BatchMode) refuses" 255 "$?"
run_kh -o StrictHostKeyChecking=accept-new 127.0.0.1 true 2>"$T/err"
it_check "accept-new connects" 0 "$?"
grep -q "^\[127.0.0.1\]:$PORT ssh-ed25519 " "$KH" && it_pass "accept-new recorded [host]:port" ||
    it_fail "accept-new: known_hosts has: $(cat "$KH")"
run_kh -o StrictHostKeyChecking=yes 127.0.0.1 true
it_check "recorded key accepted afterwards" 0 "$?"
rm -f "$KH"
run_kh -o StrictHostKeyChecking=accept-new -o HashKnownHosts=yes 127.0.0.1 true 2>/dev/null
grep -q '^|1|' "$KH" && ! grep -q 127.0.0.1 "$KH" && it_pass "HashKnownHosts writes a hashed name" ||
    it_fail "hashed: $(cat "$KH")"
run_kh -o StrictHostKeyChecking=yes 127.0.0.1 true
it_check "hashed entry verifies" 0 "$?"
ssh-keygen -F "[127.0.0.1]:$PORT" -f "$KH" >/dev/null && it_pass "ssh-keygen finds our hashed entry" ||
    it_fail "ssh-keygen cannot find our hashed entry"
echo "[127.0.0.1]:$PORT $(cut -d' ' -f1,2 "$T/user_ed25519.pub")" > "$KH"
rm -f "$T/ran"
run_kh -o StrictHostKeyChecking=no 127.0.0.1 "touch $T/ran" 2>"$T/err"
it_check "changed key refused even with StrictHostKeyChecking=no" 255 "$?"
[ ! -e "$T/ran" ] && it_pass "changed key: nothing ran" || it_fail "changed key: command ran"
grep -q "$KH:1" "$T/err" && it_pass "changed key: message names file and line" ||
    it_fail "changed key message: $(cat "$T/err")"
echo "@revoked [127.0.0.1]:$PORT $(cut -d' ' -f1,2 "$T/host_ed25519.pub")" > "$KH"
run_kh -o StrictHostKeyChecking=no 127.0.0.1 true 2>/dev/null
it_check "@revoked key refused" 255 "$?"
echo "[127.0.0.1]:$PORT,!nothere $(cut -d' ' -f1,2 "$T/host_ed25519.pub")" > "$KH"
run_kh -o StrictHostKeyChecking=yes 127.0.0.1 true
it_check "pattern list entry accepted" 0 "$?"
echo "*,![127.0.0.1]:$PORT $(cut -d' ' -f1,2 "$T/host_ed25519.pub")" > "$KH"
run_kh -o StrictHostKeyChecking=yes 127.0.0.1 true 2>/dev/null
it_check "negated pattern excludes the host" 255 "$?"

# ---- identities -----------------------------------------------------------------
for u in ed25519 ecdsa rsa; do
    it_sshtun -i "$T/user_$u" -o IdentitiesOnly=yes 127.0.0.1 true </dev/null
    it_check "publickey with $u file" 0 "$?"
done
ssh-keygen -q -t ed25519 -N 'open sesame' -f "$T/enc_key" -C enc
cat "$T/enc_key.pub" >> "$T/authorized_keys"
printf '#!/bin/sh\necho "open sesame"\n' > "$T/askpass"
printf '#!/bin/sh\necho "wrong"\n' > "$T/askpass_bad"
chmod +x "$T/askpass" "$T/askpass_bad"
run_enc() { timeout 30 "$SSHTUN" -F none -p "$PORT" -l "$USER_NAME" -i "$T/enc_key" \
    -o IdentitiesOnly=yes -o UserKnownHostsFile="$T/known_hosts" -o IdentityAgent=none \
    -o StrictHostKeyChecking=yes -o PasswordAuthentication=no \
    -o KbdInteractiveAuthentication=no 127.0.0.1 "$@" </dev/null; }
out=$(SSH_ASKPASS="$T/askpass" SSH_ASKPASS_REQUIRE=force run_enc 'echo decrypted' 2>"$T/err")
it_check "encrypted key via SSH_ASKPASS" "decrypted" "$out"
SSH_ASKPASS="$T/askpass_bad" SSH_ASKPASS_REQUIRE=force run_enc true 2>"$T/err"
it_check "wrong passphrase: permission denied" 255 "$?"
grep -q "Permission denied" "$T/err" && it_pass "wrong passphrase: message" || it_fail "wrong passphrase: $(cat "$T/err")"

eval "$(ssh-agent -s)" >/dev/null
AGENT=$SSH_AGENT_PID
ssh-add -q "$T/user_rsa" 2>/dev/null
out=$(timeout 30 "$SSHTUN" -F none -p "$PORT" -l "$USER_NAME" -o IdentityFile=/nonexistent \
    -o UserKnownHostsFile="$T/known_hosts" -o StrictHostKeyChecking=yes -o BatchMode=yes \
    -v 127.0.0.1 'echo via-agent' </dev/null 2>"$T/err")
it_check "ssh-agent RSA key (rsa-sha2 flags)" "via-agent" "$out"
grep -q "connected to agent" "$T/err" && it_pass "agent used" || it_fail "agent not used"
out=$(timeout 30 "$SSHTUN" -F none -p "$PORT" -l "$USER_NAME" -o IdentityFile=/nonexistent \
    -o IdentityAgent=none -o UserKnownHostsFile="$T/known_hosts" -o StrictHostKeyChecking=yes \
    -o BatchMode=yes 127.0.0.1 'echo no' </dev/null 2>"$T/err")
rc=$?
it_check "IdentityAgent=none and no key: refused" 255 "$rc"
grep -q "Permission denied (publickey" "$T/err" && it_pass "Permission denied (...) message" ||
    it_fail "denied message: $(cat "$T/err")"
kill "$AGENT"

# ---- password authentication ----------------------------------------------------
if [ "$(id -u)" -eq 0 ] && command -v useradd >/dev/null; then
    TU=sshtunpw$$
    useradd -m -s /bin/sh "$TU" 2>/dev/null
    echo "$TU:Corr3ct-Horse" | chpasswd
    printf '#!/bin/sh\necho "Corr3ct-Horse"\n' > "$T/pwpass"
    chmod 755 "$T/pwpass"
    pw() { SSH_ASKPASS="$1" SSH_ASKPASS_REQUIRE=force timeout 30 "$SSHTUN" -F none -p "$PORT" \
        -l "$TU" -o UserKnownHostsFile="$T/known_hosts" -o StrictHostKeyChecking=yes \
        -o PubkeyAuthentication=no -o IdentityAgent=none -o PreferredAuthentications=password \
        127.0.0.1 'id -un' </dev/null; }
    out=$(pw "$T/pwpass" 2>"$T/err")
    it_check "password authentication" "$TU" "$out"
    pw "$T/askpass_bad" >/dev/null 2>"$T/err"
    it_check "wrong password refused" 255 "$?"
    grep -q "Permission denied" "$T/err" && it_pass "wrong password: message" || it_fail "wrong password: $(cat "$T/err")"
    userdel -r "$TU" 2>/dev/null
else
    echo "note: password test needs root to create a user; not run"
fi

# ---- configuration files ----------------------------------------------------------
mkdir -p "$T/conf.d"
cat > "$T/config" <<CFG
# aliases, Include and Match
Host tunnel-alias
    HostName 127.0.0.1
    Port $PORT
    User $USER_NAME
    IdentityFile $T/user_ecdsa
    IdentitiesOnly yes
    UserKnownHostsFile $T/known_hosts
Include $T/conf.d/*.conf
Match host 127.0.0.1 user $USER_NAME
    SetEnv SSHTUN_MATCH=matched
Host *
    StrictHostKeyChecking yes
    BatchMode yes
CFG
echo "Host tunnel-alias
    SendEnv LC_INCLUDED" > "$T/conf.d/extra.conf"
out=$(LC_INCLUDED=inc timeout 30 "$SSHTUN" -F "$T/config" tunnel-alias 'echo "$SSHTUN_MATCH $LC_INCLUDED"' </dev/null 2>"$T/err")
it_check "-F with Host alias, Include and Match" "matched inc" "$out"
"$SSHTUN" -F "$T/config" -G tunnel-alias > "$T/g"
grep -qx "hostname 127.0.0.1" "$T/g" && grep -qx "port $PORT" "$T/g" && grep -qx "identityfile $T/user_ecdsa" "$T/g" &&
    it_pass "-G prints the resolved configuration" || it_fail "-G: $(cat "$T/g")"
"$SSHTUN" -F "$T/config" -o Port=1 -G tunnel-alias | grep -qx "port 1" &&
    it_pass "-o wins over the file" || it_fail "-o did not win"
printf 'Host x\n  NoSuchOption yes\n' > "$T/bad_config"
"$SSHTUN" -F "$T/bad_config" -G x >/dev/null 2>"$T/err"
it_check "unknown keyword is an error" 255 "$?"
grep -q "$T/bad_config: line 2: Bad configuration option: NoSuchOption" "$T/err" &&
    it_pass "unknown keyword: file and line named" || it_fail "bad config message: $(cat "$T/err")"
printf 'IgnoreUnknown NoSuch*\nHost x\n  NoSuchOption yes\n' > "$T/ign_config"
"$SSHTUN" -F "$T/ign_config" -G x >/dev/null
it_check "IgnoreUnknown" 0 "$?"
"$SSHTUN" -F none -o Ciphers=-chacha20* -G x | grep -q "^ciphers aes128-gcm@openssh.com," &&
    it_pass "list modifier -" || it_fail "list modifier -"
"$SSHTUN" -F none -o KexAlgorithms=^diffie-hellman-group14-sha256 -G x | grep -q "^kexalgorithms diffie-hellman-group14-sha256,mlkem768x25519-sha256,sntrup761x25519-sha512," &&
    it_pass "list modifier ^" || it_fail "list modifier ^"
"$SSHTUN" -F none -o HostKeyAlgorithms=+ssh-rsa -G x | grep -q "rsa-sha2-256,ssh-rsa$" &&
    it_pass "list modifier +" || it_fail "list modifier +"
# -E: the log file; one that cannot be opened is a clear error
"$SSHTUN" -F none -E "$T/no-such-dir/log" -G x >/dev/null 2>"$T/err"
it_check "-E with an unwritable path exits 255" 255 "$?"
grep -q "Couldn't open logfile $T/no-such-dir/log: No such file or directory" "$T/err" &&
    it_pass "-E failure names the file and the reason" || it_fail "-E failure: $(cat "$T/err")"
# Match exec reads the command's exit status, even when sshtun was started
# with SIGCHLD ignored (some job runners do that, and exec keeps it).
printf 'Match exec "exit 1"\n  Port 1111\nMatch exec true\n  User matched\n' > "$T/mexec_config"
for ign in no yes; do
    if [ $ign = yes ]; then
        out=$(python3 -c 'import os, signal, sys; signal.signal(signal.SIGCHLD, signal.SIG_IGN); os.execv(sys.argv[1], sys.argv[1:])' \
            "$SSHTUN" -F "$T/mexec_config" -G x | grep -E "^(port|user) " | sort | tr '\n' ' ')
    else
        out=$("$SSHTUN" -F "$T/mexec_config" -G x | grep -E "^(port|user) " | sort | tr '\n' ' ')
    fi
    it_check "Match exec status (SIGCHLD ignored by the parent: $ign)" "port 22 user matched " "$out"
done

# ---- failures people hit ----------------------------------------------------------
CLOSED=$(it_free_port)
timeout 30 "$SSHTUN" -F none -p "$CLOSED" -o BatchMode=yes 127.0.0.1 true 2>"$T/err"
it_check "closed port exits 255" 255 "$?"
grep -q "connect to host 127.0.0.1 port $CLOSED: Connection refused" "$T/err" &&
    it_pass "connection refused message" || it_fail "refused message: $(cat "$T/err")"
timeout 30 "$SSHTUN" -F none -o BatchMode=yes no-such-host.invalid true 2>"$T/err"
it_check "unresolvable name exits 255" 255 "$?"
grep -q "Could not resolve hostname no-such-host.invalid" "$T/err" &&
    it_pass "resolve failure message" || it_fail "resolve message: $(cat "$T/err")"
"$SSHTUN" -V 2>&1 | grep -q "^sshtun_" && it_pass "-V" || it_fail "-V"

# ---- a name with two addresses, the first refusing ---------------------------------
# /etc/hosts is replaced in a private mount namespace: nothing global changes.
cat /etc/hosts > "$T/hosts"
echo "127.0.0.2 sshtun-multi" >> "$T/hosts"
echo "127.0.0.1 sshtun-multi" >> "$T/hosts"
if unshare -m true 2>/dev/null; then
    out=$(unshare -m sh -c "mount --bind '$T/hosts' /etc/hosts && exec timeout 30 '$SSHTUN' -v \
        -F none -p $PORT -l $USER_NAME -i '$T/user_ed25519' -o UserKnownHostsFile='$T/kh_multi' \
        -o StrictHostKeyChecking=accept-new -o BatchMode=yes sshtun-multi 'echo multi'" \
        </dev/null 2>"$T/err")
    it_check "second address used after the first refuses" "multi" "$out"
    grep -q "127.0.0.2 port $PORT: Connection refused" "$T/err" &&
        it_pass "first address tried and refused" || it_fail "first address not tried: $(grep -i connect "$T/err")"
else
    echo "note: unshare -m not permitted here; multi-address test not run"
fi
it_done
