#!/usr/bin/env bash
# it_localcmd.sh - the client keywords of "using the remote side" that are
# not forwarding, against OpenSSH's sshd and sshtund, checked beside
# OpenSSH's own ssh where ssh has the same keyword:
#
#   - LocalCommand with PermitLocalCommand yes: run once the connection is
#     up and before the session starts, its tokens expanded exactly as ssh
#     expands them (%C %d %h %i %k %L %l %n %p %r %T %u %%); not run without
#     PermitLocalCommand; with -N too;
#   - VisualHostKey: the randomart of the host key, the same picture as
#     `ssh-keygen -lv` and ssh draw, for each key type;
#   - SessionType none / subsystem and StdinNull, as -N, -s and -n.
. "$(dirname "$0")/lib.sh"
it_init "$1"
it_start_sshd
it_known_hosts

# ---- LocalCommand ----------------------------------------------------------------------------
# (%d, the home directory: ssh takes the password database's, sshtun
# $HOME, as for ~; the test's HOME is its own, so %d is checked apart.)
LC='echo "h=%h p=%p r=%r n=%n u=%u C=%C l=%l L=%L i=%i k=%k T=%T pct=%%"'
out=$(it_sshtun -o PermitLocalCommand=yes -o "LocalCommand=$LC > $T/lc.tun" 127.0.0.1 true 2>&1)
want=$(timeout 60 ssh -F /dev/null -p "$PORT" -l "$USER_NAME" -i "$T/user_ed25519" \
    -o UserKnownHostsFile="$T/known_hosts" -o GlobalKnownHostsFile=/dev/null -o BatchMode=yes \
    -o PermitLocalCommand=yes -o "LocalCommand=$LC > $T/lc.ssh" 127.0.0.1 true 2>&1)
[ -s "$T/lc.ssh" ] || it_fail "ssh did not run its LocalCommand: $want"
[ -s "$T/lc.tun" ] || it_fail "sshtun did not run its LocalCommand: $out"
it_check "LocalCommand: the tokens expand as ssh expands them" "$(cat "$T/lc.ssh" 2>/dev/null)" \
    "$(cat "$T/lc.tun" 2>/dev/null)"
grep -q "T=NONE pct=%" "$T/lc.tun" 2>/dev/null && it_pass "LocalCommand: %T is NONE, %% a percent sign" ||
    it_fail "LocalCommand: $(cat "$T/lc.tun" 2>/dev/null)"
it_sshtun -o PermitLocalCommand=yes -o "LocalCommand=echo %d > $T/lc.d" 127.0.0.1 true
it_check "LocalCommand: %d is the home directory" "$HOME" "$(cat "$T/lc.d" 2>/dev/null)"
rm -f "$T/lc.tun"
it_sshtun -o "LocalCommand=touch $T/lc.tun" 127.0.0.1 true
[ -e "$T/lc.tun" ] && it_fail "LocalCommand ran without PermitLocalCommand" ||
    it_pass "LocalCommand does not run without PermitLocalCommand yes"
out=$(it_sshtun -o PermitLocalCommand=yes -o 'LocalCommand=sleep 1; echo local-first' 127.0.0.1 \
    'echo remote-second' 2>&1)
it_check "LocalCommand: it has ended before the session starts" "local-first remote-second" "$(echo $out)"
timeout 20 "$SSHTUN" -F none -p "$PORT" -l "$USER_NAME" -i "$T/user_ed25519" \
    -o UserKnownHostsFile="$T/known_hosts" -o GlobalKnownHostsFile=/dev/null -o BatchMode=yes \
    -o PermitLocalCommand=yes -o "LocalCommand=touch $T/lc.N" -N 127.0.0.1 > /dev/null 2>&1 &
NPID=$!
for _ in $(seq 1 100); do [ -e "$T/lc.N" ] && break; sleep 0.1; done
[ -e "$T/lc.N" ] && it_pass "LocalCommand runs with -N too" || it_fail "LocalCommand with -N did not run"
kill "$NPID" 2>/dev/null; wait "$NPID" 2>/dev/null
out=$(it_sshtun -o PermitLocalCommand=yes -o 'LocalCommand=echo %Q' 127.0.0.1 true 2>&1)
case "$out" in
*"percent_expand: unknown key %Q"*) it_pass "LocalCommand: an unknown token is refused, as by ssh" ;;
*) it_fail "LocalCommand %Q: $out" ;;
esac

