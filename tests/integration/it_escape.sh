#!/usr/bin/env bash
# it_escape.sh - ssh's escape sequences, typed in a real terminal (tmux)
# into sshtun sessions against OpenSSH's sshd (and sshtund for ~B):
#
#   ~.  ends the session and the connection at once (exit 255), also while
#       a forwarded connection is busy;   ~?  help;   ~#  the open
#       connections;   ~V/~v  log level;   ~B  a BREAK request;   ~R  a key
#       re-exchange;   ~^Z  suspends (fg resumes);   ~&  backgrounds while a
#       forwarded connection drains;   ~~  one ~;   ~C  the command line
#       with -L/-R/-D and -KL/-KR/-KD (EnableEscapeCommandline yes), and
#       "commandline disabled" without it;
#   only at the start of a line; -e ^A and -e none; EscapeChar; and with
#   -e on a session without a terminal (ssh has escapes only with one).
. "$(dirname "$0")/lib.sh"
it_init "$1"
command -v tmux >/dev/null || { echo "FAIL: tmux not installed"; exit 1; }
command -v curl >/dev/null || { echo "FAIL: curl not installed"; exit 1; }
ROOT_DIR=$(cd "$(dirname "$0")/../.." && pwd)
NU="python3 $ROOT_DIR/tests/integration/netutil.py"
SSHD_LOGLEVEL=DEBUG1 it_start_sshd
it_known_hosts
ECHO_PORT=$(it_free_port)
it_bg "$T/echo.log" $NU echo "$ECHO_PORT"
HTTP_PORT=$(it_free_port)
mkdir -p "$T/www" && echo "socks-page-ok" > "$T/www/page.txt"
python3 -u -m http.server --bind 127.0.0.1 --directory "$T/www" "$HTTP_PORT" > "$T/http.log" 2>&1 &
BG_PIDS="${BG_PIDS:-} $!"
it_wait_port "$HTTP_PORT" || { echo "FAIL: http.server did not start"; exit 1; }

cat > "$T/st" <<EOF
#!/bin/sh
exec "$SSHTUN" -F none -p \${SP:-$PORT} -l $USER_NAME -i "$T/user_ed25519" -o IdentityAgent=none \\
    -o UserKnownHostsFile="$T/known_hosts" -o GlobalKnownHostsFile=/dev/null \\
    -o StrictHostKeyChecking=yes -o BatchMode=yes "\$@"
EOF
chmod 755 "$T/st"

TM="tmux -S $T/tmux.sock -f /dev/null"
esc_cleanup() {
    local rc=$?
    $TM kill-server 2>/dev/null
    (exit $rc)
    it_cleanup
}
trap esc_cleanup EXIT INT TERM
$TM new-session -d -s t -x 120 -y 40 \
    "env -i HOME=$HOME PATH=$PATH TERM=xterm SHELL=/bin/bash PS1='L\$ ' bash --norc --noprofile"
sleep 0.3
$TM set-option -t t history-limit 5000 >/dev/null

screen() { $TM capture-pane -p -J -t t -S -3000; }
send() { $TM send-keys -t t "$@"; }
text() { $TM send-keys -t t -l -- "$1"; }
wait_for() {
    local i n=$((${2:-10} * 10))
    for ((i = 0; i < n; i++)); do
        screen | grep -qE -- "$1" && return 0
        sleep 0.1
    done
    return 1
}
clear_pane() { send "clear" Enter; sleep 0.2; $TM clear-history -t t; sleep 0.1; }
# A -t shell on the remote side with the prompt "R$ ".
remote_shell() {  # remote_shell [sshtun options...]
    clear_pane
    text "$T/st -t $* 127.0.0.1 'PS1=R\\\$\\  exec bash --norc --noprofile'; echo rc=\$?"
    send Enter
    wait_for '^R\$ ' 10 || it_fail "no remote shell ($*): $(screen | tail -3)"
}
ended() {  # ended <rc>: the client exited with rc (prompt back)
    wait_for "^rc=$1\$" 10
}

wait_for '^L\$ ' 5 || { it_fail "local shell did not start"; it_done; exit 1; }
send "stty -g > $T/stty.before" Enter
sleep 0.3

# ---- ~? ~# ~v ~V ~~ and "only at line start" ------------------------------------------------
remote_shell
send "~?"
wait_for 'Supported escape sequences:' 5 && screen | grep -q ' ~\.   - terminate connection' &&
    it_pass "~? prints the escape help" || it_fail "~?: $(screen | tail -5)"
screen | grep -q ' ~C   - open a command line' &&
    it_fail "~? offers ~C although EnableEscapeCommandline is off" ||
    it_pass "~? leaves ~C out when the command line is disabled"
