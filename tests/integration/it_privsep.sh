#!/usr/bin/env bash
# it_privsep.sh - sshtund's privilege separation against a hostile local
# user and a compromised network process (issue 15).
#
# As root, with two throwaway users: an attacker (A) who controls their own
# home, and a victim (V) whose key login must stay fast (< 1 s) while A
#   1. puts a FIFO where authorized_keys should be and tries to log in,
#   2. forwards to a Unix socket whose listen backlog is full,
#   3. runs 16 password guessers (against V, whose hash is costly),
# then StrictModes refusals (4), the network process's confinement (5:
# SshtundUser, no capabilities, no new privileges, seccomp, an empty root),
# and last the compromised network process (6): privsep_harness speaks
# the helper's protocol with hostile arguments.
#
#   tests/integration/it_privsep.sh <build-dir>
. "$(dirname "$0")/lib.sh"
it_init "$1"
SSHTUND="$BUILD/sshtund"
HARNESS="$BUILD/tests/privsep_harness"
[ -x "$SSHTUND" ] || { echo "FAIL: $SSHTUND not built"; exit 1; }
[ -x "$HARNESS" ] || { echo "FAIL: $HARNESS not built"; exit 1; }
PY=/usr/bin/python3
A=sshtun-pa$$
V=sshtun-pv$$
CREATED=""

privsep_cleanup() {
    local rc=$?
    [ -n "${SSHTUND_PID:-}" ] && kill -KILL -- "-$SSHTUND_PID" 2>/dev/null
    for p in ${BG_PIDS:-}; do kill -KILL "$p" 2>/dev/null; done
    for u in $CREATED; do pkill -KILL -u "$u" 2>/dev/null; userdel "$u" 2>/dev/null; done
    [ -n "${G:-}" ] && groupdel "$G" 2>/dev/null
    (exit $rc)
    it_cleanup
}
trap privsep_cleanup EXIT INT TERM

if [ "$(id -u)" != 0 ]; then
    echo "SKIP-NOT-COUNTED: it_privsep.sh needs root (privilege separation, test users)"
    exit 77
fi
chmod 755 "$T"

mkuser() {  # mkuser <name> <home>: a user with a proper home and the test key
    useradd -M -d "$2" -s /bin/sh "$1" || { echo "FAIL: useradd $1"; exit 1; }
    CREATED="$CREATED $1"
    mkdir -p "$2/.ssh"
    cp "$T/user_ed25519.pub" "$2/.ssh/authorized_keys"
    chown -R "$1:" "$2"
    chmod 755 "$2"
    chmod 700 "$2/.ssh"
    chmod 600 "$2/.ssh/authorized_keys"
}
mkuser "$A" "$T/ahome"
mkuser "$V" "$T/vhome"

start_sshtund() {  # start_sshtund [config lines...]
    stop_sshtund
    local try
    for try in 1 2 3 4 5; do
        PORT=$(it_free_port)
        {
            echo "Port $PORT"
            echo "ListenAddress 127.0.0.1"
            for k in ed25519 ecdsa; do echo "HostKey $T/host_$k"; done
            echo "PidFile none"
            echo "LogLevel DEBUG1"
            for l in "$@"; do echo "$l"; done
        } > "$T/sshtund_config"
        : > "$T/sshtund.log"
        setsid "$SSHTUND" -D -e -f "$T/sshtund_config" > "$T/sshtund.log" 2>&1 &
        SSHTUND_PID=$!
        for _ in $(seq 1 200); do
            if grep -q "ready" "$T/sshtund.log" 2>/dev/null; then
                : > "$T/known_hosts"
                for k in ed25519 ecdsa; do
                    echo "[127.0.0.1]:$PORT $(cut -d' ' -f1,2 "$T/host_$k.pub")" >> "$T/known_hosts"
                done
                return 0
            fi
            kill -0 "$SSHTUND_PID" 2>/dev/null || break
            sleep 0.05
        done
        grep -q "Address already in use" "$T/sshtund.log" && continue
        echo "FAIL: sshtund did not start:"; cat "$T/sshtund.log"; exit 1
    done
    echo "FAIL: no free port for sshtund"; exit 1
}

