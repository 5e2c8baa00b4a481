#!/usr/bin/env bash
# it_forward.sh - port forwarding against a real sshd on 127.0.0.1, with
# echo/sink/firehose peers from netutil.py: bulk data both ways with sha256
# checks, 300 concurrent connections, -R fixed and port 0, SOCKS4a/SOCKS5
# through curl (and a SOCKS5 failure reply), -W, Unix sockets, exec
# alongside -L, refused targets, ExitOnForwardFailure, ServerAliveInterval
# against a stopped server, a slow reader beside a fast transfer, a
# download down a long path (tests/bench/delayline in front of sshd), and
# memory that comes back after a burst of 1000 streams (sshtun and sshtund).
. "$(dirname "$0")/lib.sh"
it_init "$1"
it_start_sshd "StreamLocalBindUnlink yes" "GatewayPorts clientspecified"
it_known_hosts
NU="python3 $(dirname "$0")/netutil.py"

EP=$(it_free_port);  it_bg "$T/echo.log" $NU echo "$EP"
SP=$(it_free_port);  it_bg "$T/sink.log" $NU sink "$SP" "$T/sink.out"
FP=$(it_free_port);  it_bg "$T/fire.log" $NU firehose "$FP"
mkdir -p "$T/www" && head -c 100000 /dev/urandom > "$T/www/file"
HP=$(it_free_port)
(cd "$T/www" && exec python3 -m http.server "$HP" --bind 127.0.0.1) >"$T/http.log" 2>&1 &
BG_PIDS="$BG_PIDS $!"
it_wait_port "$HP" || it_fail "http server did not start"
WANT_FILE=$(sha256sum < "$T/www/file" | cut -d' ' -f1)
CLOSED=$(it_free_port)

LP1=$(it_free_port); LP2=$(it_free_port); LP3=$(it_free_port); DP=$(it_free_port)
RP1=$(it_free_port); RDP=$(it_free_port)
it_sshtun -N -o ExitOnForwardFailure=yes -o LogLevel=DEBUG2 \
    -L "$LP1:127.0.0.1:$SP" -L "$LP2:127.0.0.1:$EP" -L "$LP3:127.0.0.1:$CLOSED" \
    -L "$T/l.sock:127.0.0.1:$EP" -D "$DP" \
    -R "$RP1:127.0.0.1:$SP" -R "0:127.0.0.1:$EP" -R "$T/r.sock:127.0.0.1:$EP" -R "$RDP" \
    127.0.0.1 2>"$T/tun.err" &
TUN=$!
BG_PIDS="$BG_PIDS $TUN"
it_wait_port "$LP1" && it_wait_port "$RDP" || { it_fail "forwards did not come up"; cat "$T/tun.err"; }

# ---- bulk data both ways ---------------------------------------------------------
sent=$(timeout 120 $NU source "$LP1" $((128 * 1024 * 1024)) 1)
sleep 0.5
got=$(tail -1 "$T/sink.out" | cut -d' ' -f1)
it_check "128 MiB through -L (sha256)" "$sent" "$got"
sent=$(timeout 120 $NU source "$RP1" $((128 * 1024 * 1024)) 2)
sleep 0.5
got=$(tail -1 "$T/sink.out" | cut -d' ' -f1)
it_check "128 MiB through -R (sha256)" "$sent" "$got"
grep -q "TCP round trip [0-9]* us" "$T/tun.err" &&
    it_pass "the connection's TCP round trip reaches the engine (a hint for window sizing)" ||
    it_fail "no TCP round-trip sample logged: $(grep -c . "$T/tun.err") lines of log"
grep -q "round trip [0-9]* ms (keepalive): receive windows sized to [0-9]* ms" "$T/tun.err" &&
    it_pass "the engine measured the round trip end to end" ||
    it_fail "no end-to-end round trip logged: $(grep -c . "$T/tun.err") lines of log"

# ---- many connections -------------------------------------------------------------
out=$(timeout 120 $NU roundtrip "$LP2" 300 20 2>&1)
it_check "300 concurrent connections through -L, 20 round trips each" "ok" "$out"

# ---- remote forwards ------------------------------------------------------------------
out=$(timeout 30 $NU roundtrip "$RP1" 1 1 2>&1 | head -1)
ALLOC=$(sed -n 's/^Allocated port \([0-9]*\) for remote forward to 127.0.0.1:'"$EP"'$/\1/p' "$T/tun.err")
if [ -n "$ALLOC" ]; then
    it_pass "-R 0 prints the allocated port ($ALLOC)"
    out=$(timeout 30 $NU roundtrip "$ALLOC" 10 10 2>&1)
    it_check "traffic through the allocated port" "ok" "$out"
else
    it_fail "-R 0: no 'Allocated port' line: $(cat "$T/tun.err")"
fi

