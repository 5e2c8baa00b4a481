# lib.sh - shared helpers for integration tests against real OpenSSH peers.
#
# Source it from a test script; it creates a private temporary directory
# ($T) with throwaway host and user keys, an isolated HOME, and can start a
# real sshd on 127.0.0.1 on a free port.  Everything is cleaned up on exit.
#
#   . "$(dirname "$0")/lib.sh"
#   it_init "$1"                  # $1: build directory (has ./sshtun)
#   it_start_sshd [extra config lines...]
#   it_sshtun [args...]           # runs build/sshtun with the test options
#   it_pass "message" / it_fail "message"
set -u

it_init() {
    BUILD=$(cd "$1" && pwd)
    SSHTUN="$BUILD/sshtun"
    [ -x "$SSHTUN" ] || { echo "FAIL: $SSHTUN not built"; exit 1; }
    T=$(mktemp -d /tmp/sshtun-it.XXXXXX)
    chmod 700 "$T"
    trap it_cleanup EXIT INT TERM
    export HOME="$T/home"
    mkdir -p "$HOME/.ssh"
    chmod 700 "$HOME" "$HOME/.ssh"
    SSHD=$(command -v sshd || echo /usr/sbin/sshd)
    [ -x "$SSHD" ] || { echo "FAIL: sshd not installed"; exit 1; }
    mkdir -p /run/sshd 2>/dev/null || true
    for t in ed25519 ecdsa rsa; do
        ssh-keygen -q -t $t -N '' -f "$T/host_$t" -C "host-$t" >/dev/null
        ssh-keygen -q -t $t -N '' -f "$T/user_$t" -C "user-$t" >/dev/null
    done
    ssh-keygen -q -t ecdsa -b 384 -N '' -f "$T/host_ecdsa384" >/dev/null
    ssh-keygen -q -t ecdsa -b 521 -N '' -f "$T/host_ecdsa521" >/dev/null
    cat "$T"/user_*.pub > "$T/authorized_keys"
    chmod 600 "$T/authorized_keys"
    USER_NAME=$(id -un)
    FAILS=0
    PASSES=0
}

it_cleanup() {
    local rc=$?
    for p in ${BG_PIDS:-}; do kill "$p" 2>/dev/null; done
    for p in ${BG_PIDS:-}; do wait "$p" 2>/dev/null; done
    [ -n "${IT_SSHTUND_PID:-}" ] && kill -KILL -- "-$IT_SSHTUND_PID" 2>/dev/null
    if [ -n "${IT_USER:-}" ]; then
        pkill -KILL -u "$IT_USER" 2>/dev/null
        userdel "$IT_USER" 2>/dev/null
    fi
    if [ -n "${SSHD_PID:-}" ]; then
        # sshd's per-connection children outlive its listener: end the
        # whole process group (it was started with setsid).
        kill -TERM -- "-$SSHD_PID" 2>/dev/null
        wait "$SSHD_PID" 2>/dev/null
    fi
    # Masters (ControlPersist) started by the test.
    pkill -TERM -f "$T/" 2>/dev/null
    if [ "${KEEP_T:-0}" = 1 ]; then echo "kept $T"; else rm -rf "$T"; fi
    exit $rc
}

# A TCP port nobody listens on (the server started on it retries on a
# collision, see it_start_sshd).
# Ports come from below the kernel's ephemeral range: a port that some
# outgoing connection uses as its local port cannot be bound on 127.0.0.1
# even though nothing listens on it (and benchmarks or other tests running
# at the same time hold thousands of such connections).
it_free_port() {
    local p lo=0
    read -r lo _ < /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || lo=0
    [ "$lo" -gt 12000 ] || lo=61000
    while :; do
        p=$((10000 + RANDOM % (lo - 10000)))
        if ! (exec 3<>/dev/tcp/127.0.0.1/$p) 2>/dev/null; then echo $p; return; fi
    done
}

