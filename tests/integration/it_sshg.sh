#!/bin/bash
# it_sshg.sh - sshtun -G beside OpenSSH's ssh -G (9.2, /usr/bin/ssh) on the
# same configuration, key by key: every key ssh prints must appear in
# sshtun's output with the same value(s), in the same order, unless the
# allow-list below names the difference and why.  The same reasons are in
# README.md ("sshtun -G compared with ssh -G"); the test checks that every
# allow-listed key is named there, and fails on an entry no case needs any
# more (so the list stays true both ways).
#
# Cases: the defaults (-F none), a configuration file that sets nearly every
# keyword sshtun implements (through Host, Match and Include), and options
# given on the command line (-L -R -D -i -l -p -o ..., with a command).
# Then -Q: every query name of ssh -Q help, the same names less what sshtun
# does not implement.
. "$(dirname "$0")/lib.sh"
it_init "$1"

SSH=/usr/bin/ssh
O10=$(sh "$(dirname "$0")/../openssh10.sh" 2>/dev/null)
[ -x "$O10/usr/bin/ssh" ] || it_fail "OpenSSH 10 (tests/openssh10.sh) not available"
README=$(dirname "$0")/../../README.md

# The allow-list: "kind key [argument...] -- reason".  Kinds:
#   absent K        ssh prints K, sshtun does not
#   extra K         sshtun prints K, ssh does not
#   ossh10 K        sshtun's value is OpenSSH 10.0's ssh -G value
#   without K RE    ssh's value(s) without the comma-separated items (or
#                   lines) matching RE; "without-unordered": as a set
#   value K A B     ssh prints A, sshtun B
#   unixlocal K     ssh prints, besides the others, the listen side of each
#                   LocalForward whose target is a Unix socket path
RULES=$(
    cat <<'EOF'
ossh10 ciphers -- OpenSSH 10.0's default order (AES-GCM before AES-CTR)
ossh10 kexalgorithms -- OpenSSH 10.0's default (mlkem768x25519-sha256 first)
without macs ^(umac-.*|hmac-sha1.*)$ -- UMAC and HMAC-SHA1 are not implemented
without hostkeyalgorithms ^sk- -- no FIDO security keys
without pubkeyacceptedalgorithms ^sk- -- no FIDO security keys
without casignaturealgorithms ^sk- -- no FIDO security keys
without identityfile /id_(dsa|ecdsa_sk|ed25519_sk|xmss)$ -- default keys: only the types sshtun uses, in ssh's order
value forwardx11trusted yes no -- OpenSSH's default; Debian patches its ssh to yes
unixlocal dynamicforward -- ssh prints a LocalForward to a Unix socket a second time, as a DynamicForward
absent addkeystoagent -- accepted without effect
absent enablesshkeysign -- no host-based authentication
absent hostbasedauthentication -- no host-based authentication
absent hostbasedacceptedalgorithms -- no host-based authentication
absent fingerprinthash -- accepted without effect (always SHA256)
absent gssapiauthentication -- no GSSAPI
absent gssapidelegatecredentials -- no GSSAPI
absent gssapikexalgorithms -- no GSSAPI
absent gssapikeyexchange -- no GSSAPI
absent gssapirenewalforcesrekey -- no GSSAPI
absent gssapitrustdns -- no GSSAPI
absent logverbose -- accepted without effect
absent nohostauthenticationforlocalhost -- accepted without effect
absent securitykeyprovider -- no FIDO security keys
absent streamlocalbindmask -- accepted without effect
absent streamlocalbindunlink -- accepted without effect
absent tunnel -- no tun devices
absent tunneldevice -- no tun devices
absent verifyhostkeydns -- accepted without effect
extra maxsessions -- sshtun's keyword
extra reconnect -- sshtun's keyword
extra reconnectinterval -- sshtun's keyword
extra warnweakcrypto -- OpenSSH 10.1's keyword
extra preferredauthentications -- sshtun prints its default, ssh only a value set
EOF
)
declare -A USED