# ---- Unix sockets ------------------------------------------------------------------------
out=$(timeout 30 $NU roundtrip "$T/l.sock" 5 10 2>&1)
it_check "unix-socket -L" "ok" "$out"
out=$(timeout 30 $NU roundtrip "$T/r.sock" 5 10 2>&1)
it_check "unix-socket -R" "ok" "$out"

# ---- SOCKS ---------------------------------------------------------------------------------
got=$(timeout 30 curl -s --socks5-hostname "127.0.0.1:$DP" "http://localhost:$HP/file" | sha256sum | cut -d' ' -f1)
it_check "SOCKS5 (curl --socks5-hostname)" "$WANT_FILE" "$got"
got=$(timeout 30 curl -s --socks4a "127.0.0.1:$DP" "http://localhost:$HP/file" | sha256sum | cut -d' ' -f1)
it_check "SOCKS4a (curl --socks4a)" "$WANT_FILE" "$got"
got=$(timeout 30 curl -s --socks5 "127.0.0.1:$DP" "http://127.0.0.1:$HP/file" | sha256sum | cut -d' ' -f1)
it_check "SOCKS5 with an IPv4 address" "$WANT_FILE" "$got"
timeout 30 curl -sS --socks5-hostname "127.0.0.1:$DP" "http://localhost:$CLOSED/" 2>"$T/curl.err"
rc=$?
if [ "$rc" = 97 ] && grep -q "(5)" "$T/curl.err"; then
    it_pass "SOCKS5 failure reply for a refused target (REP 5)"
else
    it_fail "SOCKS5 refused target: rc=$rc $(cat "$T/curl.err")"
fi
got=$(timeout 30 curl -s --socks5-hostname "127.0.0.1:$RDP" "http://localhost:$HP/file" | sha256sum | cut -d' ' -f1)
it_check "dynamic -R (reverse SOCKS)" "$WANT_FILE" "$got"

# ---- a refused target is reported, the forward stays up -------------------------------------
timeout 10 socat -u OPEN:/dev/null TCP:127.0.0.1:$LP3 2>/dev/null
sleep 0.5
grep -q "open failed: connect failed: Connection refused" "$T/tun.err" &&
    it_pass "refused target reported" || it_fail "refused target: $(cat "$T/tun.err")"
out=$(timeout 30 $NU roundtrip "$LP2" 3 3 2>&1)
it_check "forwards keep working after a refusal" "ok" "$out"
kill -0 "$TUN" 2>/dev/null && it_pass "tunnel still running" || it_fail "tunnel died"

# ---- slow reader beside a fast transfer ----------------------------------------------------
LF=$(it_free_port)
it_sshtun -N -L "$LF:127.0.0.1:$FP" -L "$((LF + 1)):127.0.0.1:$SP" 127.0.0.1 2>"$T/slow.err" &
SLOWTUN=$!
BG_PIDS="$BG_PIDS $SLOWTUN"
it_wait_port "$((LF + 1))" || it_fail "slow-reader tunnel did not start"
$NU slowread "$LF" 15 20000 > "$T/slow.out" &
SR=$!
sleep 1
start=$(date +%s)
sent=$(timeout 60 $NU source "$((LF + 1))" $((64 * 1024 * 1024)) 3)
took=$(($(date +%s) - start))
sleep 0.5
got=$(tail -1 "$T/sink.out" | cut -d' ' -f1)
it_check "64 MiB beside a slow reader (sha256)" "$sent" "$got"
[ "$took" -le 30 ] && it_pass "fast transfer not stalled by the slow reader (${took}s)" ||
    it_fail "fast transfer took ${took}s"
rss=$(awk '/VmRSS/ {print $2}' /proc/$(it_sshtun_pid "$SLOWTUN")/status)
[ "${rss:-999999}" -lt 200000 ] && it_pass "memory stays bounded with a slow reader (${rss} kB)" ||
    it_fail "RSS ${rss} kB with a slow reader"
wait "$SR"
kill "$SLOWTUN"

# ---- exec alongside -L -----------------------------------------------------------------------
LP4=$(it_free_port)
it_sshtun -L "$LP4:127.0.0.1:$EP" 127.0.0.1 'sleep 2; exit 5' </dev/null 2>/dev/null &
EX=$!
it_wait_port "$LP4"
out=$(timeout 30 $NU roundtrip "$LP4" 5 5 2>&1)
it_check "tunnel carries traffic while the command runs" "ok" "$out"
wait "$EX"
it_check "exit status of the command with -L" 5 "$?"

# ---- -W --------------------------------------------------------------------------------------
out=$(echo "through -W" | it_sshtun -W "127.0.0.1:$EP" 127.0.0.1)
it_check "-W bridges stdin/stdout" "through -W" "$out"
it_sshtun -W "127.0.0.1:$CLOSED" 127.0.0.1 </dev/null 2>"$T/w.err"
it_check "-W to a refused target exits 255" 255 "$?"

