#!/usr/bin/env bash
# it_peers.sh - sshtun and sshtund against SSH implementations other than
# OpenSSH, both roles, on 127.0.0.1 with throwaway keys:
#
#   - Dropbear's `dropbear` as the server of sshtun: exec, exit statuses,
#     stdout/stderr, transfers checked by sha256 (also rekeying), -L, -R,
#     and as a jump host (-J); AsyncSSH as a jump host too;
#   - Dropbear's `dbclient` as a client of sshtund: output, transfers, and
#     the exit status ten times in a row (dbclient closes the channel as
#     soon as both EOFs went by, before sshtund has reaped the process);
#   - AsyncSSH (python3-asyncssh) as the server of sshtun and as a client of
#     sshtund, rekeying every 1 MiB during 64 MiB transfers both ways (it
#     keeps sending channel data after its KEXINIT), and exit statuses.
#
# Needs root: sshtund runs privilege-separated and Dropbear logs in a
# throwaway user (it has no AuthorizedKeysFile option).
#
#   tests/integration/it_peers.sh <build-dir>
. "$(dirname "$0")/lib.sh"
it_init "$1"
if [ "$(id -u)" != 0 ]; then
    echo "SKIP-NOT-COUNTED: it_peers.sh needs root (sshtund privilege separation, a test user)"
    exit 77
fi
for b in dropbear dbclient dropbearkey dropbearconvert /usr/bin/python3; do
    command -v "$b" >/dev/null || { echo "FAIL: $b not installed (tests/deps.sh)"; exit 1; }
done
/usr/bin/python3 -c 'import asyncssh' 2>/dev/null ||
    { echo "FAIL: python3-asyncssh not installed (tests/deps.sh)"; exit 1; }
ROOT_DIR=$(cd "$(dirname "$0")/../.." && pwd)
NU="python3 $ROOT_DIR/tests/integration/netutil.py"
# AsyncSSH warns about deprecated ciphers of python3-cryptography on import.
APEER="/usr/bin/python3 -W ignore $ROOT_DIR/tests/integration/asyncssh_peer.py"

it_add_user
U=$IT_USER
head -c 67108864 /dev/urandom > "$IT_HOME/big"
head -c 16777216 "$IT_HOME/big" > "$IT_HOME/big16"
chmod 644 "$IT_HOME/big" "$IT_HOME/big16"
SUM64=$(sha256sum < "$IT_HOME/big" | cut -d' ' -f1)
SUM16=$(sha256sum < "$IT_HOME/big16" | cut -d' ' -f1)
ECHO_PORT=$(it_free_port)
it_bg "$T/echo.log" $NU echo "$ECHO_PORT"

# sshtun with the test's identity against 127.0.0.1:$SPORT, host keys from
# $T/kh_peer; a session runs as $U.
tun() {
    timeout 120 "$SSHTUN" -F none -p "$SPORT" -l "$U" -i "$T/user_ed25519" \
        -o IdentitiesOnly=yes -o IdentityAgent=none -o UserKnownHostsFile="$T/kh_peer" \
        -o GlobalKnownHostsFile=/dev/null -o StrictHostKeyChecking=yes -o BatchMode=yes \
        -o LogLevel="${LL:-ERROR}" "$@"
}

# A -L or -R forward from a fresh port to the echo server: n concurrent
# connections doing 5 round trips each.
fwd_roundtrip() {  # fwd_roundtrip <label> <L|R> <n>
    local port
    port=$(it_free_port)
    tun -N "-$2" "$port:127.0.0.1:$ECHO_PORT" 127.0.0.1 > "$T/fwd.log" 2>&1 &
    local pid=$!
    if it_wait_port "$port"; then
        it_check "$1" ok "$(timeout 60 $NU roundtrip "$port" "$3" 5)"
    else
        it_fail "$1: port $port not listening: $(cat "$T/fwd.log")"
    fi
    kill "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
}

