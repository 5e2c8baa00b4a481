#!/usr/bin/env bash
# it_x11.sh - X11 forwarding, both roles, with a real X server (Xvfb) on
# the client's side and xdpyinfo run on the remote side:
#
#   - sshtun -Y (trusted) against OpenSSH's sshd, AsyncSSH and sshtund: the
#     remote X client reaches the local display, which accepts only its own
#     cookie; the remote side never holds that cookie (its xauth entry is
#     the fake one), and a remote client without the fake cookie is turned
#     away by sshtun ("X11 connection rejected because of wrong
#     authentication"); without -X there is no DISPLAY;
#   - sshtun -X (untrusted: a cookie made with xauth generate ... untrusted)
#     against a display that allows it, ssh's warning where xauth cannot
#     make one, and ForwardX11Timeout refusing later connections;
#   - sshtund serving OpenSSH's ssh -Y and AsyncSSH: X11Forwarding (and no,
#     also in a Match block), X11DisplayOffset, X11UseLocalhost no,
#     no-X11-forwarding; the session runs `xauth add` for its display.
#
# Sessions run as a throwaway user (their ~/.Xauthority is theirs).  Dropbear
# has no X11 forwarding.  Needs root (a test user, sshtund's privilege
# separation).
#
#   tests/integration/it_x11.sh <build-dir>
. "$(dirname "$0")/lib.sh"
it_init "$1"
if [ "$(id -u)" != 0 ]; then
    echo "SKIP-NOT-COUNTED: it_x11.sh needs root (a test user, sshtund privilege separation)"
    exit 77
fi
for b in Xvfb xdpyinfo xauth /usr/bin/python3; do
    command -v "$b" >/dev/null || { echo "FAIL: $b not installed (tests/deps.sh: xvfb x11-utils xauth)"; exit 1; }
done
/usr/bin/python3 -c 'import asyncssh' 2>/dev/null ||
    { echo "FAIL: python3-asyncssh not installed (tests/deps.sh)"; exit 1; }
ROOT_DIR=$(cd "$(dirname "$0")/../.." && pwd)
APEER="/usr/bin/python3 -W ignore $ROOT_DIR/tests/integration/asyncssh_peer.py"

it_add_user
U=$IT_USER
echo "$U:it-X11-$$-$RANDOM" | chpasswd

# Two local displays: one that admits only its cookie, one open to every
# local client (where xauth can make an untrusted cookie, as on a desktop
# whose server admits the local user).
free_display() {
    local n
    for n in $(seq 40 99); do
        [ -e "/tmp/.X11-unix/X$n" ] || [ -e "/tmp/.X$n-lock" ] || { echo "$n"; return; }
    done
}
XA="$T/xauth.local"
DN=$(free_display)
COOKIE=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
xauth -q -f "$XA" add ":$DN" MIT-MAGIC-COOKIE-1 "$COOKIE" 2>/dev/null
Xvfb ":$DN" -auth "$XA" -nolisten tcp > "$T/xvfb1.log" 2>&1 &
BG_PIDS="${BG_PIDS:-} $!"
for _ in $(seq 1 100); do [ -e "/tmp/.X11-unix/X$DN" ] && break; sleep 0.05; done
DO=$(free_display)
[ "$DO" != "$DN" ] || DO=$((DN + 1))
Xvfb ":$DO" -nolisten tcp > "$T/xvfb2.log" 2>&1 &
BG_PIDS="$BG_PIDS $!"
for _ in $(seq 1 100); do [ -e "/tmp/.X11-unix/X$DO" ] && break; sleep 0.05; done
XAUTHORITY="$XA" xdpyinfo -display ":$DN" >/dev/null 2>&1 || { echo "FAIL: Xvfb :$DN"; exit 1; }
XAUTHORITY=/dev/null xdpyinfo -display ":$DN" >/dev/null 2>&1 &&
    { echo "FAIL: Xvfb :$DN admits clients without its cookie"; exit 1; }
export XAUTHORITY="$XA" DISPLAY=":$DN"

