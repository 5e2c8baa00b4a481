#!/usr/bin/env bash
# it_server.sh - sshtund against real clients: OpenSSH ssh, and sshtun.
#
# sshtund runs as root (privilege separated: the network process drops to
# SshtundUser, a helper spawns sessions as the user), on 127.0.0.1, with
# throwaway keys.  A test user is created for the non-root session and the
# single-user (non-root) server tests and removed at the end.
#
#   tests/integration/it_server.sh <build-dir>
. "$(dirname "$0")/lib.sh"
it_init "$1"
SSHTUND="$BUILD/sshtund"
[ -x "$SSHTUND" ] || { echo "FAIL: $SSHTUND not built"; exit 1; }
ROOT_DIR=$(cd "$(dirname "$0")/../.." && pwd)
NU="python3 $ROOT_DIR/tests/integration/netutil.py"
TUSER=sshtun-it$$
TUSER_CREATED=0

server_cleanup() {
    local rc=$?
    [ -n "${SSHTUND_PID:-}" ] && kill -KILL -- "-$SSHTUND_PID" 2>/dev/null
    [ -n "${USERD_PID:-}" ] && kill -KILL -- "-$USERD_PID" 2>/dev/null
    pkill -KILL -u "$TUSER" 2>/dev/null
    [ "$TUSER_CREATED" = 1 ] && userdel "$TUSER" 2>/dev/null
    (exit $rc)
    it_cleanup
}
trap server_cleanup EXIT INT TERM

if [ "$(id -u)" != 0 ]; then
    echo "SKIP-NOT-COUNTED: it_server.sh needs root (privilege separation, test user)"
    exit 77
fi

# sshtund with the test's keys; extra config lines as arguments.  The
# config is kept in $T/sshtund_config for edits (SIGHUP test).
write_sshtund_config() {
    {
        echo "Port $PORT"
        echo "ListenAddress 127.0.0.1"
        for k in ed25519 ecdsa rsa; do echo "HostKey $T/host_$k"; done
        echo "AuthorizedKeysFile $T/authorized_keys .ssh/authorized_keys"
        # ($T is under /tmp, which others can write: StrictModes would
        # refuse $T/authorized_keys, as sshd's would; it_privsep tests it)
        echo "StrictModes no"
        echo "PidFile $T/sshtund.pid"
        echo "PermitRootLogin yes"
        echo "LogLevel DEBUG1"
        echo "Subsystem echo-sub /bin/cat"
        echo "AcceptEnv IT_*"
        for l in "$@"; do echo "$l"; done
    } > "$T/sshtund_config"
}

# it_start_sshtund [config lines...]; HOSTS_FILE (optional) replaces
# /etc/hosts for it (a private mount namespace); WRAP (optional) is a
# command prefix (e.g. "prlimit --nofile=40:40").
it_start_sshtund() {
    stop_sshtund
    local try
    for try in 1 2 3 4 5; do
        PORT=$(it_free_port)
        write_sshtund_config "$@"
        : > "$T/sshtund.log"
        if [ -n "${HOSTS_FILE:-}" ]; then
            setsid unshare -m sh -c "mount --bind '$HOSTS_FILE' /etc/hosts && exec '$SSHTUND' -D -e -f '$T/sshtund_config'" \
                > "$T/sshtund.log" 2>&1 &
        else
            setsid ${WRAP:-} "$SSHTUND" -D -e -f "$T/sshtund_config" > "$T/sshtund.log" 2>&1 &
        fi
        SSHTUND_PID=$!
        for _ in $(seq 1 200); do
            if grep -q "ready" "$T/sshtund.log" 2>/dev/null; then
                it_known_hosts_srv
                return 0
            fi
            kill -0 "$SSHTUND_PID" 2>/dev/null || break
            sleep 0.05
        done
        grep -q "Address already in use" "$T/sshtund.log" && continue
        echo "FAIL: sshtund did not start:"; cat "$T/sshtund.log"; exit 1
    done
    echo "FAIL: no free port for sshtund"; exit 1
}

stop_sshtund() {
    [ -n "${SSHTUND_PID:-}" ] || return 0
    kill -TERM -- "-$SSHTUND_PID" 2>/dev/null
    kill -TERM "$SSHTUND_PID" 2>/dev/null
    for _ in $(seq 1 40); do kill -0 "$SSHTUND_PID" 2>/dev/null || break; sleep 0.05; done
    kill -KILL -- "-$SSHTUND_PID" 2>/dev/null
    wait "$SSHTUND_PID" 2>/dev/null
    SSHTUND_PID=
}