stop_sshtund() {
    [ -n "${SSHTUND_PID:-}" ] || return 0
    kill -TERM -- "-$SSHTUND_PID" 2>/dev/null
    for _ in $(seq 1 40); do kill -0 "$SSHTUND_PID" 2>/dev/null || break; sleep 0.05; done
    kill -KILL -- "-$SSHTUND_PID" 2>/dev/null
    wait "$SSHTUND_PID" 2>/dev/null
    SSHTUND_PID=
}

cl() {  # cl <user> args...: ssh with the test key, batch mode, 20 s at most
    local u=$1
    shift
    timeout 20 ssh -F none -p "$PORT" -l "$u" -i "${IDENT:-$T/user_ed25519}" -o IdentitiesOnly=yes \
        -o IdentityAgent=none -o UserKnownHostsFile="$T/known_hosts" \
        -o GlobalKnownHostsFile=/dev/null -o StrictHostKeyChecking=yes -o BatchMode=yes \
        -o ConnectTimeout=20 -o LogLevel=ERROR "$@"
}

# victim_login_fast <label>: V's key login runs a command within 1 s.
# The best of three logins: a stalled helper makes every one of them slow
# (forever, for the FIFO and the full backlog), while a machine busy with
# other work (a CI runner, parallel tests) only makes some of them slow.
victim_login_fast() {
    local s e out ms best=999999 try
    for try in 1 2 3; do
        s=$(date +%s%N)
        out=$(cl "$V" 127.0.0.1 'echo in' 2>&1)
        e=$(date +%s%N)
        ms=$(( (e - s) / 1000000 ))
        [ "$out" = in ] || break
        [ "$ms" -lt "$best" ] && best=$ms
        [ "$best" -lt 1000 ] && break
    done
    ms=$best
    if [ "$out" = in ] && [ "$ms" -lt 1000 ]; then
        it_pass "$1: another user's key login still takes < 1 s (${ms} ms)"
    else
        it_fail "$1: another user's key login took ${ms} ms: $out"
    fi
}

bg() { "$@" & BG_PID=$!; BG_PIDS="${BG_PIDS:-} $BG_PID"; }
kill_bg() { kill "$1" 2>/dev/null; wait "$1" 2>/dev/null; }

# ---- 1. authorized_keys as a FIFO ---------------------------------------------------------
start_sshtund
victim_login_fast "baseline"
rm -f "$T/ahome/.ssh/authorized_keys"
mkfifo -m 600 "$T/ahome/.ssh/authorized_keys"
chown "$A:" "$T/ahome/.ssh/authorized_keys"
for i in 1 2 3; do bg cl "$A" 127.0.0.1 true; done
sleep 0.5
victim_login_fast "FIFO as authorized_keys"
kill_bg "$BG_PID"
cl "$A" 127.0.0.1 true 2>/dev/null
it_check "the FIFO's owner is refused" 255 $?
grep -q "authorized keys $T/ahome/.ssh/authorized_keys is not a regular file" "$T/sshtund.log" &&
    it_pass "the log says the FIFO is not a regular file" ||
    it_fail "FIFO refusal not logged: $(grep -i authorized "$T/sshtund.log" | tail -3)"
rm -f "$T/ahome/.ssh/authorized_keys"
cp "$T/user_ed25519.pub" "$T/ahome/.ssh/authorized_keys"
chown "$A:" "$T/ahome/.ssh/authorized_keys"
chmod 600 "$T/ahome/.ssh/authorized_keys"

# ---- 2. a Unix-socket forward to a listener whose backlog is full --------------------------
start_sshtund
$PY - "$T/ahome/full.sock" > "$T/full.log" 2>&1 <<'EOF' &
import socket, sys, time, os
path = sys.argv[1]
srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
srv.bind(path)
os.chmod(path, 0o777)
srv.listen(0)
held = []
while True:  # fill the backlog: the next connect() blocks
    c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    c.setblocking(False)
    try:
        c.connect(path)
    except BlockingIOError:
        break
    held.append(c)
