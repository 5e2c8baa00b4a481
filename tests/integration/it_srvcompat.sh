#!/usr/bin/env bash
# it_srvcompat.sh - sshtund keeps sshd's behaviour where people rely on it:
#
#   - Banner: the file is sent as SSH_MSG_USERAUTH_BANNER before
#     authentication (shown by ssh, sshtun and dbclient), chosen per user
#     by Match, and a missing file is said at start-up;
#   - host keys of a type sshtund does not support (DSA, Ed448) are logged
#     and skipped, and it serves with the others;
#   - SetEnv: the administrator's variables reach the session and win over
#     the client's (AcceptEnv) and the defaults; per user by Match;
#   - -ddd logs more than -dd (the packet trace, as sshd's debug3);
#   - Include outside /etc survives a reload: the network process (which
#     sees only /etc) parses what the privileged side read, so a SIGHUP
#     applies the included file's new lines (a Banner here) instead of
#     silently dropping the file, as it did before (the helper's own
#     decisions, a DenyUsers kept there, held either way);
#   - PubkeyAcceptedAlgorithms: ssh-rsa (SHA-1) signatures refused by
#     default as by sshd 8.8+, let in with +ssh-rsa; a list without
#     ssh-ed25519 refuses that key, per user by Match; sshd's log line.
#
# Runs as root (privilege-separated sshtund) or as an ordinary user
# (single-user sshtund serving that user).
#
#   tests/integration/it_srvcompat.sh <build-dir>
. "$(dirname "$0")/lib.sh"
it_init "$1"
for b in dbclient dropbearconvert ssh openssl; do
    command -v "$b" >/dev/null || { echo "FAIL: $b not installed (tests/deps.sh)"; exit 1; }
done

# sshtun / ssh against the test sshtund on $PORT, with its host keys.
cl() {  # cl <ssh|sshtun> args...
    local bin=$SSHTUN
    [ "$1" = ssh ] && bin=$(command -v ssh)
    shift
    timeout 60 "$bin" -F none -p "$PORT" -l "$USER_NAME" -i "$T/user_ed25519" \
        -o IdentitiesOnly=yes -o IdentityAgent=none -o UserKnownHostsFile="$T/kh" \
        -o GlobalKnownHostsFile=/dev/null -o StrictHostKeyChecking=yes -o BatchMode=yes "$@"
}
known_hosts() {
    echo "[127.0.0.1]:$PORT $(cut -d' ' -f1,2 "$T/host_ed25519.pub")" > "$T/kh"
    echo "127.0.0.1 $(cut -d' ' -f1,2 "$T/host_ed25519.pub")" > "$HOME/.ssh/known_hosts"
}
dropbearconvert openssh dropbear "$T/user_ed25519" "$T/user_ed25519.db" >/dev/null 2>&1 ||
    { echo "FAIL: dropbearconvert"; exit 1; }

# ---- Banner ---------------------------------------------------------------------------------
printf 'Authorized use only.\nSecond line of the banner.\n' > "$T/banner"
printf 'Hello, this user has a banner of its own.\n' > "$T/banner_user"
it_sshtund_start "Banner $T/banner"
known_hosts
for c in ssh sshtun; do
    out=$(cl $c 127.0.0.1 'echo ran' 2>"$T/err")
    it_check "$c: the command runs" ran "$out"
    grep -q "Authorized use only." "$T/err" && grep -q "Second line of the banner." "$T/err" &&
        it_pass "$c: shows the Banner" || it_fail "$c: no banner: $(cat "$T/err")"
done
out=$(timeout 60 dbclient -i "$T/user_ed25519.db" -p "$PORT" "$USER_NAME@127.0.0.1" 'echo ran' \
    </dev/null 2>"$T/err")
it_check "dbclient: the command runs" ran "$out"
grep -q "Authorized use only." "$T/err" && it_pass "dbclient: shows the Banner" ||
    it_fail "dbclient: no banner: $(cat "$T/err")"