# Exec, exit statuses and transfers through sshtun against the server on
# $SPORT; $1 names the server.  Extra sshtun options in $XOPT.
client_checks() {
    local who=$1 out
    out=$(tun ${XOPT:-} 127.0.0.1 'echo hello')
    it_check "$who: exec output" hello "$out"
    for st in 0 3 42; do
        tun ${XOPT:-} 127.0.0.1 "exit $st" </dev/null
        it_check "$who: exit $st" "$st" $?
    done
    tun ${XOPT:-} 127.0.0.1 'kill -9 $$' </dev/null 2>"$T/err"
    it_check "$who: killed by a signal -> 255 as ssh" 255 $?
    tun ${XOPT:-} 127.0.0.1 'echo out; echo err >&2' >"$T/out" 2>"$T/err" </dev/null
    it_check "$who: stdout apart" out "$(cat "$T/out")"
    it_check "$who: stderr apart" err "$(cat "$T/err")"
}

# ---- Dropbear as the server of sshtun -------------------------------------------------------
echo "== dropbear server"
: > "$T/kh_peer"
DBKEYS=""
for t in ed25519 ecdsa rsa; do
    dropbearkey -t $t -f "$T/db_host_$t" >/dev/null 2>&1 || { echo "FAIL: dropbearkey -t $t"; exit 1; }
    DBKEYS="$DBKEYS -r $T/db_host_$t"
done
start_dropbear() {
    local try
    for try in 1 2 3 4 5; do
        SPORT=$(it_free_port)
        : > "$T/dropbear.log"
        setsid dropbear -F -E -p "127.0.0.1:$SPORT" $DBKEYS -P "$T/dropbear.pid" "$@" \
            > "$T/dropbear.log" 2>&1 &
        DB_PID=$!
        BG_PIDS="${BG_PIDS:-} $DB_PID"
        it_wait_port "$SPORT" && kill -0 "$DB_PID" 2>/dev/null && return 0
        grep -q "in use" "$T/dropbear.log" && continue
        echo "FAIL: dropbear did not start:"; cat "$T/dropbear.log"; exit 1
    done
    echo "FAIL: no free port for dropbear"; exit 1
}
start_dropbear
for t in ed25519 ecdsa rsa; do
    echo "[127.0.0.1]:$SPORT $(dropbearkey -y -f "$T/db_host_$t" | grep -E '^(ssh|ecdsa)-' | cut -d' ' -f1,2)" >> "$T/kh_peer"
done
client_checks dropbear
out=$(tun 127.0.0.1 'id -un')
it_check "dropbear: session runs as the test user" "$U" "$out"
sum=$(tun 127.0.0.1 'sha256sum' < "$IT_HOME/big16" | cut -d' ' -f1)
it_check "dropbear: 16 MiB stdin sha256" "$SUM16" "$sum"
sum=$(tun 127.0.0.1 "cat '$IT_HOME/big16'" | sha256sum | cut -d' ' -f1)
it_check "dropbear: 16 MiB stdout sha256" "$SUM16" "$sum"
LL=VERBOSE tun -v -o RekeyLimit=1M 127.0.0.1 "cat '$IT_HOME/big16'" 2>"$T/err" |
    sha256sum | cut -d' ' -f1 > "$T/sum"
it_check "dropbear: 16 MiB stdout sha256, rekeying every 1 MiB" "$SUM16" "$(cat "$T/sum")"
n=$(grep -c "kex: algorithm" "$T/err")
[ "$n" -ge 8 ] && it_pass "dropbear: $n key exchanges during the transfer" ||
    it_fail "dropbear: only $n key exchanges with RekeyLimit=1M: $(tail -3 "$T/err")"
fwd_roundtrip "dropbear: -L 20 concurrent connections" L 20
fwd_roundtrip "dropbear: -R 20 concurrent connections" R 20

# Dropbear as the jump host (-J): each hop reads its own Host section, so
# a config file (the same dropbear under two names: hop and destination).
cat > "$T/jcfg" <<EOF
Host dbhop dbtarget
    HostName 127.0.0.1
    Port $SPORT
    User $U
    IdentityFile $T/user_ed25519
    IdentitiesOnly yes
    IdentityAgent none
    UserKnownHostsFile $T/kh_peer
    GlobalKnownHostsFile /dev/null
    StrictHostKeyChecking yes
    BatchMode yes
EOF
out=$(timeout 60 "$SSHTUN" -F "$T/jcfg" -v -J dbhop dbtarget 'echo via-dropbear' 2>"$T/err")
it_check "dropbear as the jump host: sshtun -J" via-dropbear "$out"
grep -q "Channel to 127.0.0.1 port $SPORT open through jump host dbhop" "$T/err" &&
    it_pass "dropbear as the jump host: dropbear opened the channel to the destination" ||
    it_fail "dropbear -J: no channel through the hop in -v: $(grep -i jump "$T/err" | head -3)"