print("ready", len(held), flush=True)
time.sleep(120)
EOF
FULL_PID=$!
BG_PIDS="${BG_PIDS:-} $FULL_PID"
for _ in $(seq 1 100); do grep -q ready "$T/full.log" && break; sleep 0.05; done
LP=$(it_free_port)
bg cl "$A" -N -o ExitOnForwardFailure=yes -L "$LP:$T/ahome/full.sock" 127.0.0.1
FWD=$BG_PID
it_wait_port "$LP" || it_fail "forward port $LP not listening"
for i in 1 2 3; do
    bg timeout 40 $PY -c "import socket,time; s=socket.create_connection(('127.0.0.1',$LP)); time.sleep(35)"
done
sleep 0.7
victim_login_fast "forward to a full-backlog Unix socket"
kill_bg "$FWD"
kill_bg "$FULL_PID"

# ---- 3. 16 password guessers ---------------------------------------------------------------
stop_sshtund
echo "$V:privsep-Secret-15" | chpasswd -c SHA512 -s 400000
start_sshtund "MaxAuthTries 1000" "PasswordAuthentication yes"
cat > "$T/guess.py" <<'EOF'
import asyncio, sys, warnings
warnings.filterwarnings("ignore")
import asyncssh
port, user, n = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
class Guesser(asyncssh.SSHClient):
    tries = 0
    def password_auth_requested(self):
        Guesser.tries += 1
        return "guess-%d" % Guesser.tries
async def one():
    while True:
        try:
            await asyncssh.connect("127.0.0.1", port, username=user, client_factory=Guesser,
                                   known_hosts=None, client_keys=None, agent_path=None,
                                   preferred_auth="password", login_timeout=60)
        except Exception:
            pass
async def main():
    await asyncio.gather(*[one() for _ in range(n)])
asyncio.run(main())
EOF
bg $PY "$T/guess.py" "$PORT" "$V" 16
GUESS=$BG_PID
sleep 2
victim_login_fast "16 password guessers"
IDENT="$T/user_ecdsa" cl "$A" 127.0.0.1 true 2>/dev/null  # a failing key attempt costs no crypt
victim_login_fast "16 password guessers, again"
kill_bg "$GUESS"
n=$(grep -c "Failed password for $V" "$T/sshtund.log")
[ "$n" -ge 1 ] && it_pass "the guessers were being answered ($n failures logged)" ||
    it_fail "no failed password logged: the guessers did not run"
printf '#!/bin/sh\necho privsep-Secret-15\n' > "$T/askpass"
chmod 755 "$T/askpass"
sleep 5  # past the per-source delay the guessers earned
out=$(SSH_ASKPASS="$T/askpass" SSH_ASKPASS_REQUIRE=force DISPLAY=:0 timeout 40 ssh -F none -p "$PORT" \
    -o UserKnownHostsFile="$T/known_hosts" -o PreferredAuthentications=password \
    -o PubkeyAuthentication=no -o NumberOfPasswordPrompts=1 -l "$V" 127.0.0.1 'id -un' 2>"$T/err")
it_check "the right password still logs in (crypt in the worker pool)" "$V" "$out"

# ---- 4. StrictModes ------------------------------------------------------------------------------
start_sshtund
strict_refused() {  # strict_refused <label> <expected log text>
    local before
    before=$(grep -c "Authentication refused: $2" "$T/sshtund.log")
    cl "$V" 127.0.0.1 true 2>/dev/null
    it_check "StrictModes: $1: login refused" 255 $?
    [ "$(grep -c "Authentication refused: $2" "$T/sshtund.log")" -gt "$before" ] &&
        it_pass "StrictModes: $1: sshd's message" ||
        it_fail "StrictModes: $1: no 'Authentication refused: $2' in $(grep -i refused "$T/sshtund.log" | tail -2)"
}
chmod 770 "$T/vhome/.ssh"
strict_refused "group-writable ~/.ssh" "bad ownership or modes for directory $T/vhome/.ssh"
chmod 700 "$T/vhome/.ssh"
chmod 775 "$T/vhome"
strict_refused "group-writable home" "bad ownership or modes for directory $T/vhome"
chmod 755 "$T/vhome"
chmod 666 "$T/vhome/.ssh/authorized_keys"
strict_refused "world-writable authorized_keys" "bad ownership or modes for file $T/vhome/.ssh/authorized_keys"
chmod 600 "$T/vhome/.ssh/authorized_keys"
chown "$A" "$T/vhome/.ssh"
chmod 755 "$T/vhome/.ssh"
strict_refused "~/.ssh owned by another user" "bad ownership or modes for directory $T/vhome/.ssh"
chown "$V" "$T/vhome/.ssh"
chmod 700 "$T/vhome/.ssh"
out=$(cl "$V" 127.0.0.1 'echo in' 2>&1)
it_check "StrictModes: control: the repaired home logs in" in "$out"
chmod 775 "$T/vhome"
start_sshtund "StrictModes no"
out=$(cl "$V" 127.0.0.1 'echo in' 2>&1)
it_check "StrictModes no: the group-writable home is accepted" in "$out"
chmod 755 "$T/vhome"
stop_sshtund

