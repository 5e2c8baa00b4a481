#!/usr/bin/env bash
# it_workers.sh - sshtund with `Workers N` (issue 14 part 2): N network
# processes with their own loops, one privileged helper, one supervisor.
#
#   1. Workers 2: two worker processes (sshtund-w0, sshtund-w1) beside the
#      helper, children of the PidFile's process;
#   2. 12 concurrent logins (OpenSSH ssh) all work and are spread over both
#      workers (ss shows which process holds each connection);
#   3. MaxStartups 4:100:4 holds for the server, not per worker: of 10
#      idle connections exactly 6 are dropped, and once they close, logins
#      work again;
#   4. SIGHUP: every worker reloads (a Ciphers change refuses the old
#      cipher on all of them); a worker killed afterwards is restarted with
#      the reloaded configuration;
#   5. a worker killed (SIGKILL) with a session on it: its connection is
#      lost, the other worker's session goes on, the worker is restarted
#      (new pid) and logins work on it; workers that keep dying stop the
#      server with a message and status 255;
#   6. SIGTERM to the PidFile's process: new connections are refused, an
#      open session finishes, then everything exits with status 0; a
#      second SIGTERM closes open connections at once;
#   7. Workers 1 keeps the one-process model (no sshtund-w processes);
#      `sshtund -T` prints the default (the CPUs this process may use).
#
#   tests/integration/it_workers.sh <build-dir>
. "$(dirname "$0")/lib.sh"
it_init "$1"
SSHTUND="$BUILD/sshtund"
[ -x "$SSHTUND" ] || { echo "FAIL: $SSHTUND not built"; exit 1; }
for b in ssh ss /usr/bin/python3; do
    command -v "$b" >/dev/null || { echo "FAIL: $b not installed (tests/deps.sh)"; exit 1; }
done
PY=/usr/bin/python3

cl() {  # cl [ssh options...] command: OpenSSH ssh to the test sshtund
    timeout 30 ssh -F none -p "$PORT" -l "$USER_NAME" -i "$T/user_ed25519" \
        -o IdentitiesOnly=yes -o IdentityAgent=none -o UserKnownHostsFile="$T/kh" \
        -o GlobalKnownHostsFile=/dev/null -o StrictHostKeyChecking=yes -o BatchMode=yes \
        -o ConnectTimeout=10 127.0.0.1 "$@"
}
known_hosts() {
    echo "[127.0.0.1]:$PORT $(cut -d' ' -f1,2 "$T/host_ed25519.pub")" > "$T/kh"
}
workers() {  # the pids of the workers, in index order
    local i
    for i in $(seq 0 $((${1:-2} - 1))); do
        pgrep -P "$IT_SSHTUND_PID" -x "sshtund-w$i" | head -1
    done
}
holders() {  # holders: one line per established connection: the pid holding it
    ss -Htnp state established "( sport = :$PORT )" | sed -n 's/.*pid=\([0-9]*\),.*/\1/p'
}
alive_in_group() {  # processes of group $1 still running (zombies waiting for init do not count)
    ps -o stat= -g "$1" | grep -vc '^Z'
}
wait_for() {  # wait_for <seconds> <command...>: until the command succeeds
    local n=$(($1 * 10))
    shift
    for _ in $(seq 1 "$n"); do "$@" && return 0; sleep 0.1; done
    return 1
}

# ---- 1. processes --------------------------------------------------------
it_sshtund_start "Workers 2" "LoginGraceTime 60"
known_hosts
read -r W0 W1 <<< "$(workers | tr '\n' ' ')"
[ -n "$W0" ] && [ -n "$W1" ] && [ "$W0" != "$W1" ] &&
    it_pass "Workers 2: two worker processes ($W0, $W1)" ||
    it_fail "Workers 2: worker processes: '$W0' '$W1' ($(ps -o pid,comm --ppid "$IT_SSHTUND_PID" | tr '\n' ' '))"
it_check "the PidFile names the supervisor" "$IT_SSHTUND_PID" "$(cat "$T/sshtund.pid")"
HELPERS=$(pgrep -P "$IT_SSHTUND_PID" -x sshtund-priv | wc -l)
it_check "one privileged helper" 1 "$HELPERS"
if [ "$(id -u)" = 0 ]; then
    it_check "workers run as SshtundUser, not root" "no" \
        "$(ps -o user= -p "$W0" -p "$W1" | grep -qx root && echo root || echo no)"