sum=$(timeout 120 "$SSHTUN" -F "$T/jcfg" -J dbhop dbtarget 'sha256sum' < "$IT_HOME/big16" | cut -d' ' -f1)
it_check "dropbear as the jump host: 16 MiB stdin sha256 through -J" "$SUM16" "$sum"

# ---- AsyncSSH as the server of sshtun -------------------------------------------------------
echo "== asyncssh server"
# Sessions run as root here (AsyncSSH's server does not switch users).
SPORT=$(it_free_port)
it_bg "$T/aserver.log" $APEER server "$SPORT" "$T/host_ed25519" "$T/authorized_keys" 1M
echo "[127.0.0.1]:$SPORT $(cut -d' ' -f1,2 "$T/host_ed25519.pub")" > "$T/kh_peer"
client_checks asyncssh
# Both sides rekey every 1 MiB: sshtun by RekeyLimit, AsyncSSH by rekey_bytes.
LL=VERBOSE tun -v -o RekeyLimit=1M 127.0.0.1 "cat '$IT_HOME/big'" 2>"$T/err" |
    sha256sum | cut -d' ' -f1 > "$T/sum"
it_check "asyncssh: 64 MiB download, rekeying every 1 MiB" "$SUM64" "$(cat "$T/sum")"
n=$(grep -c "kex: algorithm" "$T/err")
[ "$n" -ge 32 ] && it_pass "asyncssh: $n key exchanges during the download" ||
    it_fail "asyncssh: $n key exchanges during the download: $(grep -v '^debug' "$T/err" | tail -3)"
LL=VERBOSE tun -v -o RekeyLimit=1M 127.0.0.1 'sha256sum' < "$IT_HOME/big" 2>"$T/err" |
    cut -d' ' -f1 > "$T/sum"
it_check "asyncssh: 64 MiB upload, rekeying every 1 MiB" "$SUM64" "$(cat "$T/sum")"
n=$(grep -c "kex: algorithm" "$T/err")
[ "$n" -ge 32 ] && it_pass "asyncssh: $n key exchanges during the upload" ||
    it_fail "asyncssh: $n key exchanges during the upload: $(grep -v '^debug' "$T/err" | tail -3)"
# AsyncSSH as the jump host (-J), the same server under two names.
sed -e "s/^Host dbhop dbtarget/Host ahop atarget/" -e "s/^    Port .*/    Port $SPORT/" "$T/jcfg" > "$T/jcfg_a"
out=$(timeout 60 "$SSHTUN" -F "$T/jcfg_a" -v -J ahop atarget 'echo via-asyncssh' 2>"$T/err")
it_check "asyncssh as the jump host: sshtun -J" via-asyncssh "$out"
grep -q "Channel to 127.0.0.1 port $SPORT open through jump host ahop" "$T/err" &&
    it_pass "asyncssh as the jump host: AsyncSSH opened the channel to the destination" ||
    it_fail "asyncssh -J: no channel through the hop in -v: $(grep -i jump "$T/err" | head -3)"
kill "$BG_PID" 2>/dev/null

# ---- Dropbear's dbclient as a client of sshtund ---------------------------------------------
echo "== dbclient"
it_sshtund_start
dropbearconvert openssh dropbear "$T/user_ed25519" "$T/user_ed25519.db" >/dev/null 2>&1 ||
    { echo "FAIL: dropbearconvert"; exit 1; }
# dbclient looks host keys up by the bare host name, whatever the port.
echo "127.0.0.1 $(cut -d' ' -f1,2 "$T/host_ed25519.pub")" > "$HOME/.ssh/known_hosts"
db() { timeout 60 dbclient -i "$T/user_ed25519.db" -p "$PORT" "$U@127.0.0.1" "$@"; }
out=$(db 'echo hello' </dev/null)
it_check "dbclient: exec output" hello "$out"
# dbclient sends CLOSE as soon as both EOFs went by, often before sshtund
# has reaped the process: the exit status must still arrive, every time.
got=""
for i in 1 2 3 4 5 6 7 8 9 10; do
    db 'exit 3' </dev/null
    got="$got$?"