send Enter
send "~v"
wait_for '~v \[LogLevel VERBOSE\]' 5 && it_pass "~v raises the log level" || it_fail "~v: $(screen | tail -3)"
send "~V"
wait_for '~V \[LogLevel INFO\]' 5 && it_pass "~V lowers it again" || it_fail "~V: $(screen | tail -3)"
send Enter
# ~~ sends one ~; a ~ not at a line start, or before another character,
# goes through as typed.
text "echo X~~Y"; send Enter
text "~~echo tilde"; send Enter
text "echo mid~.line"; send Enter
text "~x"; send Enter
sleep 1
screen | grep -q '^X~~Y$' && it_pass "a ~ inside a line is sent as typed" || it_fail "mid-line ~~: $(screen | tail -8)"
screen | grep -q 'bash: ~echo: command not found' && it_pass "~~ at a line start sends one ~" ||
    it_fail "~~: $(screen | tail -8)"
screen | grep -q '^mid~\.line$' && it_pass "~. inside a line is not an escape" || it_fail "mid-line ~.: $(screen | tail -8)"
screen | grep -q 'bash: ~x: command not found' && it_pass "~ before another character sends both" ||
    it_fail "~x: $(screen | tail -8)"
send "~#"
wait_for 'The following connections are open:' 5 && screen | grep -qE '^  #[0-9]+ client-session' &&
    it_pass "~# lists the session" || it_fail "~#: $(screen | tail -5)"
send "~C"
wait_for '^commandline disabled' 5 && it_pass "~C says commandline disabled without EnableEscapeCommandline" ||
    it_fail "~C disabled: $(screen | tail -3)"
# ~. ends it: status 255, the terminal as it was.
send Enter "~."
ended 255 && it_pass "~. ends the session, status 255" || it_fail "~.: $(screen | tail -5)"
screen | grep -q '^Connection to 127.0.0.1 closed\.$' && it_pass "~. says the connection closed" ||
    it_fail "~. message: $(screen | tail -5)"
send "stty -g > $T/stty.after" Enter
sleep 0.3
it_check "the terminal is restored after ~." "$(cat "$T/stty.before")" "$(cat "$T/stty.after")"

# ---- ~B (sshd and sshtund see a break request) and ~R -------------------------------------------
remote_shell
send "~B"
wait_for '~B$' 5 && it_pass "~B is echoed as ~B" || it_fail "~B: $(screen | tail -3)"
for _ in 1 2 3 4 5 6 7 8 9 10; do grep -q "req break" "$T/sshd.log" && break; sleep 0.2; done
grep -q "req break" "$T/sshd.log" && it_pass "~B: sshd got a break request" ||
    it_fail "~B: no break request in sshd's log"
n0=$(grep -c "kex: algorithm" "$T/sshd.log")
send Enter "~R"
for _ in 1 2 3 4 5 6 7 8 9 10; do
    [ "$(grep -c "kex: algorithm" "$T/sshd.log")" -gt "$n0" ] && break
    sleep 0.2
done
[ "$(grep -c "kex: algorithm" "$T/sshd.log")" -gt "$n0" ] && it_pass "~R: a key re-exchange happened" ||
    it_fail "~R: no re-exchange in sshd's log"
text "echo after-rekey"; send Enter
wait_for '^after-rekey$' 5 && it_pass "the session goes on after ~R" || it_fail "after ~R: $(screen | tail -3)"
# ~^Z suspends sshtun; fg resumes it.
send Enter "~" C-z
wait_for '~\^Z \[suspend ssh\]' 5 && wait_for 'Stopped' 5 && it_pass "~^Z suspends sshtun" ||
    it_fail "~^Z: $(screen | tail -4)"
clear_pane
send "fg" Enter
sleep 0.5
text "echo resumed-ok"; send Enter
wait_for '^resumed-ok$' 5 && it_pass "fg resumes the session" || it_fail "after fg: $(screen | tail -4)"
send Enter "~."
wait_for '^Connection to 127\.0\.0\.1 closed\.$' 10 || it_fail "~. after ~^Z: $(screen | tail -3)"

it_sshtund_start "LogLevel DEBUG1"
SPP=$PORT
echo "[127.0.0.1]:$SPP $(cut -d' ' -f1,2 "$T/host_ed25519.pub")" >> "$T/known_hosts"
clear_pane
text "SP=$SPP $T/st -t 127.0.0.1 'PS1=R\\\$\\  exec bash --norc --noprofile'; echo rc=\$?"
send Enter
wait_for '^R\$ ' 10 || it_fail "no remote shell on sshtund"
send "~B"
sleep 1
grep -q "session [0-9]*: break" "$T/sshtund.log" && it_pass "~B: sshtund got a break request" ||
    it_fail "~B: sshtund log: $(grep -i break "$T/sshtund.log" | tail -2)"