fi

# ---- 2. logins spread over the workers -----------------------------------
CLS=""
for i in $(seq 1 12); do
    cl "echo login-$i; sleep 4" > "$T/login.$i" 2>&1 &
    CLS="$CLS $!"
done
# all 12 established, then who holds them
wait_for 20 sh -c "[ \$(ss -Htn state established '( sport = :$PORT )' | wc -l) -ge 12 ]"
sleep 0.5
holders > "$T/holders"
ON0=$(grep -cx "$W0" "$T/holders")
ON1=$(grep -cx "$W1" "$T/holders")
[ "$ON0" -ge 1 ] && [ "$ON1" -ge 1 ] && [ $((ON0 + ON1)) -eq 12 ] &&
    it_pass "12 connections spread over the workers ($ON0 + $ON1)" ||
    it_fail "12 connections spread over the workers: worker 0 $ON0, worker 1 $ON1 ($(sort "$T/holders" | uniq -c | tr '\n' ' '))"
wait $CLS
OK=0
for i in $(seq 1 12); do grep -qx "login-$i" "$T/login.$i" && OK=$((OK + 1)); done
it_check "12 logins worked (on both workers)" 12 "$OK"

# ---- 3. MaxStartups over all workers -------------------------------------
it_sshtund_start "Workers 2" "MaxStartups 4:100:4" "LoginGraceTime 60"
known_hosts
cat > "$T/hold.py" <<'EOF'
# hold.py PORT N: open N connections one after another, then report how
# many the server closed (EOF within 3 s) and how many stay open.
import socket, sys, time
port, n = int(sys.argv[1]), int(sys.argv[2])
socks = []
for _ in range(n):
    s = socket.create_connection(("127.0.0.1", port))
    socks.append(s)
    time.sleep(0.05)
closed = set()
got = {}
deadline = time.time() + 3
while time.time() < deadline and len(closed) < n:
    for i, s in enumerate(socks):
        if i in closed:
            continue
        s.settimeout(0.05)
        try:
            d = s.recv(4096)
            if d:
                got[i] = True
            else:
                closed.add(i)
                if i in got:
                    print("banner-on-closed", i, flush=True)
        except socket.timeout:
            pass
        except OSError:
            closed.add(i)
print("closed", len(closed), "open", n - len(closed), flush=True)
sys.stdout.flush()
sys.stdin.readline()  # hold the open ones until told
EOF
mkfifo "$T/hold.in"
$PY "$T/hold.py" "$PORT" 10 < "$T/hold.in" > "$T/hold.out" 2>&1 &
HOLD=$!
exec 7> "$T/hold.in"
wait_for 15 grep -q closed "$T/hold.out"
it_check "MaxStartups 4:100:4 with 2 workers: 6 of 10 dropped, 4 open" "closed 6 open 4" \
    "$(grep closed "$T/hold.out")"
DROPS=$(grep -c "^drop connection #[0-9]* from .* past MaxStartups" "$T/sshtund.log")
it_check "the helper logged 6 drops" 6 "$DROPS"
OPEN_ON=$(holders | sort -u | wc -l)
echo "   (the 4 open connections are on $OPEN_ON worker(s))"
# the dropped ones saw no banner: the workers send nothing before the
# helper's verdict (as sshd drops before its version line)
it_check "no banner on a dropped connection" 0 "$(grep -c "^banner-on-closed" "$T/hold.out")"
# a login now would be a fifth unauthenticated connection: dropped
cl true 2>/dev/null && it_fail "a login past MaxStartups was served" ||
    it_pass "a login past MaxStartups is dropped"
exec 7>&-
wait "$HOLD"
sleep 0.5
R=$(cl echo after-maxstartups 2>&1)
it_check "after the idle connections close, logins work again" "after-maxstartups" "$R"