it_known_hosts_srv() {
    : > "$T/known_hosts"
    for k in ed25519 ecdsa rsa; do
        echo "[127.0.0.1]:$PORT $(cut -d' ' -f1,2 "$T/host_$k.pub")" >> "$T/known_hosts"
    done
}

# The two clients, same options, as scripts (so that script(1) can run
# them on a terminal).  $CL selects one; IDENT overrides the key.
# `timeout --foreground` keeps the client in its caller's process group: a
# group of timeout's own is a background group on script(1)'s terminal, and
# the client's raw-mode tcsetattr would stop it there with SIGTTOU.
for prog in ssh sshtun; do
    bin=$(command -v ssh)
    [ $prog = sshtun ] && bin=$SSHTUN
    cat > "$T/cl_$prog" <<EOF
#!/bin/sh
exec timeout --foreground 60 "$bin" -F none -p "\$PORT" -i "\${IDENT:-$T/user_ed25519}" -o IdentitiesOnly=yes \\
    -o IdentityAgent=none -o UserKnownHostsFile="$T/known_hosts" \\
    -o GlobalKnownHostsFile=/dev/null -o StrictHostKeyChecking=yes -o BatchMode=yes \\
    -o LogLevel="\${LL:-ERROR}" "\$@"
EOF
    chmod 755 "$T/cl_$prog"
done
export PORT
run_ssh() { "$T/cl_ssh" "$@"; }
run_sshtun() { "$T/cl_sshtun" "$@"; }
C() { "$T/cl_$CL" "$@"; }

bg_client() {  # bg_client <log> args...: a forwarding client in the background
    local log=$1
    shift
    C "$@" > "$log" 2>&1 &
    BG_PID=$!
    BG_PIDS="${BG_PIDS:-} $BG_PID"
}

kill_bg() { kill "$1" 2>/dev/null; wait "$1" 2>/dev/null; }

# fwd_roundtrip <label> <L|R> <n>: a -L or -R forward from a fresh port to
# the echo server, n concurrent connections doing 5 round trips through it.
fwd_roundtrip() {
    local port
    port=$(it_free_port)
    bg_client "$T/$2.log" -N "-$2" "$port:127.0.0.1:$ECHO_PORT" 127.0.0.1
    it_wait_port "$port" || it_fail "$1: port $port not listening"
    it_check "$1" ok "$(timeout 60 $NU roundtrip "$port" "$3" 5)"
    kill_bg "$BG_PID"
}

# ---- peers ----------------------------------------------------------------------------
ECHO_PORT=$(it_free_port)
it_bg "$T/echo.log" $NU echo "$ECHO_PORT"
it_bg "$T/uecho.log" $NU echo "$T/echo.sock"
head -c 33554432 /dev/urandom > "$T/big"
BIG_SUM=$(sha256sum < "$T/big" | cut -d' ' -f1)

it_start_sshtund
# SshtundUser: "sshtund" where it exists (the package creates it), else
# nobody (it_privsep checks which, and the confinement)
NETUSER=$(sed -n 's/.*network process running as \([a-z_-]*\).*/\1/p' "$T/sshtund.log" | head -1)
case $NETUSER in
sshtund | nobody) it_pass "network process dropped to $NETUSER" ;;
*) it_fail "no privilege drop: $(cat "$T/sshtund.log")" ;;
esac
# the network process: a worker (Workers > 1, the default with several CPUs)
# or the process started (Workers 1)
NETPID=$(pgrep -P "$SSHTUND_PID" -x sshtund-w0 | head -1)
[ -n "$NETPID" ] || NETPID=$SSHTUND_PID
[ "$(stat -c %U /proc/$NETPID)" = "$NETUSER" ] && it_pass "network process owned by $NETUSER" ||
    it_fail "network process runs as $(stat -c %U /proc/$NETPID)"

# -E: a log file that cannot be opened is a clear error, before anything starts
"$SSHTUND" -t -E "$T/no-such-dir/sshtund.log" -f "$T/sshtund_config" 2>"$T/err"
it_check "-E with an unwritable path exits 255" 255 $?
grep -q "sshtund: $T/no-such-dir/sshtund.log: No such file or directory" "$T/err" &&
    it_pass "-E failure names the file and the reason" || it_fail "-E failure: $(cat "$T/err")"