# it_start_sshd [config lines...]: start sshd in the foreground (-D -e) in
# the background of this script; waits until it accepts connections.
# SSHD_AUTHKEYS (optional) replaces its AuthorizedKeysFile, SSHD_LOGLEVEL
# its LogLevel (VERBOSE; sshd takes the first value, so a config line
# cannot change it).
it_start_sshd() {
    [ -n "${SSHD_PID:-}" ] && it_stop_sshd
    local try
    for try in 1 2 3 4 5; do
        PORT=$(it_free_port)
        {
            echo "Port $PORT"
            echo "ListenAddress 127.0.0.1"
            for k in ed25519 ecdsa ecdsa384 ecdsa521 rsa; do echo "HostKey $T/host_$k"; done
            echo "AuthorizedKeysFile ${SSHD_AUTHKEYS:-$T/authorized_keys}"
            echo "StrictModes no"
            echo "UsePAM no"
            echo "PidFile $T/sshd.pid"
            echo "PermitRootLogin yes"
            echo "LogLevel ${SSHD_LOGLEVEL:-VERBOSE}"
            echo "Subsystem sftp internal-sftp"
            # Every algorithm sshtun supports, including ssh-rsa for the
            # test that it is used only when asked for.
            echo "KexAlgorithms +diffie-hellman-group14-sha256,diffie-hellman-group16-sha512,diffie-hellman-group18-sha512,diffie-hellman-group-exchange-sha256"
            echo "HostKeyAlgorithms +ssh-rsa"
            for l in "$@"; do echo "$l"; done
        } > "$T/sshd_config"
        setsid "$SSHD" -D -e -f "$T/sshd_config" > "$T/sshd.log" 2>&1 &
        SSHD_PID=$!
        for _ in $(seq 1 200); do
            if (exec 3<>/dev/tcp/127.0.0.1/$PORT) 2>/dev/null; then return 0; fi
            if ! kill -0 "$SSHD_PID" 2>/dev/null; then break; fi
            sleep 0.05
        done
        if grep -q "Address already in use" "$T/sshd.log"; then
            SSHD_PID=
            continue
        fi
        echo "FAIL: sshd did not start:"; cat "$T/sshd.log"; exit 1
    done
    echo "FAIL: no free port for sshd"; exit 1
}

it_stop_sshd() {
    kill -TERM -- "-$SSHD_PID" 2>/dev/null
    wait "$SSHD_PID" 2>/dev/null
    SSHD_PID=
}

# Known hosts with every host key of the test sshd, for [127.0.0.1]:PORT.
it_known_hosts() {
    : > "$T/known_hosts"
    for k in ed25519 ecdsa ecdsa384 ecdsa521 rsa; do
        echo "[127.0.0.1]:$PORT $(cut -d' ' -f1,2 "$T/host_$k.pub")" >> "$T/known_hosts"
    done
}

# Run sshtun against the test sshd with isolated options; extra args first.
it_sshtun() {
    timeout 60 "$SSHTUN" -F none -p "$PORT" -l "$USER_NAME" -i "$T/user_ed25519" \
        -o UserKnownHostsFile="$T/known_hosts" -o GlobalKnownHostsFile=/dev/null \
        -o StrictHostKeyChecking=yes -o BatchMode=yes "$@"
}

# it_bg <logfile> cmd...: start a background peer that prints "ready" when
# listening; waits for that line (10 s at most).  Sets BG_PID.
it_bg() {
    local log=$1
    shift
    "$@" > "$log" 2>&1 &
    BG_PID=$!
    BG_PIDS="${BG_PIDS:-} $BG_PID"
    for _ in $(seq 1 200); do
        grep -q '^ready' "$log" 2>/dev/null && return 0
        kill -0 "$BG_PID" 2>/dev/null || break
        sleep 0.05
    done
    echo "FAIL: background peer did not start: $*"; cat "$log"; exit 1
}

# it_wait_port <port>: wait until something listens on 127.0.0.1:port.
it_wait_port() {
    for _ in $(seq 1 200); do
        (exec 3<>/dev/tcp/127.0.0.1/$1) 2>/dev/null && return 0
        sleep 0.05
    done
    return 1
}

# it_sshtun_pid <background pid>: the sshtun process under it (it_sshtun
# runs it through timeout(1) in a subshell).
it_sshtun_pid() {
    local p=$1 k
    for _ in 1 2 3 4; do
        [ "$(cat /proc/$p/comm 2>/dev/null)" = sshtun ] && { echo "$p"; return; }
        k=$(pgrep -P "$p" | head -1)
        [ -n "$k" ] || break
        p=$k
    done
    echo "$p"
}