# ---- ExitOnForwardFailure ------------------------------------------------------------------------
start=$(date +%s)
it_sshtun -N -o ExitOnForwardFailure=yes -L "$EP:127.0.0.1:$EP" 127.0.0.1 2>"$T/eoff.err"
rc=$?
took=$(($(date +%s) - start))
it_check "ExitOnForwardFailure with a busy port exits 255" 255 "$rc"
[ "$took" -le 5 ] && it_pass "and quickly (${took}s)" || it_fail "took ${took}s"
grep -q "Address already in use" "$T/eoff.err" && it_pass "bind failure named" || it_fail "$(cat "$T/eoff.err")"
it_sshtun -N -L "$EP:127.0.0.1:$EP" 127.0.0.1 2>"$T/warn.err" &
W=$!
sleep 1.5
kill -0 "$W" 2>/dev/null && it_pass "without ExitOnForwardFailure a bind failure only warns" ||
    it_fail "exited on a bind failure without ExitOnForwardFailure"
kill "$W" 2>/dev/null; wait "$W" 2>/dev/null
# The server can only bind 127.0.0.1 (clientspecified), where the port is taken.
it_sshtun -N -o ExitOnForwardFailure=yes -R "127.0.0.1:$EP:127.0.0.1:$EP" 127.0.0.1 2>"$T/reoff.err"
it_check "ExitOnForwardFailure when the server refuses -R" 255 "$?"
grep -q "remote port forwarding failed for listen port $EP" "$T/reoff.err" &&
    it_pass "refused -R named" || it_fail "$(cat "$T/reoff.err")"

# ---- a long path: the window grows to it ------------------------------------------------------
# tests/bench/delayline holds every byte 25 ms each way in front of sshd.
# The first TCP hop (to the relay) says 0.05 ms; the engine measures the
# 50 ms round trip end to end and grows the download's window past 2 MiB.
head -c $((64 * 1024 * 1024)) /dev/urandom > "$T/big"
WANT_BIG="$(sha256sum < "$T/big" | cut -d' ' -f1) $((64 * 1024 * 1024))"
BP=$(it_free_port)
socat -U TCP-LISTEN:"$BP",bind=127.0.0.1,reuseaddr,fork OPEN:"$T/big" 2>/dev/null &
BG_PIDS="$BG_PIDS $!"
DLP=$(it_free_port)
"$BUILD/tests/delayline" "$DLP" "$PORT" 25 > "$T/delayline.log" 2>&1 &
BG_PIDS="$BG_PIDS $!"
it_wait_port "$BP" && it_wait_port "$DLP" || it_fail "long path: relay or source did not start"
sed "s/^\[127.0.0.1\]:$PORT /[127.0.0.1]:$DLP /" "$T/known_hosts" > "$T/known_hosts_lp"
LLP=$(it_free_port)
timeout 60 "$SSHTUN" -F none -p "$DLP" -l "$USER_NAME" -i "$T/user_ed25519" \
    -o UserKnownHostsFile="$T/known_hosts_lp" -o GlobalKnownHostsFile=/dev/null \
    -o BatchMode=yes -o LogLevel=DEBUG2 -N -L "$LLP:127.0.0.1:$BP" 127.0.0.1 2>"$T/lp.err" &
LPT=$!
BG_PIDS="$BG_PIDS $LPT"
it_wait_port "$LLP" || it_fail "long path: tunnel did not start"
sleep 0.5 # the probe's forwarded connection is over
got=$(timeout 60 $NU fetch "$LLP")
it_check "64 MiB down a 50 ms path (sha256 bytes)" "$WANT_BIG" "$got"
rtt=$(sed -n 's/.*debug2: round trip [0-9]* ms ([a-z ]*): receive windows sized to \([0-9]*\) ms.*/\1/p' "$T/lp.err" | tail -1)
[ "${rtt:-0}" -ge 50 ] && [ "${rtt:-0}" -le 150 ] && it_pass "round trip measured through the relay (${rtt} ms)" ||
    it_fail "round trip through the relay: '${rtt}' ms: $(grep "round trip" "$T/lp.err")"
grep -q "receive window grown to" "$T/lp.err" && it_pass "the window grew on the long path" ||
    it_fail "the window did not grow on the long path"
kill "$LPT" 2>/dev/null

# ---- ServerAliveInterval against a stopped server ---------------------------------------------------
it_sshtun -N -o ServerAliveInterval=1 -o ServerAliveCountMax=2 127.0.0.1 2>"$T/alive.err" &
AL=$!
sleep 1.5
kids=$(pgrep -P "$SSHD_PID")
grandkids=$(for k in $kids; do pgrep -P "$k"; done)
kill -STOP $kids $grandkids 2>/dev/null
start=$(date +%s)
wait "$AL"
rc=$?
took=$(($(date +%s) - start))
kill -CONT $kids $grandkids 2>/dev/null
it_check "ServerAliveInterval: exit 255 when the server stops answering" 255 "$rc"
[ "$took" -le 6 ] && it_pass "detected within interval x count + a little (${took}s)" ||
    it_fail "detection took ${took}s"