send Enter "~."
ended 255 || it_fail "~. against sshtund: $(screen | tail -3)"
it_sshtund_stop

# ---- ~C: forwards added and cancelled while the session runs -------------------------------------
LP=$(it_free_port); RP=$(it_free_port); DP=$(it_free_port)
remote_shell -o EnableEscapeCommandline=yes
send "~C"
wait_for '^ssh> ' 5 && it_pass "~C opens the command line" || it_fail "~C: $(screen | tail -3)"
text "-L $LP:127.0.0.1:$ECHO_PORT"; send Enter
wait_for '^Forwarding port\.$' 5 && it_pass "~C -L: Forwarding port." || it_fail "~C -L: $(screen | tail -3)"
it_check "~C -L: the new forward carries data" ok "$(timeout 20 $NU roundtrip "$LP" 1 3 2>&1)"
send Enter "~C"; wait_for '^ssh> $' 5
text "-R $RP:127.0.0.1:$ECHO_PORT"; send Enter
sleep 1
it_check "~C -R: the remote forward carries data" ok "$(timeout 20 $NU roundtrip "$RP" 1 3 2>&1)"
send Enter "~C"; wait_for '^ssh> $' 5
text "-D $DP"; send Enter
sleep 0.5
out=$(curl -s --max-time 10 --socks5-hostname "127.0.0.1:$DP" "http://127.0.0.1:$HTTP_PORT/page.txt" 2>&1)
it_check "~C -D: the SOCKS forward connects" "socks-page-ok" "$out"
# ~# shows a forwarded connection while it is open.
timeout 20 $NU hold "$LP" 1 3 > /dev/null 2>&1 &
HOLD=$!
sleep 0.8
send Enter "~#"
wait_for "127\.0\.0\.1:$ECHO_PORT" 5 && it_pass "~# lists an open forwarded connection" ||
    it_fail "~# with a forward: $(screen | tail -6)"
wait $HOLD
for spec in "KL $LP" "KR $RP" "KD $DP"; do
    send Enter "~C"; wait_for '^ssh> $' 5
    text "-$spec"; send Enter
    wait_for '^Canceled forwarding\.$' 5 && it_pass "~C -$spec: Canceled forwarding." ||
        it_fail "~C -$spec: $(screen | tail -3)"
done
sleep 0.5
(exec 3<>/dev/tcp/127.0.0.1/$LP) 2>/dev/null && it_fail "-KL: port $LP still listens" ||
    it_pass "~C -KL: the local port is closed"
(exec 3<>/dev/tcp/127.0.0.1/$RP) 2>/dev/null && it_fail "-KR: port $RP still listens" ||
    it_pass "~C -KR: the remote port is closed"
send Enter "~C"; wait_for '^ssh> $' 5
text "-L nonsense"; send Enter
wait_for '^Bad local forwarding specification\.$' 5 && it_pass "~C -L with a bad spec says so" ||
    it_fail "~C bad spec: $(screen | tail -3)"
send Enter "~C"; wait_for '^ssh> $' 5
text "-KL 1"; send Enter
wait_for '^Unknown port forwarding\.$' 5 && it_pass "~C -KL of no forward says so" ||
    it_fail "~C -KL unknown: $(screen | tail -3)"
send Enter "~C"; wait_for '^ssh> $' 5
text "h"; send Enter
wait_for 'Cancel dynamic forward' 5 && it_pass "~C h lists the commands" || it_fail "~C h: $(screen | tail -3)"
send Enter "~."
ended 255 || it_fail "~. after ~C: $(screen | tail -3)"

# ---- ~. and ~& while a forwarded connection is busy ----------------------------------------------
STREAM_PORT=$(it_free_port)
it_bg "$T/stream.log" $NU firehose "$STREAM_PORT"
LP=$(it_free_port)
remote_shell -L "$LP:127.0.0.1:$STREAM_PORT"
timeout 30 $NU slowread "$LP" 20 100000 > "$T/slow.out" 2>&1 &
SLOW=$!
sleep 1
start=$(date +%s%N)
send Enter "~."
ended 255 && it_pass "~. ends sshtun while a forwarded connection is busy" ||
    it_fail "~. with a busy forward: $(screen | tail -3)"
