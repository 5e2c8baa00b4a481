#!/bin/bash
# it_syslog.sh - where the log goes when it goes to syslog: sshtun -y as
# OpenSSH's ssh -y (facility USER, tag "sshtun[pid]", nothing on stderr,
# debug lines at LOG_DEBUG with -v), and sshtund detached as sshd (facility
# AUTH).
#
# The programs run in a private mount namespace whose /dev is a tmpfs with
# the usual devices bound in and a socat datagram listener at /dev/log, so
# that the messages can be read without touching the machine's syslog (this
# machine may have none).  That needs root and unshare(1): without them
# this cannot run here (exit 77).
. "$(dirname "$0")/lib.sh"
it_init "$1"

[ "$(id -u)" = 0 ] || { echo "SKIP: needs root (a private /dev/log)"; exit 77; }
unshare -m true 2>/dev/null || { echo "SKIP: cannot make a mount namespace here"; exit 77; }
command -v socat >/dev/null || { echo "FAIL: socat not installed"; exit 1; }
export T

# in_ns SCRIPT: run SCRIPT (bash) with a private /dev/log whose datagrams
# are appended to $T/syslog, one per line.
in_ns() {
    : > "$T/syslog.raw"
    unshare -m bash -c '
        set -e
        mount --make-rprivate /
        mkdir -p "$T/olddev"
        mount --rbind /dev "$T/olddev"
        mount -t tmpfs tmpfs /dev
        for f in null zero full random urandom tty; do
            touch /dev/$f
            mount --bind "$T/olddev/$f" /dev/$f
        done
        set +e
        socat -u UNIX-RECV:/dev/log,mode=666 OPEN:"$T/syslog.raw",creat,append &
        sp=$!
        for _ in $(seq 100); do [ -S /dev/log ] && break; sleep 0.02; done
        bash -c "$1"
        rc=$?
        sleep 0.3
        kill $sp
        exit $rc
    ' in_ns "$1"
    # One datagram a line (they come without newlines): each starts with
    # "<priority>Mon ".
    sed 's/<[0-9]\{1,3\}>[A-Z][a-z][a-z] /\n&/g' "$T/syslog.raw" | sed '/^$/d' > "$T/syslog"
    rm -f "$T/syslog.raw"
}
prio() { sed -n "s/^<\([0-9]*\)>.* $1\[[0-9]*\]: .*/\1/p" "$T/syslog" | head -1; }

it_start_sshd
it_known_hosts
CLOSED=$(it_free_port)

# A failure: the same line, the same priority (user.err), nothing on stderr.
in_ns "'$SSHTUN' -y -F none -p $CLOSED 127.0.0.1 true 2>'$T/tun.err'; echo \$? > '$T/tun.rc';
       ssh -y -F none -p $CLOSED 127.0.0.1 true 2>'$T/ssh.err'; echo \$? > '$T/ssh.rc'"
it_check "-y: a refused connection is logged at ssh's priority (user.err)" "$(prio ssh)" "$(prio sshtun)"
it_check "-y: facility USER (1), level err (3)" 11 "$(prio sshtun)"
grep -q "sshtun\[[0-9]*\]: .*connect to host 127.0.0.1 port $CLOSED: Connection refused" "$T/syslog" &&
    it_pass "-y: the message, tagged sshtun[pid]" || it_fail "-y: syslog has: $(cat "$T/syslog")"
it_check "-y: nothing on stderr (as ssh)" "$(cat "$T/ssh.err")" "$(cat "$T/tun.err")"
it_check "-y: exit status as ssh's" "$(cat "$T/ssh.rc")" "$(cat "$T/tun.rc")"

# SyslogFacility: the same failure at local3.err (19*8+3 = 155), as ssh's.
in_ns "'$SSHTUN' -y -F none -o SyslogFacility=LOCAL3 -p $CLOSED 127.0.0.1 true 2>/dev/null;
       ssh -y -F none -o SyslogFacility=LOCAL3 -p $CLOSED 127.0.0.1 true 2>/dev/null"
it_check "-y with SyslogFacility LOCAL3: ssh's priority" "$(prio ssh)" "$(prio sshtun)"
it_check "-y with SyslogFacility LOCAL3: local3.err" 155 "$(prio sshtun)"

# A session with -v: the command's output where it belongs, the debug lines
# in syslog at user.debug (15), none on stderr.
in_ns "'$SSHTUN' -y -v -F none -p $PORT -l '$USER_NAME' -i '$T/user_ed25519' \
       -o UserKnownHostsFile='$T/known_hosts' -o BatchMode=yes 127.0.0.1 echo hi \
       >'$T/tun.out' 2>'$T/tun.err'"
it_check "-y -v: the command's output on stdout" hi "$(cat "$T/tun.out")"
it_check "-y -v: nothing on stderr" "" "$(cat "$T/tun.err")"
n=$(grep -c '^<15>.* sshtun\[[0-9]*\]: ' "$T/syslog")
[ "$n" -ge 3 ] && it_pass "-y -v: debug lines in syslog at user.debug ($n)" ||
    it_fail "-y -v: $n debug lines at user.debug: $(head -c 2000 "$T/syslog")"

# sshtund, detached (no -D): its lines go to syslog with facility AUTH (4),
# as sshd's.
it_sshtund_start
it_sshtund_stop
in_ns "'$BUILD/sshtund' -f '$T/sshtund_config' >'$T/sshtund.out' 2>&1
       for _ in \$(seq 100); do grep -q 'sshtund\[' '$T/syslog' && break; sleep 0.05; done
       kill \$(cat '$T/sshtund.pid') 2>/dev/null"
p=$(prio sshtund)
[ -n "$p" ] && [ $((p / 8)) = 4 ] && it_pass "sshtund detached: syslog, facility AUTH (<$p>)" ||
    it_fail "sshtund detached: syslog has: $(head -c 2000 "$T/syslog"); stdout/stderr: $(cat "$T/sshtund.out")"

it_done
