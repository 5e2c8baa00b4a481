#!/usr/bin/env bash
# it_delivery.sh - what a channel received is delivered before sshtun lets
# go of it (issue 10, item 4), against a throwaway sshd on 127.0.0.1.
#
# The peer may close a channel while part of what it sent still waits for a
# slow local reader (a pipe that is not read yet, a socket with a small
# receive buffer).  `head -c 1M file | sshtun -W host:echo host | (sleep 1;
# wc -c)` printed 65536 and exited 0: the buffered rest was dropped at the
# peer's CLOSE.  Checked here for every kind of channel output: -W's stdout
# (alone and through a connection-sharing master), a -L socket, and a
# command's stdout and stderr.
. "$(dirname "$0")/lib.sh"
it_init "$1"
NU="python3 $(cd "$(dirname "$0")" && pwd)/netutil.py"
it_start_sshd
it_known_hosts

ECHO_PORT=$(it_free_port)
it_bg "$T/echo.log" $NU echo "$ECHO_PORT"
SERVE_PORT=$(it_free_port)
it_bg "$T/serve.log" $NU serve "$SERVE_PORT" 3000000 7
want_serve=$(timeout 30 $NU latefetch "$SERVE_PORT" 0)

head -c 1000000 /dev/urandom > "$T/1m"
want_1m="$(sha256sum < "$T/1m" | cut -d' ' -f1) 1000000"
# late <seconds>: read nothing for a while, then all of stdin; "sha256 bytes"
late() {
    sleep "$1"
    cat > "$T/late.out"
    echo "$(sha256sum < "$T/late.out" | cut -d' ' -f1) $(stat -c %s "$T/late.out")"
}

# ---- -W: stdout not read for a second --------------------------------------------------------
for i in 1 2 3; do
    out=$(it_sshtun -W "127.0.0.1:$ECHO_PORT" 127.0.0.1 < "$T/1m" 2>"$T/err" | late 1)
    it_check "-W, reader 1 s late (run $i): all 1 MB delivered" "$want_1m" "$out"
done
it_sshtun -W "127.0.0.1:$ECHO_PORT" 127.0.0.1 < "$T/1m" > "$T/w.out" 2>"$T/err"
it_check "-W exits 0" 0 $?

# ---- -W through a connection-sharing master ---------------------------------------------------
CP="$T/ctl"
it_sshtun -M -S "$CP" -N -o ControlPersist=no 127.0.0.1 </dev/null >"$T/master.log" 2>&1 &
MPID=$!
BG_PIDS="${BG_PIDS:-} $MPID"
for _ in $(seq 1 100); do [ -S "$CP" ] && break; sleep 0.1; done
if [ -S "$CP" ]; then
    out=$(it_sshtun -S "$CP" -W "127.0.0.1:$ECHO_PORT" 127.0.0.1 < "$T/1m" 2>"$T/err" | late 1)
    it_check "-W through a master, reader 1 s late: all 1 MB delivered" "$want_1m" "$out"
    out=$(it_sshtun -S "$CP" 127.0.0.1 "cat '$T/1m'" </dev/null 2>"$T/err" | late 1)
    it_check "command through a master, reader 1 s late: all 1 MB delivered" "$want_1m" "$out"
else
    it_fail "master did not start: $(cat "$T/master.log")"
fi
kill "$MPID" 2>/dev/null
wait "$MPID" 2>/dev/null

# ---- -L: a client that reads late through a small receive buffer --------------------------------
LP=$(it_free_port)
it_sshtun -N -L "$LP:127.0.0.1:$SERVE_PORT" 127.0.0.1 </dev/null >"$T/l.log" 2>&1 &
LPID=$!
BG_PIDS="${BG_PIDS:-} $LPID"
if it_wait_port "$LP"; then
    for i in 1 2; do
        out=$(timeout 60 $NU latefetch "$LP" 2)
        it_check "-L, server closes at once, client reads 2 s late (run $i): all 3 MB" "$want_serve" "$out"
    done
else
    it_fail "-L not listening: $(cat "$T/l.log")"
fi
kill "$LPID" 2>/dev/null
wait "$LPID" 2>/dev/null

# ---- a command's stdout and stderr, read late ----------------------------------------------------
out=$(it_sshtun 127.0.0.1 "cat '$T/1m'" </dev/null 2>"$T/err" | late 2)
it_check "command stdout, reader 2 s late" "$want_1m" "$out"
out=$(it_sshtun 127.0.0.1 "cat '$T/1m' >&2" </dev/null 2>&1 >/dev/null | late 2)
it_check "command stderr, reader 2 s late" "$want_1m" "$out"

it_done