took=$(( ($(date +%s%N) - start) / 1000000 ))
[ "$took" -lt 3000 ] && it_pass "... at once (${took} ms)" || it_fail "~. took ${took} ms with a busy forward"
kill $SLOW 2>/dev/null; wait $SLOW 2>/dev/null

remote_shell -L "$LP:127.0.0.1:$STREAM_PORT"
timeout 30 $NU slowread "$LP" 4 200000 > "$T/slow.out" 2>&1 &
SLOW=$!
sleep 1
send Enter "~&"
wait_for '~& \[backgrounded\]' 5 && it_pass "~& says it went to the background" || it_fail "~&: $(screen | tail -3)"
ended 0 && it_pass "~&: the foreground sshtun exits 0" || it_fail "~& status: $(screen | tail -3)"
wait $SLOW
n=$(cat "$T/slow.out")
[ "${n:-0}" -gt 100000 ] && it_pass "~&: the forwarded connection kept flowing in the background ($n bytes)" ||
    it_fail "~&: the forwarded connection got $n bytes"
for _ in $(seq 1 50); do pgrep -f "sshtun.*-L $LP:127" >/dev/null || break; sleep 0.2; done
pgrep -f "sshtun.*-L $LP:127" >/dev/null && it_fail "~&: the background sshtun is still there after its connection closed" ||
    it_pass "~&: the background sshtun ends once its forwarded connection closed"

# ---- a passenger of a master: ~. ends that session only -------------------------------------
"$T/st" -M -S "$T/ctl" -N -f 127.0.0.1
clear_pane
text "$T/st -S $T/ctl -t 127.0.0.1 'PS1=R\\\$\\  exec bash --norc --noprofile'; echo rc=\$?"
send Enter
wait_for '^R\$ ' 10 || it_fail "no remote shell through the master: $(screen | tail -3)"
send "~C"
wait_for '~C escape not available to multiplexed sessions' 5 &&
    it_pass "through a master: ~C is not available, in ssh's words" || it_fail "mux ~C: $(screen | tail -3)"
send Enter "~#"
wait_for 'client-session \(multiplexed\)' 5 && it_pass "through a master: ~# lists the session" ||
    it_fail "mux ~#: $(screen | tail -3)"
send Enter "~."
wait_for '^rc=' 10 && it_pass "through a master: ~. ends the passenger's session" ||
    it_fail "mux ~.: $(screen | tail -3)"
"$T/st" -S "$T/ctl" -O check 127.0.0.1 2>/dev/null && it_pass "... and the master goes on" ||
    it_fail "the master died with the passenger's ~."
"$T/st" -S "$T/ctl" -O exit 127.0.0.1 2>/dev/null

# ---- -e ----------------------------------------------------------------------------------------------
remote_shell -e '^A'
text "~."; send Enter
sleep 0.5
screen | grep -q 'bash: ~.: command not found' && it_pass "-e ^A: ~. is ordinary input" ||
    it_fail "-e ^A: ~.: $(screen | tail -3)"
send C-a "."
ended 255 && it_pass "-e ^A: ^A. ends the session" || it_fail "-e ^A: $(screen | tail -3)"
remote_shell -e none
text "~."; send Enter
sleep 0.5
screen | grep -q 'bash: ~.: command not found' && it_pass "-e none: no escapes" || it_fail "-e none: $(screen | tail -3)"
send "exit 0" Enter
ended 0 || it_fail "-e none: exit: $(screen | tail -3)"
remote_shell -o EscapeChar=%
send "%."
ended 255 && it_pass "EscapeChar %: %. ends the session" || it_fail "EscapeChar %: $(screen | tail -3)"

# ---- without a terminal --------------------------------------------------------------------------------
out=$(printf 'abc\n~.\nxyz\n' | "$T/st" 127.0.0.1 cat 2>&1 | grep -v '^debug'; echo "rc=${PIPESTATUS[1]}")
it_check "no tty: escapes are off, as in ssh (all input passes)" "abc ~. xyz rc=0" "$(echo $out)"
out=$( (printf 'abc\n'; sleep 2; printf '~.\nxyz\n'; sleep 5) | "$T/st" -e '~' 127.0.0.1 'cat' 2>&1 | tr -d '\r' | grep -v '^debug'; echo "rc=${PIPESTATUS[1]}")
it_check "no tty, -e ~: ~. ends the session" "abc ~. rc=255" "$(echo $out)"
out=$(printf 'a~~b\n~~c\n' | "$T/st" -e '~' 127.0.0.1 cat 2>&1 | grep -v '^debug'; echo "rc=${PIPESTATUS[1]}")
it_check "no tty, -e ~: ~~ sends one ~" "a~~b ~c rc=0" "$(echo $out)"

it_done
