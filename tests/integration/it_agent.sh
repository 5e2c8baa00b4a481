#!/usr/bin/env bash
# it_agent.sh - agent forwarding, both roles, against real peers:
#
#   - sshtun -A (ForwardAgent yes / a socket path / $VAR) against OpenSSH's
#     sshd, Dropbear's dropbear, AsyncSSH and sshtund: `ssh-add -l` on the
#     remote side lists the local agent's keys, and a second hop from the
#     remote side logs in with the forwarded agent alone (the key's public
#     half only); without -A both fail;
#   - sshtund serving OpenSSH's ssh -A, dbclient -A and AsyncSSH: the
#     socket in a private 0700 directory of the user's, SSH_AUTH_SOCK set,
#     the directory gone when the session ends; AllowAgentForwarding no
#     (also in a Match block), no-agent-forwarding and restrict refuse it.
#
# The sessions run as a throwaway user who cannot open the local agent's
# socket directly (root's, mode 0600): only a forwarded agent works there.
# Needs root (the test user, sshtund's privilege separation, dropbear).
#
#   tests/integration/it_agent.sh <build-dir>
. "$(dirname "$0")/lib.sh"
it_init "$1"
if [ "$(id -u)" != 0 ]; then
    echo "SKIP-NOT-COUNTED: it_agent.sh needs root (a test user, sshtund privilege separation)"
    exit 77
fi
for b in ssh-agent ssh-add dropbear dbclient dropbearkey dropbearconvert /usr/bin/python3; do
    command -v "$b" >/dev/null || { echo "FAIL: $b not installed (tests/deps.sh)"; exit 1; }
done
/usr/bin/python3 -c 'import asyncssh' 2>/dev/null ||
    { echo "FAIL: python3-asyncssh not installed (tests/deps.sh)"; exit 1; }
ROOT_DIR=$(cd "$(dirname "$0")/../.." && pwd)
APEER="/usr/bin/python3 -W ignore $ROOT_DIR/tests/integration/asyncssh_peer.py"

