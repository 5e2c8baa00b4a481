#!/usr/bin/env bash
# it_cli.sh - sshtun's command line and configuration syntax as the tools
# that run ssh use them (issue 10, items 2, 3, 10, 11), against a throwaway
# sshd on 127.0.0.1:
#
# - option parsing stops where ssh's does: options, the destination,
#   options again, then the command, whose words are never options
#   (`sshtun host ls -ld /`), `--` honoured;
# - every flag OpenSSH 9.2 accepts is accepted: the ones that change nothing
#   here silently (-x -a -2 -k ...), the ones that would change what happens
#   with one line (a warning, or a refusal with status 255);
# - configuration syntax ssh accepts: `Protocol 2`, a `# comment` after
#   Host/Match, bracketed Unix socket paths in forwards, first-value-wins
#   around the destination (-G), ssh:// URIs (a path refused), OpenSSH
#   keywords sshtun does not implement accepted or refused in one line as
#   the README lists them, a missing -F file in one line;
# - keywords with no effect reported once at -v.
. "$(dirname "$0")/lib.sh"
it_init "$1"
NU="python3 $(cd "$(dirname "$0")" && pwd)/netutil.py"
it_start_sshd
it_known_hosts

# One-line check: "<what>" <expected rc> <file with stderr> <rc>
one_line() {
    local n
    n=$(grep -c . "$3")
    if [ "$4" = "$2" ] && [ "$n" = 1 ]; then
        it_pass "$1 (rc $4: $(cat "$3"))"
    else
        it_fail "$1: rc $4 (want $2), $n lines: $(cat "$3")"
    fi
}
silent_ok() { # "<what>" <out file> <err file> <rc>: printed ok, nothing on stderr
    if [ "$4" = 0 ] && [ "$(cat "$2")" = ok ] && [ ! -s "$3" ]; then
        it_pass "$1"
    else
        it_fail "$1: rc $4, out '$(cat "$2")', err '$(cat "$3")'"
    fi
}

# ---- item 2: the command's words are not options ----------------------------------------
out=$(it_sshtun 127.0.0.1 ls -ld / </dev/null 2>"$T/err")
case "$out" in d*' /') it_pass "sshtun host ls -ld / runs ls -ld /" ;;
*) it_fail "sshtun host ls -ld /: '$out' $(cat "$T/err")" ;; esac
out=$(it_sshtun 127.0.0.1 echo -t -l x -p 1 </dev/null 2>"$T/err")
it_check "sshtun host echo -t -l x -p 1: the flags are the command's" "-t -l x -p 1" "$out"
# stdout only: the remote login shell's rc files (pyenv on some hosts) may write to stderr
out=$(it_sshtun 127.0.0.1 'test -t 0 && echo tty || echo notty; true' -t </dev/null 2>/dev/null)
it_check "a -t after the command requests no terminal" "notty" "$out"
out=$(it_sshtun 127.0.0.1 sh -c "'echo x'" </dev/null 2>"$T/err")
it_check "sshtun host sh -c \"'echo x'\"" x "$out"
out=$(it_sshtun 127.0.0.1 -- echo -v </dev/null 2>"$T/err")
it_check "-- after the destination: the rest is the command" "-v" "$out"
out=$(it_sshtun 127.0.0.1 -q echo after </dev/null 2>"$T/err")
it_check "options right after the destination are options (as ssh)" after "$out"
G() { "$SSHTUN" -F none -G "$@" 2>/dev/null | sed -n "s/^$W //p"; }
W=user
it_check "-G: -l before user@host wins" first "$(G -l first second@h)"
it_check "-G: user@host before -l wins" second "$(G second@h -l first)"
W=port
it_check "-G: -p before the destination wins over -p after it" 5 "$(G -p 5 h -p 6)"
it_check "-G: -- before the destination ends the options" 22 "$(G -- h -p 6)"
it_check "-G: host:port after -p loses" 7 "$(G -p 7 h:8)"
W=stdinnull
it_check "-G: -n after the destination" yes "$(G h -n)"
it_check "-G: -n after the command is the command's" no "$(G h true -n)"

# ---- item 3: every flag ssh 9.2 accepts ----------------------------------------------------
for f in -2 -x -a -k -P -C -g -K -y "-e none" "-e %" -4 "-o Protocol=2"; do
    it_sshtun $f 127.0.0.1 echo ok </dev/null >"$T/out" 2>"$T/err"
    silent_ok "flag $f: accepted silently" "$T/out" "$T/err" $?