vals() { sed -n "s/^$2 //p" "$1"; } # file key: the values, one per line, in order
keys() { cut -d' ' -f1 "$@" | sort -u; }

# compare DESC ssh-output sshtun-output ssh10-output
compare() {
    local desc=$1 s=$2 t=$3 o=$4 k a b rule kind arg1 arg2 ok bad=0
    for k in $(keys "$s" "$t"); do
        a=$(vals "$s" "$k")
        b=$(vals "$t" "$k")
        [ "$a" = "$b" ] && continue
        rule=$(printf '%s\n' "$RULES" | awk -v k="$k" '$2 == k { sub(/ -- .*/, ""); print; exit }')
        read -r kind _ arg1 arg2 <<<"$rule"
        ok=0
        case $kind in
        absent) [ -n "$a" ] && [ -z "$b" ] && ok=1 ;;
        extra) [ -z "$a" ] && [ -n "$b" ] && ok=1 ;;
        ossh10) [ -n "$o" ] && [ "$(vals "$o" "$k")" = "$b" ] && ok=1 ;;
        without)
            [ "$(printf '%s\n' "$a" | tr ',' '\n' | grep -Ev -- "$arg1" | paste -sd,)" = \
                "$(printf '%s\n' "$b" | paste -sd,)" ] && ok=1 ;;
        without-unordered)
            [ "$(printf '%s\n' "$a" | grep -Ev -- "$arg1" | sort)" = "$(printf '%s\n' "$b" | sort)" ] &&
                ok=1 ;;
        value) [ "$a" = "$arg1" ] && [ "$b" = "$arg2" ] && ok=1 ;;
        unixlocal)
            [ "$(printf '%s\n' "$a" | grep -vxF -f <(sed -n 's,^localforward \([^ ]*\) /.*,\1,p' "$s"))" = "$b" ] &&
                ok=1 ;;
        esac
        if [ $ok = 1 ]; then
            USED[$k]=1
        else
            bad=1
            it_fail "$desc: $k: ssh '$(echo $a)' sshtun '$(echo $b)'${rule:+ (allow-list: $rule)}"
        fi
    done
    [ $bad = 0 ] && it_pass "$desc: every key as ssh -G prints it, or an allow-listed difference"
}

# ssh takes ~ from the password database, sshtun from $HOME (README: "%d
# and ~ are $HOME"); ssh's output is read with its home replaced by $HOME.
PWHOME=$(getent passwd "$(id -un)" | cut -d: -f6)
run_case() { # desc args...
    local d=$1
    shift
    "$SSH" -G "$@" </dev/null 2>/dev/null > "$T/g.ssh"
    "$SSHTUN" -G "$@" </dev/null 2>"$T/g.err" > "$T/g.tun" || it_fail "$d: sshtun -G failed: $(cat "$T/g.err")"
    : > "$T/g.o10"
    [ -x "$O10/usr/bin/ssh" ] && "$O10/usr/bin/ssh" -G "$@" </dev/null 2>/dev/null > "$T/g.o10"
    if [ -n "$PWHOME" ] && [ "$PWHOME" != "$HOME" ] && [ "$PWHOME" != / ]; then
        sed -i "s|$PWHOME/|$HOME/|g" "$T/g.ssh" "$T/g.o10"
    fi
    [ -s "$T/g.ssh" ] || it_fail "$d: ssh -G printed nothing"
    compare "$d" "$T/g.ssh" "$T/g.tun" "$T/g.o10"
}

run_case "defaults" -F none h

mkdir -p "$T/cfg.d"
cat > "$T/cfg.d/extra.conf" <<'EOF'
Host rich
    TCPKeepAlive no
    ServerAliveCountMax 4
EOF
cat > "$T/config" <<EOF
Match originalhost rich user alice
    CheckHostIP yes
