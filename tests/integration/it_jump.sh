#!/bin/bash
# it_jump.sh - getting there (issue 11): ProxyJump / -J carried in one
# process over direct-tcpip channels, ProxyCommand (tokens, failures in one
# line, none, ProxyUseFdpass), BindAddress/-b, BindInterface/-B, IPQoS on
# the socket, -g, and -G beside ssh's.
#
# Two OpenSSH sshd instances are the hosts: A (the destination, also a jump
# host) and B (a jump host that lets its users connect only to A, through
# PermitOpen, so a session that works went through B).  Each hop has its own
# Host section: user, key, known_hosts file and, for B, a HostKeyAlias; a
# setting that leaked from one hop to another would fail the login or the
# host key check.  As root (CI), B admits only a throwaway second user.
. "$(dirname "$0")/lib.sh"
it_init "$1"

ssh-keygen -q -t ed25519 -N '' -f "$T/hostb_ed25519" -C host-b >/dev/null
cut -d' ' -f1,2 "$T/user_ed25519.pub" > "$T/ak_a"
cut -d' ' -f1,2 "$T/user_ecdsa.pub" > "$T/ak_b"
chmod 644 "$T/ak_a" "$T/ak_b"
BUSER=$USER_NAME
if [ "$(id -u)" = 0 ]; then
    it_add_user
    usermod -p '*' "$IT_USER" # no password, but not a locked account (sshd refuses those)
    BUSER=$IT_USER
else
    echo "note: not root: jump host B admits the same user as A"
fi

