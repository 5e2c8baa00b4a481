#!/usr/bin/env bash
# it_mux.sh - connection sharing (ControlMaster / ControlPath /
# ControlPersist, OpenSSH's mux protocol) against a real sshd that allows
# only 2 sessions per connection, with real OpenSSH ssh on either side:
#
#  - an sshtun master with 10 concurrent 8 MiB sessions (sha256 both ways):
#    the master learns the server's limit and opens 4 more connections,
#    -O status shows them;
#  - exit statuses through the mux, -O forward/cancel -L, -O forward -R 0;
#  - OpenSSH ssh as a client of an sshtun master (check, exec, -W, forward);
#  - sshtun as a client of an OpenSSH master (exec, check, -W, forward);
#  - ControlPersist: the master outlives the first command, is reused
#    without a new authentication, ends on -O exit or after an idle time;
#  - the socket: mode 0600, another uid refused even when it can connect,
#    a stale socket replaced, a live one never stolen, too long a path;
#  - a passenger killed with SIGKILL in the middle of its session, one that
#    never reads its output, raw clients that misbehave (unknown request,
#    half a packet, absurd length, descriptors that never come), and
#    -O stop letting running sessions finish;
#  - idle extra connections closing by themselves.
#
# Passengers that must go through a master are run with a port nobody
# listens on: if they fell back to connecting by themselves they would fail.
. "$(dirname "$0")/lib.sh"
it_init "$1"
it_start_sshd "MaxSessions 2" "MaxStartups 50"
it_known_hosts
NU="python3 $(dirname "$0")/netutil.py"
# For what runs as another uid: a python it can execute (not a per-user
# shim such as pyenv's under /root).
SYSPY=$(command -v /usr/bin/python3 /usr/local/bin/python3 | head -1)
EP=$(it_free_port); it_bg "$T/echo.log" $NU echo "$EP"
CLOSED=$(it_free_port)
SSHOPTS=(-F none -p "$PORT" -l "$USER_NAME" -i "$T/user_ed25519" -o IdentitiesOnly=yes
         -o IdentityAgent=none -o UserKnownHostsFile="$T/known_hosts"
         -o GlobalKnownHostsFile=/dev/null -o StrictHostKeyChecking=yes -o BatchMode=yes)
# A directory other users may traverse (for the uid test), removed at exit.
PUB=$(mktemp -d /tmp/sshtun-mux-pub.XXXXXX)
chmod 711 "$PUB"
mux_cleanup() {
    local rc=$?
    # Masters whose socket lives outside $T still name $T in their -E log.
    rm -rf "$PUB"
    (exit $rc)
    it_cleanup
}
trap mux_cleanup EXIT INT TERM

# mx [args...]: sshtun as a passenger only (the fallback port is closed).
mx() {
    timeout 60 "$SSHTUN" -F none -p "$CLOSED" -l "$USER_NAME" -i "$T/user_ed25519" \
        -o UserKnownHostsFile="$T/known_hosts" -o GlobalKnownHostsFile=/dev/null \
        -o StrictHostKeyChecking=yes -o BatchMode=yes "$@"
}
# ossh [args...]: OpenSSH ssh with the test's identity and known hosts.
ossh() { timeout 60 ssh "${SSHOPTS[@]}" "$@"; }
# wait_sock path [tenths]: until a socket exists there.
wait_sock() {
    for _ in $(seq 1 "${2:-100}"); do [ -S "$1" ] && return 0; sleep 0.1; done
    return 1
}
# wait_gone path [tenths]: until nothing is there.
wait_gone() {
    for _ in $(seq 1 "${2:-100}"); do [ -e "$1" ] || return 0; sleep 0.1; done
    return 1
}
# master_pid path: the pid an alive check reports (empty if none).
master_pid() {
    mx -S "$1" -O check 127.0.0.1 2>&1 | sed -n 's/^Master running (pid=\([0-9]*\)).*/\1/p' | tr -d '\r'
}
accepted() { grep -c "Accepted publickey" "$T/sshd.log"; }
sha() { sha256sum "$@" | cut -d' ' -f1; }
# A python client: connect to the socket, print what the master says first:
# "hello" (a 12-byte HELLO, version 4), "closed" (EOF and nothing else),
# "connect-failed ERRNO", "timeout" or "other HEX".
PEEK='
import socket, struct, sys
s = socket.socket(socket.AF_UNIX)
s.settimeout(5)
try:
    s.connect(sys.argv[1])
except OSError as e:
    print("connect-failed", e.errno); sys.exit()
d = b""
try:
    while len(d) < 12:
        c = s.recv(12 - len(d))
        if not c:
            break
        d += c
except socket.timeout:
    print("timeout"); sys.exit()
if not d:
    print("closed")
elif len(d) == 12 and struct.unpack(">III", d) == (8, 1, 4):
    print("hello")
else:
    print("other", d.hex())
'