Host rich
    HostName target.example
    User alice
    Port 2222
    IdentityFile ~/.ssh/id_custom
    IdentityFile /etc/keys/%r@%h
    IdentitiesOnly yes
    IdentityAgent ~/agent.sock
    UserKnownHostsFile ~/.ssh/kh1 /tmp/kh2
    GlobalKnownHostsFile /tmp/gkh
    StrictHostKeyChecking accept-new
    HashKnownHosts yes
    BatchMode yes
    ConnectTimeout 7
    ConnectionAttempts 3
    AddressFamily inet
    Ciphers aes256-gcm@openssh.com,aes128-ctr
    MACs hmac-sha2-512-etm@openssh.com
    KexAlgorithms curve25519-sha256
    HostKeyAlgorithms ssh-ed25519,rsa-sha2-256
    PubkeyAcceptedAlgorithms ssh-ed25519
    PreferredAuthentications publickey,password
    PasswordAuthentication no
    KbdInteractiveAuthentication no
    PubkeyAuthentication no
    NumberOfPasswordPrompts 2
    RekeyLimit 1G 1h
    LogLevel VERBOSE
    ServerAliveInterval 15
    RequestTTY force
    SendEnv LANG LC_*
    SendEnv FOO
    SetEnv A=1 B=two
    LocalForward 8080 localhost:80
    LocalForward 127.0.0.1:8443 [::1]:443
    LocalForward /tmp/l.sock /tmp/r.sock
    RemoteForward 9090 localhost:90
    RemoteForward 9091
    DynamicForward 1080
    DynamicForward 127.0.0.1:1081
    GatewayPorts yes
    ExitOnForwardFailure yes
    PermitRemoteOpen localhost:80 127.0.0.1:443
    ControlMaster auto
    ControlPath ~/cm-%r@%h:%p
    ControlPersist 10m
    HostKeyAlias aliasname
    RemoteCommand echo hi
    Compression yes
    SessionType default
    StdinNull no
    ForkAfterAuthentication no
    RequiredRSASize 2048
    CertificateFile ~/.ssh/cert1
    RevokedHostKeys /tmp/revoked
    KnownHostsCommand /bin/echo %h
    CASignatureAlgorithms ssh-ed25519
    UpdateHostKeys no
    CanonicalizeHostname no
    CanonicalDomains example.com example.org
    CanonicalizeMaxDots 2
    CanonicalizeFallbackLocal no
    CanonicalizePermittedCNAMEs *.a.example:*.b.example
    ProxyJump jump1,u@jump2:2200
    BindAddress 127.0.0.1
    BindInterface lo
    IPQoS af21 cs1
    ForwardAgent yes
    ForwardX11 yes
    ForwardX11Trusted no
    ForwardX11Timeout 30m
    XAuthLocation /usr/bin/xauth
    EscapeChar ^A
    EnableEscapeCommandline yes
    LocalCommand echo %h
    PermitLocalCommand yes
    VisualHostKey yes
    IgnoreUnknown Foo*,Bar