# ---- 4. SIGHUP reloads every worker --------------------------------------
it_sshtund_start "Workers 2" "LoginGraceTime 60"
known_hosts
R=$(cl -c aes128-ctr echo cipher-ok 2>&1)
it_check "before SIGHUP: aes128-ctr accepted" "cipher-ok" "$R"
echo "Ciphers aes256-ctr" >> "$T/sshtund_config"
kill -HUP "$(cat "$T/sshtund.pid")"
wait_for 10 sh -c "grep -q 'worker 0: configuration reloaded' '$T/sshtund.log' &&
                   grep -q 'worker 1: configuration reloaded' '$T/sshtund.log'" &&
    it_pass "SIGHUP: both workers reloaded" || it_fail "SIGHUP: $(grep -i reload "$T/sshtund.log")"
REFUSED=0
for i in $(seq 1 8); do
    cl -c aes128-ctr echo x > /dev/null 2>&1 || REFUSED=$((REFUSED + 1))
done
it_check "after SIGHUP: aes128-ctr refused on every worker (8 tries)" 8 "$REFUSED"
ss -Htn state time-wait >/dev/null
R=$(cl -c aes256-ctr echo cipher-new 2>&1)
it_check "after SIGHUP: aes256-ctr accepted" "cipher-new" "$R"
read -r W0 W1 <<< "$(workers | tr '\n' ' ')"
kill -KILL "$W1"
wait_for 10 sh -c "pgrep -P $IT_SSHTUND_PID -x sshtund-w1 | grep -vqx $W1"
sleep 0.5
REFUSED=0
for i in $(seq 1 8); do
    cl -c aes128-ctr echo x > /dev/null 2>&1 || REFUSED=$((REFUSED + 1))
done
it_check "a worker restarted after SIGHUP has the reloaded configuration (8 tries)" 8 "$REFUSED"

# ---- 5. a killed worker ---------------------------------------------------
it_sshtund_start "Workers 2" "LoginGraceTime 60"
known_hosts
read -r W0 W1 <<< "$(workers | tr '\n' ' ')"
# sessions until one is on each worker
CLS=""
for i in $(seq 1 10); do
    cl "echo start-$i; sleep 6; echo survived-$i" > "$T/sess.$i" 2>&1 &
    CLS="$CLS $!"
done
wait_for 20 sh -c "[ \$(ss -Htn state established '( sport = :$PORT )' | wc -l) -ge 10 ]"
sleep 0.5
ss -Htnp state established "( sport = :$PORT )" > "$T/ss.kill"
ON1=$(grep -c "pid=$W1," "$T/ss.kill")
ON0=$(grep -c "pid=$W0," "$T/ss.kill")
kill -KILL "$W1"
wait $CLS
LOST=0
SURV=0
for i in $(seq 1 10); do
    grep -qx "survived-$i" "$T/sess.$i" && SURV=$((SURV + 1)) || LOST=$((LOST + 1))
done
it_check "killed worker 1: its $ON1 sessions lost, worker 0's $ON0 went on" "$ON1 $ON0" "$LOST $SURV"
grep -q "worker 1 (pid $W1) killed by signal 9; its connections are lost; restarting it" \
    "$T/sshtund.log" && it_pass "the supervisor says so and restarts it" ||
    it_fail "no restart message: $(grep -i worker "$T/sshtund.log" | tail -5)"
NW1=$(pgrep -P "$IT_SSHTUND_PID" -x sshtund-w1 | head -1)
[ -n "$NW1" ] && [ "$NW1" != "$W1" ] && it_pass "worker 1 restarted (pid $W1 -> $NW1)" ||
    it_fail "worker 1 not restarted ('$NW1')"
OK=0
for i in $(seq 1 8); do
    cl "echo ok" 2>/dev/null | grep -qx ok && OK=$((OK + 1))
done
holders > /dev/null
it_check "logins after the restart (8)" 8 "$OK"
# workers that keep dying: the server stops (status 255) and says why
for i in $(seq 1 14); do
    P=$(pgrep -P "$IT_SSHTUND_PID" -x sshtund-w0 | head -1)
    [ -n "$P" ] || break
    kill -KILL "$P"
    wait_for 5 sh -c "! pgrep -P $IT_SSHTUND_PID -x sshtund-w0 | grep -qx $P"