# ---- 4b. AllowGroups / DenyGroups (decided by the helper) ----------------------------------------
G=sshtun-pg$$
groupadd "$G" && usermod -a -G "$G" "$V" || it_fail "groupadd/usermod $G"
start_sshtund "DenyGroups $G"
cl "$V" 127.0.0.1 true 2>/dev/null
it_check "DenyGroups: a member of the group is refused" 255 $?
grep -q "User $V from 127.0.0.1 not allowed because a group is listed in DenyGroups" "$T/sshtund.log" &&
    it_pass "DenyGroups: sshd's message" || it_fail "DenyGroups message: $(grep -i "not allowed" "$T/sshtund.log")"
out=$(cl "$A" 127.0.0.1 'echo in' 2>&1)
it_check "DenyGroups: a user outside the group logs in" in "$out"
start_sshtund "AllowGroups $G"
out=$(cl "$V" 127.0.0.1 'echo in' 2>&1)
it_check "AllowGroups: a member (supplementary group) logs in" in "$out"
cl "$A" 127.0.0.1 true 2>/dev/null
it_check "AllowGroups: a user outside the group is refused" 255 $?
grep -q "User $A from 127.0.0.1 not allowed because none of user's groups are listed in AllowGroups" \
    "$T/sshtund.log" && it_pass "AllowGroups: sshd's message" ||
    it_fail "AllowGroups message: $(grep -i "not allowed" "$T/sshtund.log")"
stop_sshtund
gpasswd -d "$V" "$G" >/dev/null 2>&1
groupdel "$G" 2>/dev/null

# ---- 5. the network process's confinement -----------------------------------------------------
if getent passwd sshtund >/dev/null; then
    start_sshtund
    grep -q "network process running as sshtund" "$T/sshtund.log" &&
        it_pass "default SshtundUser: the sshtund user" || it_fail "default user: $(grep running "$T/sshtund.log")"
else
    start_sshtund
    grep -q "user sshtund does not exist" "$T/sshtund.log" &&
        grep -q "network process running as nobody" "$T/sshtund.log" &&
        it_pass "default SshtundUser missing: says so and falls back to nobody" ||
        it_fail "fallback: $(grep -i "sshtund\|nobody" "$T/sshtund.log" | head -3)"
fi
N=sshtun-pn$$
useradd -r -M -d /nonexistent -s /usr/sbin/nologin "$N" && CREATED="$CREATED $N"
start_sshtund "SshtundUser $N"
# The network processes: the workers (Workers > 1, the default on a machine
# with several CPUs), or the process started (Workers 1).
NETPIDS=$(pgrep -P "$SSHTUND_PID" 'sshtund-w')
[ -n "$NETPIDS" ] || NETPIDS=$SSHTUND_PID
echo "   (network processes: $(echo $NETPIDS))"
st() { sed -n "s/^$1:[[:space:]]*//p" "/proc/$NETPID/status" | tr -s '\t ' ' '; }
NUID=$(id -u "$N")
for NETPID in $NETPIDS; do
it_check "the network process runs as SshtundUser (all uids)" "$NUID $NUID $NUID $NUID" "$(st Uid)"
it_check "no supplementary groups" "" "$(st Groups)"
it_check "no capabilities (effective)" 0000000000000000 "$(st CapEff)"
it_check "no capabilities (permitted)" 0000000000000000 "$(st CapPrm)"
it_check "empty bounding set" 0000000000000000 "$(st CapBnd)"
it_check "PR_SET_NO_NEW_PRIVS" 1 "$(st NoNewPrivs)"
it_check "seccomp filter" 2 "$(st Seccomp)"
if grep -q "empty root, its own mount namespace" "$T/sshtund.log"; then
    [ -e "/proc/$NETPID/root/etc/hosts" ] && [ ! -e "/proc/$NETPID/root/home" ] &&
        [ ! -e "/proc/$NETPID/root/tmp" ] && [ ! -e "/proc/$NETPID/root/usr/bin" ] &&
        it_pass "its root holds /etc and nothing of /home, /tmp, /usr" ||
        it_fail "root view: $(ls "/proc/$NETPID/root/")"