tun() {
    timeout 60 "$SSHTUN" -F none -p "$SPORT" -l "$U" -i "$T/user_ed25519" \
        -o IdentitiesOnly=yes -o IdentityAgent=none -o UserKnownHostsFile="$T/kh" \
        -o GlobalKnownHostsFile=/dev/null -o StrictHostKeyChecking=yes -o BatchMode=yes "$@"
}
# What the remote side runs: its DISPLAY, its xauth entry's cookie, and
# xdpyinfo's first lines.
PROBE='echo "display=$DISPLAY"; echo "cookie=$(xauth list "$DISPLAY" 2>/dev/null | awk "{print \$3}" | head -1)"; xdpyinfo 2>&1 | head -3'

client_checks() {  # client_checks <label>
    local l=$1 out
    out=$(tun -Y 127.0.0.1 "$PROBE" 2>&1)
    case "$out" in
    *display=localhost:*"vendor string:"*) it_pass "$l: sshtun -Y: xdpyinfo on the remote side reaches the local display" ;;
    *display=*"vendor string:"*) it_pass "$l: sshtun -Y: xdpyinfo on the remote side reaches the local display" ;;
    *) it_fail "$l: sshtun -Y: $out" ;;
    esac
    local rc
    rc=$(echo "$out" | sed -n 's/^cookie=//p')
    if [ -n "$rc" ] && [ "$rc" != "$COOKIE" ]; then
        it_pass "$l: the remote side holds a fake cookie, not the display's"
    else
        it_fail "$l: remote cookie '$rc' (real $COOKIE)"
    fi
    out=$(tun -Y 127.0.0.1 'XAUTHORITY=/dev/null xdpyinfo >/dev/null 2>&1; echo rc=$?' 2>&1)
    case "$out" in
    *"X11 connection rejected because of wrong authentication."*rc=1* | *rc=1*"X11 connection rejected because of wrong authentication."*)
        it_pass "$l: a remote X client without the fake cookie is turned away by sshtun" ;;
    *) it_fail "$l: client without the cookie: $out" ;;
    esac
    out=$(tun 127.0.0.1 'echo "display=$DISPLAY"' 2>&1)
    it_check "$l: without -X the remote side has no DISPLAY" "display=" "$out"
    out=$(DISPLAY=":$DO" tun -X 127.0.0.1 "$PROBE" 2>&1)
    case "$out" in
    *"vendor string:"*) it_pass "$l: sshtun -X (untrusted cookie) reaches the display" ;;
    *) it_fail "$l: sshtun -X: $out" ;;
    esac
}

# ---- sshtun -X/-Y against OpenSSH's sshd --------------------------------------------------------
echo "== sshd"
SSHD_AUTHKEYS=.ssh/authorized_keys it_start_sshd "X11Forwarding yes"
SPORT=$PORT
for k in ed25519 ecdsa rsa; do echo "[127.0.0.1]:$SPORT $(cut -d' ' -f1,2 "$T/host_$k.pub")"; done > "$T/kh"
client_checks sshd
# -X where xauth cannot make an untrusted cookie (it cannot reach the
# display): ssh's warning, no X11 forwarding.
out=$(XAUTHORITY=/dev/null tun -X 127.0.0.1 'echo "display=$DISPLAY"' 2>&1)
case "$out" in
*"Warning: untrusted X11 forwarding setup failed: xauth key data not generated"*display=)
    it_pass "sshd: -X where no untrusted cookie can be made: ssh's warning, no DISPLAY" ;;
*) it_fail "sshd: -X without an untrusted cookie: $out" ;;
esac
# -X on the display that admits only its own cookie: Xvfb refuses the
# untrusted cookie xauth made for it, for ssh -X (ForwardX11Trusted no,
# OpenSSH's default; Debian's ssh defaults to yes) exactly as for sshtun.
want=$(timeout 60 ssh -F /dev/null -X -o ForwardX11Trusted=no -p "$SPORT" -i "$T/user_ed25519" \
    -o IdentitiesOnly=yes -o UserKnownHostsFile="$T/kh" -o BatchMode=yes "$U@127.0.0.1" \
    'echo "display=$DISPLAY"; xdpyinfo >/dev/null 2>&1; echo rc=$?' 2>&1)
out=$(tun -X 127.0.0.1 'echo "display=$DISPLAY"; xdpyinfo >/dev/null 2>&1; echo rc=$?' 2>&1)
# sshd gives each connection the first free display from 10 on: another
# test's forwarding may hold one meanwhile, so the number is not compared.
norm() { sed -E 's/^display=localhost:[0-9]+\.0$/display=localhost:N.0/'; }
it_check "sshd: -X on a cookie-only display: the same outcome as ssh -X" \
    "$(echo "$want" | norm)" "$(echo "$out" | norm)"