Include $T/cfg.d/*.conf
EOF
run_case "a configuration setting most keywords (Host, Match, Include)" -F "$T/config" rich

touch "$T/k_%r" "$T/k2"
run_case "options on the command line, with a command" -F none -l bob -p 2022 -i "$T/k_%r" -i "$T/nokey" \
    -L 8080:localhost:80 -L '[::1]:8443:/tmp/s' -R 9091 -R 'localhost:9092:[::1]:22' -D 1080 \
    -D '[::1]:1081' -o UpdateHostKeys=ask -o 'SetEnv=X=1 Y=2' -o ProxyCommand='nc %h %p' \
    -o ControlMaster=autoask -o ControlPersist=yes -o ControlPath=none -C -A -X -Y -T -4 h true

# A -i file that is not there: ssh's warning, and left out (above).
it_check "-i with a missing file: ssh's warning" \
    "$("$SSH" -G -F none -i "$T/nokey" h 2>&1 >/dev/null </dev/null | grep Identity)" \
    "$("$SSHTUN" -G -F none -i "$T/nokey" h 2>&1 >/dev/null </dev/null)"

run_case "UpdateHostKeys ask with a terminal session, ServerAlive, RekeyLimit" -F none \
    -o UpdateHostKeys=ask -o ServerAliveInterval=5 -o RekeyLimit='512M 30m' \
    -o StrictHostKeyChecking=no -o AddressFamily=inet6 -o Tunnel=no -t -o ControlMaster=yes \
    -o IdentityFile="$T/k2" -o CertificateFile=~/c-%h -o ForwardAgent=~/agent h
run_case "RequestTTY yes, StrictHostKeyChecking yes, ControlMaster ask, no compression" -F none \
    -o RequestTTY=yes -o StrictHostKeyChecking=yes -o ControlMaster=ask -o Compression=no \
    -o CanonicalizeHostname=yes -o ForwardAgent=no -o VisualHostKey=no h

# ---- -Q beside ssh -Q ----------------------------------------------------------------------
# Every query ssh -Q help names: the same names as ssh's, as a set, less
# what sshtun does not implement (the README lists these too); kex as
# OpenSSH 10.0's (ML-KEM).
QLESS_key='ssh-dss|^sk-|webauthn'
QLESS_cipher='cbc'
QLESS_mac='sha1|md5|umac'
QLESS_kex='sha1'
QLESS_kexgss='.'
it_check "-Q help: the same query names" "$("$SSH" -Q help | sort)" "$("$SSHTUN" -Q help | sort)"
for q in $("$SSH" -Q help); do
    case $q in
    key* | sig) less=$QLESS_key ;;
    cipher*) less=$QLESS_cipher ;;
    mac) less=$QLESS_mac ;;
    kex) less=$QLESS_kex ;;
    kex-gss) less=$QLESS_kexgss ;;
    *) less='^$' ;;
    esac
    want=$("$SSH" -Q "$q" | grep -Ev -- "$less" | sort)
    [ "$q" = kex ] && [ -x "$O10/usr/bin/ssh" ] && want=$("$O10/usr/bin/ssh" -Q kex | grep -Ev -- "$less" | sort)
    it_check "-Q $q: ssh's names less the unimplemented" "$want" "$("$SSHTUN" -Q "$q" | sort)"
done
for q in HostKeyAlgorithms PubkeyAcceptedAlgorithms HostbasedAcceptedAlgorithms Ciphers MACs KexAlgorithms; do
    case $q in
    Ciphers) less=$QLESS_cipher ;; MACs) less=$QLESS_mac ;; Kex*) less=$QLESS_kex ;; *) less=$QLESS_key ;;
    esac
    want=$("$SSH" -Q "$q" | grep -Ev -- "$less" | sort)
    [ "$q" = KexAlgorithms ] && [ -x "$O10/usr/bin/ssh" ] && want=$("$O10/usr/bin/ssh" -Q "$q" | grep -Ev -- "$less" | sort)
    it_check "-Q $q: ssh's names less the unimplemented" "$want" "$("$SSHTUN" -Q "$q" | sort)"
done

# The allow-list stays true: every entry used by some case, every key named
# in the README's section.
while read -r kind k _; do
    [ -n "$k" ] || continue
    [ -n "${USED[$k]:-}" ] || it_fail "allow-list entry for '$k' ($kind) is not needed by any case: remove it (and from README.md)"
done <<<"$RULES"
SECTION=$(sed -n '/^### `sshtun -G` compared with `ssh -G`/,/^#/p' "$README")
[ -n "$SECTION" ] || it_fail "README.md has no section '### \`sshtun -G\` compared with \`ssh -G\`'"
missing=
while read -r _ k _; do
    [ -n "$k" ] || continue
    printf '%s\n' "$SECTION" | grep -q "\`$k\`" || missing="$missing $k"
done <<<"$RULES"
it_check "README.md's -G section names every allow-listed key" "" "$missing"

it_done