else
    it_fail "no empty root for the network process: $(grep -i "empty root" "$T/sshtund.log")"
fi
done
out=$(cl "$V" 127.0.0.1 'echo confined-ok' 2>&1)
it_check "sessions still start (the helper spawns them)" confined-ok "$out"
ECHO_PORT=$(it_free_port)
it_bg "$T/echo.log" python3 "$(dirname "$0")/netutil.py" echo "$ECHO_PORT"
out=$(echo by-name | cl "$V" -W "localhost:$ECHO_PORT" 127.0.0.1 2>&1 | head -c 7)
it_check "a forward to a name still resolves (c-ares in the empty root)" by-name "$out"
kill -HUP "$SSHTUND_PID"
for _ in $(seq 1 100); do grep -q "configuration reloaded" "$T/sshtund.log" && break; sleep 0.05; done
grep -q "configuration reloaded" "$T/sshtund.log" && it_pass "SIGHUP reload works in the empty root" ||
    it_fail "reload: $(tail -3 "$T/sshtund.log")"
out=$(cl "$V" 127.0.0.1 'echo after-reload' 2>&1)
it_check "logins after the reload (public host keys from the helper)" after-reload "$out"
stop_sshtund
"$SSHTUND" -D -e -o "SshtundUser no-such-user-$$" -o "Port $(it_free_port)" -o "PidFile none" \
    -h "$T/host_ed25519" -f /dev/null > "$T/nouser.log" 2>&1
rc=$?
it_check "a configured SshtundUser that does not exist: exit 255" 255 $rc
grep -q "SshtundUser no-such-user-$$ does not exist" "$T/nouser.log" && it_pass "and says so" ||
    it_fail "missing user message: $(cat "$T/nouser.log")"

# ---- 6. a compromised network process ---------------------------------------------------------
mkdir -p "$T/h/ak"
for k in hostkey plain forced nopty from_other from_local; do
    ssh-keygen -q -t ed25519 -N '' -f "$T/h/$k" -C "$k" >/dev/null
done
{
    cat "$T/h/plain.pub"
    echo "command=\"echo forced \$SSH_ORIGINAL_COMMAND\" $(cat "$T/h/forced.pub")"
    echo "no-pty $(cat "$T/h/nopty.pub")"
    echo "from=\"10.99.99.99\" $(cat "$T/h/from_other.pub")"
    echo "from=\"127.0.0.1\" $(cat "$T/h/from_local.pub")"
} > "$T/h/ak/$V"
cp "$T/h/plain.pub" "$T/h/ak/root"
chmod 644 "$T/h/ak/"*
echo "$V:privsep-harness-7" | chpasswd
cat > "$T/h/config" <<EOF
AuthorizedKeysFile $T/h/ak/%u
StrictModes no
PasswordAuthentication yes
PermitRootLogin no
MaxAuthTries 3
AcceptEnv IT_*
Subsystem echo-sub /bin/cat
EOF
timeout 240 "$HARNESS" "$T/h/config" "$V" privsep-harness-7 "$T/h" > "$T/harness.log" 2>&1
rc=$?
sed 's/^/  harness: /' "$T/harness.log"
hp=$(sed -n 's/^\([0-9]*\) passed, \([0-9]*\) failed$/\1 \2/p' "$T/harness.log")
if [ "$rc" = 0 ] && [ -n "$hp" ] && [ "${hp#* }" = 0 ]; then
    it_pass "compromised network process: every hostile request refused (${hp%% *} checks)"
else
    it_fail "compromised network process harness: rc=$rc, $hp"
fi

it_done