cl ssh -o LogLevel=QUIET 127.0.0.1 true 2>"$T/err"
[ ! -s "$T/err" ] && it_pass "ssh -q: the banner is not shown (the client decides)" ||
    it_fail "ssh -q: $(cat "$T/err")"

# A reload (SIGHUP) reads the Banner files again, for new connections.
printf 'Banner after the reload.\n' > "$T/banner"
kill -HUP "$IT_SSHTUND_PID"
for _ in $(seq 1 100); do grep -q "configuration reloaded" "$T/sshtund.log" && break; sleep 0.05; done
cl sshtun 127.0.0.1 true 2>"$T/err"
grep -q "Banner after the reload." "$T/err" && it_pass "SIGHUP: the Banner file is read again" ||
    it_fail "SIGHUP banner: $(cat "$T/err"; grep -i sighup "$T/sshtund.log")"

it_sshtund_start "Banner $T/banner" "Match User $USER_NAME" "  Banner $T/banner_user"
known_hosts
cl sshtun 127.0.0.1 true 2>"$T/err"
grep -q "a banner of its own" "$T/err" && ! grep -q "Authorized use only" "$T/err" &&
    it_pass "Match User: the user's own Banner" || it_fail "Match Banner: $(cat "$T/err")"
it_sshtund_start "Banner $T/banner" "Match User $USER_NAME" "  Banner none"
known_hosts
cl sshtun 127.0.0.1 true 2>"$T/err"
[ ! -s "$T/err" ] && it_pass "Match User: Banner none sends nothing" ||
    it_fail "Banner none: $(cat "$T/err")"

# Include outside /etc, then a reload.
mkdir -p "$T/inc"
printf 'Banner %s\n' "$T/banner_user" > "$T/inc/extra.conf"
it_sshtund_start "Workers 1" "Include $T/inc/*.conf"
known_hosts
cl sshtun 127.0.0.1 true 2>"$T/err"
grep -q "a banner of its own" "$T/err" && it_pass "Include outside /etc: its Banner" ||
    it_fail "Include banner: $(cat "$T/err")"
reloads() { grep -c "configuration reloaded" "$T/sshtund.log"; }
hup() {
    local r0
    r0=$(reloads)
    kill -HUP "$IT_SSHTUND_PID"
    for _ in $(seq 1 100); do [ "$(reloads)" -gt "$r0" ] && return 0; sleep 0.05; done
    return 1
}
printf 'Banner %s\n' "$T/banner" > "$T/inc/extra.conf"
hup || it_fail "Include: no reload after SIGHUP: $(tail -3 "$T/sshtund.log")"
cl sshtun 127.0.0.1 true 2>"$T/err"
grep -q "Banner after the reload." "$T/err" && it_pass "SIGHUP: the included file's new Banner line" ||
    it_fail "SIGHUP Include: $(cat "$T/err"; grep -i "include\|sighup" "$T/sshtund.log" | tail -4)"
printf 'DenyUsers %s\n' "$USER_NAME" > "$T/inc/extra.conf"
hup || it_fail "Include: no second reload: $(tail -3 "$T/sshtund.log")"
out=$(cl sshtun 127.0.0.1 'echo in' 2>"$T/err")
rc=$?
[ "$rc" = 255 ] && [ -z "$out" ] && it_pass "SIGHUP: a DenyUsers from the included file holds" ||
    it_fail "DenyUsers via Include after SIGHUP: rc $rc, '$out'"
sleep 0.2
grep -q "not allowed because listed in DenyUsers" "$T/sshtund.log" &&
    it_pass "the refusal names DenyUsers" || it_fail "no DenyUsers line: $(tail -3 "$T/sshtund.log")"
grep -q "Include: no match" "$T/sshtund.log" &&
    it_fail "a process could not see the included file: $(grep "Include: no match" "$T/sshtund.log" | head -1)" ||
    it_pass "no process found the pattern empty"

it_sshtund_start "Banner $T/no-such-banner"
known_hosts
grep -q "Banner $T/no-such-banner: No such file or directory" "$T/sshtund.log" &&
    it_pass "a missing Banner file is said at start-up" ||
    it_fail "missing banner: $(cat "$T/sshtund.log")"