it_add_user
U=$IT_USER
# sshd without PAM lets no locked account in: give it a password.
echo "$U:it-Agent-$$-$RANDOM" | chpasswd
# The key the agents hold is not in the user's authorized_keys: the first
# hop uses user_ed25519; the second hop is allowed only for the agent key.
cp "$T/user_ecdsa.pub" "$T/user_rsa.pub" "$IT_HOME/"
chmod 644 "$IT_HOME"/*.pub

# Two agents of root's, mode 0600 sockets: the test user cannot use them.
eval "$(ssh-agent -s -a "$T/agent1.sock")" >/dev/null
AGENT1_PID=$SSH_AGENT_PID
ssh-add -q "$T/user_ecdsa" 2>/dev/null
SSH_AUTH_SOCK="$T/agent2.sock" ssh-agent -a "$T/agent2.sock" >/dev/null
AGENT2_PID=$(pgrep -f "ssh-agent -a $T/agent2.sock" | head -1)
SSH_AUTH_SOCK="$T/agent2.sock" ssh-add -q "$T/user_rsa" 2>/dev/null
BG_PIDS="${BG_PIDS:-} $AGENT1_PID $AGENT2_PID"
export SSH_AUTH_SOCK="$T/agent1.sock"
FP1=$(ssh-keygen -lf "$T/user_ecdsa.pub" | cut -d' ' -f2)
FP2=$(ssh-keygen -lf "$T/user_rsa.pub" | cut -d' ' -f2)

# sshtun as the test user's client of 127.0.0.1:$SPORT (host keys $T/kh),
# with the first hop's own key only (not the agent's).
tun() {
    timeout 60 "$SSHTUN" -F none -p "$SPORT" -l "$U" -i "$T/user_ed25519" \
        -o IdentitiesOnly=yes -o UserKnownHostsFile="$T/kh" -o GlobalKnownHostsFile=/dev/null \
        -o StrictHostKeyChecking=yes -o BatchMode=yes -o LogLevel=ERROR "$@"
}

# The second hop, run on the remote side: OpenSSH's ssh into the same
# server with the agent key's public half only, so only an agent signs.
HOP2="ssh -F /dev/null -o BatchMode=yes -o StrictHostKeyChecking=no \
-o UserKnownHostsFile=/dev/null -o LogLevel=ERROR -o IdentitiesOnly=yes \
-i $IT_HOME/user_ecdsa.pub -p \$P $U@127.0.0.1 echo second-hop-ok"

# client_checks <label>: sshtun -A against the server on $SPORT whose
# authorized_keys hold user_ed25519 and user_ecdsa.
client_checks() {
    local l=$1 out
    out=$(tun -A 127.0.0.1 'ssh-add -l' 2>&1)
    case "$out" in
    *"$FP1"*) it_pass "$l: sshtun -A: ssh-add -l lists the local agent's key" ;;
    *) it_fail "$l: sshtun -A: ssh-add -l: $out" ;;
    esac
    out=$(tun 127.0.0.1 'ssh-add -l; echo rc=$?' 2>&1)
    case "$out" in
    *rc=2*) it_pass "$l: without -A the remote side has no agent" ;;
    *) it_fail "$l: without -A: $out" ;;
    esac
    out=$(tun -A 127.0.0.1 "P=$SPORT; $HOP2" 2>&1)
    it_check "$l: a second hop logs in with the forwarded agent" second-hop-ok "$out"
    out=$(tun 127.0.0.1 "echo first-hop; P=$SPORT; $HOP2" 2>&1)
    case "$out" in
    *second-hop-ok*) it_fail "$l: the second hop got in without a forwarded agent" ;;
    first-hop*) it_pass "$l: without -A the second hop is refused" ;;
    *) it_fail "$l: without -A: the first hop failed: $out" ;;
    esac
    out=$(tun -o ForwardAgent="$T/agent2.sock" 127.0.0.1 'ssh-add -l' 2>&1)
    case "$out" in
    *"$FP2"*"$FP1"* | *"$FP1"*) it_fail "$l: ForwardAgent path: wrong agent: $out" ;;
    *"$FP2"*) it_pass "$l: ForwardAgent <path> forwards that agent" ;;
    *) it_fail "$l: ForwardAgent path: $out" ;;
    esac
    out=$(AGENT2="$T/agent2.sock" tun -o 'ForwardAgent=$AGENT2' 127.0.0.1 'ssh-add -l' 2>&1)
    case "$out" in
    *"$FP2"*) it_pass "$l: ForwardAgent \$VAR forwards the agent the variable names" ;;
    *) it_fail "$l: ForwardAgent \$VAR: $out" ;;
    esac
}

# ---- sshtun -A against OpenSSH's sshd ---------------------------------------------------------
echo "== sshd"
SSHD_AUTHKEYS=.ssh/authorized_keys it_start_sshd
SPORT=$PORT
for k in ed25519 ecdsa rsa; do echo "[127.0.0.1]:$SPORT $(cut -d' ' -f1,2 "$T/host_$k.pub")"; done > "$T/kh"
client_checks sshd
out=$(tun -A 127.0.0.1 'echo $SSH_AUTH_SOCK' 2>&1)
case "$out" in
/tmp/ssh-*/agent.*) it_pass "sshd: the session's SSH_AUTH_SOCK is sshd's socket ($out)" ;;
*) it_fail "sshd: SSH_AUTH_SOCK $out" ;;
esac
out=$(tun -o ForwardAgent="$T/missing.sock" 127.0.0.1 true 2>&1)
case "$out" in
*"Cannot forward agent socket path \"$T/missing.sock\""*) it_pass "a missing ForwardAgent socket is named, as by ssh" ;;
*) it_fail "missing ForwardAgent socket: $out" ;;
esac
# Through a master (connection sharing): a passenger asking for the agent
# gets the master's forwarded agent, as with ssh's master; sshtun's and
# OpenSSH's own mux client alike.
tun -A -M -S "$T/ctl" -N -f 127.0.0.1
out=$(tun -A -S "$T/ctl" 127.0.0.1 'ssh-add -l' 2>&1)
case "$out" in
*"$FP1"*) it_pass "sshd: through an sshtun master, sshtun -A: ssh-add -l lists the key" ;;
*) it_fail "sshd: sshtun -A through the master: $out" ;;
esac
out=$(timeout 60 ssh -F /dev/null -A -S "$T/ctl" -l "$U" 127.0.0.1 'ssh-add -l' 2>&1)
case "$out" in
*"$FP1"*) it_pass "sshd: through an sshtun master, OpenSSH's ssh -A: ssh-add -l lists the key" ;;
*) it_fail "sshd: ssh -A through the master: $out" ;;
esac
tun -S "$T/ctl" -O exit 127.0.0.1 2>/dev/null
it_stop_sshd