head -c $((8 * 1024 * 1024)) /dev/urandom > "$T/big"
WANT=$(sha "$T/big")

# ---- an sshtun master, sessions beyond MaxSessions ---------------------------------
M1="$T/m1"
it_sshtun -M -S "$M1" -N -f -E "$T/m1.log" 127.0.0.1
it_check "-M -N -f master starts" 0 "$?"
wait_sock "$M1" && it_pass "control socket created" || it_fail "no control socket at $M1"
mode=$(stat -c %A "$M1" 2>/dev/null)
it_check "control socket mode" "srw-------" "$mode"
M1PID=$(master_pid "$M1")
[ -n "$M1PID" ] && it_pass "-O check reports the master's pid ($M1PID)" || it_fail "-O check: no pid"
mx -S "$M1" -O check 127.0.0.1 2>/dev/null
it_check "-O check exit status" 0 "$?"
sleep 0.3
[ -n "$M1PID" ] && kill -0 "$M1PID" 2>/dev/null && it_pass "master stays after a check (-f, no ControlPersist)" ||
    it_fail "master ended after a mux client left"

A0=$(accepted)
for i in 1 2 3 4 5; do
    ( mx -S "$M1" 127.0.0.1 'sleep 1; cat' < "$T/big" > "$T/cat.$i" 2>"$T/cat.$i.err"
      echo $? > "$T/cat.$i.rc" ) &
    eval "CAT$i=\$!"
    ( mx -S "$M1" 127.0.0.1 'sleep 1; sha256sum' < "$T/big" > "$T/sum.$i" 2>"$T/sum.$i.err"
      echo $? > "$T/sum.$i.rc" ) &
    eval "SUM$i=\$!"
done
for i in 1 2 3 4 5; do eval "wait \$CAT$i \$SUM$i"; done
ok=0
for i in 1 2 3 4 5; do
    rc=$(cat "$T/cat.$i.rc"); got=$(sha "$T/cat.$i")
    if [ "$rc" = 0 ] && [ "$got" = "$WANT" ]; then ok=$((ok + 1)); else
        echo "  cat session $i: rc=$rc sha=$got $(cat "$T/cat.$i.err")"; fi
    rc=$(cat "$T/sum.$i.rc"); got=$(cut -d' ' -f1 "$T/sum.$i")
    if [ "$rc" = 0 ] && [ "$got" = "$WANT" ]; then ok=$((ok + 1)); else
        echo "  sha256sum session $i: rc=$rc sha=$got $(cat "$T/sum.$i.err")"; fi
done
it_check "10 concurrent 8 MiB sessions (5 'cat', 5 'sha256sum') through the master" 10 "$ok"
mx -S "$M1" -O status 127.0.0.1 > "$T/status" 2>&1
nconn=$(grep -c "^connection [0-9]" "$T/status")
[ "$nconn" -ge 2 ] && it_pass "-O status shows $nconn connections (MaxSessions 2 on the server)" ||
    it_fail "-O status shows $nconn connection(s): $(cat "$T/status")"
n=$(($(accepted) - A0))
[ "$n" -ge 4 ] && it_pass "the master authenticated $n more connections for 10 sessions" ||
    it_fail "only $n more connections for 10 concurrent sessions at 2 per connection"
grep -q "^connection 0 (primary)" "$T/status" && it_pass "-O status names the primary connection" ||
    it_fail "-O status: $(cat "$T/status")"

# ---- exit statuses and streams ------------------------------------------------------
A0=$(accepted)
for st in 0 1 7 255; do
    mx -S "$M1" 127.0.0.1 "exit $st" </dev/null 2>"$T/err"
    it_check "exit status $st through the master" "$st" "$?"
done
grep -q "Connection refused" "$T/err" && it_fail "exit 255: passenger connected by itself"
out=$(mx -S "$M1" 127.0.0.1 'echo out; echo err >&2' 2>"$T/err" </dev/null)
it_check "stdout through the master" "out" "$out"
it_check "stderr through the master" "err" "$(cat "$T/err")"
mx -S "$M1" 127.0.0.1 'kill -TERM $$' </dev/null 2>/dev/null
it_check "remote command killed by a signal: 255" 255 "$?"
out=$(mx -S "$M1" -n 127.0.0.1 'cat; echo eof' 2>&1)
it_check "-n through the master" "eof" "$out"
it_check "exit statuses: no new connection" 0 "$(($(accepted) - A0))"

# ---- port forwards through -O forward / -O cancel ------------------------------------
LP=$(it_free_port)
mx -S "$M1" -O forward -L "$LP:127.0.0.1:$EP" 127.0.0.1 2>"$T/err"
it_check "-O forward -L" 0 "$?"
out=$(timeout 30 $NU roundtrip "$LP" 5 10 2>&1)
it_check "traffic through the -O forward -L port" "ok" "$out"
# As with an OpenSSH master: asking again for the very same forward is
# not an error (passengers re-send their -L on every run), but the same
# port to another destination, or a port someone else holds, is.
mx -S "$M1" -O forward -L "$LP:127.0.0.1:$EP" 127.0.0.1 2>"$T/err"
it_check "-O forward of the same forward again succeeds (as ssh)" 0 "$?"
mx -S "$M1" -O forward -L "$LP:127.0.0.1:$CLOSED" 127.0.0.1 2>"$T/err"
[ $? -ne 0 ] && it_pass "-O forward of a port forwarded elsewhere fails" ||
    it_fail "-O forward of a port already forwarded elsewhere succeeded"