for CL in ssh sshtun; do
    echo "== client: $CL"
    # -- exec and exit statuses
    out=$(C 127.0.0.1 'echo hello')
    it_check "$CL: exec output" hello "$out"
    C 127.0.0.1 'exit 0'; it_check "$CL: exit 0" 0 $?
    C 127.0.0.1 'exit 3'; it_check "$CL: exit 3" 3 $?
    C 127.0.0.1 'kill -9 $$' 2>"$T/err"; it_check "$CL: killed by signal -> 255" 255 $?
    C 127.0.0.1 'echo out; echo err >&2' >"$T/out" 2>"$T/err"
    it_check "$CL: stdout apart" out "$(cat "$T/out")"
    it_check "$CL: stderr apart" err "$(cat "$T/err")"
    sum=$(C 127.0.0.1 sha256sum < "$T/big" | cut -d' ' -f1)
    it_check "$CL: 32 MiB stdin sha256" "$BIG_SUM" "$sum"
    sum=$(C 127.0.0.1 "cat '$T/big'" | sha256sum | cut -d' ' -f1)
    it_check "$CL: 32 MiB stdout sha256" "$BIG_SUM" "$sum"
    out=$(C 127.0.0.1 'head -c 1000000 /dev/zero' | head -c 10 | wc -c)
    it_check "$CL: early-closing reader" 10 "$out"
    out=$(IT_VAR=passed C -o SendEnv=IT_VAR 127.0.0.1 'echo $IT_VAR')
    it_check "$CL: AcceptEnv IT_* passes IT_VAR" passed "$out"
    out=$(C 127.0.0.1 'echo $SSH_CONNECTION' | awk '{print $1, $3, $4}')
    it_check "$CL: SSH_CONNECTION" "127.0.0.1 127.0.0.1 $PORT" "$out"
    out=$(echo subsys | C -s 127.0.0.1 echo-sub)
    it_check "$CL: subsystem" subsys "$out"
    # -- pty
    out=$(C -tt 127.0.0.1 'tty' </dev/null | tr -d '\r')
    case "$out" in /dev/pts/*) it_pass "$CL: -tt allocates a pty ($out)" ;; *) it_fail "$CL: -tt: '$out'" ;; esac
    # SHELL pinned to dash, as CI has it: dash -c forks for its last
    # command, so a client left in a background group (see the wrapper's
    # --foreground) is stopped here as it would be in CI, not only there.
    out=$(TERM=vt220 SHELL=/bin/sh timeout 90 script -qec "stty rows 33 cols 101; $T/cl_$CL -t 127.0.0.1 'stty size; echo \$TERM'" /dev/null </dev/null | tr -d '\r' | sed 's/\^@//g' | tr '\n' ' ')
    # (script(1) echoes the EOF of its /dev/null stdin as "^@", with sshd too)
    it_check "$CL: pty size and TERM from the client" "33 101 vt220 " "$out"
    out=$(C -tt 127.0.0.1 'stty -a' </dev/null | tr -d '\r' | grep -o 'eol = [^;]*')
    it_check "$CL: characters the client leaves undefined stay undefined" "eol = <undef>" "$out"

    # -- -L with 300 concurrent connections
    fwd_roundtrip "$CL: -L 300 concurrent connections" L 300

    # -- -R fixed and port 0
    fwd_roundtrip "$CL: -R fixed port" R 20
    LL=INFO bg_client "$T/R0.log" -N -R "0:127.0.0.1:$ECHO_PORT" 127.0.0.1
    for _ in $(seq 1 100); do grep -q "Allocated port" "$T/R0.log" && break; sleep 0.05; done
    AP=$(sed -n 's/.*Allocated port \([0-9]*\).*/\1/p' "$T/R0.log" | head -1)
    if [ -n "$AP" ]; then
        out=$(timeout 60 $NU roundtrip "$AP" 20 5)
        it_check "$CL: -R 0 allocated port $AP works" ok "$out"
    else
        it_fail "$CL: -R 0: no allocated port reported: $(cat "$T/R0.log")"
    fi
    kill_bg "$BG_PID"

    # -- Unix socket forwarding both ways
    rm -f "$T/lsock" "$T/rsock"
    bg_client "$T/S.log" -N -L "$T/lsock:$T/echo.sock" -R "$T/rsock:127.0.0.1:$ECHO_PORT" 127.0.0.1
    for _ in $(seq 1 100); do [ -S "$T/lsock" ] && [ -S "$T/rsock" ] && break; sleep 0.05; done
    out=$(timeout 30 $NU roundtrip "$T/lsock" 10 3)
    it_check "$CL: -L unix -> direct-streamlocal" ok "$out"
    out=$(timeout 30 $NU roundtrip "$T/rsock" 10 3)
    it_check "$CL: -R unix (streamlocal-forward)" ok "$out"
    kill_bg "$BG_PID"
    rm -f "$T/lsock" "$T/rsock"

    # -- refusals
    LL=INFO C -o ExitOnForwardFailure=no -W 127.0.0.1:1 127.0.0.1 </dev/null >/dev/null 2>"$T/err"
    grep -qi "connect failed: Connection refused" "$T/err" &&
        it_pass "$CL: direct-tcpip to a closed port: CONNECT_FAILED with the reason" ||
        it_fail "$CL: closed-port refusal: $(cat "$T/err")"
    LL=INFO C -W no-such-host.invalid:80 127.0.0.1 </dev/null >/dev/null 2>"$T/err"
    grep -qi "connect failed: .*\(not known\|not found\|resolve\)" "$T/err" &&
        it_pass "$CL: unresolvable target: the resolver's reason" ||
        it_fail "$CL: unresolvable target: $(cat "$T/err")"
    IDENT="$T/host_ed25519" C 127.0.0.1 true 2>"$T/err"
    it_check "$CL: unauthorized key denied" 255 $?
    grep -q "Permission denied" "$T/err" && it_pass "$CL: Permission denied message" ||
        it_fail "$CL: denial message: $(cat "$T/err")"
