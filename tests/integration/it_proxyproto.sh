#!/usr/bin/env bash
# it_proxyproto.sh - sshtund behind a load balancer: the PROXY protocol.
#
# A real haproxy on 127.0.0.1 (and ::1) balances round robin over two
# sshtund instances with send-proxy-v2; clients reach haproxy from other
# loopback addresses (127.0.0.2, 127.0.0.9, ::1), so the address sshtund
# must see (the client's) differs from the socket's (haproxy's, 127.0.0.1).
# Checked: both instances log the real client; haproxy's health checks
# (v2 LOCAL) pass; SSH_CONNECTION has it;
# authorized_keys from= and Match Address apply to it; a malformed header,
# a header from a peer outside ProxyProtocolFrom, a connection without a
# header and one whose header never completes are closed with one log line;
# v1 headers (printf | socat) and a v2 LOCAL header; PerSourceMaxStartups
# counts the clients a header names, not the balancer; a PROXY listener
# without ProxyProtocolFrom is a configuration error.
#
#   tests/integration/it_proxyproto.sh <build-dir>
. "$(dirname "$0")/lib.sh"
it_init "$1"
SSHTUND="$BUILD/sshtund"
[ -x "$SSHTUND" ] || { echo "FAIL: $SSHTUND not built"; exit 1; }
command -v haproxy >/dev/null || { echo "FAIL: haproxy not installed (tests/deps.sh)"; exit 1; }
command -v socat >/dev/null || { echo "FAIL: socat not installed (tests/deps.sh)"; exit 1; }

if [ "$(id -u)" != 0 ]; then
    # The point is the privileged helper's own check of the header.
    echo "SKIP-NOT-COUNTED: it_proxyproto.sh needs root (privilege separation)"
    exit 77
fi

PIDS=""
pp_cleanup() {
    local rc=$?
    for p in $PIDS; do kill -KILL -- "-$p" 2>/dev/null; done
    (exit $rc)
    it_cleanup
}
trap pp_cleanup EXIT INT TERM

# start_sshtund <name> <port> [config lines...]: sshtund on 127.0.0.1:port
# with a PROXY protocol listener; log in $T/<name>.log.
start_sshtund() {
    local name=$1 port=$2
    shift 2
    {
        echo "ListenAddress 127.0.0.1:$port proxy-protocol"
        echo "ProxyProtocolFrom 127.0.0.1"
        for k in ed25519 ecdsa rsa; do echo "HostKey $T/host_$k"; done
        echo "AuthorizedKeysFile $T/authorized_keys"
        echo "StrictModes no"
        echo "PidFile $T/$name.pid"
        echo "PermitRootLogin yes"
        echo "LogLevel DEBUG1"
        for l in "$@"; do echo "$l"; done
    } > "$T/$name.conf"
    : > "$T/$name.log"
    setsid "$SSHTUND" -D -e -f "$T/$name.conf" >> "$T/$name.log" 2>&1 &
    local pid=$!
    disown "$pid" # (no "Killed" line from bash at cleanup)
    PIDS="$PIDS $pid"
    for _ in $(seq 1 200); do
        grep -q "ready" "$T/$name.log" 2>/dev/null && return 0
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.05
    done
    echo "FAIL: sshtund $name did not start:"; cat "$T/$name.log"; exit 1
}

# Keys: ed25519 only from 127.0.0.2 or ::1, ecdsa only from 127.0.0.9 -
# never from 127.0.0.1, haproxy's address, so every login below shows
# that the real client's address was used.
{
    echo "from=\"127.0.0.2,::1\" $(cat "$T/user_ed25519.pub")"
    echo "from=\"127.0.0.9\" $(cat "$T/user_ecdsa.pub")"
} > "$T/authorized_keys"

PA=$(it_free_port)
PB=$(it_free_port)
while [ "$PB" = "$PA" ]; do PB=$(it_free_port); done
MATCH=("Match Address 127.0.0.9" "  SetEnv IT_MATCHED=yes")
start_sshtund a "$PA" "${MATCH[@]}"
start_sshtund b "$PB" "${MATCH[@]}"
grep -q "127.0.0.1 port $PA: connections start with a PROXY protocol header, accepted from 127.0.0.1" \
    "$T/a.log" && it_pass "the listener says it expects a PROXY header" ||
    it_fail "listener line: $(head -5 "$T/a.log")"