mx -S "$M1" -O forward -L "$EP:127.0.0.1:$EP" 127.0.0.1 2>"$T/err"
[ $? -ne 0 ] && it_pass "-O forward of a port another process listens on fails" ||
    it_fail "-O forward of a taken port succeeded"
out=$(timeout 30 $NU roundtrip "$LP" 2 3 2>&1)
it_check "the first -O forward still carries traffic" "ok" "$out"
mx -S "$M1" -O cancel -L "$LP:127.0.0.1:$EP" 127.0.0.1 2>"$T/err"
it_check "-O cancel -L" 0 "$?"
gone=no
for _ in $(seq 1 50); do
    (exec 3<>/dev/tcp/127.0.0.1/$LP) 2>/dev/null || { gone=yes; break; }
    sleep 0.1
done
it_check "the cancelled port stops listening" yes "$gone"
mx -S "$M1" -O cancel -L "$LP:127.0.0.1:$EP" 127.0.0.1 2>/dev/null
[ $? -ne 0 ] && it_pass "-O cancel of a port not forwarded fails" ||
    it_fail "-O cancel of a port not forwarded succeeded"
RPORT=$(mx -S "$M1" -O forward -R "0:127.0.0.1:$EP" 127.0.0.1 2>"$T/err")
rc=$?
case "$RPORT" in
[1-9]*[0-9]) [ "$rc" = 0 ] && it_pass "-O forward -R 0 prints the allocated port ($RPORT)" ||
    it_fail "-O forward -R 0: rc $rc" ;;
*) it_fail "-O forward -R 0 printed '$RPORT' (rc $rc): $(cat "$T/err")"; RPORT= ;;
esac
if [ -n "$RPORT" ]; then
    out=$(timeout 30 $NU roundtrip "$RPORT" 5 10 2>&1)
    it_check "traffic through the server's allocated port" "ok" "$out"
    mx -S "$M1" -O status 127.0.0.1 > "$T/status" 2>&1
    grep -q "(allocated port $RPORT)" "$T/status" &&
        it_pass "-O status shows the allocated port $RPORT" ||
        it_fail "-O status lacks the allocated port: $(cat "$T/status")"
fi
RP=$(it_free_port)
mx -S "$M1" -O forward -R "$RP:127.0.0.1:$EP" 127.0.0.1 2>"$T/err"
it_check "-O forward -R with a fixed port" 0 "$?"
it_wait_port "$RP" && out=$(timeout 30 $NU roundtrip "$RP" 5 10 2>&1) || out="not listening"
it_check "traffic through the fixed -R port" "ok" "$out"
mx -S "$M1" -O cancel -R "$RP:127.0.0.1:$EP" 127.0.0.1 2>"$T/err"
it_check "-O cancel -R" 0 "$?"
gone=no
for _ in $(seq 1 50); do
    (exec 3<>/dev/tcp/127.0.0.1/$RP) 2>/dev/null || { gone=yes; break; }
    sleep 0.1
done
it_check "the cancelled remote port stops listening on the server" yes "$gone"
DP=$(it_free_port)
mx -S "$M1" -O forward -D "$DP" 127.0.0.1 2>"$T/err"
it_check "-O forward -D" 0 "$?"
mkdir -p "$T/www" && echo "socks via mux" > "$T/www/f"
HP=$(it_free_port)
(cd "$T/www" && exec python3 -m http.server "$HP" --bind 127.0.0.1) >"$T/http.log" 2>&1 &
BG_PIDS="$BG_PIDS $!"
it_wait_port "$HP"
out=$(timeout 30 curl -s --socks5-hostname "127.0.0.1:$DP" "http://localhost:$HP/f")
it_check "SOCKS through the -O forward -D port" "socks via mux" "$out"
out=$(echo ping | mx -S "$M1" -W "127.0.0.1:$EP" 127.0.0.1 2>"$T/err")
it_check "-W through the master" "ping" "$out"

# ---- OpenSSH ssh as a passenger of an sshtun master -----------------------------------
# Host "x" does not resolve: ssh cannot fall back to a connection of its own.
ossh -S "$M1" -O check x 2>"$T/err"
it_check "ssh -O check on an sshtun master" 0 "$?"
grep -q "Master running (pid=$M1PID)" "$T/err" && it_pass "ssh -O check: master pid" ||
    it_fail "ssh -O check said: $(cat "$T/err")"