done
# Agent and X11 forwarding (it_agent.sh, it_x11.sh test them): without an
# agent or a display there is nothing to forward, and nothing to say.
for f in -A -X -Y; do
    env -u DISPLAY -u SSH_AUTH_SOCK "$SSHTUN" -F none -p "$PORT" -l "$USER_NAME" \
        -i "$T/user_ed25519" -o UserKnownHostsFile="$T/known_hosts" \
        -o GlobalKnownHostsFile=/dev/null -o StrictHostKeyChecking=yes -o BatchMode=yes \
        $f 127.0.0.1 echo ok </dev/null >"$T/out" 2>"$T/err"
    silent_ok "flag $f without an agent or a display: runs silently" "$T/out" "$T/err" $?
done
"$SSHTUN" -1 127.0.0.1 true 2>"$T/err"
one_line "-1: SSH protocol 1 refused" 255 "$T/err" $?
grep -q "SSH protocol v.1 is no longer supported" "$T/err" && it_pass "-1: ssh's message" ||
    it_fail "-1: $(cat "$T/err")"
for f in "-I /lib/pkcs11.so" "-w 0"; do
    it_sshtun $f 127.0.0.1 true </dev/null 2>"$T/err"
    one_line "flag $f: refused in one line" 255 "$T/err" $?
done
it_sshtun -J none 127.0.0.1 echo ok </dev/null >"$T/out" 2>"$T/err"
silent_ok "-J none: nothing asked, accepted" "$T/out" "$T/err" $?
"$SSHTUN" -Q cipher > "$T/out" 2>&1
grep -qx "chacha20-poly1305@openssh.com" "$T/out" && ! grep -q 3des "$T/out" &&
    it_pass "-Q cipher lists what sshtun supports" || it_fail "-Q cipher: $(cat "$T/out")"
"$SSHTUN" -Q protocol-version > "$T/out" 2>&1
it_check "-Q protocol-version" 2 "$(cat "$T/out")"
"$SSHTUN" -Q nonsense >/dev/null 2>"$T/err"
one_line "-Q nonsense: one line" 255 "$T/err" $?
"$SSHTUN" -Z 127.0.0.1 2>"$T/err"
it_check "unknown flag: 255" 255 $?
grep -q "unknown option -- Z" "$T/err" && it_pass "unknown flag: named" || it_fail "unknown flag: $(cat "$T/err")"

# ---- item 10: configuration and argument syntax ---------------------------------------------
cat > "$T/cfg" <<EOF
Protocol 2
Host nomatch # 127.0.0.1
    Port 1
Match host 127.0.0.1 # a comment after Match
    IPQoS lowdelay throughput
    TunnelDevice any:any
    Tunnel no
    ProxyCommand none
Host *
    Protocol 2,1
    KeepAlive yes
EOF
timeout 30 "$SSHTUN" -F "$T/cfg" -p "$PORT" -l "$USER_NAME" -i "$T/user_ed25519" \
    -o UserKnownHostsFile="$T/known_hosts" -o StrictHostKeyChecking=yes -o BatchMode=yes \
    127.0.0.1 echo ok </dev/null >"$T/out" 2>"$T/err"
silent_ok "config: Protocol, comments after Host/Match, IPQoS, TunnelDevice, Tunnel no" \
    "$T/out" "$T/err" $?
W=port
it_check "config: '# 127.0.0.1' after Host is a comment, not a pattern" 22 \
    "$("$SSHTUN" -G -F "$T/cfg" 127.0.0.1 2>/dev/null | sed -n 's/^port //p')"
printf 'RemoteCommand echo "#not a comment"\n' > "$T/cfg2"
it_check "config: RemoteCommand keeps its '#'" 'echo "#not a comment"' \
    "$("$SSHTUN" -G -F "$T/cfg2" 127.0.0.1 2>/dev/null | sed -n 's/^remotecommand //p')"

"$SSHTUN" -F "$T/no-such-file" 127.0.0.1 true 2>"$T/err"
one_line "-F with a missing file" 255 "$T/err" $?
"$SSHTUN" -F none "ssh://127.0.0.1:$PORT/some/path" true 2>"$T/err" >/dev/null
it_check "ssh:// URI with a path refused (as ssh)" 255 $?
grep -q "^usage: sshtun" "$T/err" && it_pass "ssh:// URI with a path: usage" || it_fail "ssh:// with path: $(cat "$T/err")"
out=$(timeout 30 "$SSHTUN" -F none -i "$T/user_ed25519" -o UserKnownHostsFile="$T/known_hosts" \
    -o StrictHostKeyChecking=yes -o BatchMode=yes "ssh://$USER_NAME@127.0.0.1:$PORT/" echo uri </dev/null 2>&1)
it_check "ssh://user@host:port/ connects" uri "$out"