# start_sshd2 NAME HOSTKEY AUTHKEYS [config lines...]: sets P_NAME.
start_sshd2() {
    local name=$1 hk=$2 ak=$3 port pid try
    shift 3
    for try in 1 2 3 4 5; do
        port=$(it_free_port)
        {
            echo "Port $port"
            echo "ListenAddress 127.0.0.1"
            echo "HostKey $hk"
            echo "AuthorizedKeysFile $ak"
            echo "StrictModes no"
            echo "UsePAM no"
            echo "PidFile $T/sshd_$name.pid"
            echo "PermitRootLogin yes"
            echo "LogLevel VERBOSE"
            for l in "$@"; do echo "$l"; done
        } > "$T/sshd_$name.conf"
        setsid "$SSHD" -D -e -f "$T/sshd_$name.conf" > "$T/sshd_$name.log" 2>&1 &
        pid=$!
        for _ in $(seq 1 200); do
            if (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null; then
                BG_PIDS="${BG_PIDS:-} $pid"
                eval "P_$name=$port"
                return 0
            fi
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.05
        done
        grep -q "Address already in use" "$T/sshd_$name.log" && continue
        echo "FAIL: sshd $name did not start:"; cat "$T/sshd_$name.log"; exit 1
    done
    echo "FAIL: no free port for sshd $name"; exit 1
}

start_sshd2 a "$T/host_ed25519" "$T/ak_a" "AllowUsers $USER_NAME"
start_sshd2 b "$T/hostb_ed25519" "$T/ak_b" "PermitOpen 127.0.0.1:$P_a" \
    "$([ "$BUSER" != "$USER_NAME" ] && echo "AllowUsers $BUSER")"
PA=$P_a
PB=$P_b

echo "[127.0.0.1]:$PA $(cut -d' ' -f1,2 "$T/host_ed25519.pub")" > "$T/kh_a"
cp "$T/kh_a" "$T/kh_t"
echo "bastion-b $(cut -d' ' -f1,2 "$T/hostb_ed25519.pub")" > "$T/kh_b"
# B's entry with A's key: what a host key changed on the way looks like.
echo "bastion-b $(cut -d' ' -f1,2 "$T/host_ed25519.pub")" > "$T/kh_b_wrong"

write_cfg() { # $1: hop B's known_hosts file
    cat <<EOF
Host hopa
    HostName 127.0.0.1
    Port $PA
    User $USER_NAME
    IdentityFile $T/user_ed25519
    UserKnownHostsFile $T/kh_a
Host hopb
    HostName 127.0.0.1
    Port $PB
    User $BUSER
    IdentityFile $T/user_ecdsa
    HostKeyAlias bastion-b
    UserKnownHostsFile $1
Host hopc
    HostName 127.0.0.1
    Port $PB
    User $BUSER
    IdentityFile $T/user_ecdsa
    HostKeyAlias bastion-b
    UserKnownHostsFile $1
    ProxyCommand socat - TCP:%h:%p
Host target viab badjump
    HostName 127.0.0.1
    Port $PA
    User $USER_NAME
    IdentityFile $T/user_ed25519
    UserKnownHostsFile $T/kh_t
Host viab
    ProxyJump hopb
Host badjump
    ProxyJump 127.0.0.1:1
Host *
    IdentitiesOnly yes
    GlobalKnownHostsFile /dev/null
    StrictHostKeyChecking yes
    BatchMode yes
EOF
}
write_cfg "$T/kh_b" > "$T/cfg"
write_cfg "$T/kh_b_wrong" > "$T/cfg_wrong"

st() { timeout 60 "$SSHTUN" -F "$T/cfg" "$@"; }

# one_line_fail DESC ERRFILE RC [PATTERN...]: status 255, one line of
# stderr holding every pattern.
one_line_fail() {
    local d=$1 f=$2 rc=$3 p ok=1
    shift 3
    [ "$rc" = 255 ] && [ "$(wc -l < "$f")" -eq 1 ] || ok=0
    for p in "$@"; do grep -qF -- "$p" "$f" || ok=0; done
    if [ $ok = 1 ]; then it_pass "$d: $(cat "$f")"; else it_fail "$d: rc $rc, stderr: $(cat "$f")"; fi
}

# ---- ProxyJump ------------------------------------------------------------------------------

out=$(st -J hopb target 'echo ok-$((6*7))' </dev/null 2>"$T/err")
it_check "-J hopb: the command runs on the target through B (user, key, HostKeyAlias and known_hosts of B's Host section)" \
    ok-42 "$out"
[ -s "$T/err" ] && it_fail "-J hopb: stderr: $(cat "$T/err")"

out=$(st -J hopa,hopb target 'echo two' </dev/null 2>&1)
it_check "-J hopa,hopb: two hops" two "$out"
out=$(st -J hopa,hopb,hopa,hopb target 'echo four' </dev/null 2>&1)
it_check "-J with four hops" four "$out"
out=$(st viab 'echo viab' </dev/null 2>&1)
it_check "ProxyJump from the target's Host section" viab "$out"
out=$(st -J "ssh://$BUSER@hopb:$PB" target 'echo uri' </dev/null 2>&1)
it_check "-J ssh://user@host:port" uri "$out"
out=$(st -o ProxyJump=hopa,hopb target 'echo opt' </dev/null 2>&1)
it_check "-o ProxyJump=hopa,hopb" opt "$out"

# One process, one loop: no child process carries a hop.
st -J hopa,hopb target 'sleep 3' </dev/null >/dev/null 2>&1 &
bgp=$!
sleep 1.5
sp=$(it_sshtun_pid "$bgp")
kids=$(pgrep -P "$sp" | wc -l)
if kill -0 "$sp" 2>/dev/null && [ "$kids" = 0 ]; then
    it_pass "-J hopa,hopb: one process carries the session, no process per hop"
else
    it_fail "-J hopa,hopb: sshtun $sp alive: $(kill -0 "$sp" 2>/dev/null && echo yes || echo no), children: $kids"
fi
wait "$bgp"
it_check "-J hopa,hopb: the session ends with its status" 0 $?

# The target is what B may reach (PermitOpen): anything else is refused by
# B, which shows the channel really is B's.
st -J hopb -o Port=1 target true </dev/null 2>"$T/err"
one_line_fail "-J: the jump host refuses the target in one line" "$T/err" $? \
    "port 1 via jump host hopb: administratively prohibited"
st badjump true </dev/null 2>"$T/err"
one_line_fail "a jump host that cannot be reached: one line naming it" "$T/err" $? \
    "jump host 127.0.0.1" "Connection refused"
out=$(st -J none badjump 'echo direct' </dev/null 2>&1)
it_check "-J none wins over the Host section's ProxyJump" direct "$out"
out=$(st -o ProxyJump=none badjump 'echo direct2' </dev/null 2>&1)
it_check "-o ProxyJump=none wins over the Host section's ProxyJump" direct2 "$out"

# Host key changed on the middle hop: refused, naming that hop; nothing runs.
rm -f "$T/ran"
timeout 60 "$SSHTUN" -F "$T/cfg_wrong" -J hopa,hopb target "touch $T/ran" </dev/null 2>"$T/err"
rc=$?
if [ $rc = 255 ] && grep -q "jump host hopb: host key verification failed" "$T/err" &&
    grep -q "Host key for bastion-b has changed" "$T/err" && [ ! -e "$T/ran" ]; then
    it_pass "middle hop with a changed host key: refused under its HostKeyAlias, named, nothing ran"
else
    it_fail "middle hop with a changed host key: rc $rc ran=$([ -e "$T/ran" ] && echo yes) $(cat "$T/err")"
fi

if [ "$BUSER" != "$USER_NAME" ]; then
    # The user in the -J element wins over the hop's User; B admits only BUSER.
    st -J "$USER_NAME@hopb" target true </dev/null 2>"$T/err"
    one_line_fail "-J user@hop: that user, refused by the hop, in one line" "$T/err" $? \
        "jump host hopb" "Permission denied"
fi

out=$(st -J hopb -W "127.0.0.1:$PA" target </dev/null 2>/dev/null | head -c 8)
it_check "-J with -W: the target's banner through B" "SSH-2.0-" "$out"

st -J "127.0.0.1:$PA" -o User="$USER_NAME" -p "$PA" 127.0.0.1 true </dev/null 2>"$T/err"
one_line_fail "a jump host that is the destination itself: ssh's loop check" "$T/err" $? \
    "jumphost loop via 127.0.0.1"
"$SSHTUN" -F none -J a -J b 127.0.0.1 true 2>"$T/err"
one_line_fail "-J twice: ssh's message" "$T/err" $? "Only a single -J option is permitted"
"$SSHTUN" -F none -J 'a b' 127.0.0.1 true 2>"$T/err"
one_line_fail "-J with a bad host name" "$T/err" $? "Invalid -J argument"
"$SSHTUN" -F none -o 'ProxyCommand=nc %h %p' -J a 127.0.0.1 true 2>"$T/err"
one_line_fail "-J after ProxyCommand: ssh's message" "$T/err" $? "Cannot specify -J with ProxyCommand"

# ---- ProxyCommand ---------------------------------------------------------------------------

out=$(st -o 'ProxyCommand=socat - TCP:%h:%p' target 'echo pc' </dev/null 2>&1)
it_check "ProxyCommand socat: the connection over its stdin/stdout" pc "$out"
out=$(st -o "ProxyCommand=sh -c 'echo %h,%p,%r,%n,%k,%% > $T/tok; exec socat - TCP:%h:%p'" \
    target 'echo tok' </dev/null 2>&1)
it_check "ProxyCommand with tokens connects" tok "$out"
it_check "ProxyCommand tokens %h,%p,%r,%n,%k,%%" "127.0.0.1,$PA,$USER_NAME,target,target,%" \
    "$(cat "$T/tok" 2>/dev/null)"
out=$(st hopc 'echo hopc' </dev/null 2>&1)
it_check "ProxyCommand from a Host section (B through socat)" hopc "$out"
out=$(st -o ProxyCommand=none hopc 'echo direct' </dev/null 2>&1)
it_check "-o ProxyCommand=none wins over the Host section's" direct "$out"
out=$(st -J hopc target 'echo mixed' </dev/null 2>&1)
it_check "-J through a hop that is reached by its own ProxyCommand" mixed "$out"

st -o 'ProxyCommand=sshtun-no-such-command %h %p' target true </dev/null 2>"$T/err"
one_line_fail "ProxyCommand not found: one line with its stderr" "$T/err" $? \
    "ProxyCommand 'sshtun-no-such-command 127.0.0.1 $PA'" "status 127" "not found"
st -o "ProxyCommand=sh -c 'echo proxy-says-no >&2; exit 3'" target true </dev/null 2>"$T/err"
one_line_fail "ProxyCommand exiting early: one line with its status and stderr" "$T/err" $? \
    "exited with status 3" "proxy-says-no"
st -o 'ProxyCommand=socat - TCP:127.0.0.1:1' target true </dev/null 2>"$T/err"
one_line_fail "ProxyCommand that cannot connect (socat): one line with socat's reason" \
    "$T/err" $? "ProxyCommand 'socat - TCP:127.0.0.1:1'" "Connection refused"

# ProxyUseFdpass: the command passes a connected socket back and exits.
cat > "$T/dialer.py" <<'EOF'
import socket, sys
s = socket.create_connection((sys.argv[1], int(sys.argv[2])))
socket.send_fds(socket.socket(fileno=1), [b"\0"], [s.fileno()])
EOF
out=$(st -o ProxyUseFdpass=yes -o "ProxyCommand=/usr/bin/python3 $T/dialer.py %h %p" \
    target 'echo fdpass' </dev/null 2>&1)
it_check "ProxyUseFdpass: a socket passed back by the command" fdpass "$out"
st -o ProxyUseFdpass=yes -o "ProxyCommand=sh -c 'echo no-socket-here >&2'" target true \
    </dev/null 2>"$T/err"
one_line_fail "ProxyUseFdpass without a socket: one line" "$T/err" $? \
    "did not pass back a connection" "no-socket-here"

# ---- BindAddress, BindInterface, IPQoS, -g -------------------------------------------------

out=$(st -b 127.0.0.2 target 'echo $SSH_CONNECTION' </dev/null 2>&1)
it_check "-b 127.0.0.2: the server sees that address" 127.0.0.2 "${out%% *}"
out=$(st -o BindAddress=127.0.0.3 target 'echo $SSH_CONNECTION' </dev/null 2>&1)
it_check "BindAddress 127.0.0.3" 127.0.0.3 "${out%% *}"
st -b 192.0.2.1 target true </dev/null 2>"$T/err"
one_line_fail "-b with an address not on this host: one line" "$T/err" $? \
    "bind 192.0.2.1" "Cannot assign requested address"
out=$(st -B lo target 'echo $SSH_CONNECTION' </dev/null 2>&1)
it_check "-B lo: bound to lo's address" 127.0.0.1 "${out%% *}"
st -B sshtun-noif0 target true </dev/null 2>"$T/err"
one_line_fail "-B with no such interface: one line" "$T/err" $? "BindInterface sshtun-noif0"

# The type of service of sshtun's socket to A, as ss sees it.
tos_of() { # command...: run it in the background, read the socket's tos
    "$@" </dev/null >/dev/null 2>&1 &
    local bg=$! t=""
    for _ in $(seq 1 40); do
        sleep 0.25
        t=$(ss -tnH --tos state established "( dport = :$PA )" 2>/dev/null |
            grep -o 'tos:[0-9a-fx]*' | head -1)
        # The session (or -N) has decided once the server ran the command.
        [ -n "$t" ] && [ -e "$T/tos.go" ] && break
    done
    kill "$(it_sshtun_pid "$bg")" 2>/dev/null
    wait "$bg" 2>/dev/null
    rm -f "$T/tos.go"
    echo "$t"
}
it_check "IPQoS default, -N: interactive lowdelay (as Debian's ssh)" tos:0x10 \
    "$(touch "$T/tos.go"; tos_of st -N target)"
it_check "IPQoS default, a command without a terminal: bulk throughput" tos:0x8 \
    "$(tos_of st target "touch $T/tos.go; sleep 20")"
it_check "IPQoS af41, a command: that value for both" tos:0x88 \
    "$(tos_of st -o IPQoS=af41 target "touch $T/tos.go; sleep 20")"
it_check "IPQoS 'ef cs1', a command: the bulk value" tos:0x20 \
    "$(tos_of st -o 'IPQoS=ef cs1' target "touch $T/tos.go; sleep 20")"
it_check "IPQoS none: left alone" tos:0 \
    "$(tos_of st -o IPQoS=none target "touch $T/tos.go; sleep 20")"
st -o IPQoS=bogus target true </dev/null 2>"$T/err"
one_line_fail "IPQoS with a bad value" "$T/err" $? "Bad IPQoS value: bogus"

LP=$(it_free_port)
st -g -N -L "$LP:127.0.0.1:$PA" target </dev/null >/dev/null 2>&1 &
bgp=$!
it_wait_port "$LP"
l=$(ss -ltnH "( sport = :$LP )" | awk '{print $4}' | sort | tr '\n' ' ')
kill "$(it_sshtun_pid "$bgp")" 2>/dev/null
wait "$bgp" 2>/dev/null
case $l in
*0.0.0.0:$LP*) it_pass "-g: a local forward without an address listens on every address ($l)" ;;
*) it_fail "-g: listeners '$l'" ;;
esac