out=$(ossh -S "$M1" x 'echo from-ssh; exit 3' </dev/null 2>"$T/err")
rc=$?
it_check "ssh -S: command output" "from-ssh" "$out"
it_check "ssh -S: exit status" 3 "$rc"
got=$(ossh -S "$M1" x sha256sum < "$T/big" 2>"$T/err" | cut -d' ' -f1)
it_check "ssh -S: 8 MiB stdin (sha256)" "$WANT" "$got"
got=$(ossh -S "$M1" x "cat $T/big" </dev/null 2>"$T/err" | sha256sum | cut -d' ' -f1)
it_check "ssh -S: 8 MiB stdout (sha256)" "$WANT" "$got"
out=$(ossh -S "$M1" -tt x 'tty' </dev/null 2>/dev/null | tr -d '\r')
case "$out" in /dev/pts/*) it_pass "ssh -S -tt: pty ($out)" ;; *) it_fail "ssh -S -tt: got '$out'" ;; esac
out=$(echo pong | ossh -S "$M1" -W "127.0.0.1:$EP" x 2>"$T/err")
it_check "ssh -S -W (stdio forward) via an sshtun master" "pong" "$out"
LP=$(it_free_port)
ossh -S "$M1" -O forward -L "$LP:127.0.0.1:$EP" x 2>"$T/err"
it_check "ssh -O forward -L on an sshtun master" 0 "$?"
out=$(timeout 30 $NU roundtrip "$LP" 5 10 2>&1)
it_check "traffic through ssh's -O forward -L" "ok" "$out"
ossh -S "$M1" -O cancel -L "$LP:127.0.0.1:$EP" x 2>"$T/err"
it_check "ssh -O cancel -L on an sshtun master" 0 "$?"
gone=no
for _ in $(seq 1 50); do
    (exec 3<>/dev/tcp/127.0.0.1/$LP) 2>/dev/null || { gone=yes; break; }
    sleep 0.1
done
it_check "port cancelled by ssh stops listening" yes "$gone"
OPORT=$(ossh -S "$M1" -O forward -R "0:127.0.0.1:$EP" x 2>"$T/err")
case "$OPORT" in
[1-9]*[0-9]) out=$(timeout 30 $NU roundtrip "$OPORT" 3 5 2>&1)
    it_check "ssh -O forward -R 0: allocated port $OPORT carries traffic" "ok" "$out" ;;
*) it_fail "ssh -O forward -R 0 printed '$OPORT': $(cat "$T/err")" ;;
esac

# ---- sshtun as a passenger of an OpenSSH master ---------------------------------------
OM="$T/om"
ossh -M -S "$OM" -N -f 127.0.0.1 2>"$T/om.err"
it_check "OpenSSH master starts" 0 "$?"
wait_sock "$OM" || it_fail "no OpenSSH control socket"
mx -S "$OM" -O check 127.0.0.1 2>"$T/err"
it_check "sshtun -O check on an OpenSSH master" 0 "$?"
grep -q "Master running (pid=" "$T/err" && it_pass "sshtun -O check: message" ||
    it_fail "sshtun -O check said: $(cat "$T/err")"
out=$(mx -S "$OM" 127.0.0.1 'echo via-openssh; exit 5' </dev/null 2>"$T/err")
rc=$?
it_check "sshtun -S (OpenSSH master): output" "via-openssh" "$out"
it_check "sshtun -S (OpenSSH master): exit status" 5 "$rc"
for st in 0 1 255; do
    mx -S "$OM" 127.0.0.1 "exit $st" </dev/null 2>/dev/null
    it_check "sshtun -S (OpenSSH master): exit $st" "$st" "$?"
done
got=$(mx -S "$OM" 127.0.0.1 'sha256sum' < "$T/big" 2>"$T/err" | cut -d' ' -f1)
it_check "sshtun -S (OpenSSH master): 8 MiB stdin" "$WANT" "$got"
out=$(echo hello | mx -S "$OM" -W "127.0.0.1:$EP" 127.0.0.1 2>"$T/err")
it_check "sshtun -W through an OpenSSH master" "hello" "$out"
LP=$(it_free_port)
mx -S "$OM" -O forward -L "$LP:127.0.0.1:$EP" 127.0.0.1 2>"$T/err"
it_check "sshtun -O forward -L on an OpenSSH master" 0 "$?"
out=$(timeout 30 $NU roundtrip "$LP" 3 5 2>&1)
it_check "traffic through it" "ok" "$out"
OPORT=$(mx -S "$OM" -O forward -R "0:127.0.0.1:$EP" 127.0.0.1 2>"$T/err")
case "$OPORT" in
[1-9]*[0-9]) out=$(timeout 30 $NU roundtrip "$OPORT" 3 5 2>&1)
    it_check "sshtun -O forward -R 0 on an OpenSSH master: port $OPORT works" "ok" "$out" ;;
*) it_fail "sshtun -O forward -R 0 on an OpenSSH master printed '$OPORT': $(cat "$T/err")" ;;
esac
mx -S "$OM" -O status 127.0.0.1 >"$T/out" 2>&1
it_check "sshtun -O status on an OpenSSH master" 0 "$?"
grep -q "not an sshtun master" "$T/out" && it_pass "-O status says it is not an sshtun master" ||
    it_fail "-O status on an OpenSSH master: $(cat "$T/out")"
mx -S "$OM" -O exit 127.0.0.1 2>"$T/err"
it_check "sshtun -O exit on an OpenSSH master" 0 "$?"
wait_gone "$OM" 50 && it_pass "OpenSSH master gone" || it_fail "OpenSSH master still there"

# ---- ControlPersist --------------------------------------------------------------------
CP="$T/persist"
PERSIST=(-o ControlMaster=auto -o ControlPath="$CP" -o ControlPersist=yes)
A0=$(accepted)
out=$(it_sshtun "${PERSIST[@]}" 127.0.0.1 'echo first; exit 4' </dev/null 2>"$T/err")
rc=$?
it_check "ControlPersist: first command's output" "first" "$out"
it_check "ControlPersist: first command's exit status" 4 "$rc"
it_check "ControlPersist: one authentication" 1 "$(($(accepted) - A0))"
[ -S "$CP" ] && it_pass "ControlPersist: the master stays (socket exists)" ||
    it_fail "ControlPersist: no socket after the command"
PPID1=$(master_pid "$CP")
[ -n "$PPID1" ] && kill -0 "$PPID1" 2>/dev/null && it_pass "ControlPersist: -O check answers (pid $PPID1)" ||
    it_fail "ControlPersist: -O check does not answer"
out=$(it_sshtun -v "${PERSIST[@]}" 127.0.0.1 'echo second; exit 6' </dev/null 2>"$T/err")
rc=$?
it_check "ControlPersist: second command reuses the master: output" "second" "$out"
it_check "ControlPersist: second command's exit status" 6 "$rc"
it_check "ControlPersist: no new authentication" 1 "$(($(accepted) - A0))"
grep -q "Connecting to\|Authenticated to" "$T/err" && it_fail "second command connected: $(cat "$T/err")" ||
    it_pass "ControlPersist: -v shows no connection of the second command"
got=$(it_sshtun "${PERSIST[@]}" 127.0.0.1 'sha256sum' < "$T/big" 2>"$T/err" | cut -d' ' -f1)
it_check "ControlPersist: 8 MiB through the persistent master" "$WANT" "$got"
it_sshtun "${PERSIST[@]}" -O exit 127.0.0.1 2>"$T/err"
it_check "ControlPersist: -O exit" 0 "$?"
wait_gone "$CP" 50 && it_pass "ControlPersist: -O exit removes the socket" || it_fail "socket still there after -O exit"
dead=no
for _ in $(seq 1 50); do kill -0 "$PPID1" 2>/dev/null || { dead=yes; break; }; sleep 0.1; done
it_check "ControlPersist: the master process ends on -O exit" yes "$dead"

CP2="$T/persist2"
t0=$(date +%s.%N)
it_sshtun -o ControlMaster=auto -o ControlPath="$CP2" -o ControlPersist=2 127.0.0.1 true </dev/null
it_check "ControlPersist=2: command" 0 "$?"
P2=$(master_pid "$CP2")
[ -n "$P2" ] && it_pass "ControlPersist=2: master answers right after" || it_fail "ControlPersist=2: no master"
sleep 1
[ -S "$CP2" ] && it_pass "ControlPersist=2: still there after 1 s" || it_fail "ControlPersist=2: gone within 1 s"
wait_gone "$CP2" 80 && it_pass "ControlPersist=2: the idle master removes its socket by itself" ||
    it_fail "ControlPersist=2: socket still there after 9 s"
dead=no
for _ in $(seq 1 30); do kill -0 "${P2:-0}" 2>/dev/null || { dead=yes; break; }; sleep 0.1; done
it_check "ControlPersist=2: the idle master exits" yes "$dead"

# ControlPersist=2 with a session running longer than that: still served.
CP3="$T/persist3"
out=$(it_sshtun -o ControlMaster=auto -o ControlPath="$CP3" -o ControlPersist=1 127.0.0.1 \
      'sleep 3; echo long' </dev/null 2>"$T/err")
it_check "ControlPersist=1: a 3 s command is not cut short" "long" "$out"
wait_gone "$CP3" 80 && it_pass "ControlPersist=1: master gone afterwards" || it_fail "ControlPersist=1: master stays"

# %C makes a short unique path
it_sshtun -M -S "$T/c-%C" -N -f -E "$T/cC.log" 127.0.0.1
it_check "ControlPath with %C" 0 "$?"
CC=$(ls "$T"/c-* 2>/dev/null | grep -v '\.log$' | head -1)
case "$CC" in "$T"/c-[0-9a-f]*) [ ${#CC} -eq $((${#T} + 3 + 40)) ] && it_pass "%C expands to 40 hex digits" ||
    it_fail "%C gave $CC" ;; *) it_fail "no socket for %C" ;; esac
# %C hashes the port too: these use the master's port (-O never connects).
it_sshtun -S "$T/c-%C" -O check 127.0.0.1 2>/dev/null
it_check "-O check finds the %C socket" 0 "$?"
mx -S "$T/c-%C" -O check 127.0.0.1 2>/dev/null
it_check "-O check with another port: another %C, no master" 255 "$?"
it_sshtun -S "$T/c-%C" -O exit 127.0.0.1 2>/dev/null
it_check "-O exit on the %C socket" 0 "$?"
wait_gone "$CC" 50 && it_pass "%C socket removed by -O exit" || it_fail "%C socket still there"

# ---- the socket's security -------------------------------------------------------------
out=$(python3 -c "$PEEK" "$M1")
it_check "same uid: the master says HELLO" "hello" "$out"
M5="$PUB/m5"
it_sshtun -M -S "$M5" -N -f -E "$T/m5.log" 127.0.0.1
it_check "master in a shared directory" 0 "$?"
wait_sock "$M5"
it_check "its socket is 0600" "srw-------" "$(stat -c %A "$M5")"
out=$(setpriv --reuid=nobody --regid=nogroup --clear-groups "$SYSPY" -c "$PEEK" "$M5" 2>&1)
it_check "another uid cannot even connect to the 0600 socket" "connect-failed 13" "$out"
chmod 666 "$M5"
out=$(setpriv --reuid=nobody --regid=nogroup --clear-groups "$SYSPY" -c "$PEEK" "$M5" 2>&1)
it_check "another uid connecting to a chmod 666 socket is closed without HELLO" "closed" "$out"
grep -q "uid 65534 .*refused" "$T/m5.log" && it_pass "the master logs the refused uid" ||
    it_fail "no refusal in the master's log: $(grep -v ^debug "$T/m5.log")"
out=$(python3 -c "$PEEK" "$M5")
it_check "same uid still served afterwards" "hello" "$out"
mx -S "$M5" 127.0.0.1 'exit 9' </dev/null
it_check "the master still runs sessions" 9 "$?"
mx -S "$M5" -O exit 127.0.0.1 2>/dev/null
wait_gone "$M5" 50 || it_fail "master in $PUB did not exit"

# A live master is never replaced.
out=$(it_sshtun -M -S "$M1" 127.0.0.1 'echo ran-anyway' </dev/null 2>"$T/err")
rc=$?
grep -q "already exists, disabling multiplexing" "$T/err" &&
    it_pass "second -M on a live socket: 'already exists, disabling multiplexing'" ||
    it_fail "second -M: $(cat "$T/err")"
it_check "second -M: the command still runs" "ran-anyway" "$out"
it_check "second -M: its exit status" 0 "$rc"
it_check "second -M: the first master keeps the socket" "$M1PID" "$(master_pid "$M1")"

# A stale socket (master killed with SIGKILL) is replaced.
M6="$T/m6"
it_sshtun -M -S "$M6" -N -f -E "$T/m6.log" 127.0.0.1
P6=$(master_pid "$M6")
if [ -n "$P6" ]; then
    kill -9 "$P6"
    for _ in $(seq 1 50); do kill -0 "$P6" 2>/dev/null || break; sleep 0.1; done
    [ -S "$M6" ] && it_pass "a killed master leaves its socket" || it_fail "socket vanished with kill -9"
    out=$(python3 -c "$PEEK" "$M6")
    it_check "the stale socket refuses connections" "connect-failed 111" "$out"
    it_sshtun -M -S "$M6" -N -f -E "$T/m6b.log" 127.0.0.1 2>"$T/err"
    it_check "-M over a stale socket" 0 "$?"
    P6B=$(master_pid "$M6")
    [ -n "$P6B" ] && [ "$P6B" != "$P6" ] && it_pass "the new master owns the socket (pid $P6B)" ||
        it_fail "stale socket not replaced: pid '$P6B': $(cat "$T/err")"
    kill -9 "$P6B" 2>/dev/null
    for _ in $(seq 1 50); do kill -0 "$P6B" 2>/dev/null || break; sleep 0.1; done
    out=$(it_sshtun -o ControlMaster=auto -o ControlPath="$M6" -o ControlPersist=yes 127.0.0.1 \
          'echo auto-replaced' </dev/null 2>"$T/err")
    it_check "ControlMaster=auto over a stale socket runs the command" "auto-replaced" "$out"
    P6C=$(master_pid "$M6")
    [ -n "$P6C" ] && [ "$P6C" != "$P6B" ] && it_pass "ControlMaster=auto replaced the stale socket" ||
        it_fail "ControlMaster=auto: master '$P6C' (old $P6B)"
    mx -S "$M6" -O exit 127.0.0.1 2>/dev/null
else
    it_fail "master for the stale-socket test did not start"
fi

# Too long a path.
LONG="$T/$(printf 'a%.0s' $(seq 1 110))"
A0=$(accepted)
it_sshtun -M -S "$LONG" -N 127.0.0.1 2>"$T/err" </dev/null
rc=$?
it_check "ControlPath too long: master fails" 255 "$rc"
it_check "ControlPath too long: it fails before connecting" 0 "$(($(accepted) - A0))"
grep -q "ControlPath too long.*%C" "$T/err" && it_pass "too long: the message suggests %C" ||
    it_fail "too long: $(cat "$T/err")"
mx -S "$LONG" 127.0.0.1 true 2>"$T/err" </dev/null
it_check "ControlPath too long: passenger fails" 255 "$?"
grep -q "ControlPath too long" "$T/err" && it_pass "too long (passenger): message" ||
    it_fail "too long (passenger): $(cat "$T/err")"
# A socket that cannot be created at all: ssh exits 255 (no silent master
# without sharing).
it_sshtun -M -S "$T/nodir/sock" -N 127.0.0.1 2>"$T/err" </dev/null
it_check "ControlPath in a missing directory: the master fails (as ssh)" 255 "$?"

# ---- a passenger killed mid-session -----------------------------------------------------
( mx -S "$M1" 127.0.0.1 'cat' </dev/zero >/dev/null 2>&1 ) &
VICTIM=$!
( mx -S "$M1" 127.0.0.1 'sleep 2; cat' < "$T/big" > "$T/surv" 2>"$T/surv.err"; echo $? > "$T/surv.rc" ) &
SURV=$!
sleep 1
VP=$(it_sshtun_pid "$VICTIM")
vp_comm=$(cat /proc/$VP/comm 2>/dev/null)
if [ "$vp_comm" = sshtun ]; then
    kill -9 "$VP"
    it_pass "passenger streaming /dev/zero killed with SIGKILL"
else
    it_fail "could not find the victim passenger ($VP: $vp_comm)"
fi
wait "$VICTIM" 2>/dev/null
wait "$SURV"
it_check "concurrent session unaffected: exit status" 0 "$(cat "$T/surv.rc")"
it_check "concurrent session unaffected: 8 MiB intact" "$WANT" "$(sha "$T/surv")"
it_check "the master survives a killed passenger" "$M1PID" "$(master_pid "$M1")"
out=$(mx -S "$M1" 127.0.0.1 'echo after' </dev/null 2>&1)
it_check "new sessions after a killed passenger" "after" "$out"
# The orphaned session is closed: back to no session and one client (us).
clean=no
for _ in $(seq 1 100); do
    mx -S "$M1" -O status 127.0.0.1 > "$T/status" 2>&1
    s=$(sed -n 's/.*; \([0-9]*\) sessions\? (max.*/\1/p' "$T/status" | awk '{ n += $1 } END { print n + 0 }')
    if [ "$s" = 0 ] && grep -q ", 1 mux client$" "$T/status"; then clean=yes; break; fi
    sleep 0.1