done
it_check "dbclient: exit 3, ten times in a row" 3333333333 "$got"
db 'exit 0' </dev/null
it_check "dbclient: exit 0" 0 $?
# A process that closes its output and exits a second after the client's
# CLOSE: sshtund waits for it and sends the status first.
db 'exec >/dev/null 2>&1 </dev/null; sleep 1; exit 4' </dev/null
it_check "dbclient: status of a process reaped after the client's CLOSE" 4 $?
# Input sent before the client's CLOSE still reaches a process that reads
# it late (after closing its output, which let dbclient close).
head -c 1048576 "$IT_HOME/big" > "$T/in1m"
db "exec >/dev/null 2>&1; sleep 1; wc -c > '$IT_HOME/count'; exit 7" < "$T/in1m"
it_check "dbclient: status after reading its input late" 7 $?
it_check "dbclient: all the input sent before the CLOSE was delivered" 1048576 \
    "$(tr -d ' ' < "$IT_HOME/count" 2>/dev/null)"
# One that never exits does not hold the channel (nor dbclient) forever.
start=$(date +%s)
db 'exec >/dev/null 2>&1 </dev/null; trap "" HUP PIPE; sleep 40' </dev/null
rc=$?
took=$(( $(date +%s) - start ))
[ "$rc" != 124 ] && [ "$took" -le 20 ] &&
    it_pass "dbclient: a process that outlives the client's CLOSE is hung up after a bound (${took} s)" ||
    it_fail "dbclient: channel held by a lingering process (rc $rc after $took s)"
grep -q "still running 5 s after the client closed the channel" "$T/sshtund.log" &&
    it_pass "dbclient: sshtund says why it closed without a status" ||
    it_fail "dbclient: no message about the lingering process: $(tail -3 "$T/sshtund.log")"
sum=$(db 'sha256sum' < "$IT_HOME/big16" | cut -d' ' -f1)
it_check "dbclient: 16 MiB stdin sha256" "$SUM16" "$sum"
sum=$(db "cat '$IT_HOME/big16'" </dev/null | sha256sum | cut -d' ' -f1)
it_check "dbclient: 16 MiB stdout sha256" "$SUM16" "$sum"

# ---- AsyncSSH as a client of sshtund --------------------------------------------------------
echo "== asyncssh client"
it_sshtund_start "RekeyLimit 1M"
echo "[127.0.0.1]:$PORT $(cut -d' ' -f1,2 "$T/host_ed25519.pub")" > "$T/kh_sshtund"
aclient() {  # aclient <command> <stdin file or -> <stdout file>
    timeout 120 $APEER client "$PORT" "$U" "$T/user_ed25519" "$T/kh_sshtund" 1M "$@"
}
out=$(aclient 'echo hello' - "$T/out")
it_check "asyncssh client: exit status of echo" 0 "$out"
it_check "asyncssh client: exec output" hello "$(cat "$T/out")"
for st in 3 42; do
    out=$(aclient "exit $st" - "$T/out")
    it_check "asyncssh client: exit $st" "$st" "$out"
done
out=$(aclient 'kill -TERM $$' - "$T/out")
it_check "asyncssh client: exit-signal TERM" signal-TERM "$out"
n0=$(grep -c "kex: algorithm" "$T/sshtund.log")
out=$(aclient "cat '$IT_HOME/big'; exit 4" - "$T/out")
it_check "asyncssh client: 64 MiB download, rekeying every 1 MiB: status" 4 "$out"
it_check "asyncssh client: 64 MiB download sha256" "$SUM64" "$(sha256sum < "$T/out" | cut -d' ' -f1)"
out=$(aclient 'sha256sum; exit 5' "$IT_HOME/big" "$T/out")
it_check "asyncssh client: 64 MiB upload, rekeying every 1 MiB: status" 5 "$out"
it_check "asyncssh client: 64 MiB upload sha256" "$SUM64" "$(cut -d' ' -f1 "$T/out")"
n=$(( $(grep -c "kex: algorithm" "$T/sshtund.log") - n0 ))
[ "$n" -ge 64 ] && it_pass "asyncssh client: sshtund did $n key exchanges in the two transfers" ||
    it_fail "asyncssh client: sshtund did only $n key exchanges: $(grep -v debug "$T/sshtund.log" | tail -3)"

it_sshtund_stop
it_done