# ---- sshtund as the jump host ---------------------------------------------------------------
# The hop's side of -J is a direct-tcpip channel: sshtund serves it for
# sshtun -J and for OpenSSH's ssh -J (its ssh -W), to the sshd behind it;
# and sshtund as the destination behind an sshd hop.
it_sshtund_start
PD=$PORT
echo "[127.0.0.1]:$PD $(cut -d' ' -f1,2 "$T/host_ed25519.pub")" > "$T/kh_d"
cat >> "$T/cfg" <<EOF
Host hopd
    HostName 127.0.0.1
    Port $PD
    User $USER_NAME
    IdentityFile $T/user_ed25519
    UserKnownHostsFile $T/kh_d
EOF
it_check "sshtun -J through sshtund" via-sshtund "$(st -J hopd target echo via-sshtund 2>&1)"
it_check "OpenSSH ssh -J through sshtund" via-sshtund-ssh \
    "$(timeout 60 ssh -F "$T/cfg" -J hopd target echo via-sshtund-ssh 2>&1)"
it_check "sshtund opened both channels to the target" 2 \
    "$(grep -c "direct-tcpip to 127.0.0.1 port $PA " "$T/sshtund.log")"
it_check "sshtun -J through sshd to sshtund" to-sshtund "$(st -J hopa hopd echo to-sshtund 2>&1)"
it_sshtund_stop

