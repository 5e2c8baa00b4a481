#!/usr/bin/env bash
# bench.sh - sshtun and OpenSSH ssh side by side, against the same
# throwaway sshd on 127.0.0.1, in one run; prints figures and ratios.
#
#   tests/bench/bench.sh [build-dir] [section...]
#
# Sections: connect, exec, forward, idle, latency (default: all).  The build
# directory should be an optimised build without sanitizers (default: a
# Release build in build-rel, made if missing).  Times are wall-clock on a
# shared machine: read the ratios, not the absolute numbers.
set -u
cd "$(dirname "$0")/../.."
ROOT=$PWD
BUILD=${1:-build-rel}
shift || true
SECTIONS=${*:-connect exec forward idle latency}
if [ ! -x "$BUILD/sshtun" ]; then
    cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DSSHTUN_TESTS=OFF >/dev/null &&
        cmake --build "$BUILD" -j"$(nproc)" --target sshtun >/dev/null || exit 1
fi
. tests/integration/lib.sh
it_init "$BUILD"
it_start_sshd "MaxStartups 200" "MaxSessions 100"
it_known_hosts
NU="python3 $ROOT/tests/integration/netutil.py"
ulimit -n 16384 2>/dev/null || ulimit -n 4096 2>/dev/null
COMMON=(-F none -p "$PORT" -l "$USER_NAME" -i "$T/user_ed25519" -o IdentitiesOnly=yes
        -o IdentityAgent=none -o UserKnownHostsFile="$T/known_hosts" -o BatchMode=yes)
SSH=$(command -v ssh)
TUN="$SSHTUN" # set by it_init
TICK=$(getconf CLK_TCK)

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }
# cpu seconds (user+sys) used so far by pid
cpu_of() { awk -v t="$TICK" '{ printf "%.3f", ($14 + $15) / t }' "/proc/$1/stat" 2>/dev/null || echo 0; }
rss_of() { awk '/VmRSS/ { print $2 }' "/proc/$1/status" 2>/dev/null || echo 0; }
# run a command, print "wall user+sys" of it and its children
timed() {
    local TIMEFORMAT='%R %U %S'
    { time "$@" >/dev/null 2>&1; } 2>&1 | awk '{ printf "%.3f %.3f\n", $1, $2 + $3 }'
}

echo "# sshtun benchmarks ($(date -u +%Y-%m-%d), $(nproc) cores, $(ssh -V 2>&1 | cut -d, -f1))"

if [[ " $SECTIONS " == *" connect "* ]]; then
    N=20
    for prog in "$SSH" "$TUN"; do
        r=$(timed bash -c "for i in \$(seq $N); do '$prog' ${COMMON[*]} 127.0.0.1 true; done")
        eval "$(basename "$prog" | tr -d -)_conn=\"$r\""
    done
    read -r sw sc <<<"$ssh_conn"
    read -r tw tc <<<"$sshtun_conn"
    printf "connect+auth+true x%d: ssh %.1f ms wall %.1f ms CPU; sshtun %.1f ms wall %.1f ms CPU; wall %sx, CPU %sx\n" \
        $N "$(awk -v x="$sw" -v n=$N 'BEGIN{print x*1000/n}')" "$(awk -v x="$sc" -v n=$N 'BEGIN{print x*1000/n}')" \
        "$(awk -v x="$tw" -v n=$N 'BEGIN{print x*1000/n}')" "$(awk -v x="$tc" -v n=$N 'BEGIN{print x*1000/n}')" \
        "$(ratio "$tw" "$sw")" "$(ratio "$tc" "$sc")"
fi

if [[ " $SECTIONS " == *" exec "* ]]; then
    for c in aes128-gcm@openssh.com chacha20-poly1305@openssh.com; do
        for prog in "$SSH" "$TUN"; do
            r=$(timed "$prog" "${COMMON[@]}" -c "$c" 127.0.0.1 'head -c 1073741824 /dev/zero')
            eval "$(basename "$prog" | tr -d -)_exec=\"$r\""
        done
        read -r sw sc <<<"$ssh_exec"
        read -r tw tc <<<"$sshtun_exec"
        printf "1 GiB stdout via exec, %s: ssh %.0f MB/s %.2f CPU s/GiB; sshtun %.0f MB/s %.2f CPU s/GiB; speed %sx, CPU %sx\n" \
            "$c" "$(awk -v w="$sw" 'BEGIN{print 1024/w}')" "$sc" "$(awk -v w="$tw" 'BEGIN{print 1024/w}')" "$tc" \
            "$(ratio "$sw" "$tw")" "$(ratio "$tc" "$sc")"
    done