# haproxy: round robin, PROXY v2 to both; IPv4 and IPv6 frontends.
PH=$(it_free_port)
HAVE6=0
(exec 3<>/dev/tcp/::1/1) 2>/dev/null; [ -e /proc/net/if_inet6 ] && ip -6 addr show lo 2>/dev/null |
    grep -q "::1" && HAVE6=1
cat > "$T/haproxy.cfg" <<EOF
global
    maxconn 200
defaults
    mode tcp
    timeout connect 5s
    timeout client 60s
    timeout server 60s
frontend fe
    bind 127.0.0.1:$PH
$([ $HAVE6 = 1 ] && echo "    bind [::1]:$PH")
    default_backend be
backend be
    balance roundrobin
    server a 127.0.0.1:$PA send-proxy-v2 check inter 1s check-send-proxy
    server b 127.0.0.1:$PB send-proxy-v2 check inter 1s check-send-proxy
EOF
setsid haproxy -db -f "$T/haproxy.cfg" > "$T/haproxy.log" 2>&1 &
PIDS="$PIDS $!"
disown $!
it_wait_port "$PH" || { echo "FAIL: haproxy did not start"; cat "$T/haproxy.log"; exit 1; }

: > "$T/known_hosts"
for k in ed25519 ecdsa rsa; do
    for p in "$PH" "$PA"; do
        echo "[127.0.0.1]:$p $(cut -d' ' -f1,2 "$T/host_$k.pub")" >> "$T/known_hosts"
        echo "[::1]:$p $(cut -d' ' -f1,2 "$T/host_$k.pub")" >> "$T/known_hosts"
    done
done
# cl <key> <bind address> [args...]: sshtun through haproxy.
cl() {
    local key=$1 bind=$2 host=127.0.0.1
    shift 2
    case $bind in *:*) host=::1 ;; esac
    timeout 30 "$BUILD/sshtun" -F none -p "$PH" -l "$USER_NAME" -i "$T/user_$key" -b "$bind" \
        -o UserKnownHostsFile="$T/known_hosts" -o GlobalKnownHostsFile=/dev/null \
        -o StrictHostKeyChecking=yes -o BatchMode=yes -o IdentitiesOnly=yes "$host" "$@"
}

# ---- through haproxy: the real client everywhere -----------------------------------------
out1=$(cl ed25519 127.0.0.2 'echo "$SSH_CONNECTION|$SSH_CLIENT|${IT_MATCHED:-no}"' 2>"$T/err1")
out2=$(cl ed25519 127.0.0.2 'echo "$SSH_CONNECTION|$SSH_CLIENT|${IT_MATCHED:-no}"' 2>"$T/err2")
case $out1 in
"127.0.0.2 "*" 127.0.0.1 $PH|127.0.0.2 "*" $PH|no") it_pass "SSH_CONNECTION/SSH_CLIENT: the real client and the address it connected to ($out1)" ;;
*) it_fail "SSH_CONNECTION through haproxy: '$out1' ($(cat "$T/err1"))" ;;
esac
[ -n "$out2" ] && [ "${out2%%|*}" != "${out1%%|*}" ] &&
    it_pass "second connection: its own client port (${out2%%|*})" ||
    it_fail "second connection: '$out2' ($(cat "$T/err2"))"
na=$(grep -c "Connection from 127.0.0.2 port [0-9]* on 127.0.0.1 port $PH (PROXY v2 from 127.0.0.1 port" "$T/a.log")
nb=$(grep -c "Connection from 127.0.0.2 port [0-9]* on 127.0.0.1 port $PH (PROXY v2 from 127.0.0.1 port" "$T/b.log")
[ "$na" -ge 1 ] && [ "$nb" -ge 1 ] &&
    it_pass "round robin: both sshtund log the real client (a: $na, b: $nb)" ||
    it_fail "logs: a $na, b $nb; $(grep -h 'Connection from' "$T/a.log" "$T/b.log")"
grep -h "Accepted publickey for $USER_NAME from 127.0.0.2 port" "$T/a.log" "$T/b.log" | grep -q . &&
    it_pass "the helper's 'Accepted publickey' line names the real client" ||
    it_fail "Accepted line: $(grep -h Accepted "$T/a.log" "$T/b.log")"

