#!/usr/bin/env bash
# bench.sh - sshtun and OpenSSH ssh side by side, against the same
# throwaway sshd on 127.0.0.1, in one run; prints figures and ratios.
#
#   tests/bench/bench.sh [build-dir] [section...]
#
# Sections: connect, exec, compress, forward, forward-py, idle, latency,
# mux, kex (each key exchange, against OpenSSH 10.0 from
# tests/openssh10.sh), longpath, memory, jump, and sshtund against sshd:
# server-idle, server-rate, server-bulk, workers (default: all).  The build
# directory should be an optimised build without sanitizers (default: a
# Release build in build-rel, made if missing).  Times are wall-clock on a
# shared machine: read the ratios, not the absolute numbers.
set -u
cd "$(dirname "$0")/../.."
ROOT=$PWD
BUILD=${1:-build-rel}
shift || true
SECTIONS=${*:-connect exec compress forward forward-py idle latency mux kex server-idle server-rate server-bulk workers longpath memory jump}
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

# wait until something listens on 127.0.0.1:$1, without connecting to it
it_wait_port_listening() {
    local hex
    hex=$(printf '%04X' "$1")
    for _ in $(seq 1 200); do
        grep -q "^ *[0-9]*: 0100007F:$hex 00000000:0000 0A" /proc/net/tcp && return 0
        sleep 0.02
    done
    return 1
}
# busy and total jiffies of the whole machine so far (/proc/stat)
machine_busy() { awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 ":" $2 + $3 + $4 + $5 + $6 + $7 + $8 }' /proc/stat; }
# "<busy %> <CPU s/GiB of every process>" between two machine_busy readings (1 GiB moved)
busy_share() {
    awk -v a="$1" -v b="$2" -v t="$TICK" 'BEGIN { split(a, x, ":"); split(b, y, ":");
        printf "%.0f %.2f", 100 * (y[1] - x[1]) / (y[2] - x[2]), (y[1] - x[1]) / t }'
}
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
        xc=$(med < "$T/py_seal")
        printf "  reference: a blocking C relay sealing every 32 KiB (sealrelay) %s CPU s/GiB (%sx floor); sshtun at %sx of it, ssh at %sx\n" \
            "$(per_gib "$xc")" "$(ratio "$xc" "$fl")" "$(ratio "$tc" "$xc")" "$(ratio "$sc" "$xc")"
    done
fi

# Compression: 512 MiB of text (`seq` output, which zlib shrinks about
# 4:1) up through `cat >/dev/null` and down from `cat file`, with -C
# (zlib@openssh.com both ways), sshtun beside ssh; client CPU and speed.
if [[ " $SECTIONS " == *" compress "* ]]; then
    seq 1 100000000 | head -c 536870912 > "$T/text512"
    for dir in up down; do
        for prog in "$SSH" "$TUN"; do
            if [ $dir = up ]; then
                r=$(timed "$prog" "${COMMON[@]}" -C 127.0.0.1 'cat >/dev/null' < "$T/text512")
            else
                r=$(timed "$prog" "${COMMON[@]}" -C 127.0.0.1 "cat $T/text512")
            fi
            eval "$(basename "$prog" | tr -d -)_comp=\"$r\""
        done
        read -r sw sc <<<"$ssh_comp"
        read -r tw tc <<<"$sshtun_comp"
        printf "512 MiB text %s with -C: ssh %.0f MB/s %.2f CPU s; sshtun %.0f MB/s %.2f CPU s; speed %sx, CPU %sx\n" \
            "$dir" "$(awk -v w="$sw" 'BEGIN{print 512/w}')" "$sc" "$(awk -v w="$tw" 'BEGIN{print 512/w}')" "$tc" \
            "$(ratio "$sw" "$tw")" "$(ratio "$tc" "$sc")"
        xc=$(med < "$T/py_seal")
        printf "  reference: a blocking C relay sealing every 32 KiB (sealrelay) %s CPU s/GiB (%sx floor); sshtun at %sx of it, ssh at %sx\n" \
            "$(per_gib "$xc")" "$(ratio "$xc" "$fl")" "$(ratio "$tc" "$xc")" "$(ratio "$sc" "$xc")"
    done
    rm -f "$T/text512"
fi