out=$(cl sshtun 127.0.0.1 'echo ran' 2>"$T/err")
it_check "a missing Banner file: connections go on" ran "$out"

# ---- host keys of unsupported types ---------------------------------------------------------
ssh-keygen -q -t dsa -N '' -f "$T/host_dsa" >/dev/null 2>&1 || { echo "FAIL: ssh-keygen -t dsa"; exit 1; }
ssh-keygen -q -t dsa -m PEM -N '' -f "$T/host_dsa_pem" >/dev/null 2>&1
openssl genpkey -algorithm ed448 -out "$T/host_ed448" 2>/dev/null || { echo "FAIL: openssl genpkey ed448"; exit 1; }
chmod 600 "$T/host_dsa" "$T/host_dsa_pem" "$T/host_ed448"
# Two on the command line (before the configured ones), one in the file.
SSHTUND_ARGS="-h $T/host_dsa -h $T/host_ed448" it_sshtund_start "HostKey $T/host_dsa_pem"
known_hosts
for k in host_dsa host_dsa_pem host_ed448; do
    grep -q "Unable to load host key \"$T/$k\": unknown or unsupported key type" "$T/sshtund.log" &&
        it_pass "unsupported host key $k: logged and skipped" ||
        it_fail "host key $k: $(grep -v debug "$T/sshtund.log")"
done
for c in ssh sshtun; do
    out=$(cl $c 127.0.0.1 'echo served' 2>"$T/err")
    it_check "$c: served with the other host keys" served "$out"
done

# ---- SetEnv -----------------------------------------------------------------------------------
it_sshtund_start "AcceptEnv IT_*" "SetEnv IT_ADMIN=\"set by the admin\" IT_CLIENT=admin-wins PATH=/it/bin:/usr/bin:/bin"
known_hosts
for c in ssh sshtun; do
    out=$(IT_CLIENT=from-client IT_OTHER=client-only cl $c -o SendEnv=IT_CLIENT -o SendEnv=IT_OTHER \
        127.0.0.1 'echo "$IT_ADMIN|$IT_CLIENT|$IT_OTHER"')
    it_check "$c: SetEnv reaches the session and wins over the client's" \
        "set by the admin|admin-wins|client-only" "$out"
    out=$(cl $c 127.0.0.1 'case ":$PATH:" in *:/it/bin:*) echo yes ;; *) echo "no: $PATH" ;; esac')
    it_check "$c: SetEnv PATH replaces the default PATH" yes "$out"
done
it_sshtund_start "SetEnv IT_WHO=everyone" "Match User $USER_NAME" "  SetEnv IT_WHO=$USER_NAME-only"
known_hosts
out=$(cl sshtun 127.0.0.1 'echo "$IT_WHO"')
it_check "SetEnv in Match User wins over the global line" "$USER_NAME-only" "$out"
"$BUILD/sshtund" -t -f "$T/sshtund_config" -o "SetEnv=LD_PRELOAD=/x.so" 2>"$T/err"
it_check "SetEnv LD_PRELOAD: refused with exit 255" 255 $?
grep -q "SetEnv LD_PRELOAD: variables of the dynamic linker are not supported by sshtund" "$T/err" &&
    it_pass "SetEnv LD_*: one clear line" || it_fail "SetEnv LD_*: $(cat "$T/err")"
"$BUILD/sshtund" -T -f "$T/sshtund_config" > "$T/dump" 2>&1
grep -q "^setenv IT_WHO=everyone$" "$T/dump" && it_pass "-T prints setenv" ||
    it_fail "-T: $(grep -i setenv "$T/dump")"

# ---- -ddd logs more than -dd -----------------------------------------------------------------
SSHTUND_ARGS=-dd it_sshtund_start
known_hosts
cl sshtun 127.0.0.1 true
sleep 0.2
n2=$(grep -c "^debug2:" "$T/sshtund.log")
n3=$(grep -c "^debug3:" "$T/sshtund.log")
[ "$n2" -gt 0 ] && [ "$n3" = 0 ] && it_pass "-dd: debug2 lines ($n2), no debug3" ||
    it_fail "-dd: $n2 debug2, $n3 debug3 lines"