done
wait_for 10 sh -c "! kill -0 $IT_SSHTUND_PID 2>/dev/null"
wait "$IT_SSHTUND_PID" 2>/dev/null
RC=$?
it_check "workers that keep dying stop the server (status 255)" 255 "$RC"
grep -q "workers keep dying" "$T/sshtund.log" && it_pass "... with a message" ||
    it_fail "no 'workers keep dying' message: $(tail -3 "$T/sshtund.log")"
LEFT=$(alive_in_group "$IT_SSHTUND_PID")
it_check "... and nothing of it is left (helper, workers)" 0 "$LEFT"
IT_SSHTUND_PID=

# ---- 6. SIGTERM ------------------------------------------------------------
it_sshtund_start "Workers 2" "LoginGraceTime 60"
known_hosts
cl "echo begun; sleep 3; echo finished" > "$T/term.out" 2>&1 &
CLP=$!
wait_for 10 grep -q begun "$T/term.out"
kill -TERM "$(cat "$T/sshtund.pid")"
sleep 0.5
START=$(date +%s%N)
cl echo new > "$T/term.new" 2>&1
NEWRC=$?
MS=$((($(date +%s%N) - START) / 1000000))
[ "$NEWRC" != 0 ] && grep -q "refused" "$T/term.new" && [ "$MS" -lt 3000 ] &&
    it_pass "after SIGTERM new connections are refused (${MS} ms)" ||
    it_fail "after SIGTERM: rc $NEWRC in ${MS} ms: $(cat "$T/term.new")"
wait "$CLP"
grep -qx finished "$T/term.out" && it_pass "the open session finished after SIGTERM" ||
    it_fail "the open session: $(cat "$T/term.out")"
wait_for 10 sh -c "! kill -0 $IT_SSHTUND_PID 2>/dev/null"
wait "$IT_SSHTUND_PID" 2>/dev/null
it_check "then sshtund exits with status 0" 0 "$?"
it_check "... with nothing left" 0 "$(alive_in_group "$IT_SSHTUND_PID")"
IT_SSHTUND_PID=
# a second SIGTERM closes connections at once
it_sshtund_start "Workers 2" "LoginGraceTime 60"
known_hosts
cl "echo begun; sleep 30; echo finished" > "$T/term2.out" 2>&1 &
CLP=$!
wait_for 10 grep -q begun "$T/term2.out"
START=$(date +%s)
kill -TERM "$(cat "$T/sshtund.pid")"
sleep 0.3
kill -TERM "$(cat "$T/sshtund.pid")"
wait "$CLP"
wait_for 10 sh -c "! kill -0 $IT_SSHTUND_PID 2>/dev/null"
EL=$(($(date +%s) - START))
[ "$EL" -lt 10 ] && ! grep -q finished "$T/term2.out" &&
    it_pass "a second SIGTERM closes the open session at once (${EL} s)" ||
    it_fail "second SIGTERM: ${EL} s, $(cat "$T/term2.out")"
IT_SSHTUND_PID=

# ---- 7. Workers 1 and the default ----------------------------------------
it_sshtund_start "Workers 1"
known_hosts
it_check "Workers 1: no worker processes" 0 "$(pgrep -P "$IT_SSHTUND_PID" "sshtund-w" | wc -l)"
R=$(cl echo one 2>&1)
it_check "Workers 1: login" "one" "$R"
it_sshtund_stop
NCPU=$($PY -c 'import os; print(min(len(os.sched_getaffinity(0)), 256))')
D=$("$SSHTUND" -T -f /dev/null -o "HostKey $T/host_ed25519" | sed -n 's/^workers //p')
it_check "Workers defaults to the CPUs this process may use" "$NCPU" "$D"
D=$(taskset -c 0 "$SSHTUND" -T -f /dev/null -o "HostKey $T/host_ed25519" | sed -n 's/^workers //p')
it_check "... (1 under taskset -c 0)" 1 "$D"
"$SSHTUND" -t -f /dev/null -o "HostKey $T/host_ed25519" -o "Workers 0" 2>"$T/w0.err"
RC=$?
[ "$RC" = 255 ] && grep -q Workers "$T/w0.err" && it_pass "Workers 0 is refused" ||
    it_fail "Workers 0: rc $RC, $(cat "$T/w0.err")"
it_done