# ---- sshtun -A against Dropbear -------------------------------------------------------------------
echo "== dropbear"
dropbearkey -t ed25519 -f "$T/db_host" >/dev/null 2>&1 || { echo "FAIL: dropbearkey"; exit 1; }
for try in 1 2 3; do
    SPORT=$(it_free_port)
    setsid dropbear -F -E -p "127.0.0.1:$SPORT" -r "$T/db_host" -P "$T/dropbear.pid" \
        > "$T/dropbear.log" 2>&1 &
    DB_PID=$!
    BG_PIDS="$BG_PIDS $DB_PID"
    it_wait_port "$SPORT" && break
done
echo "[127.0.0.1]:$SPORT $(dropbearkey -y -f "$T/db_host" | grep '^ssh-' | cut -d' ' -f1,2)" > "$T/kh"
client_checks dropbear
kill "$DB_PID" 2>/dev/null

# ---- sshtun -A against AsyncSSH -----------------------------------------------------------------
echo "== asyncssh server"
SPORT=$(it_free_port)
it_bg "$T/apeer.log" $APEER server "$SPORT" "$T/host_ed25519" "$T/authorized_keys" 1G
echo "[127.0.0.1]:$SPORT $(cut -d' ' -f1,2 "$T/host_ed25519.pub")" > "$T/kh"
out=$(tun -A 127.0.0.1 'ssh-add -l' 2>&1)
case "$out" in
*"$FP1"*) it_pass "asyncssh: sshtun -A: ssh-add -l lists the local agent's key" ;;
*) it_fail "asyncssh: sshtun -A: ssh-add -l: $out" ;;
esac
out=$(tun 127.0.0.1 'ssh-add -l; echo rc=$?' 2>&1)
case "$out" in
*rc=2*) it_pass "asyncssh: without -A the remote side has no agent" ;;
*) it_fail "asyncssh: without -A: $out" ;;
esac
kill "$BG_PID" 2>/dev/null

# ---- sshtund ----------------------------------------------------------------------------------------
echo "== sshtund"
it_sshtund_start "StrictModes no" "Match User nobody" "AllowAgentForwarding no"
SPORT=$PORT
echo "[127.0.0.1]:$SPORT $(cut -d' ' -f1,2 "$T/host_ed25519.pub")" > "$T/kh"
client_checks sshtund
# The directory and socket while the session runs, and after.
out=$(tun -A 127.0.0.1 'd=$(dirname "$SSH_AUTH_SOCK"); echo "$d"; stat -c "%U %a" "$d" "$SSH_AUTH_SOCK"' 2>&1)
dir=$(echo "$out" | sed -n 1p)
case "$dir" in
/tmp/ssh-??????????) it_pass "sshtund: SSH_AUTH_SOCK in a private directory ($dir)" ;;
*) it_fail "sshtund: SSH_AUTH_SOCK directory: $out" ;;
esac
it_check "sshtund: directory 0700 and socket 0600, both the user's" "$U 700 $U 600" \
    "$(echo "$out" | sed -n '2,3p' | tr '\n' ' ' | sed 's/ $//')"
for _ in 1 2 3 4 5 6 7 8 9 10; do [ -e "$dir" ] || break; sleep 0.2; done
[ -n "$dir" ] && [ ! -e "$dir" ] && it_pass "sshtund: the directory is removed when the session ends" ||
    it_fail "sshtund: $dir still there after the session"
# Through a master: sshtund's sockets are per session, so a passenger
# without -A on the same connection gets none (sshd's serves the whole
# connection once any session asked).
tun -A -M -S "$T/ctl2" -N -f 127.0.0.1
out=$(tun -A -S "$T/ctl2" 127.0.0.1 'ssh-add -l' 2>&1)
case "$out" in
*"$FP1"*) it_pass "sshtund: through an sshtun master, sshtun -A: ssh-add -l lists the key" ;;
*) it_fail "sshtund: sshtun -A through the master: $out" ;;
esac
out=$(tun -S "$T/ctl2" 127.0.0.1 'echo "sock=$SSH_AUTH_SOCK"' 2>&1)
it_check "sshtund: a passenger without -A gets no agent" "sock=" "$out"
tun -S "$T/ctl2" -O exit 127.0.0.1 2>/dev/null
# OpenSSH's ssh -A and dbclient -A as clients of sshtund.
echo "[127.0.0.1]:$SPORT $(cut -d' ' -f1,2 "$T/host_ed25519.pub")" > "$T/kh_ssh"
out=$(timeout 60 ssh -F /dev/null -A -p "$SPORT" -i "$T/user_ed25519" -o IdentitiesOnly=yes \
    -o UserKnownHostsFile="$T/kh_ssh" -o BatchMode=yes "$U@127.0.0.1" \
    "ssh-add -l; P=$SPORT; $HOP2" 2>&1)
