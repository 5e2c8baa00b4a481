#!/usr/bin/env bash
# it_connect.sh - getting connected as ssh does (issue 10, items 7, 8, 9,
# 12), against a throwaway sshd, stalling servers, ssh-agent and ssh:
#
# - 7: ConnectTimeout bounds the banner exchange, the key exchange and
#   authentication ("Connection timed out during banner exchange", as
#   ssh); ServerAliveInterval x ServerAliveCountMax of silence ends a
#   connection that has not authenticated yet;
# - 8: HostKeyAlias on a port other than 22 looks up (and records) the bare
#   alias, as ssh;
# - 9: identities in ssh's order: the -i/IdentityFile keys the agent holds
#   first, then its other keys, so a key asked for is tried before the
#   server's MaxAuthTries runs out; `-i key.pub` with the private half in
#   the agent;
# - 12: -M never deletes a regular file at ControlPath; a mux client the
#   master refuses says why before exiting 255.
. "$(dirname "$0")/lib.sh"
it_init "$1"
NU="python3 $(cd "$(dirname "$0")" && pwd)/netutil.py"
it_start_sshd
it_known_hosts

# elapsed <start>: whole seconds since
elapsed() { echo $(($(date +%s) - $1)); }

# ---- 7: time limits before authentication --------------------------------------------------------
SILENT=$(it_free_port)
it_bg "$T/silent.log" $NU stall "$SILENT" silent
BANNER=$(it_free_port)
it_bg "$T/banner.log" $NU stall "$BANNER" banner
bounded() { # <label> <port> <max seconds> <expected message> sshtun options...
    local label=$1 port=$2 max=$3 msg=$4 start rc
    shift 4
    start=$(date +%s)
    timeout 30 "$SSHTUN" -F none -p "$port" -o BatchMode=yes -o StrictHostKeyChecking=no \
        -o UserKnownHostsFile=/dev/null "$@" 127.0.0.1 true </dev/null 2>"$T/err"
    rc=$?
    local took
    took=$(elapsed "$start")
    if [ "$rc" = 255 ] && [ "$took" -le "$max" ] && grep -qF "$msg" "$T/err"; then
        it_pass "$label: ends in ${took}s with '$msg'"
    else
        it_fail "$label: rc $rc after ${took}s: $(cat "$T/err")"
    fi
}
bounded "ConnectTimeout=3, server never speaks" "$SILENT" 6 \
    "Connection timed out during banner exchange" -o ConnectTimeout=3
bounded "ConnectTimeout=3, server stalls after its banner" "$BANNER" 6 \
    "Connection timed out during key exchange" -o ConnectTimeout=3
bounded "ServerAliveInterval=1 x2, server stalls after its banner" "$BANNER" 5 \
    "Connection to 127.0.0.1 port $BANNER timed out" -o ServerAliveInterval=1 -o ServerAliveCountMax=2
bounded "ServerAliveInterval=2, server never speaks" "$SILENT" 10 \
    "Connection to 127.0.0.1 port $SILENT timed out" -o ServerAliveInterval=2
# ... and neither cuts a connection that works, slow command or not.
it_sshtun -o ConnectTimeout=2 -o ServerAliveInterval=1 127.0.0.1 'sleep 4; echo slow' </dev/null >"$T/out" 2>"$T/err"
it_check "ConnectTimeout=2, ServerAliveInterval=1: a 4 s command is not cut" slow "$(cat "$T/out")"

# ---- 8: HostKeyAlias on another port ----------------------------------------------------------------
echo "myalias $(cut -d' ' -f1,2 "$T/host_ed25519.pub")" > "$T/kh_alias"
runa() { timeout 30 "$SSHTUN" -F none -p "$PORT" -l "$USER_NAME" -i "$T/user_ed25519" \
    -o IdentityAgent=none -o GlobalKnownHostsFile=/dev/null -o BatchMode=yes \
    -o HostKeyAlias=myalias -o HostKeyAlgorithms=ssh-ed25519 "$@" </dev/null; }
out=$(runa -o UserKnownHostsFile="$T/kh_alias" -o StrictHostKeyChecking=yes 127.0.0.1 echo alias 2>"$T/err")
it_check "HostKeyAlias on port $PORT: the bare alias's key is accepted" alias "$out"
rm -f "$T/kh_new"
runa -o UserKnownHostsFile="$T/kh_new" -o StrictHostKeyChecking=accept-new 127.0.0.1 true 2>/dev/null
grep -q '^myalias ssh-ed25519 ' "$T/kh_new" && it_pass "HostKeyAlias: accept-new records the bare alias" ||
    it_fail "HostKeyAlias accept-new wrote: $(cat "$T/kh_new")"
ssh -F none -p "$PORT" -i "$T/user_ed25519" -o IdentityAgent=none -o BatchMode=yes \
    -o HostKeyAlias=myalias -o UserKnownHostsFile="$T/kh_new" -o StrictHostKeyChecking=yes \
    -o GlobalKnownHostsFile=/dev/null 127.0.0.1 true </dev/null 2>"$T/err"
it_check "HostKeyAlias: ssh accepts the entry sshtun recorded" 0 $?