fi

# Start a -N -L tunnel with $1 (ssh or sshtun) to 127.0.0.1:$2 on local port
# $3; sets TPID to the tunnel process.
start_tunnel() {
    "$1" "${COMMON[@]}" ${4:+-c "$4"} -N -L "$3:127.0.0.1:$2" 127.0.0.1 &
    TPID=$!
    it_wait_port "$3" || { echo "tunnel did not start"; exit 1; }
}

if [[ " $SECTIONS " == *" forward "* ]]; then
    SINK=$(it_free_port)
    socat -u TCP-LISTEN:"$SINK",bind=127.0.0.1,fork,reuseaddr OPEN:/dev/null &
    BG_PIDS="${BG_PIDS:-} $!"
    it_wait_port "$SINK"
    for c in aes128-gcm@openssh.com chacha20-poly1305@openssh.com; do
        for prog in "$SSH" "$TUN"; do
            LP=$(it_free_port)
            start_tunnel "$prog" "$SINK" "$LP" "$c"
            c0=$(cpu_of "$TPID")
            r=$(timed bash -c "head -c 1073741824 /dev/zero | socat -u - TCP:127.0.0.1:$LP")
            sleep 0.3
            c1=$(cpu_of "$TPID")
            kill "$TPID"; wait "$TPID" 2>/dev/null
            w=${r%% *}
            eval "$(basename "$prog" | tr -d -)_fwd=\"$w $(awk -v a="$c0" -v b="$c1" 'BEGIN{print b-a}')\""
        done
        read -r sw sc <<<"$ssh_fwd"
        read -r tw tc <<<"$sshtun_fwd"
        printf "bulk -L 1 GiB, %s: ssh %.0f MB/s %.2f client CPU s/GiB; sshtun %.0f MB/s %.2f; throughput %sx, CPU %sx\n" \
            "$c" "$(awk -v w="$sw" 'BEGIN{print 1024/w}')" "$sc" "$(awk -v w="$tw" 'BEGIN{print 1024/w}')" "$tc" \
            "$(ratio "$sw" "$tw")" "$(ratio "$tc" "$sc")"
    done
fi

if [[ " $SECTIONS " == *" idle "* || " $SECTIONS " == *" latency "* ]]; then
    ECHO=$(it_free_port)
    it_bg "$T/echo.log" $NU echo "$ECHO"
fi

if [[ " $SECTIONS " == *" idle "* ]]; then
    CONNS=1000
    for prog in "$SSH" "$TUN"; do
        LP=$(it_free_port)
        start_tunnel "$prog" "$ECHO" "$LP"
        sleep 0.5
        r0=$(rss_of "$TPID")
        $NU hold "$LP" "$CONNS" 30 > "$T/hold.log" 2>&1 &
        H=$!
        for _ in $(seq 1 600); do grep -q ready "$T/hold.log" && break; sleep 0.1; done
        r1=$(rss_of "$TPID")
        kill "$H" 2>/dev/null; wait "$H" 2>/dev/null
        kill "$TPID"; wait "$TPID" 2>/dev/null
        grep -q ready "$T/hold.log" || echo "warning: $(basename "$prog") did not hold $CONNS connections: $(tail -1 "$T/hold.log")"
        eval "$(basename "$prog" | tr -d -)_idle=\"$(awk -v a="$r0" -v b="$r1" -v n=$CONNS 'BEGIN{printf "%.2f", (b-a)/n}')\""
    done
    printf "%d idle forwarded connections: ssh %s KiB/conn; sshtun %s KiB/conn; ratio %sx\n" \
        "$CONNS" "$ssh_idle" "$sshtun_idle" "$(ratio "$sshtun_idle" "$ssh_idle")"
fi

if [[ " $SECTIONS " == *" latency "* ]]; then
    for prog in "$SSH" "$TUN"; do
        LP=$(it_free_port)
        start_tunnel "$prog" "$ECHO" "$LP"
        r=$(timeout 300 $NU latency "$LP" 1000 10)
        kill "$TPID"; wait "$TPID" 2>/dev/null
        eval "$(basename "$prog" | tr -d -)_lat=\"$r\""
    done
    read -r s50 s99 <<<"$ssh_lat"
    read -r t50 t99 <<<"$sshtun_lat"
    printf "1000 concurrent round trips via -L: ssh p50 %s ms p99 %s ms; sshtun p50 %s ms p99 %s ms; p50 %sx p99 %sx\n" \
        "$s50" "$s99" "$t50" "$t99" "$(ratio "$t50" "$s50")" "$(ratio "$t99" "$s99")"
fi