# from= on the real address: the ecdsa key is for 127.0.0.9 only.
cl ecdsa 127.0.0.2 true 2>"$T/err3"
rc=$?
[ $rc = 255 ] && it_pass "from=\"127.0.0.9\" key refused for a client at 127.0.0.2" ||
    it_fail "ecdsa key from 127.0.0.2: exit $rc"
out=$(cl ecdsa 127.0.0.9 'echo "${SSH_CONNECTION%% *}|${IT_MATCHED:-no}"' 2>"$T/err4")
it_check "from=\"127.0.0.9\" key accepted from 127.0.0.9; Match Address 127.0.0.9 applied" \
    "127.0.0.9|yes" "$out"
cl ed25519 127.0.0.9 true 2>/dev/null
rc=$?
[ $rc = 255 ] && it_pass "from=\"127.0.0.2,::1\" key refused for a client at 127.0.0.9" ||
    it_fail "ed25519 key from 127.0.0.9: exit $rc"

if [ $HAVE6 = 1 ]; then
    out=$(cl ed25519 ::1 'echo "$SSH_CONNECTION"' 2>"$T/err5")
    case $out in
    "::1 "*" ::1 $PH") it_pass "IPv6 client through haproxy: SSH_CONNECTION '$out'" ;;
    *) it_fail "IPv6 client: '$out' ($(cat "$T/err5"))" ;;
    esac
else
    echo "note: no ::1 here, the IPv6 client is not tested"
fi

# haproxy's health checks (check-send-proxy) come as v2 LOCAL headers.
nl=$(grep -c "(PROXY v2 from 127.0.0.1 port [0-9]*, LOCAL)" "$T/a.log")
[ "$nl" -ge 1 ] && ! grep -qi "is DOWN" "$T/haproxy.log" &&
    it_pass "haproxy's health checks arrive as v2 LOCAL and pass ($nl so far on a)" ||
    it_fail "health checks: $nl LOCAL on a; $(grep -i down "$T/haproxy.log" | head -2)"

# ---- headers that must close the connection ----------------------------------------------
# banner <port> <bind> <printf format>: what the server sends back to a
# connection that starts with those bytes (its version line, or nothing).
banner() {
    { printf "$3"; sleep 1.5; } | timeout 10 socat -t 2 - "TCP:127.0.0.1:$1,bind=$2" 2>/dev/null |
        head -c 200 | tr -d '\r' | head -1
}

n0=$(grep -c "Bad PROXY protocol header" "$T/a.log")
got=$(banner "$PA" 127.0.0.1 'PROXY TCP4 1.2.3.4 zzz 1 2\r\nSSH-2.0-x\r\n')
it_check "malformed v1 header from an allowed peer: closed without a banner" "" "$got"
grep -q "Bad PROXY protocol header from 127.0.0.1 port [0-9]*: v1 destination address malformed; connection closed" \
    "$T/a.log" && it_pass "... one log line saying why" || it_fail "log: $(tail -3 "$T/a.log")"
got=$(banner "$PA" 127.0.0.1 '\r\n\r\n\0\r\nQUIT\n\x31\x11\x00\x0c')
it_check "v2 header with version 3: closed" "" "$got"
got=$(banner "$PA" 127.0.0.1 'SSH-2.0-OpenSSH_9.2\r\n')
it_check "no header at all (an SSH client straight to the listener): closed" "" "$got"
n1=$(grep -c "Bad PROXY protocol header" "$T/a.log")
it_check "three 'Bad PROXY protocol header' lines" 3 $((n1 - n0))

got=$(banner "$PA" 127.0.0.2 "PROXY TCP4 203.0.113.5 127.0.0.1 4000 $PA\\r\\n")
it_check "valid header from 127.0.0.2 (not in ProxyProtocolFrom): closed" "" "$got"
grep -q "Connection from 127.0.0.2 port [0-9]* refused: a PROXY protocol listener, and 127.0.0.2 is not in ProxyProtocolFrom" \
    "$T/a.log" && it_pass "... one log line saying why" || it_fail "log: $(tail -3 "$T/a.log")"
