#!/usr/bin/env bash
# it_reconnect.sh - persistent tunnels (issue 16): Reconnect yes against a
# real sshd and sshtund whose connection is cut in the ways it happens:
#
# - sshd's session process killed, sshd restarted, sshtund restarted: -L
#   and -R work again within the backoff plus a little; the -L listener
#   probed every 50 ms all along never refuses a connection (each either
#   gets its echo once the tunnel is back or an orderly close); a transfer
#   after the reconnect arrives whole (sha256); -R 0 reports its new port;
# - a stopped server (SIGSTOP) is found dead by keepalives, and the tunnel
#   comes back once it is continued;
# - a changed host key (known_hosts, and the key pinned by the first
#   connection when known_hosts is /dev/null) stops the tunnel: 255, the
#   refusal, nothing reaches the impostor's login;
# - a login refused twice stops it, with the message;
# - a remote forward the server refuses after the reconnect is asked for
#   again until it is back; with ExitOnForwardFailure the tunnel stops;
# - connections waiting while the tunnel is down: closed after
#   ConnectTimeout with a log line; a SOCKS client gets a SOCKS error reply;
# - a ControlMaster with Reconnect: -O status / -O check show down and up,
#   a running mux session ends with 255, new sessions (sshtun -S, ssh -S)
#   work after the reconnect, a session and a -W started while down wait
#   and run;
# - a network change (an address added, as root) starts a waiting
#   reconnect at once instead of after a long backoff; removing the
#   connection's local address gives it up at once; an attempt stuck
#   connecting on a path that went away is started over when the network
#   changes;
# - through a jump host (-J), the whole chain comes back, twice, in one process;
# - the command line of examples/sshtun-tunnel@.service, with a Host block
#   of ~/.ssh/config, keeps its tunnel across a cut;
# - -G: Reconnect, ReconnectInterval, and ServerAliveInterval 15 by default
#   with Reconnect.
. "$(dirname "$0")/lib.sh"
it_init "$1"
NU="python3 $(cd "$(dirname "$0")" && pwd)/netutil.py"

# elapsed_ms <start ms>
now_ms() { date +%s%3N; }

# wait_log <file> <fixed string> <seconds> [count]: until the file holds the
# string (count times); 0, or 1 after the time.
wait_log() {
    local f=$1 s=$2 secs=$3 n=${4:-1} i
    for i in $(seq 1 $((secs * 20))); do
        [ "$(grep -cF -- "$s" "$f" 2>/dev/null)" -ge "$n" ] && return 0
        sleep 0.05
    done
    return 1
}

# echo_via <port>: one line through an echo service at 127.0.0.1:port.
echo_via() {
    timeout 10 python3 -c '
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=8)
s.sendall(b"hello through the tunnel\n")
d = b""
while not d.endswith(b"\n"):
    c = s.recv(100)
    if not c:
        break
    d += c
print(d.decode().strip())' "$1" 2>/dev/null
}