done
it_check "the killed passenger's session is closed by the master" yes "$clean"
[ "$clean" = yes ] || cat "$T/status"

# ---- a slow passenger does not stall another ------------------------------------------
# Its stdout is a pipe nobody reads: the master must not block on it.
rm -f "$T/slow.fifo" && mkfifo "$T/slow.fifo"
( mx -S "$M1" 127.0.0.1 "cat $T/big" </dev/null >"$T/slow.fifo" 2>/dev/null ) &
SLOW=$!
exec 8<"$T/slow.fifo"
sleep 0.5
t0=$(date +%s)
got=$(mx -S "$M1" 127.0.0.1 'sha256sum' < "$T/big" 2>"$T/err" | cut -d' ' -f1)
t1=$(date +%s)
it_check "8 MiB beside a passenger that does not read its output" "$WANT" "$got"
[ $((t1 - t0)) -lt 20 ] && it_pass "... in $((t1 - t0)) s" || it_fail "stalled: $((t1 - t0)) s"
exec 8<&- # the slow passenger's output breaks: its session ends
wait "$SLOW" 2>/dev/null
out=$(mx -S "$M1" 127.0.0.1 'echo still' </dev/null 2>&1)
it_check "the master serves after the slow passenger" "still" "$out"

# ---- misbehaving mux clients --------------------------------------------------------------
# Raw protocol: an unknown request is refused with MUX_S_FAILURE (and the
# client served on); a half-sent packet, an absurd length, a NEW_SESSION
# whose descriptors never come (or only one) are dropped without harm.
ABUSE='
import socket, struct, sys, time
path, case = sys.argv[1], sys.argv[2]
s = socket.socket(socket.AF_UNIX)
s.settimeout(5)
s.connect(path)
def pkt(body): return struct.pack(">I", len(body)) + body
def recv_pkt():
    h = b""
    while len(h) < 4:
        c = s.recv(4 - len(h))
        if not c: return None
        h += c
    n = struct.unpack(">I", h)[0]
    d = b""
    while len(d) < n:
        c = s.recv(n - len(d))
        if not c: return None
        d += c
    return d