done

# ---- MaxSessions: two run, the third is refused, the connection goes on ---------------------
it_start_sshtund "MaxSessions 2"
CTL="$T/ctl"
LL=INFO run_ssh -M -S "$CTL" -o ControlPersist=no -N -f -E "$T/master.log" 127.0.0.1
run_ssh -S "$CTL" 127.0.0.1 'sleep 2; echo one' > "$T/s1" 2>&1 &
P1=$!
run_ssh -S "$CTL" 127.0.0.1 'sleep 2; echo two' > "$T/s2" 2>&1 &
P2=$!
sleep 0.7
run_ssh -S "$CTL" 127.0.0.1 'echo three' > "$T/s3" 2>&1
# ssh's mux client, refused, falls back to a connection of its own.
grep -q "Session open refused by peer" "$T/s3" &&
    it_pass "ssh: third session over MaxSessions 2 refused to the master" ||
    it_fail "ssh: third session not refused: $(cat "$T/s3")"
grep -q "three" "$T/s3" && it_pass "ssh: the refused session ran on a connection of its own" ||
    it_fail "ssh: third session: $(cat "$T/s3")"
wait $P1; wait $P2
it_check "ssh: first session ran" one "$(cat "$T/s1")"
it_check "ssh: second session ran" two "$(cat "$T/s2")"
grep -q "administratively prohibited: session limit reached (MaxSessions 2)" "$T/master.log" "$T/s3" &&
    it_pass "ssh: refusal says 'session limit reached (MaxSessions 2)'" ||
    it_fail "ssh: refusal text: $(cat "$T/master.log" "$T/s3")"
out=$(run_ssh -S "$CTL" 127.0.0.1 'echo again')
it_check "ssh: the connection survives the refusal" again "$out"
run_ssh -S "$CTL" -O exit 127.0.0.1 2>/dev/null
# sshtun as master spreads sessions over extra connections past the limit.
LL=VERBOSE run_sshtun -M -S "$CTL" -o ControlPersist=yes -N -f -E "$T/tmaster.log" 127.0.0.1
for i in 1 2 3; do run_sshtun -S "$CTL" 127.0.0.1 "sleep 2; echo s$i" > "$T/t$i" 2>&1 & eval "TP$i=\$!"; sleep 0.3; done
wait $TP1 $TP2 $TP3
it_check "sshtun: three sessions with MaxSessions 2 all ran" "s1 s2 s3" "$(cat "$T/t1" "$T/t2" "$T/t3" | tr '\n' ' ' | sed 's/ $//')"
grep -q "session limit reached (MaxSessions 2)" "$T/tmaster.log" "$T/sshtund.log" &&
    it_pass "sshtun: the server's refusal was seen" || it_fail "sshtun: no refusal seen"
run_sshtun -S "$CTL" -O exit 127.0.0.1 2>/dev/null

# ---- MaxChannels: a clear resource-shortage refusal -----------------------------------------
it_start_sshtund "MaxChannels 3"
LP=$(it_free_port)
CL=ssh LL=INFO bg_client "$T/mc.log" -N -L "$LP:127.0.0.1:$ECHO_PORT" 127.0.0.1
it_wait_port "$LP"
out=$(timeout 30 $NU roundtrip "$LP" 6 1 2>&1)
grep -q "resource shortage: channel limit reached (MaxChannels 3)" "$T/mc.log" &&
    it_pass "MaxChannels 3: the 4th channel refused with the reason" ||
    it_fail "MaxChannels: $(cat "$T/mc.log")"