# ---- -G beside ssh -G -----------------------------------------------------------------------

gkeys='^(proxyjump|proxycommand|proxyusefdpass|bindaddress|bindinterface|ipqos) '
gcmp() { # desc args...: the keys above, as ssh -G prints them
    local d=$1 a b
    shift
    a=$("$SSHTUN" -G "$@" 2>&1 | grep -E "$gkeys" | sort)
    b=$(ssh -G "$@" 2>&1 | grep -E "$gkeys" | sort)
    if [ -n "$b" ] && [ "$a" = "$b" ]; then it_pass "-G as ssh -G: $d"; else
        it_fail "-G as ssh -G: $d: sshtun '$a' ssh '$b'"; fi
}
gcmp "-J with an ssh:// hop" -F none -J "u@j1:2222,ssh://x@j2:33" h
gcmp "-J numeric host" -F none -J 127.0.0.1:22 h
gcmp "ProxyJump from a Host section" -F "$T/cfg" viab
gcmp "ProxyCommand kept unexpanded" -F none -o "ProxyCommand=nc %h %p" h
gcmp "ProxyCommand, then ProxyJump" -F none -o "ProxyCommand=nc %h %p" -o ProxyJump=j h
gcmp "-b, -B, IPQoS, ProxyUseFdpass" -F none -b 127.0.0.2 -B lo -o "IPQoS=af41 cs0" \
    -o ProxyUseFdpass=yes h