ls -d /tmp/sshtun-xauth-* >/dev/null 2>&1 && it_fail "an untrusted cookie's directory was left: $(ls -d /tmp/sshtun-xauth-*)" ||
    it_pass "the untrusted cookie's temporary directory is gone"
# ForwardX11Timeout: connections after it are refused.
out=$(DISPLAY=":$DO" tun -v -X -o ForwardX11Timeout=1 127.0.0.1 'xdpyinfo >/dev/null 2>&1; echo first=$?; sleep 2; xdpyinfo >/dev/null 2>&1; echo second=$?' 2>&1)
case "$out" in
*first=0*"Rejected X11 connection after ForwardX11Timeout expired"*second=1* | *first=0*second=1*)
    echo "$out" | grep -q "Rejected X11 connection after ForwardX11Timeout expired" &&
        it_pass "ForwardX11Timeout 1: a connection after it is refused" ||
        it_fail "ForwardX11Timeout: no message: $(echo "$out" | grep -v debug | tail -3)" ;;
*) it_fail "ForwardX11Timeout 1: $(echo "$out" | grep -E 'first|second|Rejected')" ;;
esac
# Through a master: a passenger asking for X11 gets the master's.
tun -Y -M -S "$T/ctl" -N -f 127.0.0.1
out=$(tun -Y -S "$T/ctl" 127.0.0.1 'xdpyinfo 2>&1 | head -3' 2>&1)
case "$out" in
*"vendor string:"*) it_pass "sshd: through an sshtun master, sshtun -Y reaches the display" ;;
*) it_fail "sshd: -Y through the master: $out" ;;
esac
out=$(timeout 60 ssh -F /dev/null -Y -S "$T/ctl" -l "$U" 127.0.0.1 'xdpyinfo 2>&1 | head -3' 2>&1)
case "$out" in
*"vendor string:"*) it_pass "sshd: through an sshtun master, OpenSSH's ssh -Y reaches the display" ;;
*) it_fail "sshd: ssh -Y through the master: $out" ;;
esac
tun -S "$T/ctl" -O exit 127.0.0.1 2>/dev/null
it_stop_sshd

# ---- sshtun -Y against AsyncSSH -------------------------------------------------------------------
echo "== asyncssh server"
SPORT=$(it_free_port)
XAUTHORITY="$T/apeer.xauth" it_bg "$T/apeer.log" $APEER server "$SPORT" "$T/host_ed25519" \
    "$T/authorized_keys" 1G
echo "[127.0.0.1]:$SPORT $(cut -d' ' -f1,2 "$T/host_ed25519.pub")" > "$T/kh"
out=$(tun -Y 127.0.0.1 'echo "display=$DISPLAY"; xdpyinfo 2>&1 | head -3' 2>&1)
case "$out" in
*display=?*"vendor string:"*) it_pass "asyncssh: sshtun -Y: xdpyinfo reaches the local display" ;;
*) it_fail "asyncssh: sshtun -Y: $out" ;;
esac
kill "$BG_PID" 2>/dev/null

# ---- sshtund ------------------------------------------------------------------------------------------
echo "== sshtund"
it_sshtund_start "X11Forwarding yes"
SPORT=$PORT
echo "[127.0.0.1]:$SPORT $(cut -d' ' -f1,2 "$T/host_ed25519.pub")" > "$T/kh"
client_checks sshtund
out=$(tun -Y 127.0.0.1 'echo "display=$DISPLAY"' 2>&1)
it_check "sshtund: DISPLAY is localhost:10.0 (X11DisplayOffset 10, screen 0)" "display=localhost:10.0" "$out"
echo "[127.0.0.1]:$SPORT $(cut -d' ' -f1,2 "$T/host_ed25519.pub")" > "$T/kh_ssh"
out=$(timeout 60 ssh -F /dev/null -Y -p "$SPORT" -i "$T/user_ed25519" -o IdentitiesOnly=yes \
    -o UserKnownHostsFile="$T/kh_ssh" -o BatchMode=yes "$U@127.0.0.1" "$PROBE" 2>&1)