# ---- 9: identity order with an agent holding many keys ------------------------------------------
eval "$(ssh-agent -s)" >/dev/null
BG_PIDS="${BG_PIDS:-} $SSH_AGENT_PID"
mkdir -p "$T/keys" "$T/pubonly"
for i in 1 2 3 4 5 6 7 8; do
    ssh-keygen -q -t ed25519 -N '' -C "k$i" -f "$T/keys/k$i"
    ssh-add -q "$T/keys/k$i" 2>/dev/null
done
cp "$T/keys/k8.pub" "$T/pubonly/k8.pub"
cp "$T/authorized_keys" "$T/authorized_keys.all"
cat "$T/keys/k7.pub" "$T/keys/k8.pub" > "$T/authorized_keys" # sshd's MaxAuthTries: 6
runi() { timeout 30 "$SSHTUN" -F none -p "$PORT" -l "$USER_NAME" -o UserKnownHostsFile="$T/known_hosts" \
    -o GlobalKnownHostsFile=/dev/null -o StrictHostKeyChecking=yes -o BatchMode=yes "$@" </dev/null; }
out=$(runi -i "$T/keys/k7" 127.0.0.1 echo k7 2>"$T/err")
it_check "agent with 8 keys, -i the 7th: authenticates (ssh's order)" k7 "$out"
out=$(runi -v -i "$T/keys/k7" 127.0.0.1 true 2>&1 | grep -m1 'Offering public key' | awk '{print $5}')
it_check "agent with 8 keys, -i the 7th: offered first" "$T/keys/k7" "$out"
out=$(runi -v -i "$T/keys/k7" -i "$T/keys/k2" 127.0.0.1 true 2>&1 | grep 'Offering public key' | awk '{print $5}' | head -2 | tr '\n' ' ')
it_check "two -i keys in the agent: in the agent's order, first" "$T/keys/k2 $T/keys/k7 " "$out"
out=$(runi -i "$T/pubonly/k8.pub" 127.0.0.1 echo pub 2>"$T/err")
it_check "-i key.pub, private half only in the agent" pub "$out"
out=$(runi -i "$T/pubonly/k8" 127.0.0.1 echo pub2 2>"$T/err")
it_check "-i key whose private file is missing, key.pub beside it, agent signs" pub2 "$out"
out=$(runi -o IdentitiesOnly=yes -i "$T/keys/k8" 127.0.0.1 echo only 2>"$T/err")
it_check "IdentitiesOnly with the agent: the file's key, through the agent" only "$out"
cp "$T/authorized_keys.all" "$T/authorized_keys"
kill "$SSH_AGENT_PID" 2>/dev/null
unset SSH_AUTH_SOCK SSH_AGENT_PID

# ---- 12: connection sharing details -------------------------------------------------------------------
echo precious > "$T/cp_file"
out=$(it_sshtun -M -S "$T/cp_file" 127.0.0.1 echo ran </dev/null 2>"$T/err")
it_check "-M with a regular file at ControlPath: the command still runs" ran "$out"
it_check "-M with a regular file at ControlPath: the file is kept" precious "$(cat "$T/cp_file" 2>&1)"
grep -q "already exists, disabling multiplexing" "$T/err" && it_pass "-M: says the path exists" ||
    it_fail "-M regular file: $(cat "$T/err")"
out=$(it_sshtun -o ControlMaster=auto -S "$T/cp_file" 127.0.0.1 echo ran </dev/null 2>"$T/err")
it_check "ControlMaster=auto with a regular file: runs, file kept" "ran precious" "$out $(cat "$T/cp_file")"

if [ "$(id -u)" = 0 ] && id nobody >/dev/null 2>&1; then
    MD=$(mktemp -d /tmp/sshtun-it-mux.XXXXXX)
    chmod 755 "$MD"
    it_sshtun -M -S "$MD/cp" -N 127.0.0.1 </dev/null >"$T/m.log" 2>&1 &
    MPID=$!
    BG_PIDS="${BG_PIDS:-} $MPID"
    for _ in $(seq 1 100); do [ -S "$MD/cp" ] && break; sleep 0.1; done
    chmod 666 "$MD/cp"
    for how in "-O check" ""; do
        HOME=/tmp setpriv --reuid=nobody --regid="$(id -g nobody)" --clear-groups \
            "$SSHTUN" -F none -S "$MD/cp" $how 127.0.0.1 true </dev/null >/dev/null 2>"$T/err"
        rc=$?
        [ $rc = 255 ] && grep -q "master hello exchange failed: the master closed the connection" "$T/err" &&
            it_pass "mux client of another user (${how:-session}): 255, says why ($(head -c 120 "$T/err"))" ||
            it_fail "mux client of another user (${how:-session}): rc $rc: $(cat "$T/err")"
    done
    grep -q "is neither ours" "$T/m.log" && it_pass "the master logs the refusal" ||
        it_fail "master log: $(cat "$T/m.log")"
    kill "$MPID" 2>/dev/null
    wait "$MPID" 2>/dev/null
    rm -rf "$MD"
else
    echo "note: not root: the refused mux client check needs another user (not counted)"
fi

it_done