def sstr(b): return struct.pack(">I", len(b)) + b
assert recv_pkt()[:8] == struct.pack(">II", 1, 4)
s.sendall(pkt(struct.pack(">II", 1, 4)))
if case == "unknown":
    s.sendall(pkt(struct.pack(">II", 0x10000099, 7)))
    r = recv_pkt()
    t, rid = struct.unpack(">II", r[:8])
    s.sendall(pkt(struct.pack(">II", 0x10000004, 8)))  # then an alive check
    a = recv_pkt()
    print("failure" if (t, rid) == (0x80000003, 7) and a[:8] == struct.pack(">II", 0x80000005, 8)
          else "got %08x %d" % (t, rid))
    sys.exit()
if case == "half":
    s.sendall(struct.pack(">I", 100) + b"\x10\x00")
elif case == "huge":
    s.sendall(struct.pack(">I", 0xfffffff0) + b"x" * 64)
    try:
        print("closed" if s.recv(1) == b"" else "open")
    except ConnectionResetError:  # closed with our bytes unread
        print("closed")
    sys.exit()
else:
    body = (struct.pack(">II", 0x10000002, 9) + sstr(b"") + struct.pack(">IIIII", 0, 0, 0, 0, 0xffffffff)
            + sstr(b"") + sstr(b"echo never"))
    s.sendall(pkt(body))
    if case == "onefd":
        r, w = socket.socketpair()
        socket.send_fds(s, [b"\0"], [r.fileno()])