case "$out" in
*"vendor string:"*) it_pass "sshtund: ssh -Y: xdpyinfo on the remote side reaches the display" ;;
*) it_fail "sshtund: ssh -Y: $out" ;;
esac
out=$(timeout 60 $APEER fwdclient "$SPORT" "$U" "$T/user_ed25519" "$T/kh_ssh" - ":$DN" \
    'xdpyinfo 2>&1 | head -3' 2>&1)
case "$out" in
*"vendor string:"*) it_pass "sshtund: AsyncSSH client with X11 forwarding reaches the display" ;;
*) it_fail "sshtund: AsyncSSH client with X11 forwarding: $out" ;;
esac
# Two sessions at once get two displays.
out=$(tun -Y 127.0.0.1 'echo $DISPLAY; sleep 2' 2>&1 & sleep 0.5; tun -Y 127.0.0.1 'echo $DISPLAY' 2>&1; wait)
case "$(echo "$out" | sort | tr '\n' ' ')" in
"localhost:10.0 localhost:11.0 ") it_pass "sshtund: a second session at the same time gets the next display" ;;
*) it_fail "sshtund: two sessions' displays: $out" ;;
esac
# Settings.
it_sshtund_start "X11Forwarding yes" "X11DisplayOffset 23"
SPORT=$PORT
echo "[127.0.0.1]:$SPORT $(cut -d' ' -f1,2 "$T/host_ed25519.pub")" > "$T/kh"
out=$(tun -Y 127.0.0.1 'echo "display=$DISPLAY"; xdpyinfo 2>&1 | grep -c "vendor string"' 2>&1)
it_check "sshtund: X11DisplayOffset 23" "display=localhost:23.0 1" "$(echo $out)"
it_sshtund_start "X11Forwarding yes" "X11UseLocalhost no"
SPORT=$PORT
echo "[127.0.0.1]:$SPORT $(cut -d' ' -f1,2 "$T/host_ed25519.pub")" > "$T/kh"
out=$(tun -Y 127.0.0.1 'echo "display=$DISPLAY"; xdpyinfo 2>&1 | grep -c "vendor string"' 2>&1)
it_check "sshtund: X11UseLocalhost no: DISPLAY names the host" "display=$(hostname):10.0 1" "$(echo $out)"
it_sshtund_start
SPORT=$PORT
echo "[127.0.0.1]:$SPORT $(cut -d' ' -f1,2 "$T/host_ed25519.pub")" > "$T/kh"
out=$(tun -Y 127.0.0.1 'echo "display=$DISPLAY"' 2>&1)
case "$out" in
*"X11 forwarding request failed on channel 0"*display=) it_pass "sshtund: X11Forwarding no (the default) refuses it; sshtun says so" ;;
*) it_fail "sshtund: X11Forwarding no: $out" ;;
esac
it_sshtund_start "X11Forwarding yes" "StrictModes no" "Match User $U" "X11Forwarding no"
SPORT=$PORT
echo "[127.0.0.1]:$SPORT $(cut -d' ' -f1,2 "$T/host_ed25519.pub")" > "$T/kh"
out=$(tun -Y 127.0.0.1 'echo "display=$DISPLAY"' 2>&1)
case "$out" in
*display=) it_pass "sshtund: X11Forwarding no in a Match User block refuses it" ;;
*) it_fail "sshtund: Match X11Forwarding no: $out" ;;
esac
it_sshtund_start "X11Forwarding yes"
SPORT=$PORT
echo "[127.0.0.1]:$SPORT $(cut -d' ' -f1,2 "$T/host_ed25519.pub")" > "$T/kh"
echo "no-X11-forwarding $(cat "$T/user_ed25519.pub")" > "$IT_HOME/.ssh/authorized_keys"
out=$(tun -Y 127.0.0.1 'echo "display=$DISPLAY"' 2>&1)
case "$out" in
*display=) it_pass "sshtund: no-X11-forwarding in authorized_keys refuses it" ;;
*) it_fail "sshtund: no-X11-forwarding: $out" ;;
esac
grep -q "X11 forwarding refused for $U (no-X11-forwarding in authorized_keys)" "$T/sshtund.log" &&
    it_pass "sshtund: the refusal names the rule" ||
    it_fail "sshtund: no refusal message: $(grep -i x11 "$T/sshtund.log" | tail -2)"
cp "$T/authorized_keys" "$IT_HOME/.ssh/authorized_keys"

it_sshtund_stop
it_done