out=$(timeout 30 $NU roundtrip "$LP" 2 2)
it_check "MaxChannels: the connection goes on" ok "$out"
kill_bg "$BG_PID"

# ---- AllowTcpForwarding no, by SIGHUP: new connections only ---------------------------------
it_start_sshtund
LP=$(it_free_port)
CL=ssh bg_client "$T/old.log" -N -L "$LP:127.0.0.1:$ECHO_PORT" 127.0.0.1
OLD=$BG_PID
it_wait_port "$LP"
write_sshtund_config "AllowTcpForwarding no"
kill -HUP "$SSHTUND_PID"
for _ in $(seq 1 100); do grep -q "configuration reloaded" "$T/sshtund.log" && break; sleep 0.05; done
grep -q "configuration reloaded" "$T/sshtund.log" && it_pass "SIGHUP reloads" || it_fail "no reload"
out=$(timeout 30 $NU roundtrip "$LP" 2 2)
it_check "old connection keeps its configuration" ok "$out"
kill_bg "$OLD"
for CL in ssh sshtun; do
    LP=$(it_free_port)
    LL=INFO bg_client "$T/new.log" -N -L "$LP:127.0.0.1:$ECHO_PORT" 127.0.0.1
    it_wait_port "$LP"
    timeout 10 $NU roundtrip "$LP" 1 1 >/dev/null 2>&1
    sleep 0.3
    grep -q "administratively prohibited: port forwarding refused by AllowTcpForwarding no" "$T/new.log" &&
        it_pass "$CL: AllowTcpForwarding no -> administratively prohibited, naming the rule" ||
        it_fail "$CL: AllowTcpForwarding no: $(cat "$T/new.log")"
    kill_bg "$BG_PID"
done

# ---- a target name with two addresses, the first refusing ----------------------------------
if unshare -m true 2>/dev/null; then
    cat /etc/hosts > "$T/hosts"
    echo "127.0.0.2 sshtund-multi" >> "$T/hosts"
    echo "127.0.0.1 sshtund-multi" >> "$T/hosts"
    HOSTS_FILE="$T/hosts" it_start_sshtund
    for CL in ssh sshtun; do
        out=$(echo multi | C -W "sshtund-multi:$ECHO_PORT" 127.0.0.1 2>"$T/err" | head -c 5)
        it_check "$CL: -W to a name whose first address refuses" multi "$out"
    done
    HOSTS_FILE= it_start_sshtund
else
    echo "note: unshare -m not permitted here; multi-address test not run"
fi

# ---- a non-root user: sessions run as that user ----------------------------------------------
useradd -M -d "$T/uhome" -s /bin/sh "$TUSER" && TUSER_CREATED=1
mkdir -p "$T/uhome/.ssh"
cp "$T/user_ed25519.pub" "$T/uhome/.ssh/authorized_keys"
chown -R "$TUSER" "$T/uhome"
chmod 755 "$T/uhome"
chmod 700 "$T/uhome/.ssh"
chmod 755 "$T"
for CL in ssh sshtun; do
    out=$(C -l "$TUSER" 127.0.0.1 'id -un; echo $HOME; pwd')
    it_check "$CL: session runs as the user (root server)" "$TUSER $T/uhome $T/uhome" "$(echo $out)"
    out=$(C -l "$TUSER" 127.0.0.1 'cat /etc/shadow >/dev/null 2>&1 && echo leak || echo denied')
    it_check "$CL: the user's session has no root rights" denied "$out"
done
# Match User: a rule for that user only
it_start_sshtund "Match User $TUSER" "AllowTcpForwarding no"
CL=ssh
LL=INFO C -l "$TUSER" -W "127.0.0.1:$ECHO_PORT" 127.0.0.1 </dev/null >/dev/null 2>"$T/err"
grep -q "administratively prohibited: port forwarding refused by AllowTcpForwarding no" "$T/err" &&
    it_pass "Match User: the user's block applies to that user" ||
    it_fail "Match User: $(cat "$T/err")"
out=$(echo others | C -W "127.0.0.1:$ECHO_PORT" 127.0.0.1 2>&1 | head -c 6)
it_check "Match User: other users keep the global rule" others "$out"
it_start_sshtund
# password authentication (crypt(3) against the shadow file)
echo "$TUSER:it-Secret-42" | chpasswd
printf '#!/bin/sh\necho it-Secret-42\n' > "$T/askpass"
chmod 755 "$T/askpass"
out=$(SSH_ASKPASS="$T/askpass" SSH_ASKPASS_REQUIRE=force DISPLAY=:0 timeout 30 ssh -F none -p "$PORT" \
    -o UserKnownHostsFile="$T/known_hosts" -o PreferredAuthentications=password \
    -o PubkeyAuthentication=no -o NumberOfPasswordPrompts=1 -l "$TUSER" 127.0.0.1 'id -un' 2>"$T/err")