time.sleep(0.2)
s.close()
print("done")
'
out=$(python3 -c "$ABUSE" "$M1" unknown 2>&1)
it_check "an unknown request: MUX_S_FAILURE, then served on" "failure" "$out"
for c in half nofds onefd; do
    out=$(python3 -c "$ABUSE" "$M1" $c 2>&1)
    it_check "a client that leaves mid-request ($c)" "done" "$out"
done
out=$(python3 -c "$ABUSE" "$M1" huge 2>&1)
it_check "a packet length beyond the limit: the master hangs up" "closed" "$out"
it_check "the master survives misbehaving clients" "$M1PID" "$(master_pid "$M1")"
out=$(mx -S "$M1" 127.0.0.1 'echo fine' </dev/null 2>&1)
it_check "and still runs sessions" "fine" "$out"

# ---- -O stop ------------------------------------------------------------------------------------
M7="$T/m7"
it_sshtun -M -S "$M7" -N -f -E "$T/m7.log" 127.0.0.1
P7=$(master_pid "$M7")
( mx -S "$M7" 127.0.0.1 'sleep 2; echo finished; exit 3' </dev/null > "$T/stop.out" 2>&1
  echo $? > "$T/stop.rc" ) &
STOPPED=$!
started=no
for _ in $(seq 1 50); do
    mx -S "$M7" -O status 127.0.0.1 2>/dev/null | grep -q "; 1 session (max" && { started=yes; break; }
    sleep 0.1