grep -q "Timeout, server 127.0.0.1 not responding." "$T/alive.err" && it_pass "timeout message" ||
    it_fail "timeout message: $(cat "$T/alive.err")"

kill "$TUN" 2>/dev/null

# ---- memory comes back after a burst -------------------------------------------------------------
# 1000 streams echo 256 KiB each at once through sshtun -L into sshtund:
# both grow their buffers (sockets slower than the tunnel), and both must
# be back near their idle size a few seconds after the burst (before, they
# kept their peak until the connection ended).  Under AddressSanitizer
# freed memory is quarantined and returned to the kernel only now and then:
# these two processes run without quarantine and with a short release
# interval, so that their RSS says what they freed, and without allocation
# stack traces (ASan keeps every distinct one for the life of the process,
# and a burst takes many paths for the first time: CI once saw sshtund
# "keep" 4.2 MiB that a Release build gives back to within 0.2 MiB).
ASAN_SAVED=${ASAN_OPTIONS-}
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=0:allocator_release_to_os_interval_ms=100:malloc_context_size=0"
# (Workers 1: the process started is the network process whose RSS is read)
it_sshtund_start "Workers 1"
echo "[127.0.0.1]:$PORT $(cut -d' ' -f1,2 "$T/host_ed25519.pub")" > "$T/known_hosts_srv"
LM=$(it_free_port)
timeout 120 "$SSHTUN" -F none -p "$PORT" -l "$USER_NAME" -i "$T/user_ed25519" \
    -o UserKnownHostsFile="$T/known_hosts_srv" -o GlobalKnownHostsFile=/dev/null \
    -o BatchMode=yes -N -L "$LM:127.0.0.1:$EP" 127.0.0.1 2>"$T/mem.err" &
MT=$!
export ASAN_OPTIONS=$ASAN_SAVED
it_wait_port "$LM" || it_fail "memory: tunnel did not start: $(cat "$T/mem.err")"
MT=$(it_sshtun_pid "$MT")
# A small burst first, so that the idle size includes what the first use of
# each path allocates once (libc's and libcrypto's lazily built tables):
# the check is about what a burst leaves behind, not about first use.
timeout 30 $NU burst "$LM" 20 65536 > "$T/burst0.out" 2>&1 ||
    it_fail "warm-up burst: $(tail -2 "$T/burst0.out")"
sleep 1.5
rss() { awk '/^VmRSS/ { print $2 }' "/proc/$1/status" 2>/dev/null || echo 0; }
c0=$(rss "$MT") s0=$(rss "$IT_SSHTUND_PID")
timeout 100 $NU burst "$LM" 1000 262144 > "$T/burst.out" 2>&1 &
B=$!
c1=$c0 s1=$s0
while kill -0 "$B" 2>/dev/null; do
    c=$(rss "$MT") s=$(rss "$IT_SSHTUND_PID")
    [ "$c" -gt "$c1" ] && c1=$c
    [ "$s" -gt "$s1" ] && s1=$s
    sleep 0.1
done
wait "$B"
grep -q "^ok" "$T/burst.out" && it_pass "1000 x 256 KiB echoed through sshtun -L and sshtund" ||
    it_fail "burst: $(tail -2 "$T/burst.out")"
sleep 4
c2=$(rss "$MT") s2=$(rss "$IT_SSHTUND_PID")
echo "RSS kB before / peak / 4 s after: sshtun $c0 / $c1 / $c2, sshtund $s0 / $s1 / $s2"
[ $((c1 - c0)) -ge 8192 ] && [ $((s1 - s0)) -ge 8192 ] &&
    it_pass "the burst grew both (by $(((c1 - c0) / 1024)) and $(((s1 - s0) / 1024)) MiB)" ||
    it_fail "the burst did not grow them: sshtun $c0 -> $c1, sshtund $s0 -> $s1 kB"
[ $((c2 - c0)) -le 4096 ] && it_pass "sshtun's memory came back ($c2 kB, idle $c0)" ||
    it_fail "sshtun kept $(((c2 - c0) / 1024)) MiB after the burst ($c0 -> $c1 -> $c2 kB)"
[ $((s2 - s0)) -le 4096 ] && it_pass "sshtund's memory came back ($s2 kB, idle $s0)" ||
    it_fail "sshtund kept $(((s2 - s0) / 1024)) MiB after the burst ($s0 -> $s1 -> $s2 kB)"
kill "$MT" 2>/dev/null
it_sshtund_stop

it_done