it_check "ssh: password authentication" "$TUSER" "$out"
printf '#!/bin/sh\necho wrong\n' > "$T/askpass_bad"
chmod 755 "$T/askpass_bad"
SSH_ASKPASS="$T/askpass_bad" SSH_ASKPASS_REQUIRE=force DISPLAY=:0 timeout 30 ssh -F none -p "$PORT" \
    -o UserKnownHostsFile="$T/known_hosts" -o PreferredAuthentications=password \
    -o PubkeyAuthentication=no -o NumberOfPasswordPrompts=1 -l "$TUSER" 127.0.0.1 true 2>/dev/null
it_check "ssh: wrong password denied" 255 $?
grep -q "Failed password for $TUSER" "$T/sshtund.log" && it_pass "failed password logged" ||
    it_fail "failed password not logged"
run_ssh -l no-such-user-$$ 127.0.0.1 true 2>/dev/null
it_check "unknown user denied" 255 $?
grep -q "Invalid user no-such-user-$$" "$T/sshtund.log" && it_pass "invalid user logged" ||
    it_fail "invalid user not logged"

# ---- single-user mode: started by the user, serves only that user ---------------------------
UPORT=$(it_free_port)
cp "$T/host_ed25519" "$T/uhome/hk" && chown "$TUSER" "$T/uhome/hk"
cat > "$T/uhome/cfg" <<EOF
Port $UPORT
ListenAddress 127.0.0.1
HostKey $T/uhome/hk
PidFile none
LogLevel VERBOSE
EOF
chown "$TUSER" "$T/uhome/cfg"
setsid su -s /bin/sh "$TUSER" -c "exec '$SSHTUND' -D -e -f '$T/uhome/cfg'" > "$T/userd.log" 2>&1 &
USERD_PID=$!
it_wait_port "$UPORT" || it_fail "single-user sshtund did not start: $(cat "$T/userd.log")"
grep -q "single-user" "$T/userd.log" && it_pass "single-user mode announced" || it_fail "mode: $(cat "$T/userd.log")"
echo "[127.0.0.1]:$UPORT $(cut -d' ' -f1,2 "$T/host_ed25519.pub")" >> "$T/known_hosts"
for CL in ssh sshtun; do
    out=$(PORT=$UPORT C -l "$TUSER" 127.0.0.1 'id -un')
    it_check "$CL: single-user server serves its user" "$TUSER" "$out"
    PORT=$UPORT C -l root 127.0.0.1 true 2>/dev/null
    it_check "$CL: single-user server refuses other users" 255 $?
done
kill -TERM -- "-$USERD_PID" 2>/dev/null
wait "$USERD_PID" 2>/dev/null
USERD_PID=

# ---- timeouts -------------------------------------------------------------------------------
it_start_sshtund "UnusedConnectionTimeout 1" "ChannelTimeout direct-tcpip=1"
start=$(date +%s)
run_ssh -N 127.0.0.1 2>/dev/null
el=$(( $(date +%s) - start ))
[ "$el" -le 5 ] && it_pass "UnusedConnectionTimeout closes an unused connection (${el}s)" ||
    it_fail "UnusedConnectionTimeout: took ${el}s"
# ChannelTimeout alone: with UnusedConnectionTimeout 1 as well, a slow
# machine could end the tunnel's connection before its first channel opens.
it_start_sshtund "ChannelTimeout direct-tcpip=1"
LP=$(it_free_port)
CL=ssh bg_client "$T/ct.log" -N -L "$LP:127.0.0.1:$ECHO_PORT" 127.0.0.1
it_wait_port "$LP"
out=$(timeout 20 python3 - "$LP" <<'EOF'
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.sendall(b"x"); s.recv(1)
t = time.time()
s.settimeout(15)
d = s.recv(1)
print("closed" if d == b"" and time.time() - t < 10 else "open")
EOF
)
it_check "ChannelTimeout closes an idle forwarded channel" closed "$out"
kill_bg "$BG_PID"