# Connection sharing: `true` through a running master (-M -N -f), sshtun's
# against ssh's, same sshd; then each master's RSS with idle mux clients
# (each an open session running `cat` on an idle pipe; closing the pipe
# ends them all).  The server allows 100 sessions per connection: sshtun's
# master is told so (-o MaxSessions=100) for the like-for-like figure, and
# measured once more with its default of 10 per connection (it then opens
# more connections, as it does against a default sshd).
if [[ " $SECTIONS " == *" mux "* ]]; then
    N=50
    IDLE=100
    mux_master() { # prog socket [options...]: start a master, print its pid
        local prog=$1 sock=$2
        shift 2
        "$prog" "${COMMON[@]}" "$@" -M -S "$sock" -N -f 127.0.0.1 >/dev/null 2>&1 || return 1
        "$prog" "${COMMON[@]}" -S "$sock" -O check 127.0.0.1 2>&1 |
            sed -n 's/^Master running (pid=\([0-9]*\)).*/\1/p' | head -1
    }
    accepted() { grep -c "Accepted publickey" "$T/sshd.log"; }
    # ms of one `true` by passenger $1 through socket $2
    one_true() {
        local t0
        t0=$(date +%s%N)
        "$1" "${COMMON[@]}" -S "$2" 127.0.0.1 true </dev/null >/dev/null 2>&1
        echo $((($(date +%s%N) - t0) / 1000))
    }
    # mean ms of `true` through each "passenger socket" pair given, $N
    # rounds, interleaved (load on a shared machine hits them alike)
    mux_true() {
        local i k a0 sums=() args=("$@")
        for ((k = 0; k < ${#args[@]}; k += 2)); do
            one_true "${args[k]}" "${args[k + 1]}" >/dev/null # warm-up
            sums[k]=0
        done
        a0=$(accepted)
        for ((i = 0; i < N; i++)); do
            for ((k = 0; k < ${#args[@]}; k += 2)); do
                sums[k]=$((sums[k] + $(one_true "${args[k]}" "${args[k + 1]}")))
            done
        done
        [ "$(accepted)" = "$a0" ] || echo "warning: a passenger connected by itself" >&2
        for ((k = 0; k < ${#args[@]}; k += 2)); do
            awk -v s="${sums[k]}" -v n=$N 'BEGIN { printf "%.2f ", s / 1000 / n }'
        done
    }
    # KiB the master $3 grows by with $IDLE idle sessions of passenger $1
    # through socket $2
    mux_idle() {
        local prog=$1 sock=$2 mpid=$3 r0 r1 s0 nc pids="" i
        rm -f "$T/idle.fifo" && mkfifo "$T/idle.fifo"
        exec 7<>"$T/idle.fifo"
        sleep 0.3
        r0=$(rss_of "$mpid")
        s0=$(grep -c "Starting session" "$T/sshd.log")
        for i in $(seq $IDLE); do
            "$prog" "${COMMON[@]}" -S "$sock" 127.0.0.1 'cat >/dev/null' <"$T/idle.fifo" >/dev/null 2>&1 7>&- &
            pids="$pids $!"
        done
        for i in $(seq 600); do
            [ $(($(grep -c "Starting session" "$T/sshd.log") - s0)) -ge $IDLE ] && break
            sleep 0.1
        done
        [ "$i" = 600 ] && echo "warning: $(basename "$prog"): not all $IDLE sessions started" >&2
        sleep 1
        r1=$(rss_of "$mpid")
        # connections of an sshtun master (an ssh master does not tell: 1)
        nc=$("$TUN" "${COMMON[@]}" -S "$sock" -O status 127.0.0.1 2>/dev/null | grep -c "^connection [0-9]")
        exec 7>&- # EOF on every passenger's stdin: the sessions end
        for p in $pids; do wait "$p" 2>/dev/null; done
        echo "$r0 $r1 $((nc > 0 ? nc : 1))"
    }
    MS="$T/mux-ssh" MT="$T/mux-tun" MD="$T/mux-tun10"
    PS=$(mux_master "$SSH" "$MS")
    PT=$(mux_master "$TUN" "$MT" -o MaxSessions=$IDLE)
    PD=$(mux_master "$TUN" "$MD")
    if [ -z "$PS" ] || [ -z "$PT" ] || [ -z "$PD" ]; then
        echo "mux: a master did not start (ssh '$PS', sshtun '$PT' '$PD')"
    else
        read -r ss_t tt_t st_t <<<"$(mux_true "$SSH" "$MS" "$TUN" "$MT" "$SSH" "$MT")"
        printf "mux: \`true\` through a running master, mean of %d: ssh -S on ssh -M %s ms; sshtun on sshtun %s ms (%sx); ssh -S on an sshtun master %s ms (%sx)\n" \
            $N "$ss_t" "$tt_t" "$(ratio "$tt_t" "$ss_t")" "$st_t" "$(ratio "$st_t" "$ss_t")"
        read -r s0 s1 _ <<<"$(mux_idle "$SSH" "$MS" "$PS")"
        read -r t0 t1 nt <<<"$(mux_idle "$TUN" "$MT" "$PT")"
        read -r d0 d1 nd <<<"$(mux_idle "$TUN" "$MD" "$PD")"
        printf "mux: master RSS with %d idle mux clients: ssh %d KiB (+%d); sshtun %d KiB (+%d, %d connection%s), %sx; sshtun at 10 sessions per connection %d KiB (+%d, %d connections), %sx\n" \
            $IDLE "$s1" $((s1 - s0)) "$t1" $((t1 - t0)) "$nt" "$([ "$nt" = 1 ] || echo s)" \
            "$(ratio "$t1" "$s1")" "$d1" $((d1 - d0)) "$nd" "$(ratio "$d1" "$s1")"
    fi
    for s in "$MS" "$MT" "$MD"; do
        [ -S "$s" ] && "$TUN" "${COMMON[@]}" -S "$s" -O exit 127.0.0.1 >/dev/null 2>&1
    done
fi

# Start a -N -L tunnel with $1 (ssh or sshtun) to 127.0.0.1:$2 on local port
# $3; sets TPID to the tunnel process.
start_tunnel() {
    "$1" "${COMMON[@]}" ${4:+-c "$4"} -N -L "$3:127.0.0.1:$2" 127.0.0.1 &
    TPID=$!
    it_wait_port "$3" || { echo "tunnel did not start"; exit 1; }
}

# CPU seconds of a plain socat relay (256 KiB buffers) carrying 1 GiB from
# the same kind of sender to $SINK: what the kernel alone costs a relay.
relay_cpu() {
    local rp
    rp=$(it_free_port)
    timed socat -b 262144 -u TCP-LISTEN:"$rp",bind=127.0.0.1,reuseaddr TCP:127.0.0.1:"$SINK" > "$T/relay.t" &
    local tpid=$!
    head -c 1073741824 /dev/zero | socat -u - TCP:127.0.0.1:"$rp",retry=100,interval=0.05
    wait "$tpid"
    cut -d' ' -f2 "$T/relay.t"
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
            m0=$(machine_busy)
            r=$(timed bash -c "head -c 1073741824 /dev/zero | socat -u - TCP:127.0.0.1:$LP")
            m1=$(machine_busy)
            sleep 0.3
            c1=$(cpu_of "$TPID")
            kill "$TPID"; wait "$TPID" 2>/dev/null
            w=${r%% *}
            eval "$(basename "$prog" | tr -d -)_fwd=\"$w $(awk -v a="$c0" -v b="$c1" 'BEGIN{print b-a}') $(busy_share "$m0" "$m1")\""
        done
        read -r sw sc sb sall <<<"$ssh_fwd"
        read -r tw tc tb tall <<<"$sshtun_fwd"
        printf "bulk -L 1 GiB, %s: ssh %.0f MB/s %.2f client CPU s/GiB; sshtun %.0f MB/s %.2f; throughput %sx, CPU %sx\n" \
            "$c" "$(awk -v w="$sw" 'BEGIN{print 1024/w}')" "$sc" "$(awk -v w="$tw" 'BEGIN{print 1024/w}')" "$tc" \
            "$(ratio "$sw" "$tw")" "$(ratio "$tc" "$sc")"
        # Whether the cores were the limit: when the machine is busy all
        # through, throughput is the cores over every process's CPU per GiB
        # (sender, relays, sshd, sink), and the client is only part of it.
        printf "bulk -L 1 GiB, %s: the machine busy %s%% (ssh run) / %s%% (sshtun run) of %d cores; every process together %s / %s CPU s/GiB\n" \
            "$c" "$sb" "$tb" "$(nproc)" "$sall" "$tall"
        # The floor under any tunnel here: the loopback socket work of a plain
        # relay (socat, no crypto) moving the same GiB the same way, plus
        # libcrypto's own time for the cipher on 32 KiB packets.
        case $c in aes128-gcm*) evp=aes-128-gcm ;; *) evp=chacha20-poly1305 ;; esac
        cryp=$(openssl speed -evp "$evp" -bytes 32768 -seconds 1 2>/dev/null | tail -1 |
            awk '{ k = $NF; sub(/k$/, "", k); if (k > 0) printf "%.3f", 1073741824 / (k * 1000) }')
        if [ -n "$cryp" ]; then
            relay=$(relay_cpu)
            fl=$(awk -v a="$relay" -v b="$cryp" 'BEGIN { printf "%.2f", a + b }')
            printf "bulk -L floor, %s: plain relay %.2f + libcrypto %.2f = %.2f CPU s/GiB, %sx ssh's; sshtun above it by %sx\n" \
                "$c" "$relay" "$cryp" "$fl" "$(ratio "$fl" "$sc")" "$(ratio "$tc" "$fl")"
        fi
    done
fi

# forward-py: the same bulk -L, but the sender and the sink are Python
# programs (tests/bench/pyends.py, /usr/bin/python3) on the same two cores,
# as real applications are, so the tunnel competes with its endpoints for
# CPU.  The floor is measured the same way: a socat relay with 256 KiB
# buffers between the same two Python programs, plus libcrypto's own time
# for the cipher.  FWDPY_MB (default 1024) MiB per run, FWDPY_ROUNDS
# (default 3) rounds of floor, ssh and sshtun taking turns; medians.
py_bulk() { # <port to send to> <sink port>: seconds until the sink had it all
    local sp t0 t1
    /usr/bin/python3 "$ROOT/tests/bench/pyends.py" sink "$2" > "$T/pysink.out" &
    sp=$!
    for _ in $(seq 1 1500); do grep -q ready "$T/pysink.out" 2>/dev/null && break; sleep 0.02; done
    t0=$(date +%s.%N)
    /usr/bin/python3 "$ROOT/tests/bench/pyends.py" send "$1" "$PYBYTES" &
    wait "$sp"
    t1=$(date +%s.%N)
    wait
    [ "$(tail -1 "$T/pysink.out")" = "$PYBYTES" ] || echo "warning: the sink got $(tail -1 "$T/pysink.out") bytes" >&2
    awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }'
}
if [[ " $SECTIONS " == *" forward-py "* ]]; then
    PYMB=${FWDPY_MB:-1024}
    PYBYTES=$((PYMB * 1048576))
    PYROUNDS=${FWDPY_ROUNDS:-3}
    SEALRELAY="$BUILD/sealrelay"
    if [ ! -x "$SEALRELAY" ] || [ "$SEALRELAY" -ot tests/bench/sealrelay.c ]; then
        cc -O2 -o "$SEALRELAY" tests/bench/sealrelay.c -lcrypto || exit 1
    fi
    med() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
    per_gib() { awk -v x="$1" -v m="$PYMB" 'BEGIN { printf "%.2f", x * 1024 / m }'; }
    for c in aes128-gcm@openssh.com chacha20-poly1305@openssh.com; do
        : > "$T/py_floor" ; : > "$T/py_ssh"; : > "$T/py_sshtun"; : > "$T/py_seal"
        for _ in $(seq "$PYROUNDS"); do
            # the floor: socat relaying between the same endpoints
            SKP=$(it_free_port) RP=$(it_free_port)
            timed socat -b 262144 -u TCP-LISTEN:"$RP",bind=127.0.0.1,reuseaddr TCP:127.0.0.1:"$SKP" > "$T/pyrelay.t" &
            rpid=$!
            it_wait_port_listening "$RP"
            w=$(py_bulk "$RP" "$SKP")
            wait "$rpid"
            echo "$w $(cut -d' ' -f2 "$T/pyrelay.t")" >> "$T/py_floor"
            # a reference, not the floor: the same relay sealing every 32 KiB
            # with libcrypto (tests/bench/sealrelay.c), what an encrypting
            # relay with no protocol at all costs between these endpoints
            SKP=$(it_free_port) RP=$(it_free_port)
            "$SEALRELAY" "$RP" "$SKP" "${c:0:3}" > "$T/seal.t" &
            rpid=$!
            it_wait_port_listening "$RP"
            w=$(py_bulk "$RP" "$SKP")
            wait "$rpid"
            awk '{ print $1 + $2 }' "$T/seal.t" >> "$T/py_seal"
            for prog in "$SSH" "$TUN"; do
                SKP=$(it_free_port) LP=$(it_free_port)
                "$prog" "${COMMON[@]}" -c "$c" -N -L "$LP:127.0.0.1:$SKP" 127.0.0.1 &
                TPID=$!
                it_wait_port_listening "$LP" || { echo "tunnel did not start"; exit 1; }
                sleep 0.2 # authenticated and idle
                # FWDPY_TRACE=perf|strace: profile each tunnel's run into $T
                # (kept with KEEP_T=1), e.g. to see where the CPU goes
                trpid=
                case ${FWDPY_TRACE:-} in
                perf) perf record -q -g -p "$TPID" -o "$T/$(basename "$prog")-${c%%@*}.perf" 2>/dev/null & trpid=$! ;;
                strace) strace -c -f -p "$TPID" -o "$T/$(basename "$prog")-${c%%@*}.strace" 2>/dev/null & trpid=$! ;;
                esac
                c0=$(cpu_of "$TPID")
                w=$(py_bulk "$LP" "$SKP")
                c1=$(cpu_of "$TPID")
                [ -n "$trpid" ] && { kill -INT "$trpid"; wait "$trpid" 2>/dev/null; }
                kill "$TPID"; wait "$TPID" 2>/dev/null
                echo "$w $(awk -v a="$c0" -v b="$c1" 'BEGIN { print b - a }')" >> "$T/py_$(basename "$prog")"
            done
        done
        case $c in aes128-gcm*) evp=aes-128-gcm ;; *) evp=chacha20-poly1305 ;; esac
        cryp=$(openssl speed -evp "$evp" -bytes 32768 -seconds 1 2>/dev/null | tail -1 |
            awk -v m="$PYMB" '{ k = $NF; sub(/k$/, "", k); if (k > 0) printf "%.3f", m * 1048576 / (k * 1000) }')
        fw=$(cut -d' ' -f1 "$T/py_floor" | med) fc=$(cut -d' ' -f2 "$T/py_floor" | med)
        sw=$(cut -d' ' -f1 "$T/py_ssh" | med) sc=$(cut -d' ' -f2 "$T/py_ssh" | med)
        tw=$(cut -d' ' -f1 "$T/py_sshtun" | med) tc=$(cut -d' ' -f2 "$T/py_sshtun" | med)
        fl=$(awk -v a="$fc" -v b="${cryp:-0}" 'BEGIN { printf "%.3f", a + b }')
        printf "bulk -L %d MiB, python endpoints, %s: floor (socat relay %s + libcrypto %s) %s CPU s/GiB; ssh %.0f MB/s %s s/GiB (%sx floor); sshtun %.0f MB/s %s s/GiB (%sx floor); sshtun throughput %sx ssh's, CPU %sx\n" \
            "$PYMB" "$c" "$(per_gib "$fc")" "$(per_gib "${cryp:-0}")" "$(per_gib "$fl")" \
            "$(awk -v w="$sw" -v m="$PYMB" 'BEGIN { print m * 1.048576 / w }')" "$(per_gib "$sc")" "$(ratio "$sc" "$fl")" \
            "$(awk -v w="$tw" -v m="$PYMB" 'BEGIN { print m * 1.048576 / w }')" "$(per_gib "$tc")" "$(ratio "$tc" "$fl")" \
            "$(ratio "$sw" "$tw")" "$(ratio "$tc" "$sc")"
        xc=$(med < "$T/py_seal")
        printf "  reference: a blocking C relay sealing every 32 KiB (sealrelay) %s CPU s/GiB (%sx floor); sshtun at %sx of it, ssh at %sx\n" \
            "$(per_gib "$xc")" "$(ratio "$xc" "$fl")" "$(ratio "$tc" "$xc")" "$(ratio "$sc" "$xc")"
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

# ---- sshtund against OpenSSH sshd --------------------------------------------------------
# Both servers run side by side with the same host keys, their default
# limits (sshd: MaxStartups 10:30:100, MaxSessions 10), and serve the same
# user: as root, a throwaway user with /bin/sh (so a login shell's rc files
# do not dominate `true`), else the user running the bench.  The clients
# are tests/bench/sshload.py (many real authenticated connections from one
# process: curve25519, aes128-gcm, ed25519 publickey) and OpenSSH ssh for
# -L.  A server's cost is that of its whole process tree: sshd's
# per-connection processes (which setsid away from its group) and children
# it reaped, sshtund's network process, helper and session children.
# Key exchange cost: connect + auth + `true` with each method, sshtun
# beside OpenSSH 10.0's ssh (which has all of them), both against one sshd
# 10.0 (private folder, tests/openssh10.sh), rounds interleaved so that load
# on a shared machine hits both alike.  Client CPU is user+sys of the
# client processes; the goal for mlkem768x25519-sha256 is at most 0.5x
# ssh's.  "+x ms" is what the method adds to sshtun's curve25519-sha256.
if [[ " $SECTIONS " == *" kex "* ]]; then
    O10=$(sh "$ROOT/tests/openssh10.sh") || { echo "kex: OpenSSH 10.0 not available"; exit 1; }
    SSH10="$O10/usr/bin/ssh"
    SSHD_SAVED=$SSHD
    SSHD="$O10/usr/sbin/sshd"
    it_start_sshd "SshdSessionPath $O10/usr/lib/openssh/sshd-session" \
        "SshdAuthPath $O10/usr/lib/openssh/sshd-auth" "MaxStartups 200"
    SSHD=$SSHD_SAVED
    it_known_hosts
    KCOMMON=(-F none -p "$PORT" -l "$USER_NAME" -i "$T/user_ed25519" -o IdentitiesOnly=yes
             -o IdentityAgent=none -o UserKnownHostsFile="$T/known_hosts" -o BatchMode=yes)
    N=10
    ROUNDS=5
    declare -A kw kc
    KEXES="mlkem768x25519-sha256 sntrup761x25519-sha512 curve25519-sha256"
    for k in $KEXES; do
        for prog in "$SSH10" "$TUN"; do kw[$k$prog]=0; kc[$k$prog]=0; done
        for prog in "$SSH10" "$TUN"; do "$prog" "${KCOMMON[@]}" -o KexAlgorithms=$k 127.0.0.1 true; done
    done
    for ((r = 0; r < ROUNDS; r++)); do
        for k in $KEXES; do
            for prog in "$SSH10" "$TUN"; do
                read -r w c < <(timed bash -c "for i in \$(seq $N); do '$prog' ${KCOMMON[*]} -o KexAlgorithms=$k 127.0.0.1 true; done")
                kw[$k$prog]=$(awk -v a="${kw[$k$prog]}" -v b="$w" 'BEGIN { print a + b }')
                kc[$k$prog]=$(awk -v a="${kc[$k$prog]}" -v b="$c" 'BEGIN { print a + b }')
            done
        done
    done
    # The loop's own cost (bash forking N times, /bin/true) is taken out of
    # the CPU figures, so that they are the clients' own.
    lc=0
    for ((r = 0; r < ROUNDS; r++)); do
        read -r _ c < <(timed bash -c "for i in \$(seq $N); do /bin/true; done")
        lc=$(awk -v a="$lc" -v b="$c" 'BEGIN { print a + b }')
    done
    for k in $KEXES; do
        for prog in "$SSH10" "$TUN"; do
            kc[$k$prog]=$(awk -v a="${kc[$k$prog]}" -v b="$lc" 'BEGIN { print a - b }')
        done
    done
    ms() { awk -v x="$1" -v n=$((N * ROUNDS)) 'BEGIN { printf "%.1f", x * 1000 / n }'; }
    echo "kex: loop overhead $(ms "$lc") ms CPU per connection, taken out of the CPU figures below"
    base=${kc[curve25519-sha256$TUN]}
    for k in $KEXES; do
        sw=${kw[$k$SSH10]} sc=${kc[$k$SSH10]} tw=${kw[$k$TUN]} tc=${kc[$k$TUN]}
        printf "kex %s, connect+auth+true x%d: ssh 10.0 %s ms wall %s ms CPU; sshtun %s ms wall %s ms CPU (+%s ms over curve25519); wall %sx, client CPU %sx\n" \
            "$k" $((N * ROUNDS)) "$(ms "$sw")" "$(ms "$sc")" "$(ms "$tw")" "$(ms "$tc")" \
            "$(ms "$(awk -v a="$tc" -v b="$base" 'BEGIN { print a - b }')")" \
            "$(ratio "$tw" "$sw")" "$(ratio "$tc" "$sc")"
    done
    # back to the system's sshd, as the sections after this one expect
    it_start_sshd "MaxStartups 200" "MaxSessions 100"
    it_known_hosts
fi

if [[ " $SECTIONS " == *" server-"* || " $SECTIONS " == *" longpath "* || " $SECTIONS " == *" memory "* ||
      " $SECTIONS " == *" workers "* ]]; then
    SSHTUND="$BUILD/sshtund"
    if [ ! -x "$SSHTUND" ]; then
        cmake --build "$BUILD" -j"$(nproc)" --target sshtund >/dev/null || exit 1
    fi
    if [[ " $SECTIONS " == *" server-idle "* || " $SECTIONS " == *" server-rate "* ||
          " $SECTIONS " == *" workers "* ]]; then
        python3 -c 'import cryptography' 2>/dev/null ||
            { echo "server sections need python3-cryptography (apt-get install python3-cryptography)"; exit 1; }
    fi
    LOAD="python3 $ROOT/tests/bench/sshload.py"
    SRV_USER=$USER_NAME
    mkdir -p "$T/bhome/.ssh"
    cp "$T/user_ed25519.pub" "$T/bhome/.ssh/authorized_keys"
    chmod 700 "$T/bhome/.ssh"
    chmod 600 "$T/bhome/.ssh/authorized_keys"
    if [ "$(id -u)" = 0 ]; then
        SRV_USER=sshtun-bench$$
        useradd -M -d "$T/bhome" -s /bin/sh -p '*' "$SRV_USER" || exit 1
        chown -R "$SRV_USER" "$T/bhome"
        chmod 755 "$T" "$T/bhome"
    fi
    # every process under $1 (sshd's connection processes leave its group)
    tree_pids() {
        ps -e -o pid=,ppid= | awk -v r="$1" '{ up[$1] = $2 }
            END { for (p in up) { q = p; while (q != "" && q != r && q > 1) q = up[q]; if (q == r) print p } }'
    }
    # "rss_kib pss_kib processes" of the tree
    mem_tree() {
        local p r=0 s=0 n=0
        for p in $(tree_pids "$1"); do
            r=$((r + $(awk '/^VmRSS/ { print $2 }' "/proc/$p/status" 2>/dev/null || echo 0)))
            s=$((s + $(awk '/^Pss:/ { print $2 }' "/proc/$p/smaps_rollup" 2>/dev/null || echo 0)))
            n=$((n + 1))
        done
        echo "$r $s $n"
    }
    # CPU seconds of the tree, reaped children included
    cpu_tree() {
        local p t=0
        for p in $(tree_pids "$1"); do
            t=$((t + $(awk '{ print $14 + $15 + $16 + $17 }' "/proc/$p/stat" 2>/dev/null || echo 0)))
        done
        awk -v t="$t" -v k="$TICK" 'BEGIN { printf "%.3f", t / k }'
    }
    # wait (at most $2 s) until the tree of $1 is down to its idle processes
    settle() {
        local want=1 i
        [ "$1" = "${SRV_PID[sshtund]}" ] && want=${SRV_BASE_PROCS:-1}
        for i in $(seq 1 $((${2:-30} * 10))); do
            [ "$(tree_pids "$1" | wc -l)" -le "$want" ] && return 0
            sleep 0.1
        done
        return 1
    }
    declare -A SRV_PID SRV_PORT
    srv_start() { # sshd|sshtund|sshtundN (N: its Workers)
        local p c="$T/srv_$1_config" k try
        for try in 1 2 3 4 5; do # a free port can be taken meanwhile: retry
            p=$(it_free_port)
            {
                echo "Port $p"
                echo "ListenAddress 127.0.0.1"
                for k in ed25519 ecdsa rsa; do echo "HostKey $T/host_$k"; done
                echo "AuthorizedKeysFile $T/bhome/.ssh/authorized_keys"
                echo "PidFile $T/srv_$1.pid"
                # ($T is under /tmp: both servers' StrictModes would refuse it)
                echo "StrictModes no"
                [ "$1" = sshd ] && printf 'UsePAM no\n'
                case $1 in sshtund[0-9]*) echo "Workers ${1#sshtund}" ;; esac
            } > "$c"
            if [ "$1" = sshd ]; then setsid "$SSHD" -D -e -f "$c" > "$T/srv_sshd.log" 2>&1 &
            else setsid "$SSHTUND" -D -e -f "$c" > "$T/srv_$1.log" 2>&1 & fi
            SRV_PID[$1]=$! SRV_PORT[$1]=$p
            it_wait_port "$p" && break
            grep -q "Address already in use" "$T/srv_$1.log" && [ $try -lt 5 ] && continue
            echo "$1 did not start:"; cat "$T/srv_$1.log"; exit 1
        done
        echo "[127.0.0.1]:$p $(cut -d' ' -f1,2 "$T/host_ed25519.pub")" >> "$T/srv_known_hosts"
    }
    srv_stop() {
        local s p
        for s in "${!SRV_PID[@]}"; do
            p=${SRV_PID[$s]}
            [ -n "$p" ] || continue
            kill -TERM $(tree_pids "$p") 2>/dev/null
            wait "$p" 2>/dev/null
            SRV_PID[$s]=
        done
        [ "$SRV_USER" != "$USER_NAME" ] && { pkill -KILL -u "$SRV_USER" 2>/dev/null; userdel "$SRV_USER" 2>/dev/null; }
        SRV_USER=$USER_NAME
    }
    SRV_PREV_TRAP=$(trap -p EXIT | sed -e "s/^trap -- '//" -e "s/' EXIT\$//")
    srv_cleanup() { local rc=$?; srv_stop; (exit $rc); eval "${SRV_PREV_TRAP:-it_cleanup}"; }
    trap srv_cleanup EXIT INT TERM
    : > "$T/srv_known_hosts"
    srv_start sshd
    srv_start sshtund
    SRV_BASE_PROCS=$(tree_pids "${SRV_PID[sshtund]}" | wc -l) # network process (+ helper)
    srv_alive() { # note it when sshtund died under a test
        kill -0 "${SRV_PID[sshtund]}" 2>/dev/null && return 0
        echo "sshtund died ($1): $(tail -3 "$T/srv_sshtund.log")"
        srv_start sshtund
        SRV_BASE_PROCS=$(tree_pids "${SRV_PID[sshtund]}" | wc -l)
    }
fi

# server-idle: N (SRV_IDLE_CONNS, default 1000) authenticated idle
# connections opened in one burst; the ones a server drops before
# authentication are counted, then opened again at most 8 handshakes at a
# time (under sshd's MaxStartups) until all N are held; the memory the
# server tree gained, per connection.  sshd holds at most what fits in half
# the available memory (at about 2 MiB per connection).
if [[ " $SECTIONS " == *" server-idle "* ]]; then
    N=${SRV_IDLE_CONNS:-1000}
    fdmax=$(ulimit -n)
    [ "$N" -gt $((fdmax - 64)) ] && { N=$((fdmax - 64)); echo "server-idle: fd limit $fdmax: $N connections"; }
    NS=$(awk -v n="$N" '/MemAvailable/ { m = int($2 / 2 / 2048); print (m < n ? m : n) }' /proc/meminfo)
    for s in sshd sshtund; do
        n=$N
        [ $s = sshd ] && n=$NS
        settle "${SRV_PID[$s]}" 30
        read -r r0 p0 _ <<<"$(mem_tree "${SRV_PID[$s]}")"
        $LOAD hold "${SRV_PORT[$s]}" "$SRV_USER" "$T/user_ed25519" "$n" 600 8 > "$T/srv_hold.log" 2>&1 &
        H=$!
        BG_PIDS="${BG_PIDS:-} $H"
        for _ in $(seq 1 3000); do grep -q '^ready' "$T/srv_hold.log" && break; kill -0 $H 2>/dev/null || break; sleep 0.1; done
        sleep 1
        read -r r1 p1 np <<<"$(mem_tree "${SRV_PID[$s]}")"
        held=$(sed -n 's/^ready held=\([0-9]*\).*/\1/p' "$T/srv_hold.log")
        drop=$(sed -n 's/^burst ok=[0-9]* dropped=\([0-9]*\).*/\1/p' "$T/srv_hold.log")
        kill $H 2>/dev/null; wait $H 2>/dev/null
        [ "${held:-0}" = "$n" ] || echo "warning: $s held ${held:-0} of $n connections: $(grep -v '^ready' "$T/srv_hold.log" | tail -2)"
        eval "${s}_ih=\"${held:-0} ${drop:-?} $np\""
        eval "${s}_im=\"$(awk -v a="$r0" -v b="$r1" -v c="$p0" -v d="$p1" -v n="${held:-0}" 'BEGIN { if (n > 0) printf "%.1f %.1f", (b-a)/n, (d-c)/n; else print "0 0" }')\""
        settle "${SRV_PID[$s]}" 60 || echo "warning: $s still has $(tree_pids "${SRV_PID[$s]}" | wc -l) processes"
        [ $s = sshtund ] && srv_alive server-idle
    done
    read -r sh sd sn <<<"$sshd_ih"
    read -r th td tn <<<"$sshtund_ih"
    read -r sr sp <<<"$sshd_im"
    read -r tr tp <<<"$sshtund_im"
    printf "server-idle: idle authenticated connections: sshd %d held, %s KiB RSS/conn (PSS %s, %d processes); sshtund %d held, %s KiB RSS/conn (PSS %s, %d processes); sshd/sshtund RSS %sx, PSS %sx\n" \
        "$sh" "$sr" "$sp" "$sn" "$th" "$tr" "$tp" "$tn" "$(ratio "$sr" "$tr")" "$(ratio "$sp" "$tp")"
    printf "server-idle: a burst of connections: sshd dropped %s of %d before authentication (MaxStartups 10:30:100); sshtund dropped %s of %d (MaxStartups 1000:30:10000)\n" \
        "$sd" "$NS" "$td" "$N"
fi

# server-rate: SRV_RATE_CONNS (default 200; sshtund 5 times as many, its
# CPU time is counted in 10 ms ticks) connections, each connect + key
# exchange + publickey auth, then either nothing ("auth") or `true` in a
# session ("exec"), one at a time and 8 at a time.  Connections per second
# (the one-process client can be what limits sshtund) and the server
# tree's CPU per connection.
if [[ " $SECTIONS " == *" server-rate "* ]]; then
    RN=${SRV_RATE_CONNS:-200}
    for mode in auth exec; do
        for par in 1 8; do
            for s in sshd sshtund; do
                n=$RN
                [ $s = sshtund ] && n=$((RN * 5))
                settle "${SRV_PID[$s]}" 30
                c0=$(cpu_tree "${SRV_PID[$s]}")
                read -r secs ok bad <<<"$(timeout 600 $LOAD rate "${SRV_PORT[$s]}" "$SRV_USER" "$T/user_ed25519" "$n" "$par" "$mode" 2>"$T/srv_rate.err")"
                settle "${SRV_PID[$s]}" 30
                c1=$(cpu_tree "${SRV_PID[$s]}")
                [ "${ok:-0}" = "$n" ] || echo "warning: $s $mode x$par: ${ok:-0} of $n ok: $(head -1 "$T/srv_rate.err")"
                eval "${s}_r=\"$(awk -v t="${secs:-0}" -v k="${ok:-0}" -v a="$c0" -v b="$c1" 'BEGIN { if (k > 0 && t > 0) printf "%.0f %.2f", k/t, (b-a)*1000/k; else print "0 0" }')\""
                [ $s = sshtund ] && srv_alive "server-rate $mode x$par"
            done
            read -r sr sc <<<"$sshd_r"
            read -r tr tc <<<"$sshtund_r"
            printf "server-rate %s%s, %d at a time: sshd %s conn/s %s ms CPU/conn; sshtund %s conn/s %s ms CPU/conn; rate %sx, CPU/conn %sx cheaper\n" \
                "connect+auth" "$([ $mode = exec ] && echo "+exec true")" "$par" "$sr" "$sc" "$tr" "$tc" \
                "$(ratio "$tr" "$sr")" "$(ratio "$sc" "$tc")"
        done
    done
fi

# server-bulk: OpenSSH ssh -N -L to each server, 512 MiB through it to a
# local sink, three times, the servers taking turns (five busy processes
# share two cores here: single runs vary by a third); the median
# throughput and the server tree's mean CPU per transfer.
if [[ " $SECTIONS " == *" server-bulk "* ]]; then
    BSINK=$(it_free_port)
    socat -u TCP-LISTEN:"$BSINK",bind=127.0.0.1,fork,reuseaddr OPEN:/dev/null &
    BG_PIDS="${BG_PIDS:-} $!"
    it_wait_port "$BSINK"
    declare -A BLP BPID
    for c in aes128-gcm@openssh.com chacha20-poly1305@openssh.com; do
        for s in sshd sshtund; do
            BLP[$s]=$(it_free_port)
            "$SSH" -F none -p "${SRV_PORT[$s]}" -l "$SRV_USER" -i "$T/user_ed25519" -o IdentitiesOnly=yes \
                -o IdentityAgent=none -o UserKnownHostsFile="$T/srv_known_hosts" -o BatchMode=yes \
                -c "$c" -N -L "${BLP[$s]}:127.0.0.1:$BSINK" 127.0.0.1 &
            BPID[$s]=$!
            it_wait_port "${BLP[$s]}" || echo "warning: ssh -L to $s did not start"
            : > "$T/bulk_$s"
        done
        sleep 0.3
        for _ in 1 2 3; do
            for s in sshd sshtund; do
                c0=$(cpu_tree "${SRV_PID[$s]}")
                r=$(timed timeout 120 bash -c "head -c 536870912 /dev/zero | socat -u - TCP:127.0.0.1:${BLP[$s]}")
                sleep 0.3
                c1=$(cpu_tree "${SRV_PID[$s]}")
                w=${r%% *}
                awk -v w="$w" 'BEGIN { exit !(w >= 119) }' && echo "warning: $s bulk transfer timed out"
                echo "$w $(awk -v a="$c0" -v b="$c1" 'BEGIN { print b - a }')" >> "$T/bulk_$s"
            done
        done
        for s in sshd sshtund; do
            kill "${BPID[$s]}" 2>/dev/null; wait "${BPID[$s]}" 2>/dev/null
            eval "${s}_b=\"$(sort -n "$T/bulk_$s" | awk '{ w[NR] = $1; c += $2 } END { printf "%s %.2f", w[int((NR + 1) / 2)], c / NR }')\""
        done
        srv_alive "server-bulk $c"
        read -r sw sc <<<"$sshd_b"
        read -r tw tc <<<"$sshtund_b"
        printf "server-bulk ssh -L 512 MiB, %s: sshd %.0f MB/s %.2f server CPU s; sshtund %.0f MB/s %.2f server CPU s; throughput %sx, CPU %sx\n" \
            "$c" "$(awk -v w="$sw" 'BEGIN { print (w > 0 ? 512 / w : 0) }')" "$sc" \
            "$(awk -v w="$tw" 'BEGIN { print (w > 0 ? 512 / w : 0) }')" "$tc" "$(ratio "$sw" "$tw")" "$(ratio "$tc" "$sc")"
    done
fi

# workers: sshtund with Workers 1 and Workers 2 beside sshd.  K = 1, 2, 4
# OpenSSH ssh -N -L tunnels (each its own connection, aes128-gcm) carry K
# concurrent uploads of WORKERS_MB (default 128) MiB each to a local sink;
# aggregate throughput = K x size / the time until the last one ends.
# Three rounds, the servers taking turns; the median, the server tree's CPU
# per round and, for Workers 2, each worker's CPU.  The kernel spreads
# connections over the workers' SO_REUSEPORT sockets by a hash of the
# addresses: with K = 2 both may land on one worker (half the time); the
# tunnels are reconnected until the workers hold K/2 each, and the number
# of reconnects is printed, so that the figure is what two loops can do.
# Then logins per second (sshload.py rate, connect + key exchange +
# publickey, 2 clients x 8 at a time) with Workers 1 and 2, and the
# helper's share of the server's CPU: whether the one helper limits N
# workers.  The load average is printed: on a machine shared with other
# work, two workers cannot use two cores that are busy.
if [[ " $SECTIONS " == *" workers "* ]]; then
    WMB=${WORKERS_MB:-128}
    srv_start sshtund1
    srv_start sshtund2
    WSINK=$(it_free_port)
    socat -u TCP-LISTEN:"$WSINK",bind=127.0.0.1,fork,reuseaddr OPEN:/dev/null &
    BG_PIDS="${BG_PIDS:-} $!"
    it_wait_port "$WSINK"
    wpids() { # the workers of server $1, in index order
        local i=0 p
        while p=$(pgrep -P "${SRV_PID[$1]}" -x "sshtund-w$i" | head -1) && [ -n "$p" ]; do
            echo "$p"
            i=$((i + 1))
        done
    }
    # how many of server $1's established connections each worker holds
    placement() {
        local p out=""
        local ss_out
        ss_out=$(ss -Htnp state established "( sport = :${SRV_PORT[$1]} )")
        for p in $(wpids "$1"); do out="$out $(grep -c "pid=$p," <<<"$ss_out")"; done
        echo "${out# }"
    }
    echo "workers: load average before: $(cut -d' ' -f1-3 /proc/loadavg), $(nproc) CPUs"
    for K in 1 2 4; do
        for s in sshd sshtund1 sshtund2; do : > "$T/w_${s}_$K"; : > "$T/wc_${s}_$K"; done
        : > "$T/wpw_$K"
        RECON=0
        for round in 1 2 3; do
            for s in sshd sshtund1 sshtund2; do
                declare -a WLP=() WSP=()
                for k in $(seq 1 "$K"); do
                    WLP[$k]=$(it_free_port)
                    "$SSH" -F none -p "${SRV_PORT[$s]}" -l "$SRV_USER" -i "$T/user_ed25519" \
                        -o IdentitiesOnly=yes -o IdentityAgent=none -o BatchMode=yes \
                        -o UserKnownHostsFile="$T/srv_known_hosts" -c aes128-gcm@openssh.com \
                        -N -L "${WLP[$k]}:127.0.0.1:$WSINK" 127.0.0.1 &
                    WSP[$k]=$!
                    it_wait_port "${WLP[$k]}" || echo "warning: ssh -L to $s did not start"
                done
                if [ "$s" = sshtund2 ] && [ "$K" -ge 2 ]; then
                    # reconnect the last tunnel until both workers hold K/2
                    for _ in $(seq 1 40); do
                        read -r a b <<<"$(placement "$s")"
                        [ "${a:-0}" = $((K / 2)) ] && [ "${b:-0}" = $((K / 2)) ] && break
                        k=$(( (RANDOM % K) + 1 ))
                        kill "${WSP[$k]}" 2>/dev/null; wait "${WSP[$k]}" 2>/dev/null
                        "$SSH" -F none -p "${SRV_PORT[$s]}" -l "$SRV_USER" -i "$T/user_ed25519" \
                            -o IdentitiesOnly=yes -o IdentityAgent=none -o BatchMode=yes \
                            -o UserKnownHostsFile="$T/srv_known_hosts" -c aes128-gcm@openssh.com \
                            -N -L "${WLP[$k]}:127.0.0.1:$WSINK" 127.0.0.1 &
                        WSP[$k]=$!
                        it_wait_port "${WLP[$k]}" || echo "warning: ssh -L to $s did not start"
                        RECON=$((RECON + 1))
                    done
                fi
                sleep 0.3
                c0=$(cpu_tree "${SRV_PID[$s]}")
                declare -a wc0=()
                if [ "$s" = sshtund2 ]; then for p in $(wpids "$s"); do wc0+=("$(cpu_of "$p")"); done; fi
                t0=$(date +%s%N)
                UPS=""
                for k in $(seq 1 "$K"); do
                    timeout 300 bash -c "head -c $((WMB * 1048576)) /dev/zero | socat -u - TCP:127.0.0.1:${WLP[$k]}" &
                    UPS="$UPS $!"
                done
                wait $UPS
                t1=$(date +%s%N)
                sleep 0.3
                c1=$(cpu_tree "${SRV_PID[$s]}")
                awk -v a="$t0" -v b="$t1" -v k="$K" -v m="$WMB" 'BEGIN { printf "%.1f\n", k * m * 1.048576 / ((b - a) / 1e9) }' >> "$T/w_${s}_$K"
                awk -v a="$c0" -v b="$c1" 'BEGIN { printf "%.2f\n", b - a }' >> "$T/wc_${s}_$K"
                if [ "$s" = sshtund2 ]; then
                    i=0 line=""
                    for p in $(wpids "$s"); do
                        line="$line $(awk -v a="${wc0[$i]:-0}" -v b="$(cpu_of "$p")" 'BEGIN { printf "%.2f", b - a }')"
                        i=$((i + 1))
                    done
                    echo "${line# }" >> "$T/wpw_$K"
                fi
                for k in $(seq 1 "$K"); do kill "${WSP[$k]}" 2>/dev/null; wait "${WSP[$k]}" 2>/dev/null; done
            done
        done
        med() { sort -n "$1" | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
        avg() { awk '{ t += $1 } END { printf "%.2f", t / NR }' "$1"; }
        printf "workers: %d upload(s) of %d MiB through ssh -L at once: sshd %s MB/s (%s s CPU); sshtund Workers 1 %s MB/s (%s s CPU); Workers 2 %s MB/s (%s s CPU; per worker, each round: %s; %d reconnects to place them); Workers 2 / Workers 1 %sx, Workers 2 / sshd %sx; load average %s\n" \
            "$K" "$WMB" "$(med "$T/w_sshd_$K")" "$(avg "$T/wc_sshd_$K")" \
            "$(med "$T/w_sshtund1_$K")" "$(avg "$T/wc_sshtund1_$K")" \
            "$(med "$T/w_sshtund2_$K")" "$(avg "$T/wc_sshtund2_$K")" \
            "$(tr '\n' '/' < "$T/wpw_$K" | sed 's|/$||')" "$RECON" \
            "$(ratio "$(med "$T/w_sshtund2_$K")" "$(med "$T/w_sshtund1_$K")")" \
            "$(ratio "$(med "$T/w_sshtund2_$K")" "$(med "$T/w_sshd_$K")")" \
            "$(cut -d' ' -f1-3 /proc/loadavg)"
    done
    # logins per second: 2 sshload clients x 8 handshakes at a time
    WRN=${WORKERS_RATE_CONNS:-400}
    for s in sshtund1 sshtund2; do
        settle "${SRV_PID[$s]}" 30
        H=$(pgrep -P "${SRV_PID[$s]}" -x sshtund-priv | head -1)
        c0=$(cpu_tree "${SRV_PID[$s]}")
        h0=${H:+$(cpu_tree "$H")}
        t0=$(date +%s%N)
        timeout 600 $LOAD rate "${SRV_PORT[$s]}" "$SRV_USER" "$T/user_ed25519" "$WRN" 8 auth > "$T/wr1" 2>&1 &
        L1=$!
        timeout 600 $LOAD rate "${SRV_PORT[$s]}" "$SRV_USER" "$T/user_ed25519" "$WRN" 8 auth > "$T/wr2" 2>&1 &
        L2=$!
        wait "$L1" "$L2"
        t1=$(date +%s%N)
        c1=$(cpu_tree "${SRV_PID[$s]}")
        h1=${H:+$(cpu_tree "$H")}
        ok=$(cat "$T/wr1" "$T/wr2" | awk '{ k += $2 } END { print k + 0 }')
        [ "$ok" = $((2 * WRN)) ] || echo "warning: $s logins: $ok of $((2 * WRN)) ok ($(head -1 "$T/wr1"))"
        hc="n/a"
        [ -n "$H" ] && hc=$(awk -v a="$h0" -v b="$h1" -v k="$ok" 'BEGIN { printf "%.2f", (b - a) * 1000 / k }')
        eval "${s}_l=\"$(awk -v a="$t0" -v b="$t1" -v k="$ok" -v x="$c0" -v y="$c1" 'BEGIN { printf "%.0f %.2f", k / ((b - a) / 1e9), (y - x) * 1000 / k }') $hc\""
    done
    read -r r1 c1 h1 <<<"$sshtund1_l"
    read -r r2 c2 h2 <<<"$sshtund2_l"
    printf "workers: logins (connect + kex + publickey, 2 clients x 8 at a time): Workers 1 %s/s, %s ms server CPU each (the helper %s ms); Workers 2 %s/s, %s ms server CPU each (the helper %s ms); rate %sx; load average %s\n" \
        "$r1" "$c1" "$h1" "$r2" "$c2" "$h2" "$(ratio "$r2" "$r1")" "$(cut -d' ' -f1-3 /proc/loadavg)"
fi

# jump: 1 GiB down and up through one jump host (-J; the same sshd is the
# jump host and the target), sshtun beside ssh -J: ssh runs an "ssh -W"
# process for the hop (its CPU is counted: `timed` takes the children),
# sshtun carries both connections in one process.  Then JUMP_MB (default
# 256) MiB down, three times, with the hop-to-target leg behind a delay line
# (JUMP_DELAY_MS, default 25, each way): the inner connection's round trip
# is then long, and only windows that grow with it keep the rate up.
if [[ " $SECTIONS " == *" jump "* ]]; then
    JCFG="$T/jump_config"
    {
        echo "Host *"
        echo "    User $USER_NAME"
        echo "    IdentityFile $T/user_ed25519"
        echo "    IdentitiesOnly yes"
        echo "    IdentityAgent none"
        echo "    UserKnownHostsFile $T/known_hosts"
        echo "    BatchMode yes"
        # The same sshd under another name: "-J 127.0.0.1:PORT" to
        # 127.0.0.1:PORT would be ssh's (and sshtun's) "jumphost loop".
        echo "Host jumphost"
        echo "    HostName 127.0.0.1"
        echo "    Port $PORT"
    } > "$JCFG"
    GIB=1073741824
    for dir in down up; do
        for prog in "$SSH" "$TUN"; do
            if [ $dir = down ]; then
                r=$(timed bash -c "'$prog' -F '$JCFG' -J jumphost -p $PORT 127.0.0.1 \
                    'head -c $GIB /dev/zero' | wc -c > '$T/jump.count'")
            else
                r=$(timed bash -c "head -c $GIB /dev/zero | '$prog' -F '$JCFG' -J jumphost \
                    -p $PORT 127.0.0.1 'wc -c' > '$T/jump.count'")
            fi
            n=$(cat "$T/jump.count")
            [ "$n" = "$GIB" ] || echo "warning: $(basename "$prog") -J $dir moved $n bytes"
            eval "$(basename "$prog" | tr -d -)_jump=\"$r\""
        done
        read -r sw sc <<<"$ssh_jump"
        read -r tw tc <<<"$sshtun_jump"
        printf "1 GiB %s through -J (one jump host): ssh -J %.0f MB/s %.2f CPU s (ssh and its ssh -W); sshtun -J %.0f MB/s %.2f CPU s (one process); speed %sx, CPU %sx\n" \
            "$dir" "$(awk -v w="$sw" 'BEGIN{print 1024/w}')" "$sc" "$(awk -v w="$tw" 'BEGIN{print 1024/w}')" \
            "$tc" "$(ratio "$sw" "$tw")" "$(ratio "$tc" "$sc")"
    done

    JDLY=${JUMP_DELAY_MS:-25}
    JMB=${JUMP_MB:-256}
    DELAYLINE="$BUILD/delayline"
    if [ ! -x "$DELAYLINE" ] || [ "$DELAYLINE" -ot tests/bench/delayline.c ]; then
        cc -O2 -o "$DELAYLINE" tests/bench/delayline.c || exit 1
    fi
    JRP=
    for try in 1 2 3 4 5; do
        rp=$(it_free_port)
        "$DELAYLINE" "$rp" "$PORT" "$JDLY" > "$T/delayline.jump" 2>&1 &
        BG_PIDS="${BG_PIDS:-} $!"
        if it_wait_port "$rp"; then JRP=$rp; break; fi
    done
    [ -n "$JRP" ] || { echo "jump: delay line did not start"; exit 1; }
    for k in ed25519 ecdsa ecdsa384 ecdsa521 rsa; do
        echo "[127.0.0.1]:$JRP $(cut -d' ' -f1,2 "$T/host_$k.pub")" >> "$T/known_hosts"
    done
    : > "$T/jd_ssh"
    : > "$T/jd_sshtun"
    for _ in 1 2 3; do
        for prog in "$SSH" "$TUN"; do
            t0=$(date +%s.%N)
            n=$(timeout 600 "$prog" -F "$JCFG" -J jumphost -p "$JRP" 127.0.0.1 \
                "head -c $((JMB * 1048576)) /dev/zero" | wc -c)
            t1=$(date +%s.%N)
            [ "$n" = $((JMB * 1048576)) ] || echo "warning: $(basename "$prog") -J over the long leg moved $n bytes"
            awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f\n", b - a }' >> "$T/jd_$(basename "$prog")"
        done
    done
    jmed() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
    sd=$(jmed < "$T/jd_ssh")
    td=$(jmed < "$T/jd_sshtun")
    printf "%d MiB down through -J, hop to target %d ms each way: ssh -J %s MB/s; sshtun -J %s MB/s (runs: ssh %s s, sshtun %s s); throughput %sx\n" \
        "$JMB" "$JDLY" "$(awk -v s="$sd" -v m="$JMB" 'BEGIN { printf "%.1f", m * 1.048576 / s }')" \
        "$(awk -v s="$td" -v m="$JMB" 'BEGIN { printf "%.1f", m * 1.048576 / s }')" \
        "$(tr '\n' ' ' < "$T/jd_ssh" | sed 's/ $//')" "$(tr '\n' ' ' < "$T/jd_sshtun" | sed 's/ $//')" \
        "$(ratio "$sd" "$td")"
fi

# longpath: a path with a long round trip, made by tests/bench/delayline (a
# relay that holds every byte LONGPATH_DELAY_MS, default 25, each way) in
# front of the server: the shape of a bastion, a TCP proxy or a far-away
# host.  LONGPATH_MB (default 256) MiB are moved, three times, the programs
# taking turns on the same path:
#  - download through -L: sshtun -L and ssh -L against sshd, a local reader
#    pulling the bytes a source behind sshd sends;
#  - upload into the server: ssh -L against sshd and against sshtund, a
#    local writer pushing the bytes to a sink behind the server.
# A run's time ends when the reader has the last byte (the count is
# checked); the median rate of each side and their ratio are printed.
if [[ " $SECTIONS " == *" longpath "* ]]; then
    DLY=${LONGPATH_DELAY_MS:-25}
    LPMB=${LONGPATH_MB:-256}
    LPBYTES=$((LPMB * 1048576))
    DELAYLINE="$BUILD/delayline"
    if [ ! -x "$DELAYLINE" ] || [ "$DELAYLINE" -ot tests/bench/delayline.c ]; then
        cc -O2 -o "$DELAYLINE" tests/bench/delayline.c || exit 1
    fi
    # relay_to <target port>: start a delay line in front of it, print its port
    relay_to() {
        local rp try
        for try in 1 2 3 4 5; do
            rp=$(it_free_port)
            "$DELAYLINE" "$rp" "$1" "$DLY" > "$T/delayline.$rp" 2>&1 &
            BG_PIDS="${BG_PIDS:-} $!"
            it_wait_port "$rp" && { echo "$rp"; return 0; }
        done
        return 1
    }
    # lp_time <reader command> <writer command>: seconds from the start
    # until the reader ended; the reader's byte count goes to $T/lp.count
    lp_time() {
        local t0 t1
        t0=$(date +%s.%N)
        bash -c "$2" &
        local wp=$!
        timeout 300 bash -c "$1" > "$T/lp.count" 2>"$T/lp.err"; cat "$T/lp.err" >&2
        t1=$(date +%s.%N)
        wait "$wp" 2>/dev/null
        awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }'
    }
    median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
    lp_rate() { awk -v s="$1" -v m="$LPMB" 'BEGIN { printf "%.1f", (s > 0 ? m * 1.048576 / s : 0) }'; }

    # Download: a source behind sshd that sends LPMB MiB to whoever connects.
    SRCP=$(it_free_port)
    socat -U TCP-LISTEN:"$SRCP",bind=127.0.0.1,fork,reuseaddr SYSTEM:"head -c $LPBYTES /dev/zero" &
    BG_PIDS="${BG_PIDS:-} $!"
    it_wait_port "$SRCP"
    RP=$(relay_to "$PORT") || { echo "longpath: relay did not start"; exit 1; }
    for k in ed25519 ecdsa ecdsa384 ecdsa521 rsa; do
        echo "[127.0.0.1]:$RP $(cut -d' ' -f1,2 "$T/host_$k.pub")" >> "$T/known_hosts"
    done
    : > "$T/lp_ssh"
    : > "$T/lp_sshtun"
    for _ in 1 2 3; do
        for prog in "$SSH" "$TUN"; do
            LP=$(it_free_port)
            "$prog" -F none -p "$RP" -l "$USER_NAME" -i "$T/user_ed25519" -o IdentitiesOnly=yes \
                -o IdentityAgent=none -o UserKnownHostsFile="$T/known_hosts" -o BatchMode=yes \
                -N -L "$LP:127.0.0.1:$SRCP" 127.0.0.1 2>>"$T/lp_client.err" &
            TPID=$!
            it_wait_port "$LP" || echo "warning: $(basename "$prog") -L did not start"
            sleep 0.5 # the probe's forwarded connection is over
            s=$(lp_time "socat -u TCP:127.0.0.1:$LP - | wc -c" "true")
            kill "$TPID"; wait "$TPID" 2>/dev/null
            [ "$(cat "$T/lp.count")" = "$LPBYTES" ] || echo "warning: $(basename "$prog") download got $(cat "$T/lp.count") bytes"
            echo "$s" >> "$T/lp_$(basename "$prog")"
        done
    done
    sd=$(median < "$T/lp_ssh")
    td=$(median < "$T/lp_sshtun")
    printf "longpath download %d MiB through -L, %d ms each way: ssh %s MB/s; sshtun %s MB/s (runs: ssh %s s, sshtun %s s); throughput %sx\n" \
        "$LPMB" "$DLY" "$(lp_rate "$sd")" "$(lp_rate "$td")" "$(tr '\n' ' ' < "$T/lp_ssh" | sed 's/ $//')" \
        "$(tr '\n' ' ' < "$T/lp_sshtun" | sed 's/ $//')" "$(ratio "$sd" "$td")"

    # Upload: ssh -L to sshd and to sshtund, each behind its own delay line.
    declare -A LRP
    for s in sshd sshtund; do
        LRP[$s]=$(relay_to "${SRV_PORT[$s]}") || { echo "longpath: relay did not start"; exit 1; }
        echo "[127.0.0.1]:${LRP[$s]} $(cut -d' ' -f1,2 "$T/host_ed25519.pub")" >> "$T/srv_known_hosts"
        : > "$T/lp_$s"
    done
    for _ in 1 2 3; do
        for s in sshd sshtund; do
            LP=$(it_free_port)
            SINKP=$(it_free_port)
            "$SSH" -F none -p "${LRP[$s]}" -l "$SRV_USER" -i "$T/user_ed25519" -o IdentitiesOnly=yes \
                -o IdentityAgent=none -o UserKnownHostsFile="$T/srv_known_hosts" -o BatchMode=yes \
                -N -L "$LP:127.0.0.1:$SINKP" 127.0.0.1 2>>"$T/lp_client.err" &
            TPID=$!
            it_wait_port "$LP" || echo "warning: ssh -L to $s did not start"
            sleep 0.5 # the probe's forwarded connection must not reach the sink
            # a one-shot sink: it ends with the connection, after the last byte
            t=$(lp_time "socat -u TCP-LISTEN:$SINKP,bind=127.0.0.1,reuseaddr - | wc -c" \
                "sleep 0.2; head -c $LPBYTES /dev/zero | socat -u - TCP:127.0.0.1:$LP")
            kill "$TPID"; wait "$TPID" 2>/dev/null
            [ "$(cat "$T/lp.count")" = "$LPBYTES" ] || echo "warning: upload into $s: the sink got $(cat "$T/lp.count") bytes"
            awk -v t="$t" 'BEGIN { printf "%.3f\n", t - 0.2 }' >> "$T/lp_$s"
        done
    done
    su=$(median < "$T/lp_sshd")
    tu=$(median < "$T/lp_sshtund")
    printf "longpath upload %d MiB through ssh -L, %d ms each way: into sshd %s MB/s; into sshtund %s MB/s (runs: sshd %s s, sshtund %s s); throughput %sx\n" \
        "$LPMB" "$DLY" "$(lp_rate "$su")" "$(lp_rate "$tu")" "$(tr '\n' ' ' < "$T/lp_sshd" | sed 's/ $//')" \
        "$(tr '\n' ' ' < "$T/lp_sshtund" | sed 's/ $//')" "$(ratio "$su" "$tu")"
fi

# memory: does memory come back after a burst?  MEM_CONNS (default 1000)
# connections at once through one -L tunnel, each echoing MEM_KB (default
# 256) KiB through an echo server behind the server; the RSS of the client
# and of the server (sshd: its whole tree; sshtund: its processes) before
# the burst, at its peak (sampled every 0.1 s) and 5 s after it ended.
# OpenSSH ssh against sshd, sshtun against sshtund, one after the other.
if [[ " $SECTIONS " == *" memory "* ]]; then
    MCONNS=${MEM_CONNS:-1000}
    MKB=${MEM_KB:-256}
    MECHO=$(it_free_port)
    it_bg "$T/mecho.log" $NU echo "$MECHO"
    mib() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }
    for pair in "$SSH sshd" "$TUN sshtund"; do
        read -r prog s <<<"$pair"
        LP=$(it_free_port)
        "$prog" -F none -p "${SRV_PORT[$s]}" -l "$SRV_USER" -i "$T/user_ed25519" -o IdentitiesOnly=yes \
            -o IdentityAgent=none -o UserKnownHostsFile="$T/srv_known_hosts" -o BatchMode=yes \
            -N -L "$LP:127.0.0.1:$MECHO" 127.0.0.1 2>"$T/mem_$s.err" &
        TPID=$!
        it_wait_port "$LP" || echo "warning: $(basename "$prog") -L to $s did not start"
        sleep 1
        c0=$(rss_of "$TPID")
        read -r s0 _ _ <<<"$(mem_tree "${SRV_PID[$s]}")"
        timeout 300 $NU burst "$LP" "$MCONNS" $((MKB * 1024)) > "$T/mem_burst.log" 2>&1 &
        B=$!
        c1=$c0 s1=$s0
        while kill -0 "$B" 2>/dev/null; do
            c=$(rss_of "$TPID")
            read -r sv _ _ <<<"$(mem_tree "${SRV_PID[$s]}")"
            [ "$c" -gt "$c1" ] && c1=$c
            [ "$sv" -gt "$s1" ] && s1=$sv
            sleep 0.1
        done
        wait "$B"
        grep -q '^ok' "$T/mem_burst.log" || echo "warning: burst through $(basename "$prog") to $s: $(tail -1 "$T/mem_burst.log")"
        bt=$(sed -n 's/^ok //p' "$T/mem_burst.log")
        sleep 5
        c2=$(rss_of "$TPID")
        read -r s2 _ _ <<<"$(mem_tree "${SRV_PID[$s]}")"
        kill "$TPID"; wait "$TPID" 2>/dev/null
        printf "memory: %d x %d KiB echoed at once through -L (%s s): %s RSS before / peak / 5 s after: %s / %s / %s MiB; %s: %s / %s / %s MiB\n" \
            "$MCONNS" "$MKB" "${bt:-?}" "$(basename "$prog")" "$(mib "$c0")" "$(mib "$c1")" "$(mib "$c2")" \
            "$s" "$(mib "$s0")" "$(mib "$s1")" "$(mib "$s2")"
        settle "${SRV_PID[$s]}" 30
    done
fi