# Keywords OpenSSH knows and sshtun does not implement: as README.md lists
# them (accepted; or refused in one line, naming the keyword).
# (EscapeChar, LocalCommand, VisualHostKey... are implemented now:
# it_escape.sh and it_localcmd.sh test them.)
for kv in IPQoS=lowdelay TunnelDevice=any:any UpdateHostKeys=yes CanonicalizeHostname=yes \
    GSSAPIAuthentication=yes HostbasedAuthentication=yes VerifyHostKeyDNS=yes \
    AddKeysToAgent=yes StreamLocalBindUnlink=yes SyslogFacility=USER 'LogVerbose=kex.c:*' \
    FingerprintHash=md5 ProxyUseFdpass=no NoHostAuthenticationForLocalhost=yes \
    Cipher=3des UsePrivilegedPort=no; do
    it_sshtun -o "$kv" 127.0.0.1 echo ok </dev/null >"$T/out" 2>"$T/err"
    silent_ok "keyword $kv: accepted" "$T/out" "$T/err" $?
done
# (KnownHostsCommand, RevokedHostKeys, CertificateFile and CheckHostIP are
# implemented now: it_certs.sh tests them; ProxyJump, ProxyCommand,
# BindAddress and BindInterface too: it_jump.sh.)
for kv in PKCS11Provider=/lib/p11.so Tunnel=yes SecurityKeyProvider=/lib/sk.so; do
    it_sshtun -o "$kv" 127.0.0.1 true </dev/null 2>"$T/err"
    one_line "keyword $kv: refused" 255 "$T/err" $?
    grep -q "${kv%%=*} is not supported by sshtun" "$T/err" || it_fail "keyword $kv: message does not name it"
done
it_sshtun -o RSAAuthentication=yes 127.0.0.1 echo ok </dev/null >"$T/out" 2>"$T/err"
rc=$?
[ $rc = 0 ] && [ "$(cat "$T/out")" = ok ] && grep -q 'Unsupported option "RSAAuthentication"' "$T/err" &&
    it_pass "RSAAuthentication: ssh's 'Unsupported option' line, then connects" ||
    it_fail "RSAAuthentication: rc $rc $(cat "$T/err")"

# -R with a bracketed Unix socket path (ssh's syntax for a path with ':')
it_bg "$T/uecho.log" $NU echo "$T/u:echo.sock"
RP=$(it_free_port)
it_sshtun -N -R "$RP:[$T/u:echo.sock]" 127.0.0.1 </dev/null >"$T/r.log" 2>&1 &
BG_PIDS="${BG_PIDS:-} $!"
if it_wait_port "$RP"; then
    it_check "-R port:[/path:with:colon.sock] forwards to the socket" ok \
        "$(timeout 30 $NU roundtrip "$RP" 2 3)"
else
    it_fail "-R port:[/path]: not listening: $(cat "$T/r.log")"
fi

# ---- item 11: keywords that do nothing say so ------------------------------------------------
printf 'Host *\n  FingerprintHash md5\n  KbdInteractiveDevices pam\n  FingerprintHash sha256\n' > "$T/cfg3"
timeout 30 "$SSHTUN" -v -F "$T/cfg3" -p "$PORT" -l "$USER_NAME" -i "$T/user_ed25519" \
    -o UserKnownHostsFile="$T/known_hosts" -o StrictHostKeyChecking=yes -o BatchMode=yes \
    -o FingerprintHash=md5 127.0.0.1 true </dev/null 2>"$T/err"
it_check "-v: FingerprintHash reported once" 1 "$(grep -c 'FingerprintHash md5 has no effect' "$T/err")"
it_check "-v: KbdInteractiveDevices reported once" 1 "$(grep -c 'KbdInteractiveDevices pam has no effect' "$T/err")"
it_sshtun -o FingerprintHash=md5 -o TunnelDevice=any:any 127.0.0.1 echo ok </dev/null >"$T/out" 2>"$T/err"
silent_ok "without -v: FingerprintHash, TunnelDevice silent" "$T/out" "$T/err" $?
it_sshtun -o ForwardAgent=no -o CheckHostIP=no 127.0.0.1 echo ok </dev/null >"$T/out" 2>"$T/err"
silent_ok "ForwardAgent=no, CheckHostIP=no: nothing to say" "$T/out" "$T/err" $?

# -vvv adds the per-packet trace, as ssh -vvv; -vv does not.
n3=$(it_sshtun -vvv 127.0.0.1 true </dev/null 2>&1 | grep -c "packet: type")
n2=$(it_sshtun -vv 127.0.0.1 true </dev/null 2>&1 | grep -c "packet: type")
[ "$n3" -gt 10 ] && [ "$n2" = 0 ] && it_pass "-vvv traces packets ($n3 lines), -vv does not" ||
    it_fail "packet trace: -vvv $n3 lines, -vv $n2"

it_done