# ---- a burst of authentications ----------------------------------------------------------------
# 900 connections authenticating at once (under MaxStartups' 1000): the
# network process and the privileged helper exchange thousands of requests
# and replies; neither may block on the other (both blocked in sendmsg()
# on a full socket was a deadlock once).
it_start_sshtund
out=$( (ulimit -n 4096 && timeout 120 python3 "$ROOT_DIR/tests/bench/sshload.py" hold "$PORT" \
        "$USER_NAME" "$T/user_ed25519" 900 1 900) 2>&1 | tail -2 | tr '\n' ' ')
case "$out" in
"burst ok=900 dropped=0 failed=0 ready held=900 "*) it_pass "900 simultaneous authentications all succeed" ;;
*) it_fail "burst of 900 authentications: $out" ;;
esac
out=$(run_ssh 127.0.0.1 'echo alive')
it_check "after the burst, a new session works" alive "$out"

# ---- out of descriptors: refuse with the reason, keep serving --------------------------------
WRAP="prlimit --nofile=40:40" it_start_sshtund
LP=$(it_free_port)
CL=ssh LL=INFO bg_client "$T/emfile.log" -N -L "$LP:127.0.0.1:$ECHO_PORT" 127.0.0.1
it_wait_port "$LP"
timeout 30 $NU roundtrip "$LP" 60 2 >/dev/null 2>&1
grep -q "open failed: connect failed: Too many open files" "$T/emfile.log" &&
    it_pass "out of descriptors: direct-tcpip refused with 'Too many open files'" ||
    it_fail "EMFILE refusal: $(head -5 "$T/emfile.log")"
kill -0 "$SSHTUND_PID" 2>/dev/null && it_pass "sshtund survives running out of descriptors" ||
    it_fail "sshtund died when out of descriptors: $(tail -5 "$T/sshtund.log")"
sleep 0.5
out=$(timeout 30 $NU roundtrip "$LP" 5 2 2>&1)
it_check "after the burst, the forward works again" ok "$out"
out=$(run_ssh 127.0.0.1 'echo alive')
it_check "after the burst, new connections and sessions work" alive "$out"
kill_bg "$BG_PID"

# ---- PermitOpen and authorized_keys options ----------------------------------------------------
ssh-keygen -q -t ed25519 -N '' -f "$T/forced_key" -C forced >/dev/null
ssh-keygen -q -t ed25519 -N '' -f "$T/restricted_key" -C restricted >/dev/null
ssh-keygen -q -t ed25519 -N '' -f "$T/permit_key" -C permit >/dev/null
{
    echo "command=\"echo forced \$SSH_ORIGINAL_COMMAND\" $(cat "$T/forced_key.pub")"
    echo "restrict $(cat "$T/restricted_key.pub")"
    echo "permitopen=\"127.0.0.1:$ECHO_PORT\" $(cat "$T/permit_key.pub")"
} >> "$T/authorized_keys"
it_start_sshtund "PermitOpen 127.0.0.1:$ECHO_PORT"
CL=ssh
out=$(echo permitted | C -W "127.0.0.1:$ECHO_PORT" 127.0.0.1 2>&1 | head -c 9)
it_check "PermitOpen: the permitted target is reached" permitted "$out"
LL=INFO C -W 127.0.0.1:1 127.0.0.1 </dev/null >/dev/null 2>"$T/err"
grep -q "administratively prohibited: .*PermitOpen" "$T/err" &&
    it_pass "PermitOpen: another target refused, naming PermitOpen" ||
    it_fail "PermitOpen refusal: $(cat "$T/err")"
out=$(IDENT="$T/forced_key" C 127.0.0.1 'echo asked' 2>&1)
it_check "authorized_keys command= replaces the command" "forced echo asked" "$out"
LL=INFO IDENT="$T/restricted_key" C -W "127.0.0.1:$ECHO_PORT" 127.0.0.1 </dev/null >/dev/null 2>"$T/err"
grep -q "administratively prohibited" "$T/err" &&
    it_pass "authorized_keys restrict: no port forwarding" ||
    it_fail "restrict: $(cat "$T/err")"
# (ssh -tt treats a refused pty as fatal, with sshd too)
out=$(IDENT="$T/restricted_key" C -tt 127.0.0.1 'tty' </dev/null 2>&1 | tr -d '\r')
case "$out" in
*"PTY allocation request failed"*) it_pass "authorized_keys restrict: no pty" ;;
*) it_fail "restrict pty: $out" ;;
esac
grep -q "pty refused for $USER_NAME (no-pty in authorized_keys)" "$T/sshtund.log" &&
    it_pass "the server log says why the pty was refused" ||
    it_fail "no pty refusal in the log"