gcmp "defaults" -F none h

# %C and %j as OpenSSH 9.6 and later compute them (the jump host is part of
# the connection hash): against OpenSSH 10's ssh.
O10=$(sh "$(dirname "$0")/../openssh10.sh" 2>/dev/null)
if [ -x "$O10/usr/bin/ssh" ]; then
    for args in "-J u@j1:2222" "-J a,b" ""; do
        a=$("$SSHTUN" -G -F none $args -o "ControlPath=/tmp/%C-%j" -l u h 2>&1 | grep '^controlpath')
        b=$("$O10/usr/bin/ssh" -G -F none $args -o "ControlPath=/tmp/%C-%j" -l u h 2>&1 |
            grep '^controlpath')
        it_check "ControlPath %C-%j as OpenSSH 10's ssh -G (${args:-no jump})" "$b" "$a"
    done
    # "ProxyJump none" first keeps a later ProxyCommand out (OpenSSH 9.2's
    # and 10's readconf.c; Debian's ssh 9.2 binary prints the command).
    a=$("$SSHTUN" -G -F none -o ProxyJump=none -o "ProxyCommand=nc %h %p" h 2>&1 | grep '^proxy')
    b=$("$O10/usr/bin/ssh" -G -F none -o ProxyJump=none -o "ProxyCommand=nc %h %p" h 2>&1 |
        grep '^proxy')
    it_check "-G: ProxyJump none, then ProxyCommand, as OpenSSH 10" "$b" "$a"
else
    it_fail "OpenSSH 10 (tests/openssh10.sh) not available for the %C/%j comparison"
fi

it_done
