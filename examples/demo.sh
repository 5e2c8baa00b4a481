#!/usr/bin/env bash
# examples/demo.sh - see sshtun work, from a fresh Debian 12 machine.
#
# Installs what is missing, builds sshtun, starts a throwaway OpenSSH sshd on
# 127.0.0.1 with temporary keys (nothing in your ~/.ssh is touched), and runs
# sshtun against it.  Everything is removed at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
. tests/deps.sh
sshtun_install_deps

echo "== building"
if [ ! -f build/CMakeCache.txt ]; then
    cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
fi
cmake --build build -j"$(nproc)" --target sshtun >/dev/null
SSHTUN=$PWD/build/sshtun

T=$(mktemp -d /tmp/sshtun-demo.XXXXXX)
SSHD_PID=
cleanup() {
    [ -n "$SSHD_PID" ] && kill "$SSHD_PID" 2>/dev/null && wait "$SSHD_PID" 2>/dev/null
    rm -rf "$T"
}
trap cleanup EXIT

echo "== throwaway keys and sshd in $T"
ssh-keygen -q -t ed25519 -N '' -f "$T/host_key"
ssh-keygen -q -t ed25519 -N '' -f "$T/id_ed25519"
cp "$T/id_ed25519.pub" "$T/authorized_keys"
PORT=$((20000 + RANDOM % 40000))
cat > "$T/sshd_config" <<CFG
Port $PORT
ListenAddress 127.0.0.1
HostKey $T/host_key
AuthorizedKeysFile $T/authorized_keys
StrictModes no
UsePAM no
PermitRootLogin yes
PidFile $T/sshd.pid
CFG
SSHD=$(command -v sshd || echo /usr/sbin/sshd)
"$SSHD" -D -e -f "$T/sshd_config" 2>"$T/sshd.log" &
SSHD_PID=$!
for _ in $(seq 1 100); do
    (exec 3<>/dev/tcp/127.0.0.1/$PORT) 2>/dev/null && break
    sleep 0.05
done

ST() {
    echo "\$ sshtun $*" | sed "s|$T|\$TMP|g"
    "$SSHTUN" -F none -p "$PORT" -i "$T/id_ed25519" -o UserKnownHostsFile="$T/known_hosts" \
        -o GlobalKnownHostsFile=/dev/null "$@"
}

echo
echo "== 1. first contact: the host key is new; accept-new records it"
ST -o StrictHostKeyChecking=accept-new 127.0.0.1 'echo "hello from $(uname -n) as $(id -un)"'
echo
echo "== 2. the recorded key is verified from now on (StrictHostKeyChecking=yes)"
ST -o StrictHostKeyChecking=yes 127.0.0.1 'uptime'
echo
echo "== 3. the remote exit status comes back"
set +e
ST -o StrictHostKeyChecking=yes 127.0.0.1 'exit 42'
echo "exit status: $?"
set -e
echo
echo "== 4. stdin streams to the remote command (10 MB through sha256sum)"
head -c 10000000 /dev/urandom > "$T/blob"
echo "local : $(sha256sum < "$T/blob" | cut -d' ' -f1)"
echo "remote: $(ST -o StrictHostKeyChecking=yes 127.0.0.1 'sha256sum' < "$T/blob" | cut -d' ' -f1)"
echo
echo "== 5. what was negotiated (-v)"
ST -v -o StrictHostKeyChecking=yes 127.0.0.1 true 2>&1 | grep -E "kex: (algorithm|host key|client->server)|Authenticated"
echo
echo "Done."