case "$out" in
*"$FP1"*second-hop-ok*) it_pass "sshtund: ssh -A: ssh-add -l and a second hop with the forwarded agent" ;;
*) it_fail "sshtund: ssh -A: $out" ;;
esac
dropbearconvert openssh dropbear "$T/user_ed25519" "$T/user_ed25519.db" >/dev/null 2>&1 ||
    { echo "FAIL: dropbearconvert"; exit 1; }
echo "127.0.0.1 $(cut -d' ' -f1,2 "$T/host_ed25519.pub")" > "$HOME/.ssh/known_hosts"
out=$(timeout 60 dbclient -A -i "$T/user_ed25519.db" -p "$SPORT" "$U@127.0.0.1" 'ssh-add -l' </dev/null 2>&1)
case "$out" in
*"$FP1"*) it_pass "sshtund: dbclient -A: ssh-add -l lists the agent's key" ;;
*) it_fail "sshtund: dbclient -A: $out" ;;
esac
out=$(timeout 60 $APEER fwdclient "$SPORT" "$U" "$T/user_ed25519" "$T/kh_ssh" "$T/agent1.sock" - \
    'ssh-add -l' 2>&1)
case "$out" in
*"$FP1"*) it_pass "sshtund: AsyncSSH client with agent forwarding: ssh-add -l lists the key" ;;
*) it_fail "sshtund: AsyncSSH client with agent forwarding: $out" ;;
esac
# Refusals: configuration, Match, authorized_keys options.
it_sshtund_start "AllowAgentForwarding no"
SPORT=$PORT
echo "[127.0.0.1]:$SPORT $(cut -d' ' -f1,2 "$T/host_ed25519.pub")" > "$T/kh"
out=$(tun -A 127.0.0.1 'echo "sock=$SSH_AUTH_SOCK"; ssh-add -l; echo rc=$?' 2>&1)
case "$out" in
*"sock="$'\n'*rc=2*) it_pass "sshtund: AllowAgentForwarding no refuses it" ;;
*) it_fail "sshtund: AllowAgentForwarding no: $out" ;;
esac
grep -q "agent forwarding refused for $U (AllowAgentForwarding no)" "$T/sshtund.log" &&
    it_pass "sshtund: the refusal names the rule" ||
    it_fail "sshtund: no refusal message: $(grep -i agent "$T/sshtund.log" | tail -2)"
it_sshtund_start "StrictModes no" "Match User $U" "AllowAgentForwarding no"
SPORT=$PORT
echo "[127.0.0.1]:$SPORT $(cut -d' ' -f1,2 "$T/host_ed25519.pub")" > "$T/kh"
out=$(tun -A 127.0.0.1 'ssh-add -l; echo rc=$?' 2>&1)
case "$out" in
*rc=2*) it_pass "sshtund: AllowAgentForwarding no in a Match User block refuses it" ;;
*) it_fail "sshtund: Match AllowAgentForwarding no: $out" ;;
esac
for opt in no-agent-forwarding restrict; do
    it_sshtund_start
    SPORT=$PORT
    echo "[127.0.0.1]:$SPORT $(cut -d' ' -f1,2 "$T/host_ed25519.pub")" > "$T/kh"
    echo "$opt $(cat "$T/user_ed25519.pub")" > "$IT_HOME/.ssh/authorized_keys"
    out=$(tun -A 127.0.0.1 'ssh-add -l; echo rc=$?' 2>&1)
    case "$out" in
    *rc=2*) it_pass "sshtund: $opt in authorized_keys refuses agent forwarding" ;;
    *) it_fail "sshtund: $opt: $out" ;;
    esac
done
echo "restrict,agent-forwarding $(cat "$T/user_ed25519.pub")" > "$IT_HOME/.ssh/authorized_keys"
out=$(tun -A 127.0.0.1 'ssh-add -l' 2>&1)
case "$out" in
*"$FP1"*) it_pass "sshtund: restrict,agent-forwarding allows it again" ;;
*) it_fail "sshtund: restrict,agent-forwarding: $out" ;;
esac
cp "$T/authorized_keys" "$IT_HOME/.ssh/authorized_keys"

it_sshtund_stop
it_done