# start_sshd_on <port> [config lines]: sshd on a fixed port (a restart).
start_sshd_on() {
    local port=$1
    shift
    {
        echo "Port $port"
        echo "ListenAddress 127.0.0.1"
        for k in ${SSHD_HOSTKEYS:-ed25519 ecdsa rsa}; do echo "HostKey $T/host_$k"; done
        echo "AuthorizedKeysFile $T/authorized_keys"
        echo "StrictModes no"
        echo "UsePAM no"
        echo "PidFile $T/sshd.pid"
        echo "PermitRootLogin yes"
        echo "LogLevel VERBOSE"
        echo "MaxStartups 100"
        for l in "$@"; do echo "$l"; done
    } > "$T/sshd_config"
    setsid "$SSHD" -D -e -f "$T/sshd_config" >> "$T/sshd.log" 2>&1 &
    SSHD_PID=$!
    PORT=$port
    for _ in $(seq 1 200); do
        (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null && return 0
        sleep 0.05
    done
    echo "FAIL: sshd did not start on $port"; cat "$T/sshd.log"; exit 1
}

# sshd's per-connection processes (children of the listener).
sshd_sessions() { pgrep -P "$SSHD_PID"; }

# tunnel <log> <options...>: sshtun -N in the background against
# ${TUN_HOST:-127.0.0.1}:$PORT; sets TUN_PID.  The options come first, so
# they win over the defaults after them.
tunnel() {
    local log=$1
    shift
    : > "$log"
    timeout 300 "$SSHTUN" -F none -N -E "$log" "$@" -p "$PORT" -l "$USER_NAME" \
        -i "$T/user_ed25519" -o UserKnownHostsFile="$T/known_hosts" \
        -o GlobalKnownHostsFile=/dev/null -o StrictHostKeyChecking=yes -o BatchMode=yes \
        -o Reconnect=yes "${TUN_HOST:-127.0.0.1}" </dev/null &
    TUN_PID=$!
    BG_PIDS="${BG_PIDS:-} $TUN_PID"
}

# stop_tunnel: end it (SIGTERM), return its status.
stop_tunnel() {
    kill -TERM "$(it_sshtun_pid "$TUN_PID")" 2>/dev/null
    wait "$TUN_PID" 2>/dev/null
}

ECHO=$(it_free_port)
it_bg "$T/echo.log" $NU echo "$ECHO"
DATA=$(it_free_port)
it_bg "$T/serve.log" $NU serve "$DATA" 20000000 16
EXPECT=$($NU fetch "$DATA")

# ---- -G ----------------------------------------------------------------------------------------
g() { "$SSHTUN" -F none -G "$@" somehost 2>&1; }
it_check "-G: reconnect off by default" "reconnect no" "$(g | grep '^reconnect ')"
it_check "-G: reconnectinterval default" "reconnectinterval 1:30" "$(g | grep '^reconnectinterval ')"
it_check "-G: ServerAliveInterval 0 without Reconnect" "serveraliveinterval 0" \
    "$(g | grep '^serveraliveinterval ')"
it_check "-G: ServerAliveInterval 15 with Reconnect" "serveraliveinterval 15" \
    "$(g -o Reconnect=yes | grep '^serveraliveinterval ')"
it_check "-G: ServerAliveCountMax 3 with Reconnect" "serveralivecountmax 3" \
    "$(g -o Reconnect=yes | grep '^serveralivecountmax ')"
it_check "-G: an explicit ServerAliveInterval wins" "serveraliveinterval 5" \
    "$(g -o Reconnect=yes -o ServerAliveInterval=5 | grep '^serveraliveinterval ')"
it_check "-G: ServerAliveInterval 0 stays off" "serveraliveinterval 0" \
    "$(g -o ServerAliveInterval=0 -o Reconnect=yes | grep '^serveraliveinterval ')"
it_check "-G: ReconnectInterval 5:1m" "reconnectinterval 5:60" \
    "$(g -o ReconnectInterval=5:1m | grep '^reconnectinterval ')"
it_check "-G: ReconnectInterval 45 alone" "reconnectinterval 45:45" \
    "$(g -o ReconnectInterval=45 | grep '^reconnectinterval ')"
out=$(g -o ReconnectInterval=5:2)
it_check "ReconnectInterval max below min refused" 1 "$(echo "$out" | grep -c 'invalid ReconnectInterval value "5:2"')"
out=$(g -o Reconnect=maybe)
it_check "Reconnect maybe refused" 1 "$(echo "$out" | grep -c 'invalid Reconnect value "maybe"')"

# ---- sshd: kill the session process, restart sshd -------------------------------------------------
SSHD_PORT=$(it_free_port)
start_sshd_on "$SSHD_PORT"
it_known_hosts
LP=$(it_free_port)
RP=$(it_free_port)
tunnel "$T/a.log" -o ReconnectInterval=1:2 -L "$LP:127.0.0.1:$ECHO" -R "$RP:127.0.0.1:$ECHO" \
    -L "$((LP + 1)):127.0.0.1:$DATA"
it_wait_port "$LP" && it_wait_port "$RP"
it_check "-L echo before the cut" "hello through the tunnel" "$(echo_via "$LP")"
it_check "-R echo before the cut" "hello through the tunnel" "$(echo_via "$RP")"

$NU probe "$LP" 50 7 20 > "$T/probe1" &
PROBE=$!
sleep 1
t0=$(now_ms)
kill -TERM $(sshd_sessions)
if wait_log "$T/a.log" "Reconnected to 127.0.0.1" 10; then
    took=$(($(now_ms) - t0))
    # the first wait is 1 to 1.25 s; the rest is connecting and logging in
    if [ "$took" -le 4500 ]; then it_pass "session process killed: reconnected in ${took} ms"
    else it_fail "session process killed: reconnected only after ${took} ms"; fi
else
    it_fail "session process killed: no reconnect: $(cat "$T/a.log")"
fi
it_check "loss logged as the issue says" 1 \
    "$(grep -c 'Connection to 127.0.0.1 lost: .*; reconnecting in 1[.0-9]* s (attempt 1)' "$T/a.log")"
it_check "restore logged" 1 \
    "$(grep -c 'Reconnected to 127.0.0.1; restored 2 local, 1 remote forward$' "$T/a.log")"
it_check "-L echo after the reconnect" "hello through the tunnel" "$(echo_via "$LP")"
it_check "-R echo after the reconnect" "hello through the tunnel" "$(echo_via "$RP")"
it_check "20 MB through -L after the reconnect, sha256" "$EXPECT" "$($NU fetch "$((LP + 1))")"

# sshd itself goes away (with its sessions: each runs in a session of its
# own) for 3 s, then comes back.
stop_sshd_all() {
    local s
    s=$(sshd_sessions)
    kill -TERM "$SSHD_PID" $s 2>/dev/null
    wait "$SSHD_PID" 2>/dev/null
}
stop_sshd_all
wait_log "$T/a.log" "Connection to 127.0.0.1 lost" 10 2 || it_fail "sshd stopped: loss not seen"
sleep 3
t0=$(now_ms)
start_sshd_on "$SSHD_PORT"
if wait_log "$T/a.log" "Reconnected to 127.0.0.1" 10 2; then
    took=$(($(now_ms) - t0))
    if [ "$took" -le 4000 ]; then it_pass "sshd restarted: reconnected ${took} ms after it was back"
    else it_fail "sshd restarted: reconnected ${took} ms after it was back"; fi
else
    it_fail "sshd restarted: no reconnect: $(cat "$T/a.log")"
fi
grep -q 'Reconnecting to 127.0.0.1 failed: connect to host 127.0.0.1 port .*: Connection refused; reconnecting in [12][.0-9]* s (attempt [0-9]*)' "$T/a.log" &&
    it_pass "refused attempts logged with the next wait (capped at 2 s)" ||
    it_fail "refused attempts not logged as expected: $(grep failed "$T/a.log")"
wait "$PROBE"
read -r _ ok _ closed _ refused _ reset _ tmo _ wrong < "$T/probe1"
echo "probe during both outages: $(cat "$T/probe1")"
it_check "-L listener never refused a connection during the outages" 0 "$refused"
it_check "no connection was reset" 0 "$reset"
it_check "no probe timed out or got wrong data" "0 0" "$tmo $wrong"
[ "$ok" -gt 20 ] && it_pass "$ok probes got their echo (closed: $closed)" || it_fail "only $ok probes got their echo"
it_check "-R echo after the sshd restart" "hello through the tunnel" "$(echo_via "$RP")"
stop_tunnel

# ---- waiting connections closed after ConnectTimeout; SOCKS error reply ----------------------------
DP=$(it_free_port)
tunnel "$T/w.log" -o ConnectTimeout=2 -o ReconnectInterval=6:6 -L "$LP:127.0.0.1:$ECHO" -D "$DP"
it_wait_port "$LP" && it_wait_port "$DP"
it_check "-D before the cut: SOCKS5 granted" 0 "$($NU socks5 "$DP" 127.0.0.1 "$ECHO")"
stop_sshd_all
wait_log "$T/w.log" "Connection to 127.0.0.1 lost" 10 || it_fail "loss not seen: $(cat "$T/w.log")"
t0=$(now_ms)
got=$(echo_via "$LP")
took=$(($(now_ms) - t0))
it_check "-L while down: closed without data" "" "$got"
[ "$took" -ge 1800 ] && [ "$took" -le 4000 ] && it_pass "-L while down: waited ConnectTimeout (${took} ms)" ||
    it_fail "-L while down: closed after ${took} ms"
wait_log "$T/w.log" "Closing connection from 127.0.0.1 port" 2 &&
    it_pass "the close is logged: $(grep -o 'Closing connection.*after 2 s' "$T/w.log" | head -1)" ||
    it_fail "no log line for the closed connection: $(cat "$T/w.log")"
it_check "-D while down: SOCKS5 reply 3 (network unreachable)" 3 "$($NU socks5 "$DP" 127.0.0.1 "$ECHO")"
start_sshd_on "$SSHD_PORT"
wait_log "$T/w.log" "Reconnected to 127.0.0.1" 15 || it_fail "no reconnect: $(cat "$T/w.log")"
it_check "-D after the reconnect: SOCKS5 granted" 0 "$($NU socks5 "$DP" 127.0.0.1 "$ECHO")"
it_check "-L after the reconnect" "hello through the tunnel" "$(echo_via "$LP")"
stop_tunnel

# ---- a remote forward refused after the reconnect -------------------------------------------------
# The port is taken on the server side while the tunnel is down (as when
# the server still holds it for the dead connection).
RP2=$(it_free_port)
tunnel "$T/r.log" -o ReconnectInterval=3:3 -R "$RP2:127.0.0.1:$ECHO"
it_wait_port "$RP2" || it_fail "-R refused: the forward did not come up: $(cat "$T/r.log")"
kill -TERM $(sshd_sessions)
wait_log "$T/r.log" "Connection to 127.0.0.1 lost" 5 || it_fail "-R refused: no loss"
it_bg "$T/occupy.log" $NU occupy "$RP2"
OCC=$BG_PID
if wait_log "$T/r.log" "Reconnected to 127.0.0.1; restored 0 local, 0 remote forwards; 1 remote forward refused, asking again later" 10; then
    it_pass "-R refused after the reconnect: said, and asked for again later"
else
    it_fail "-R refused after the reconnect: $(cat "$T/r.log")"
fi
kill "$OCC"
wait "$OCC" 2>/dev/null
wait_log "$T/r.log" "Remote forwards to 127.0.0.1 restored (1 up)" 15 &&
    it_pass "-R asked for again once the port is free: restored" || it_fail "-R retry: $(cat "$T/r.log")"
it_check "-R echo after the retry" "hello through the tunnel" "$(echo_via "$RP2")"
stop_tunnel
# ... and with ExitOnForwardFailure the tunnel stops, saying why.  (The
# server's session of the tunnel just stopped may hold the port a moment.)
for _ in $(seq 1 100); do (exec 3<>"/dev/tcp/127.0.0.1/$RP2") 2>/dev/null || break; sleep 0.05; done
tunnel "$T/r2.log" -o ReconnectInterval=3:3 -o ExitOnForwardFailure=yes -R "$RP2:127.0.0.1:$ECHO"
it_wait_port "$RP2" || it_fail "-R EOFF: the forward did not come up: $(cat "$T/r2.log")"
kill -TERM $(sshd_sessions)
wait_log "$T/r2.log" "Connection to 127.0.0.1 lost" 5 || it_fail "-R EOFF: no loss"
it_bg "$T/occupy.log" $NU occupy "$RP2"
OCC=$BG_PID
wait "$TUN_PID"
it_check "-R refused after the reconnect with ExitOnForwardFailure: exits 255" 255 "$?"
grep -q "Error: remote port forwarding failed after reconnecting to 127.0.0.1 (ExitOnForwardFailure); giving up" "$T/r2.log" &&
    it_pass "-R with ExitOnForwardFailure: says why" || it_fail "-R EOFF: $(cat "$T/r2.log")"
kill "$OCC"
wait "$OCC" 2>/dev/null

# ---- the host key changes across the reconnect -----------------------------------------------------
for t in ed25519 ecdsa rsa; do ssh-keygen -q -t $t -N '' -f "$T/host_new_$t" >/dev/null; done
impostor() { # stop sshd, start it again with other host keys
    stop_sshd_all
    SSHD_HOSTKEYS="new_ed25519 new_ecdsa new_rsa" start_sshd_on "$SSHD_PORT"
}
hostkey_case() { # <label> <tunnel options...>
    local label=$1 rc accepted
    shift
    stop_sshd_all
    start_sshd_on "$SSHD_PORT"
    tunnel "$T/h.log" -o ReconnectInterval=1:2 -L "$LP:127.0.0.1:$ECHO" "$@"
    it_wait_port "$LP"
    it_check "$label: -L works first" "hello through the tunnel" "$(echo_via "$LP")"
    accepted=$(grep -c "Accepted publickey" "$T/sshd.log")
    impostor
    wait "$TUN_PID"
    rc=$?
    it_check "$label: exits 255" 255 "$rc"
    grep -q "Host key verification failed." "$T/h.log" &&
        grep -q "Not reconnecting to 127.0.0.1: its host key was refused." "$T/h.log" &&
        it_pass "$label: refused, and says it will not retry" ||
        it_fail "$label: log: $(cat "$T/h.log")"
    it_check "$label: no login reached the impostor" "$accepted" "$(grep -c "Accepted publickey" "$T/sshd.log")"
    (exec 3<>"/dev/tcp/127.0.0.1/$LP") 2>/dev/null && it_fail "$label: -L still listening" ||
        it_pass "$label: -L closed with the tunnel"
}
hostkey_case "known_hosts, changed key"
grep -q "DANGER: THE HOST KEY OF \[127.0.0.1\]:$SSHD_PORT HAS CHANGED" "$T/h.log" &&
    it_pass "known_hosts case: the usual warning" || it_fail "no warning: $(cat "$T/h.log")"
hostkey_case "no known_hosts, key pinned by the first connection" \
    -o UserKnownHostsFile=/dev/null -o StrictHostKeyChecking=no
grep -q "not the one it presented when sshtun" "$T/h.log" &&
    it_pass "pinned case: says the key differs from the first connection's" ||
    it_fail "pinned case: $(cat "$T/h.log")"

# ---- the login starts failing ---------------------------------------------------------------------------
stop_sshd_all
start_sshd_on "$SSHD_PORT"
tunnel "$T/u.log" -o ReconnectInterval=1:2 -L "$LP:127.0.0.1:$ECHO"
it_wait_port "$LP"
cp "$T/authorized_keys" "$T/authorized_keys.saved"
: > "$T/authorized_keys"
kill -TERM $(sshd_sessions)
wait "$TUN_PID"
it_check "login refused: exits 255" 255 "$?"
it_check "login refused: two attempts, each refused" 2 "$(grep -c 'Permission denied' "$T/u.log")"
grep -q "Not reconnecting to 127.0.0.1: authentication was refused twice (.*Permission denied (publickey" "$T/u.log" &&
    it_pass "login refused: gives up with the message" || it_fail "login refused: $(cat "$T/u.log")"
cp "$T/authorized_keys.saved" "$T/authorized_keys"

# ---- ControlMaster with Reconnect ----------------------------------------------------------------------
CTL=$T/ctl
tunnel "$T/m.log" -o ReconnectInterval=1:2 -M -S "$CTL" -L "$LP:127.0.0.1:$ECHO"
for _ in $(seq 1 100); do [ -S "$CTL" ] && break; sleep 0.05; done
mux() { timeout 60 "$SSHTUN" -F none -S "$CTL" "$@" 127.0.0.1 </dev/null; }
run() { timeout 60 "$SSHTUN" -F none -S "$CTL" 127.0.0.1 "$@" </dev/null; }
st=$(mux -O status 2>&1)
echo "$st" | grep -q "connection 0 (primary): $USER_NAME@127.0.0.1:$SSHD_PORT up" &&
    it_pass "-O status: up" || it_fail "-O status: $st"
run sleep 30 > "$T/ms.out" 2> "$T/ms.err" &
MS=$!
sleep 1
stop_sshd_all
wait "$MS"
it_check "running mux session ends with 255" 255 "$?"
grep -q "Connection closed by 127.0.0.1\|Received disconnect" "$T/ms.err" &&
    it_pass "running mux session: says why ($(head -1 "$T/ms.err"))" ||
    it_fail "running mux session: stderr: $(cat "$T/ms.err")"
wait_log "$T/m.log" "Connection to 127.0.0.1 lost" 5 || true
st=$(mux -O status 2>&1)
echo "$st" | grep -q "connection 0 (primary): 127.0.0.1: down since .*; attempt [0-9]*, next try in" &&
    it_pass "-O status while down: $(echo "$st" | grep primary)" || it_fail "-O status while down: $st"
st=$(mux -O check 2>&1)
echo "$st" | grep -q "Master running (pid=" && echo "$st" | grep -q "down since" &&
    it_pass "-O check while down reports it" || it_fail "-O check while down: $st"
run echo waited > "$T/mw.out" 2> "$T/mw.err" &
MW=$!
echo stdio-waited | timeout 60 "$SSHTUN" -F none -S "$CTL" -W "127.0.0.1:$ECHO" 127.0.0.1 \
    > "$T/mwW.out" 2> "$T/mwW.err" &
MWW=$!
sleep 1
start_sshd_on "$SSHD_PORT"
wait "$MW"
it_check "a mux session started while down waits and runs" "0 waited" "$? $(cat "$T/mw.out")"
wait "$MWW"
it_check "a mux -W started while down waits and runs" "0 stdio-waited" "$? $(cat "$T/mwW.out")"
wait_log "$T/m.log" "Reconnected to 127.0.0.1" 10 || it_fail "master: no reconnect: $(cat "$T/m.log")"
st=$(mux -O status 2>&1)
echo "$st" | grep -q "connection 0 (primary): $USER_NAME@127.0.0.1:$SSHD_PORT up" &&
    it_pass "-O status: up again" || it_fail "-O status after: $st"
it_check "sshtun -S session after the reconnect" after "$(run echo after 2>&1)"
it_check "ssh -S session after the reconnect" ssh-after \
    "$(timeout 30 ssh -F none -o ControlMaster=no -S "$CTL" 127.0.0.1 echo ssh-after </dev/null 2>&1)"
it_check "master's -L after the reconnect" "hello through the tunnel" "$(echo_via "$LP")"
mux -O exit 2>/dev/null
wait "$TUN_PID"

# ---- the example systemd user unit's command line ---------------------------------------------------
UNIT="$(cd "$(dirname "$0")/../.." && pwd)/examples/sshtun-tunnel@.service"
cat > "$HOME/.ssh/config" <<CFG
Host unit-tunnel
    HostName 127.0.0.1
    Port $SSHD_PORT
    User $USER_NAME
    IdentityFile $T/user_ed25519
    UserKnownHostsFile $T/known_hosts
    GlobalKnownHostsFile /dev/null
    StrictHostKeyChecking yes
    LocalForward $LP 127.0.0.1:$ECHO
    ReconnectInterval 1:2
CFG
cmd=$(sed -n 's/^ExecStart=//p' "$UNIT" | sed "s|/usr/local/bin/sshtun|$SSHTUN|; s|%i|unit-tunnel|")
echo "unit command: $cmd"
timeout 120 $cmd </dev/null 2> "$T/unit.log" &
UPID=$!
BG_PIDS="${BG_PIDS:-} $UPID"
it_wait_port "$LP"
it_check "unit: -L works" "hello through the tunnel" "$(echo_via "$LP")"
kill -TERM $(sshd_sessions)
wait_log "$T/unit.log" "Reconnected to 127.0.0.1; restored 1 local, 0 remote forwards" 10 &&
    it_pass "unit: reconnects, logging to stderr (the journal)" || it_fail "unit: $(cat "$T/unit.log")"
it_check "unit: -L after the reconnect" "hello through the tunnel" "$(echo_via "$LP")"
kill -TERM "$(it_sshtun_pid "$UPID")"
wait "$UPID"
rm -f "$HOME/.ssh/config"

# ---- through a jump host (-J): each attempt runs the whole chain again ----------------------------
# The hop is the same sshd under another name (a hop equal to the target
# would be a "jumphost loop"); killing sshd's session processes cuts both
# the hop's connection and the one inside it.
cat > "$T/jump_config" <<CFG
Host hop
    HostName 127.0.0.1
    Port $SSHD_PORT
    User $USER_NAME
    IdentityFile $T/user_ed25519
    UserKnownHostsFile $T/known_hosts
    GlobalKnownHostsFile /dev/null
    StrictHostKeyChecking yes
    BatchMode yes
CFG
: > "$T/j.log"
timeout 120 "$SSHTUN" -F "$T/jump_config" -N -E "$T/j.log" -J hop -p "$SSHD_PORT" -l "$USER_NAME" \
    -i "$T/user_ed25519" -o UserKnownHostsFile="$T/known_hosts" -o GlobalKnownHostsFile=/dev/null \
    -o StrictHostKeyChecking=yes -o BatchMode=yes -o Reconnect=yes -o ReconnectInterval=1:2 \
    -L "$LP:127.0.0.1:$ECHO" 127.0.0.1 </dev/null &
JPID=$!
BG_PIDS="${BG_PIDS:-} $JPID"
it_wait_port "$LP"
it_check "-J: -L works through the hop" "hello through the tunnel" "$(echo_via "$LP")"
it_check "-J: one process (no ssh -W child)" "" "$(pgrep -P "$(it_sshtun_pid "$JPID")")"
kill -TERM $(sshd_sessions)
wait_log "$T/j.log" "Reconnected to 127.0.0.1; restored 1 local, 0 remote forwards" 10 &&
    it_pass "-J: reconnects through the hop" || it_fail "-J: no reconnect: $(cat "$T/j.log")"
it_check "-J: -L after the reconnect" "hello through the tunnel" "$(echo_via "$LP")"
kill -TERM $(sshd_sessions)
wait_log "$T/j.log" "Reconnected to 127.0.0.1; restored 1 local, 0 remote forwards" 10 2 &&
    it_pass "-J: and again" || it_fail "-J: no second reconnect: $(cat "$T/j.log")"
it_check "-J: -L after the second reconnect" "hello through the tunnel" "$(echo_via "$LP")"
kill -TERM "$(it_sshtun_pid "$JPID")"
wait "$JPID"

# ---- sshtund: restart it, -R 0 gets a new port; SIGSTOP --------------------------------------------------
if [ "$(id -u)" -ne 0 ]; then
    echo "SKIP-NOT-COUNTED: the sshtund and network-change parts need root"
    it_done
    exit $?
fi
stop_sshd_all
it_sshtund_start
: > "$T/known_hosts"
for k in ed25519 ecdsa rsa; do
    echo "[127.0.0.1]:$PORT $(cut -d' ' -f1,2 "$T/host_$k.pub")" >> "$T/known_hosts"
done
restart_sshtund() {
    local n
    n=$(grep -c ready "$T/sshtund.log")
    setsid "$BUILD/sshtund" -D -e -f "$T/sshtund_config" >> "$T/sshtund.log" 2>&1 &
    IT_SSHTUND_PID=$!
    wait_log "$T/sshtund.log" ready 10 $((n + 1)) || { echo "FAIL: sshtund restart"; exit 1; }
}
tunnel "$T/s.log" -o ReconnectInterval=1:2 -o ServerAliveInterval=1 -o ServerAliveCountMax=2 \
    -R "0:127.0.0.1:$ECHO" -L "$LP:127.0.0.1:$ECHO"
wait_log "$T/s.log" "Allocated port" 10 || it_fail "sshtund: no allocated port: $(cat "$T/s.log")"
P1=$(grep -o 'Allocated port [0-9]*' "$T/s.log" | head -1 | awk '{print $3}')
it_check "sshtund: -R 0 port $P1 works" "hello through the tunnel" "$(echo_via "$P1")"
SPORT=$PORT
kill -KILL -- "-$IT_SSHTUND_PID"
wait "$IT_SSHTUND_PID" 2>/dev/null
wait_log "$T/s.log" "Connection to 127.0.0.1 lost" 10 || it_fail "sshtund killed: loss not seen"
restart_sshtund
if wait_log "$T/s.log" "Allocated port" 10 2; then
    P2=$(grep -o 'Allocated port [0-9]*' "$T/s.log" | tail -1 | awk '{print $3}')
    it_pass "sshtund restarted: -R 0 reported its new port ($P1 -> $P2)"
    it_check "sshtund restarted: -R 0 port $P2 works" "hello through the tunnel" "$(echo_via "$P2")"
else
    it_fail "sshtund restarted: no new port: $(cat "$T/s.log")"
fi
wait_log "$T/s.log" "Reconnected to 127.0.0.1; restored 1 local, 1 remote forward" 5 &&
    it_pass "sshtund restarted: restore logged" || it_fail "sshtund restart: $(cat "$T/s.log")"

# SIGSTOP: keepalives (1 s x 2) find it; attempts time out while it is
# stopped; once continued the tunnel comes back.
t0=$(now_ms)
kill -STOP -- "-$IT_SSHTUND_PID"
if wait_log "$T/s.log" "lost: Timeout, server 127.0.0.1 not responding; reconnecting" 10; then
    it_pass "stopped server detected by keepalives in $(($(now_ms) - t0)) ms"
else
    it_fail "stopped server not detected: $(cat "$T/s.log")"
fi
wait_log "$T/s.log" "Reconnecting to 127.0.0.1 failed: Connection to 127.0.0.1 port $SPORT timed out" 10 &&
    it_pass "attempts against the stopped server time out" || it_fail "attempts: $(cat "$T/s.log")"
kill -CONT -- "-$IT_SSHTUND_PID"
t0=$(now_ms)
if wait_log "$T/s.log" "Reconnected to 127.0.0.1" 15 2; then
    it_pass "continued server: reconnected in $(($(now_ms) - t0)) ms"
else
    it_fail "continued server: no reconnect: $(cat "$T/s.log")"
fi
it_check "-L after SIGCONT" "hello through the tunnel" "$(echo_via "$LP")"
stop_tunnel
it_sshtund_stop

# ---- a network change starts a waiting reconnect at once (netlink) ------------------------------------
NA=127.0.0.78
ip addr del "$NA/32" dev lo 2>/dev/null
if ! ip addr add "$NA/32" dev lo 2> "$T/ip.err"; then
    # a container without CAP_NET_ADMIN
    echo "SKIP-NOT-COUNTED: the network-change part cannot change addresses here: $(cat "$T/ip.err")"
    it_done
    exit $?
fi
start_sshd_on "$SSHD_PORT" "ListenAddress $NA"
TUN_HOST=$NA tunnel "$T/n.log" -o ReconnectInterval=20:20 -o UserKnownHostsFile=/dev/null \
    -o StrictHostKeyChecking=no -L "$LP:127.0.0.1:$ECHO"
it_wait_port "$LP"
it_check "netlink: -L works" "hello through the tunnel" "$(echo_via "$LP")"
# The connection comes from $NA: removing the address ends it at once
# (loopback would even go on carrying it).
ip addr del "$NA/32" dev lo
wait_log "$T/n.log" "Connection to $NA lost: local address $NA went away; reconnecting in 20 s (attempt 1)" 5 &&
    it_pass "local address removed: connection given up at once" ||
    it_fail "local address removed: $(cat "$T/n.log")"
sleep 1
t0=$(now_ms)
ip addr add "$NA/32" dev lo
if wait_log "$T/n.log" "Reconnected to $NA" 5; then
    it_pass "address added: reconnected after $(($(now_ms) - t0)) ms instead of 20 s"
else
    it_fail "address added: no early reconnect: $(cat "$T/n.log")"
fi
grep -q "Network changed; reconnecting to $NA in 0.5 s (attempt 1)" "$T/n.log" &&
    it_pass "network change logged" || it_fail "network change not logged: $(cat "$T/n.log")"
it_check "netlink: -L after the reconnect" "hello through the tunnel" "$(echo_via "$LP")"
stop_tunnel
ip addr del "$NA/32" dev lo 2>/dev/null

# An attempt under way whose SYNs go nowhere (the address gone, a route to
# nowhere: as when the Wi-Fi changed under it) is started over when the
# network changes again, not left to its 30 s limit.
NB=10.77.0.1
ip route del "$NB/32" dev lo 2>/dev/null
ip addr del "$NB/32" dev lo 2>/dev/null
ip addr add "$NB/32" dev lo
stop_sshd_all
start_sshd_on "$SSHD_PORT" "ListenAddress $NB"
TUN_HOST=$NB tunnel "$T/n2.log" -o ReconnectInterval=1:20 -o UserKnownHostsFile=/dev/null \
    -o StrictHostKeyChecking=no -L "$LP:127.0.0.1:$ECHO"
it_wait_port "$LP"
it_check "netlink 2: -L works" "hello through the tunnel" "$(echo_via "$LP")"
ip addr del "$NB/32" dev lo
ip route add "$NB/32" dev lo
wait_log "$T/n2.log" "Connection to $NB lost: local address $NB went away" 5 ||
    it_fail "netlink 2: loss not seen: $(cat "$T/n2.log")"
sleep 2.5 # the attempt has started and is sending SYNs into the void
t0=$(now_ms)
ip route del "$NB/32" dev lo
ip addr add "$NB/32" dev lo
if wait_log "$T/n2.log" "Reconnected to $NB" 10; then
    it_pass "network changed during an attempt: reconnected after $(($(now_ms) - t0)) ms"
else
    it_fail "network changed during an attempt: $(cat "$T/n2.log")"
fi
grep -q "Reconnecting to $NB failed: the network changed while connecting; reconnecting in" "$T/n2.log" &&
    it_pass "the stuck attempt was started over" || it_fail "stuck attempt: $(cat "$T/n2.log")"
it_check "netlink 2: -L after the reconnect" "hello through the tunnel" "$(echo_via "$LP")"
stop_tunnel
ip addr del "$NB/32" dev lo 2>/dev/null

it_done