it_start_sshtund
out=$(echo allowed | IDENT="$T/permit_key" C -W "127.0.0.1:$ECHO_PORT" 127.0.0.1 2>&1 | head -c 7)
it_check "authorized_keys permitopen: its target is reached" allowed "$out"
LL=INFO IDENT="$T/permit_key" C -W 127.0.0.1:1 127.0.0.1 </dev/null >/dev/null 2>"$T/err"
grep -q "administratively prohibited" "$T/err" &&
    it_pass "authorized_keys permitopen: another target refused" ||
    it_fail "permitopen refusal: $(cat "$T/err")"

# ---- LoginGraceTime, MaxAuthTries, ClientAliveInterval ----------------------------------------
it_start_sshtund "LoginGraceTime 2" "MaxAuthTries 2" "ClientAliveInterval 1" "ClientAliveCountMax 2"
out=$(timeout 20 python3 - "$PORT" <<'EOF2'
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
t = time.time()
s.settimeout(15)
try:
    while s.recv(4096):
        pass
except OSError:
    pass
print("closed-after-%d" % round(time.time() - t))
EOF2
)
case "$out" in
closed-after-[234]) it_pass "LoginGraceTime 2 closes a silent connection ($out)" ;;
*) it_fail "LoginGraceTime 2: $out" ;;
esac
ssh -F none -p "$PORT" -o IdentitiesOnly=yes -i "$T/host_ed25519" -i "$T/host_ecdsa" \
    -i "$T/host_rsa" -o UserKnownHostsFile="$T/known_hosts" -o BatchMode=yes \
    -o IdentityAgent=none 127.0.0.1 true 2>"$T/err"
grep -q "Too many authentication failures" "$T/err" "$T/sshtund.log" &&
    it_pass "MaxAuthTries 2: the third key is not tried" ||
    it_fail "MaxAuthTries: $(cat "$T/err")"
# (ssh itself, not through the timeout wrapper, so that SIGSTOP reaches it)
ssh -F none -p "$PORT" -i "$T/user_ed25519" -o IdentitiesOnly=yes -o IdentityAgent=none \
    -o UserKnownHostsFile="$T/known_hosts" -o BatchMode=yes -N 127.0.0.1 2>/dev/null &
BG_PID=$!
BG_PIDS="${BG_PIDS:-} $BG_PID"
sleep 1
kill -STOP "$BG_PID"
for _ in $(seq 1 100); do
    grep -q "Timeout, client not responding" "$T/sshtund.log" && break
    sleep 0.1
done
grep -q "Timeout, client not responding" "$T/sshtund.log" &&
    it_pass "ClientAliveInterval 1 x 2: an unresponsive client is dropped" ||
    it_fail "ClientAlive: $(tail -3 "$T/sshtund.log")"
kill -CONT "$BG_PID"
kill_bg "$BG_PID"

# ---- the privileged helper dies: the network process must not go on without it --------------
it_start_sshtund
HELPER=$(pgrep -P "$SSHTUND_PID" -x sshtund-priv | head -1)
if [ -n "$HELPER" ]; then
    kill -KILL "$HELPER"
    for _ in $(seq 1 60); do kill -0 "$SSHTUND_PID" 2>/dev/null || break; sleep 0.05; done
    kill -0 "$SSHTUND_PID" 2>/dev/null && it_fail "sshtund still running without its helper" ||
        it_pass "sshtund exits when its privileged helper is gone"
    grep -q "the privileged helper is gone" "$T/sshtund.log" && it_pass "and says why" ||
        it_fail "helper loss not logged: $(tail -3 "$T/sshtund.log")"
    wait "$SSHTUND_PID" 2>/dev/null
    SSHTUND_PID=
else
    it_fail "no sshtund-priv helper process found"
fi

# ---- SIGTERM: stop listening, let connections finish -----------------------------------------
it_start_sshtund
run_ssh 127.0.0.1 'sleep 1.5; echo finished' > "$T/late" 2>&1 &
LATE=$!
sleep 0.7
kill -TERM "$SSHTUND_PID"
sleep 0.3
(exec 3<>/dev/tcp/127.0.0.1/$PORT) 2>/dev/null && it_fail "still listening after SIGTERM" ||
    it_pass "SIGTERM stops listening"
wait $LATE
it_check "SIGTERM lets a running session finish" finished "$(cat "$T/late")"
for _ in $(seq 1 60); do kill -0 "$SSHTUND_PID" 2>/dev/null || break; sleep 0.05; done
kill -0 "$SSHTUND_PID" 2>/dev/null && it_fail "sshtund still running after its last connection" ||
    it_pass "sshtund exits after its last connection"
SSHTUND_PID=

it_done