grep -q "203.0.113.5" "$T/a.log" && it_fail "the refused header's address reached the log" ||
    it_pass "... and its claimed address is nowhere"

# ---- v1 and LOCAL by hand -----------------------------------------------------------------
got=$(banner "$PA" 127.0.0.1 "PROXY TCP4 198.51.100.7 127.0.0.1 5555 $PA\\r\\n")
case $got in SSH-2.0-*) it_pass "v1 header: the SSH banner follows ($got)" ;;
*) it_fail "v1 header: '$got'" ;; esac
grep -q "Connection from 198.51.100.7 port 5555 on 127.0.0.1 port $PA (PROXY v1 from 127.0.0.1 port" \
    "$T/a.log" && it_pass "v1: the log has the header's client" || it_fail "v1 log: $(grep 'Connection from' "$T/a.log" | tail -2)"
got=$(banner "$PA" 127.0.0.1 "PROXY TCP6 2001:db8::5 2001:db8::1 6000 22\\r\\n")
case $got in SSH-2.0-*) it_pass "v1 TCP6 header accepted" ;; *) it_fail "v1 TCP6: '$got'" ;; esac
grep -q "Connection from 2001:db8::5 port 6000 on 2001:db8::1 port 22 (PROXY v1" "$T/a.log" &&
    it_pass "v1 TCP6: logged" || it_fail "v1 TCP6 log: $(grep 'Connection from' "$T/a.log" | tail -1)"
got=$(banner "$PA" 127.0.0.1 '\r\n\r\n\0\r\nQUIT\n\x20\x00\x00\x00')
case $got in SSH-2.0-*) it_pass "v2 LOCAL header accepted" ;; *) it_fail "v2 LOCAL: '$got'" ;; esac
grep -q "Connection from 127.0.0.1 port [0-9]* on 127.0.0.1 port $PA (PROXY v2 from 127.0.0.1 port [0-9]*, LOCAL)" \
    "$T/a.log" && it_pass "v2 LOCAL: the socket's own addresses" || it_fail "LOCAL log: $(grep 'Connection from' "$T/a.log" | tail -1)"

# A whole login over a v1 header written by a ProxyCommand (printf + socat):
# the key for 127.0.0.9 works because the header says 127.0.0.9.
cat > "$T/v1proxy.sh" <<EOF
#!/bin/sh
{ printf 'PROXY TCP4 127.0.0.9 127.0.0.1 7777 $PA\r\n'; exec cat; } | exec socat - TCP:127.0.0.1:$PA
EOF
chmod +x "$T/v1proxy.sh"
out=$(timeout 30 "$BUILD/sshtun" -F none -p "$PA" -l "$USER_NAME" -i "$T/user_ecdsa" \
    -o ProxyCommand="$T/v1proxy.sh" -o UserKnownHostsFile="$T/known_hosts" \
    -o GlobalKnownHostsFile=/dev/null -o StrictHostKeyChecking=yes -o BatchMode=yes \
    -o IdentitiesOnly=yes 127.0.0.1 'echo "$SSH_CONNECTION"' 2>"$T/err6")
it_check "login over a v1 header from socat: SSH_CONNECTION" "127.0.0.9 7777 127.0.0.1 $PA" "$out"

# ---- a header that never completes: closed after the deadline ------------------------------
start=$(date +%s)
got=$( { printf 'PROXY TCP4 127.0.0.9'; sleep 8; } |
    timeout 15 socat -t 1 - "TCP:127.0.0.1:$PA" 2>/dev/null | head -c 100)
took=$(( $(date +%s) - start ))
it_check "incomplete header: nothing answered" "" "$got"
grep -q "No complete PROXY protocol header from 127.0.0.1 port [0-9]* within 5 s; connection closed" \
    "$T/a.log" && it_pass "incomplete header: closed after 5 s (${took}s), one log line" ||
    it_fail "deadline: $(tail -3 "$T/a.log")"

# ---- PerSourceMaxStartups counts the real clients, not the balancer -------------------------
PC=$(it_free_port)
while [ "$PC" = "$PA" ] || [ "$PC" = "$PB" ]; do PC=$(it_free_port); done
start_sshtund c "$PC" "PerSourceMaxStartups 1"
{ printf "PROXY TCP4 198.51.100.20 127.0.0.1 1000 $PC\r\n"; sleep 8; } |
    timeout 15 socat -t 1 - "TCP:127.0.0.1:$PC" > "$T/hold.out" 2>/dev/null &
