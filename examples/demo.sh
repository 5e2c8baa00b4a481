#!/usr/bin/env bash
# examples/demo.sh - see sshtun and sshtund work, from a fresh Debian 12 machine.
#
# Installs what is missing, builds sshtun and sshtund, starts a throwaway
# sshtund on 127.0.0.1 with temporary keys (nothing in your ~/.ssh is
# touched, no OpenSSH server needed), and runs sshtun against it: commands,
# -L, -R, -D (SOCKS), -W, and a refusal that says why.  Everything is
# removed at the end.
#
#   DEMO_SERVER=sshd examples/demo.sh   # the same against OpenSSH's sshd
#   DEMO_BUILD=dir                      # build directory (default: build-demo;
#                                       # tests/run.sh builds in build/)
#
# Run as root, sshtund separates privileges (the network process becomes
# nobody, a helper starts sessions) and you log in as root; run as an
# ordinary user, it serves only that user.
set -euo pipefail
# A step that fails says where, instead of the script just stopping.
trap 'echo "demo.sh: failed at line $LINENO (exit status $?)" >&2' ERR
cd "$(dirname "$0")/.."
SERVER=${DEMO_SERVER:-sshtund}
case $SERVER in sshtund | sshd) ;; *) echo "DEMO_SERVER: sshtund or sshd" >&2; exit 2 ;; esac
BUILD=${DEMO_BUILD:-build-demo}
. tests/deps.sh
if [ "$SERVER" = sshd ]; then
    sshtun_install_deps
else
    # what the demo needs: no OpenSSH server, no test libraries
    sshtun_install_deps gcc make cmake pkg-config libssl-dev libc-ares-dev libev-dev zlib1g-dev \
        openssh-client curl python3 procps
fi

echo "== building"
if [ ! -f "$BUILD/CMakeCache.txt" ]; then
    cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DSSHTUN_TESTS=OFF >/dev/null
fi
targets="sshtun"
[ "$SERVER" = sshtund ] && targets="sshtun sshtund"
cmake --build "$BUILD" -j"$(nproc)" --target $targets >/dev/null
BUILD=$(cd "$BUILD" && pwd)
SSHTUN=$BUILD/sshtun

T=$(mktemp -d /tmp/sshtun-demo.XXXXXX)
SERVER_PID=
BG=
cleanup() {
    for p in $BG; do kill "$p" 2>/dev/null || true; done
    for p in $BG; do wait "$p" 2>/dev/null || true; done
    if [ -n "$SERVER_PID" ]; then
        # the server's session processes too (it was started with setsid)
        kill -TERM -- "-$SERVER_PID" 2>/dev/null || kill "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
    fi
    rm -rf "$T"
}
trap cleanup EXIT

# a port nobody listens on, below the ephemeral range (a port in use as
# the local end of some outgoing connection cannot be bound)
free_port() {
    local p lo=0
    read -r lo _ < /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || lo=0
    [ "$lo" -gt 12000 ] || lo=61000
    while :; do
        p=$((10000 + RANDOM % (lo - 10000)))
        (exec 3<>/dev/tcp/127.0.0.1/$p) 2>/dev/null || { echo $p; return; }
    done
}
# (20 s: a busy machine can take its time starting a server)
wait_port() {
    for _ in $(seq 1 400); do
        (exec 3<>/dev/tcp/127.0.0.1/$1) 2>/dev/null && return 0
        sleep 0.05
    done
    return 1
}

echo "== throwaway keys and $SERVER in $T"
ssh-keygen -q -t ed25519 -N '' -f "$T/host_key"
ssh-keygen -q -t ed25519 -N '' -f "$T/id_ed25519"
cp "$T/id_ed25519.pub" "$T/authorized_keys"
chmod 600 "$T/authorized_keys"
HTTP_PORT=$(free_port)   # a little web server: the thing we tunnel to
mkdir "$T/www" && echo "hello through the tunnel" > "$T/www/index.html"
python3 -m http.server --bind 127.0.0.1 --directory "$T/www" "$HTTP_PORT" >/dev/null 2>&1 &
BG="$BG $!"
for try in 1 2 3 4 5; do
    PORT=$(free_port)
    if [ "$SERVER" = sshd ]; then
        cat > "$T/server_config" <<CFG
Port $PORT
ListenAddress 127.0.0.1
HostKey $T/host_key
AuthorizedKeysFile $T/authorized_keys
StrictModes no
UsePAM no
PermitRootLogin yes
PidFile $T/server.pid
PermitOpen 127.0.0.1:$HTTP_PORT
CFG
        SRV=$(command -v sshd || echo /usr/sbin/sshd)
    else
        # sshd_config keywords, sshd's meaning; PermitOpen limits where -L,
        # -D and -W may go (step 9 shows a refusal).
        cat > "$T/server_config" <<CFG