done
it_check "-O stop: a session is running" yes "$started"
mx -S "$M7" -O stop 127.0.0.1 2>"$T/err"
it_check "-O stop" 0 "$?"
[ ! -e "$M7" ] && it_pass "-O stop removes the socket" || it_fail "socket still there after -O stop"
mx -S "$M7" -O check 127.0.0.1 2>/dev/null
it_check "-O stop: no more mux clients" 255 "$?"
wait "$STOPPED"
it_check "-O stop: the running session finishes" "finished" "$(cat "$T/stop.out")"
it_check "-O stop: with its exit status" 3 "$(cat "$T/stop.rc")"
[ -n "$P7" ] && kill -0 "$P7" 2>/dev/null && it_pass "-O stop: the master keeps its connection" ||
    it_fail "-O stop: master gone"
[ -n "$P7" ] && kill "$P7" 2>/dev/null

# ---- the end -------------------------------------------------------------------------------------
# The extra connections opened for the concurrent sessions close once idle
# (10 s without a session).
n=0
for _ in $(seq 1 150); do
    n=$(mx -S "$M1" -O status 127.0.0.1 2>/dev/null | grep -c "^connection [0-9]")
    [ "$n" = 1 ] && break
    sleep 0.1
done
it_check "idle extra connections close: the primary alone remains" 1 "$n"
mx -S "$M1" -O exit 127.0.0.1 2>/dev/null
it_check "-O exit of the first master" 0 "$?"
wait_gone "$M1" 50 && it_pass "-O exit removes the socket" || it_fail "socket still there after -O exit"
dead=no
for _ in $(seq 1 50); do kill -0 "$M1PID" 2>/dev/null || { dead=yes; break; }; sleep 0.1; done
it_check "the master process is gone" yes "$dead"
it_done