HOLD=$!
for _ in $(seq 1 100); do
    grep -q "Connection from 198.51.100.20 port 1000" "$T/c.log" && break
    sleep 0.05
done
got=$(banner "$PC" 127.0.0.1 "PROXY TCP4 198.51.100.20 127.0.0.1 1001 $PC\\r\\n")
it_check "PerSourceMaxStartups 1: a second unauthenticated connection from 198.51.100.20 is dropped" "" "$got"
grep -q "drop connection #[0-9]* from \[198.51.100.20\]:1001 past PerSourceMaxStartups (1 unauthenticated from its /32)" \
    "$T/c.log" && it_pass "... with sshd's kind of log line" || it_fail "drop log: $(tail -3 "$T/c.log")"
got=$(banner "$PC" 127.0.0.1 "PROXY TCP4 198.51.100.21 127.0.0.1 1002 $PC\\r\\n")
case $got in SSH-2.0-*) it_pass "control: another client through the same balancer is served" ;;
*) it_fail "another client: '$got' ($(tail -3 "$T/c.log"))" ;; esac
kill "$HOLD" 2>/dev/null
wait "$HOLD" 2>/dev/null

# SIGHUP with the listener no longer marked proxy-protocol: the network
# process and the helper both follow the new configuration at once.
sed -i "s/^ListenAddress 127.0.0.1:$PC proxy-protocol$/ListenAddress 127.0.0.1:$PC/" "$T/c.conf"
kill -HUP "$(cat "$T/c.pid")"
for _ in $(seq 1 100); do
    grep -q "configuration reloaded" "$T/c.log" && break
    sleep 0.05
done
out=$(timeout 30 "$BUILD/sshtun" -F none -p "$PC" -l "$USER_NAME" -i "$T/user_ed25519" -b 127.0.0.2 \
    -o UserKnownHostsFile="$T/known_hosts" -o GlobalKnownHostsFile=/dev/null \
    -o StrictHostKeyChecking=no -o BatchMode=yes -o IdentitiesOnly=yes 127.0.0.1 \
    'echo "${SSH_CONNECTION%% *}"' 2>"$T/err7")
it_check "after SIGHUP without proxy-protocol: a direct login from 127.0.0.2 (no header)" "127.0.0.2" "$out"
got=$(banner "$PC" 127.0.0.1 "PROXY TCP4 198.51.100.22 127.0.0.1 1003 $PC\\r\\n")
grep -q "198.51.100.22" "$T/c.log" && it_fail "after SIGHUP a PROXY header still counted" ||
    it_pass "after SIGHUP a PROXY header is not taken as an address"

# ---- still alive, and the configuration rules ----------------------------------------------
out=$(cl ed25519 127.0.0.2 'echo alive' 2>&1)
it_check "both instances still serve after all that" alive "$out"
printf 'Port 2222\nListenAddress 127.0.0.1:2222 proxy-protocol\nHostKey %s\n' "$T/host_ed25519" > "$T/bad.conf"
err=$("$SSHTUND" -t -f "$T/bad.conf" 2>&1)
rc=$?
[ $rc = 255 ] && case $err in *"ProxyProtocolFrom is not set"*) true ;; *) false ;; esac &&
    it_pass "a PROXY listener without ProxyProtocolFrom: refused ($err)" ||
    it_fail "no ProxyProtocolFrom: exit $rc, '$err'"
printf 'ProxyProtocol yes\nProxyProtocolFrom 10.0.0.0/8 192.0.2.1\nHostKey %s\n' "$T/host_ed25519" > "$T/ok.conf"
"$SSHTUND" -T -f "$T/ok.conf" 2>&1 | grep -q "^proxyprotocolfrom 10.0.0.0/8,192.0.2.1$" &&
    it_pass "-T prints ProxyProtocolFrom" || it_fail "-T: $("$SSHTUND" -T -f "$T/ok.conf" 2>&1 | grep -i proxy)"
for c in a b c; do
    grep -qi "sanitizer\|runtime error" "$T/$c.log" && it_fail "sanitizer report in $c's log"
done
it_done