# ---- VisualHostKey ----------------------------------------------------------------------------
for t in ed25519 ecdsa rsa; do
    case $t in
    ed25519) alg=ssh-ed25519 ;;
    ecdsa) alg=ecdsa-sha2-nistp256 ;;
    rsa) alg=rsa-sha2-512 ;;
    esac
    it_sshtun -o VisualHostKey=yes -o HostKeyAlgorithms=$alg 127.0.0.1 true > "$T/vh.out" 2>&1
    ssh-keygen -lv -f "$T/host_$t.pub" | tail -n +2 > "$T/vh.want"
    fp=$(ssh-keygen -lf "$T/host_$t.pub" | cut -d' ' -f2)
    it_check "VisualHostKey ($t): 'Host key fingerprint is' line" "Host key fingerprint is $fp" \
        "$(head -1 "$T/vh.out")"
    it_check "VisualHostKey ($t): the picture ssh-keygen -lv draws" "$(cat "$T/vh.want")" \
        "$(tail -n +2 "$T/vh.out")"
done
want=$(timeout 60 ssh -F /dev/null -p "$PORT" -l "$USER_NAME" -i "$T/user_ed25519" \
    -o UserKnownHostsFile="$T/known_hosts" -o GlobalKnownHostsFile=/dev/null -o BatchMode=yes \
    -o VisualHostKey=yes -o HostKeyAlgorithms=rsa-sha2-512 127.0.0.1 true 2>&1 | tr -d '\r')
it_check "VisualHostKey: what sshtun prints is what ssh prints" "$want" "$(cat "$T/vh.out")"
out=$(it_sshtun -o HostKeyAlgorithms=ssh-ed25519 127.0.0.1 true 2>&1)
it_check "no picture without VisualHostKey" "" "$out"

# ---- SessionType, StdinNull ----------------------------------------------------------------------
out=$(echo from-stdin | it_sshtun -o StdinNull=yes 127.0.0.1 'cat; echo end' 2>&1)
it_check "StdinNull yes: the remote command reads nothing" "end" "$out"
out=$(echo from-stdin | it_sshtun 127.0.0.1 'cat; echo end' 2>&1)
it_check "StdinNull no: stdin reaches the remote command" "from-stdin end" "$(echo $out)"
start=$(date +%s)
timeout 20 "$SSHTUN" -F none -p "$PORT" -l "$USER_NAME" -i "$T/user_ed25519" \
    -o UserKnownHostsFile="$T/known_hosts" -o GlobalKnownHostsFile=/dev/null -o BatchMode=yes \
    -o SessionType=none 127.0.0.1 'touch '"$T"'/st.none' > /dev/null 2>&1 &
SPID=$!
sleep 2
[ -e "$T/st.none" ] && it_fail "SessionType none ran the command" ||
    it_pass "SessionType none: no session, the command is not run"
kill -0 "$SPID" 2>/dev/null && it_pass "SessionType none: sshtun stays up (as -N)" ||
    it_fail "SessionType none: sshtun exited"
kill "$SPID" 2>/dev/null; wait "$SPID" 2>/dev/null
# SSH_FXP_INIT version 3; the answer is SSH_FXP_VERSION (type 2).
# (stdin stays open a moment: sshd's internal-sftp was seen to drop a request
# arriving in the same read as the EOF)
out=$( (printf '\000\000\000\005\001\000\000\000\003'; sleep 1) |
    it_sshtun -o SessionType=subsystem 127.0.0.1 sftp 2>/dev/null | head -c 5 | od -An -tx1 | awk '{print $5}')
it_check "SessionType subsystem: the sftp subsystem answers SSH_FXP_VERSION" 02 "$out"

# ---- against sshtund ---------------------------------------------------------------------------------
it_sshtund_start
echo "[127.0.0.1]:$PORT $(cut -d' ' -f1,2 "$T/host_ed25519.pub")" >> "$T/known_hosts"
out=$(it_sshtun -o PermitLocalCommand=yes -o 'LocalCommand=echo local-%p' -o VisualHostKey=yes \
    -o HostKeyAlgorithms=ssh-ed25519 127.0.0.1 'echo remote' 2>&1)
case "$out" in
"Host key fingerprint is SHA256:"*"+----[SHA256]-----+"*"local-$PORT"*remote) it_pass "sshtund: VisualHostKey and LocalCommand" ;;
*) it_fail "sshtund: $out" ;;
esac
it_sshtund_stop
it_done
