#!/usr/bin/env bash
# it_tty.sh - sshtun in a real terminal (tmux; issue 10, item 1), against a
# throwaway sshd on 127.0.0.1, the way a person uses it:
#
# - `sshtun host cmd` typed at a shell prompt shows the output and exits by
#   itself, no key pressed (the local terminal used to be read in blocking
#   mode from the event loop: nothing appeared until Enter);
# - the same with stdin a pipe, /dev/null, or closed;
# - an interactive `-t` shell echoes what is typed, Ctrl-C interrupts the
#   remote command (not sshtun), a resize reaches the remote (`stty size`);
# - after exit, after the remote shell is killed, after sshtun itself is
#   sent SIGTERM, and after the master of a mux client is killed, the local
#   terminal is as it was: same `stty -g`, stdin not left non-blocking.
. "$(dirname "$0")/lib.sh"
it_init "$1"
command -v tmux >/dev/null || { echo "FAIL: tmux not installed"; exit 1; }
it_start_sshd
it_known_hosts

# The client as a person would type it, with the test's options.
cat > "$T/st" <<EOF
#!/bin/sh
exec "$SSHTUN" -F none -p $PORT -l $USER_NAME -i "$T/user_ed25519" -o IdentityAgent=none \\
    -o UserKnownHostsFile="$T/known_hosts" -o GlobalKnownHostsFile=/dev/null \\
    -o StrictHostKeyChecking=yes -o BatchMode=yes "\$@"
EOF
chmod 755 "$T/st"
cat > "$T/nb" <<'EOF'
#!/bin/sh
# Is stdin non-blocking?  (O_NONBLOCK left behind on a terminal breaks the shell.)
exec /usr/bin/python3 -c 'import fcntl, os; print("nonblock=%d" % bool(fcntl.fcntl(0, fcntl.F_GETFL) & os.O_NONBLOCK))'
EOF
chmod 755 "$T/nb"

TM="tmux -S $T/tmux.sock -f /dev/null"
tty_cleanup() {
    local rc=$?
    $TM kill-server 2>/dev/null
    (exit $rc)
    it_cleanup
}
trap tty_cleanup EXIT INT TERM

# A pane running a plain local shell with a known prompt.
$TM new-session -d -s t -x 100 -y 30 \
    "env -i HOME=$HOME PATH=$PATH TERM=xterm SHELL=/bin/bash PS1='L\$ ' bash --norc --noprofile"
sleep 0.3
$TM set-option -t t history-limit 5000 >/dev/null

screen() { $TM capture-pane -p -J -t t -S -3000; }
send() { $TM send-keys -t t "$@"; }
# wait_for <grep -E pattern> [seconds]: poll the screen, no key pressed.
wait_for() {
    local i n=$((${2:-10} * 10))
    for ((i = 0; i < n; i++)); do
        screen | grep -qE -- "$1" && return 0
        sleep 0.1
    done
    return 1
}
clear_pane() { send "clear" Enter; $TM clear-history -t t; sleep 0.2; }

wait_for '^L\$ ' 5 || { it_fail "local shell did not start: $(screen)"; it_done; exit 1; }
send "stty -g > $T/stty.before" Enter
sleep 0.3

# ---- output appears without a key press ---------------------------------------------------
clear_pane
send "$T/st 127.0.0.1 'echo out-\$((6*7))'; echo rc1=\$?" Enter
wait_for '^rc1=' 10 && it_pass "sshtun host cmd at a prompt ends by itself" ||
    it_fail "sshtun host cmd did not end without a key press: $(screen | tail -5)"
screen | grep -q '^out-42$' && it_pass "its output is shown" || it_fail "no output: $(screen | tail -5)"
screen | grep -q '^rc1=0$' && it_pass "exit status 0" || it_fail "status: $(screen | grep rc1=)"
send Enter # if it was waiting for a key, let it go before the next test
sleep 0.5

clear_pane
send "$T/st 127.0.0.1 'sleep 1; echo later'; echo rc2=\$?" Enter
wait_for '^rc2=' 10 && screen | grep -q '^later$' &&
    it_pass "output that comes a second later shows, and sshtun exits" ||
    it_fail "delayed output: $(screen | tail -5)"
send Enter
sleep 0.5

clear_pane
send "echo from-pipe | $T/st 127.0.0.1 cat; $T/st 127.0.0.1 'echo devnull' </dev/null; $T/st 127.0.0.1 'echo closed' <&-; echo rc3=\$?" Enter
wait_for '^rc3=' 15 || it_fail "stdin pipe, /dev/null, closed: did not finish: $(screen | tail -5)"
for w in from-pipe devnull closed; do
    screen | grep -q "^$w\$" && it_pass "stdin ${w/from-/}: output shown" || it_fail "stdin $w: $(screen | tail -6)"
done
screen | grep -q '^rc3=0$' && it_pass "stdin closed: status 0" || it_fail "stdin closed: $(screen | grep rc3=)"
send Enter
sleep 0.5