Port $PORT
ListenAddress 127.0.0.1
HostKey $T/host_key
AuthorizedKeysFile $T/authorized_keys
StrictModes no
PermitRootLogin prohibit-password
PasswordAuthentication no
PidFile $T/server.pid
MaxSessions 10
PermitOpen 127.0.0.1:$HTTP_PORT
CFG
        SRV=$BUILD/sshtund
    fi
    setsid "$SRV" -D -e -f "$T/server_config" 2>"$T/server.log" &
    SERVER_PID=$!
    wait_port "$PORT" && break
    grep -q "Address already in use" "$T/server.log" && continue
    echo "$SERVER did not start:"; cat "$T/server.log"; exit 1
done
# (its port listens as soon as it is bound; "ready" follows once the helper
# and the workers run, and on a busy machine that can take a moment)
if [ "$SERVER" = sshtund ]; then
    for _ in $(seq 1 400); do grep -q "ready" "$T/server.log" && break; sleep 0.05; done
    grep -m1 "ready" "$T/server.log" || { echo "sshtund did not say ready:"; cat "$T/server.log"; exit 1; }
fi

# sshtun with the demo's key and known_hosts; host keys checked strictly
# unless the arguments say otherwise (the first value of an option wins).
# The command line is shown on stderr, apart from the output.
st_cmd() {
    echo "\$ sshtun $*" | sed "s|$T|\$TMP|g" >&2
    CMD=("$SSHTUN" -F none -p "$PORT" -i "$T/id_ed25519" -o UserKnownHostsFile="$T/known_hosts"
         -o GlobalKnownHostsFile=/dev/null -o BatchMode=yes)
    [[ " $* " == *StrictHostKeyChecking* ]] || CMD+=(-o StrictHostKeyChecking=yes)
    CMD+=("$@")
}
ST() { st_cmd "$@"; "${CMD[@]}"; }
# ST_BG <port> args...: a tunnel in the background, until <port> listens
ST_BG() {
    local p=$1
    shift
    st_cmd -N "$@"
    "${CMD[@]}" &
    BG="$BG $!"
    wait_port "$p" || { echo "the tunnel did not start"; exit 1; }
}
get() { curl -s --max-time 10 "$@"; }

echo
echo "== 1. first contact: the host key is new; accept-new records it"
ST -o StrictHostKeyChecking=accept-new 127.0.0.1 'echo "hello from $(uname -n) as $(id -un)"'
echo
echo "== 2. the recorded key is verified from now on (StrictHostKeyChecking=yes)"
ST -o StrictHostKeyChecking=yes 127.0.0.1 'uptime'
echo
echo "== 3. the remote exit status comes back"
set +e
ST 127.0.0.1 'exit 42'
echo "exit status: $?"
set -e
echo
echo "== 4. stdin streams to the remote command (10 MB through sha256sum)"
head -c 10000000 /dev/urandom > "$T/blob"
echo "local : $(sha256sum < "$T/blob" | cut -d' ' -f1)"
echo "remote: $(ST 127.0.0.1 'sha256sum' < "$T/blob" | cut -d' ' -f1)"
echo
echo "== 5. what was negotiated (-v)"
ST -v 127.0.0.1 true 2>&1 | grep -E "^\\$|kex: (algorithm|host key|client->server)|Authenticated"
echo
echo "== 6. -L: a local port forwarded to the web server, through the server"
L=$(free_port)
ST_BG "$L" -L "$L:127.0.0.1:$HTTP_PORT" 127.0.0.1
echo "\$ curl http://127.0.0.1:$L/"
get "http://127.0.0.1:$L/"
echo
echo "== 7. -R: a port on the server side forwarded back to us"
R=$(free_port)
ST_BG "$R" -R "$R:127.0.0.1:$HTTP_PORT" 127.0.0.1
echo "\$ curl http://127.0.0.1:$R/   # the server's port $R"
get "http://127.0.0.1:$R/"
echo
echo "== 8. -D: a SOCKS proxy; each connection goes out from the server"
D=$(free_port)
ST_BG "$D" -D "$D" 127.0.0.1
echo "\$ curl --socks5-hostname 127.0.0.1:$D http://127.0.0.1:$HTTP_PORT/"
get --socks5-hostname "127.0.0.1:$D" "http://127.0.0.1:$HTTP_PORT/"
echo
echo "== 9. -W: stdin/stdout to a port; one the server does not permit is refused, with the reason"
printf 'GET / HTTP/1.0\r\n\r\n' | ST -W "127.0.0.1:$HTTP_PORT" 127.0.0.1 | head -1
set +e
ST -W 127.0.0.1:1 127.0.0.1 </dev/null
echo "exit status: $?"
set -e
echo
echo "Done ($SERVER)."