it_pass() { PASSES=$((PASSES + 1)); echo "ok: $*"; }
it_fail() { FAILS=$((FAILS + 1)); echo "FAIL: $*"; }
it_check() {  # it_check "description" expected actual
    if [ "$2" = "$3" ]; then it_pass "$1"; else it_fail "$1 (expected '$2', got '$3')"; fi
}
it_done() {
    echo "$PASSES passed, $FAILS failed"
    [ "$FAILS" -eq 0 ]
}

# ---- sshtund and a test user (root only) -------------------------------------------------

# it_add_user: create a throwaway login user $IT_USER with home $IT_HOME
# ($T/uhome) holding .ssh/authorized_keys with the test's user keys; it is
# removed at exit.  $T becomes traversable (755) for it.
it_add_user() {
    IT_USER=sshtun-it$$
    IT_HOME="$T/uhome"
    useradd -M -d "$IT_HOME" -s /bin/sh "$IT_USER" || { IT_USER=; echo "FAIL: useradd"; exit 1; }
    mkdir -p "$IT_HOME/.ssh"
    cp "$T/authorized_keys" "$IT_HOME/.ssh/authorized_keys"
    chown -R "$IT_USER" "$IT_HOME"
    chmod 755 "$IT_HOME" "$T"
    chmod 700 "$IT_HOME/.ssh"
}

# it_sshtund_start [config lines...]: start $BUILD/sshtund in the foreground
# (-D -e) on a free port ($PORT) with the test's host keys, config in
# $T/sshtund_config, log in $T/sshtund.log; waits for "ready".  Sets
# IT_SSHTUND_PID.  SSHTUND_ARGS (optional) are extra command line options;
# SSHTUND_AUTHKEYS (optional) replaces its AuthorizedKeysFile (the first
# value wins, so a config line given as an argument could not).
it_sshtund_start() {
    it_sshtund_stop
    local try
    for try in 1 2 3 4 5; do
        PORT=$(it_free_port)
        {
            echo "Port $PORT"
            echo "ListenAddress 127.0.0.1"
            for k in ed25519 ecdsa rsa; do echo "HostKey $T/host_$k"; done
            echo "AuthorizedKeysFile ${SSHTUND_AUTHKEYS:-.ssh/authorized_keys $T/authorized_keys}"
            echo "PidFile $T/sshtund.pid"
            echo "PermitRootLogin yes"
            echo "LogLevel DEBUG1"
            # $T is under /tmp, which everyone may write: StrictModes (on
            # by default, as in sshd) would refuse every key kept there.
            # Unless the caller sets it; before the caller's lines, which
            # may end inside a Match block (where it is not allowed).
            local l sm=no
            for l in "$@"; do case $l in StrictModes*) sm= ;; esac; done
            [ -n "$sm" ] && echo "StrictModes no"
            for l in "$@"; do echo "$l"; done
        } > "$T/sshtund_config"
        : > "$T/sshtund.log"
        setsid "$BUILD/sshtund" -D -e ${SSHTUND_ARGS:-} -f "$T/sshtund_config" \
            >> "$T/sshtund.log" 2>&1 &
        IT_SSHTUND_PID=$!
        for _ in $(seq 1 200); do
            grep -q "ready" "$T/sshtund.log" 2>/dev/null && return 0
            kill -0 "$IT_SSHTUND_PID" 2>/dev/null || break
            sleep 0.05
        done
        grep -q "Address already in use" "$T/sshtund.log" && continue
        echo "FAIL: sshtund did not start:"; cat "$T/sshtund.log"; exit 1
    done
    echo "FAIL: no free port for sshtund"; exit 1
}

it_sshtund_stop() {
    [ -n "${IT_SSHTUND_PID:-}" ] || return 0
    kill -TERM -- "-$IT_SSHTUND_PID" 2>/dev/null
    for _ in $(seq 1 40); do kill -0 "$IT_SSHTUND_PID" 2>/dev/null || break; sleep 0.05; done
    kill -KILL -- "-$IT_SSHTUND_PID" 2>/dev/null
    wait "$IT_SSHTUND_PID" 2>/dev/null
    IT_SSHTUND_PID=
}