# ---- an interactive shell --------------------------------------------------------------------
clear_pane
send "$T/st -t 127.0.0.1 'env PS1=\"R> \" bash --norc --noprofile -i'; echo rc4=\$?" Enter
if wait_for '^R> ' 10; then
    it_pass "-t: the remote shell's prompt appears"
    send "echo typed-\$((6*7))" Enter
    wait_for '^typed-42$' 5 && it_pass "-t: typed command runs" || it_fail "-t: typed: $(screen | tail -4)"
    screen | grep -qF 'R> echo typed-$((6*7))' && it_pass "-t: typing is echoed by the remote terminal" ||
        it_fail "-t: no echo of typing: $(screen | tail -4)"
    send "sleep 30; echo not-interrupted" Enter
    sleep 1
    send C-c
    sleep 0.5
    send "echo after-int-\$((1+1))" Enter
    wait_for '^after-int-2$' 5 && it_pass "-t: Ctrl-C interrupted the remote command, the session goes on" ||
        it_fail "-t: Ctrl-C: $(screen | tail -5)"
    screen | grep -q '^not-interrupted$' && it_fail "-t: Ctrl-C did not interrupt the remote sleep"
    $TM resize-window -t t -x 91 -y 27
    sleep 0.5
    send "stty size" Enter
    wait_for '^27 91$' 5 && it_pass "-t: a resize reaches the remote (stty size 27 91)" ||
        it_fail "-t: resize: $(screen | tail -4)"
    send "exit" Enter
    wait_for '^rc4=' 10 && it_pass "-t: exit ends sshtun" || it_fail "-t: exit: $(screen | tail -4)"
    screen | grep -q '^rc4=0$' && it_pass "-t: status 0" || it_fail "-t: $(screen | grep rc4=)"
else
    it_fail "-t: no remote prompt: $(screen | tail -5)"
fi
$TM resize-window -t t -x 100 -y 30

# The local terminal as it was.
check_restored() { # <label>
    clear_pane
    send "stty -g > $T/stty.after; $T/nb" Enter
    wait_for '^nonblock=' 5
    if cmp -s "$T/stty.before" "$T/stty.after"; then
        it_pass "$1: terminal modes restored"
    else
        it_fail "$1: terminal modes differ: $(cat "$T/stty.before") / $(cat "$T/stty.after")"
        send "stty $(cat "$T/stty.before")" Enter
    fi
    screen | grep -q '^nonblock=0$' && it_pass "$1: stdin not left non-blocking" ||
        it_fail "$1: $(screen | grep nonblock=)"
}
check_restored "after exit"

# ---- the remote shell killed -------------------------------------------------------------------
clear_pane
send "$T/st -t 127.0.0.1 'env PS1=\"K> \" bash --norc --noprofile -i'; echo rc5=\$?" Enter
if wait_for '^K> ' 10; then
    send "echo \$\$ > $T/remote.pid" Enter
    sleep 0.5
    kill -KILL "$(cat "$T/remote.pid")"
    wait_for 'rc5=[0-9]' 10 && it_pass "remote shell killed: sshtun exits" || it_fail "remote killed: $(screen | tail -4)"
    screen | grep -qE 'rc5=255( |$)' && it_pass "remote shell killed: status 255" || it_fail "$(screen | grep rc5=)"
else
    it_fail "remote shell for the kill test did not start: $(screen | tail -4)"
fi
check_restored "after the remote shell was killed"

# ---- sshtun itself terminated ------------------------------------------------------------------
clear_pane
send "$T/st -t 127.0.0.1 'env PS1=\"S> \" bash --norc --noprofile -i'; echo rc6=\$?" Enter
if wait_for '^S> ' 10; then
    pid=$(pgrep -f "^$SSHTUN -F none -p $PORT .* -t 127.0.0.1" | head -1)
    [ -n "$pid" ] && kill -TERM "$pid"
    wait_for 'rc6=[0-9]' 10 && it_pass "sshtun sent SIGTERM: exits" || it_fail "SIGTERM: $(screen | tail -4)"
    screen | grep -qE 'rc6=255( |$)' && it_pass "sshtun sent SIGTERM: status 255" || it_fail "$(screen | grep rc6=)"
else
    it_fail "shell for the SIGTERM test did not start: $(screen | tail -4)"
fi
check_restored "after SIGTERM"

# ---- a mux client whose master dies under it ----------------------------------------------------
# The master sets the passed terminal non-blocking for its session; killed,
# it cannot put it back: the mux client does.
CP="$T/ctl"
"$T/st" -M -S "$CP" -N -o ControlPersist=no 127.0.0.1 </dev/null >"$T/master.log" 2>&1 &
MPID=$!
disown "$MPID" # killed below; no job report
BG_PIDS="${BG_PIDS:-} $MPID"
for _ in $(seq 1 100); do [ -S "$CP" ] && break; sleep 0.1; done
clear_pane
# (checked at once, in the same command line: bash itself clears the flag
# when its next read fails with EAGAIN)
send "$T/st -S $CP 127.0.0.1 'echo via-master; sleep 30'; echo rc7=\$?; $T/nb" Enter
if wait_for '^via-master$' 10; then
    kill -KILL "$MPID"
    wait_for '^nonblock=' 10 && it_pass "master killed: the mux client exits" || it_fail "master killed: $(screen | tail -4)"
    screen | grep -q '^nonblock=0$' && it_pass "master killed: the mux client put its stdin flags back" ||
        it_fail "master killed: $(screen | grep nonblock=)"
else
    it_fail "session through the master did not start: $(screen | tail -4) $(cat "$T/master.log")"
fi
check_restored "after the master of a mux client was killed"

it_done