SSHTUND_ARGS=-ddd it_sshtund_start
known_hosts
cl sshtun 127.0.0.1 true
sleep 0.2
grep -q "^debug3: .*receive packet: type 5$" "$T/sshtund.log" &&
    grep -q "^debug3: .*send packet: type 6$" "$T/sshtund.log" &&
    it_pass "-ddd: the packet trace (debug3), as sshd" ||
    it_fail "-ddd: no packet trace: $(grep -c '^debug3:' "$T/sshtund.log") debug3 lines"

# ---- PubkeyAcceptedAlgorithms ------------------------------------------------------------------
rsa1() {  # rsa1 <ssh|sshtun> [args]: log in with the RSA key, SHA-1 signatures only
    local c=$1
    shift
    cl "$c" -i "$T/user_rsa" -o PubkeyAcceptedAlgorithms=ssh-rsa "$@" 127.0.0.1 'echo in'
}
it_sshtund_start
known_hosts
out=$(rsa1 ssh 2>"$T/err")
rc=$?
[ "$rc" = 255 ] && [ -z "$out" ] && it_pass "ssh-rsa (SHA-1) refused by default, as sshd" ||
    it_fail "ssh-rsa by default: rc $rc, '$out': $(tail -2 "$T/err")"
out=$(cl ssh -i "$T/user_rsa" 127.0.0.1 'echo in' 2>"$T/err")
it_check "rsa-sha2-512 with the same key still in" in "$out"
it_sshtund_start "PubkeyAcceptedAlgorithms +ssh-rsa" "Match User nobody-else" \
    "  PubkeyAcceptedAlgorithms ssh-ed25519"
known_hosts
for c in ssh sshtun; do
    out=$(rsa1 $c 2>"$T/err")
    it_check "$c: PubkeyAcceptedAlgorithms +ssh-rsa lets ssh-rsa in" in "$out"
done
# ssh-rsa let in globally but not for this user: offered (server-sig-algs
# names every algorithm some user may use), refused by the helper.
it_sshtund_start "PubkeyAcceptedAlgorithms +ssh-rsa" "Match User $USER_NAME" \
    "  PubkeyAcceptedAlgorithms rsa-sha2-512,rsa-sha2-256"
known_hosts
out=$(rsa1 sshtun 2>"$T/err")
rc=$?
[ "$rc" = 255 ] && [ -z "$out" ] && it_pass "ssh-rsa refused by the user's Match block" ||
    it_fail "ssh-rsa with a Match list without it: rc $rc, '$out'"
sleep 0.2
grep -q "signature algorithm ssh-rsa not in PubkeyAcceptedAlgorithms" "$T/sshtund.log" &&
    it_pass "the refusal logged in sshd's words" ||
    it_fail "no PubkeyAcceptedAlgorithms line: $(grep -i pubkey "$T/sshtund.log" | tail -3)"
out=$(cl ssh 127.0.0.1 'echo in' 2>"$T/err")
rc=$?
[ "$rc" = 255 ] && [ -z "$out" ] && it_pass "ed25519 refused by a Match block's list" ||
    it_fail "ed25519 with an RSA-only list: rc $rc, '$out'"
out=$(cl sshtun -i "$T/user_rsa" 127.0.0.1 'echo in' 2>"$T/err")
it_check "sshtun: the RSA key (rsa-sha2-512) in with that list" in "$out"
"$BUILD/sshtund" -T -f "$T/sshtund_config" 2>/dev/null | grep -qx \
    "pubkeyacceptedalgorithms ssh-ed25519-cert-v01@openssh.com,.*,rsa-sha2-512,rsa-sha2-256,ssh-rsa" &&
    it_pass "-T prints pubkeyacceptedalgorithms" ||
    it_fail "-T: $("$BUILD/sshtund" -T -f "$T/sshtund_config" 2>&1 | grep -i pubkeyaccepted)"

it_sshtund_stop
it_done
