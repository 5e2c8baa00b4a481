#!/bin/bash
# it_canon.sh - CanonicalizeHostname and friends, and the second reading of
# the configuration (Match canonical / final), with sshtun against a real
# sshd (issue 12).
#
# Names come from /etc/hosts (c-ares reads it on every lookup; its
# resolv.conf nameserver cannot be pointed elsewhere), so the test adds
# lines with names unique to this run and removes them at exit: it needs
# root (exit 77 otherwise).
. "$(dirname "$0")/lib.sh"
[ "$(id -u)" = 0 ] || { echo "SKIP: needs root (adds names to /etc/hosts)"; exit 77; }
it_init "$1"

TAG=sshtun-canon-$$
D=$TAG.test      # the canonical domain
O=$TAG-other.test # a CNAME target domain
hosts_restore() {
    grep -v "$TAG" /etc/hosts > "$T/hosts.new" && cat "$T/hosts.new" > /etc/hosts
}
trap 'hosts_restore; it_cleanup' EXIT INT TERM
{
    echo "127.0.0.1 web.$D # $TAG"
    echo "127.0.0.1 real.$O alias.$D # $TAG"
    echo "127.0.0.1 deep.sub.$D # $TAG"
} >> /etc/hosts

it_start_sshd
cat > "$T/config" <<EOF
CanonicalizeHostname yes
CanonicalDomains nowhere.$TAG.invalid $D
Match canonical host web.$D
  User canon-user
Host *.$O
  Port 2202
Match final host alias.$D
  Port 2201
EOF

G() { "$SSHTUN" -F "$T/config" "$@" -G 2>"$T/err"; }
val() { G "${@:2}" | awk -v k="$1" '$1 == k { print $2; exit }'; }

# ---- -G: the canonical name and what the second pass adds ---------------------------------------
it_check "short name canonicalised through CanonicalDomains" "web.$D" "$(val hostname web)"
it_check "Match canonical applies in the second pass" "canon-user" "$(val user web)"
it_check "one dot, CanonicalizeMaxDots 1 (default): canonicalised" "deep.sub.$D" \
    "$(val hostname deep.sub)"
it_check "more dots than CanonicalizeMaxDots: left as it is" "deep.sub" \
    "$(val hostname deep.sub -o CanonicalizeMaxDots=0)"
it_check "an anchored name loses its dot" "web.$D" "$(val hostname "web.$D.")"
it_check "a numeric address stays" "127.0.0.1" "$(val hostname 127.0.0.1)"
it_check "CanonicalizeHostname no: unchanged" "web" "$(val hostname web -o CanonicalizeHostname=no)"
it_check "an alias without a permitted CNAME rule keeps its name" "alias.$D" "$(val hostname alias)"
it_check "Match final (second pass) applies" "2201" "$(val port alias)"
it_check "a permitted CNAME is followed" "real.$O" \
    "$(val hostname alias -o CanonicalizePermittedCNAMEs="*.$D:*.$O")"
it_check "Host lines match the followed name in the second pass" "2202" \
    "$(val port alias -o CanonicalizePermittedCNAMEs="*.$D:*.$O")"
it_check "a CNAME rule for other targets is not followed" "alias.$D" \
    "$(val hostname alias -o CanonicalizePermittedCNAMEs="*.$D:*.example.com")"
it_check "unknown name with fallback: unchanged" "nosuch" "$(val hostname nosuch)"
G nosuch -o CanonicalizeFallbackLocal=no >/dev/null
rc=$?
[ $rc = 255 ] && grep -q "Could not resolve host \"nosuch\"" "$T/err" &&
    it_pass "CanonicalizeFallbackLocal no: refused, named" || it_fail "fallback no: rc $rc $(cat "$T/err")"
printf 'Match final\n  User final-user\n' > "$T/final"
it_check "Match final without canonicalisation: a second pass" "final-user" \
    "$("$SSHTUN" -F "$T/final" -G web | awk '$1 == "user" { print $2 }')"
printf 'Match !final\n  User first-pass\nMatch final\n  User final-user\n' > "$T/final2"
it_check "Match !final holds in the first pass" "first-pass" \
    "$("$SSHTUN" -F "$T/final2" -G web | awk '$1 == "user" { print $2 }')"

# ---- connecting through the canonical name ---------------------------------------------------------
printf 'CanonicalizeHostname yes\nCanonicalDomains %s\n' "$D" > "$T/connect.conf"
echo "[web.$D]:$PORT $(cut -d' ' -f1,2 "$T/host_ed25519.pub")" > "$T/known_hosts"
timeout 60 "$SSHTUN" -F "$T/connect.conf" -p "$PORT" -l "$USER_NAME" -i "$T/user_ed25519" \
    -o UserKnownHostsFile="$T/known_hosts" -o GlobalKnownHostsFile=/dev/null \
    -o StrictHostKeyChecking=yes -o BatchMode=yes -o HostKeyAlgorithms=ssh-ed25519 -v \
    web 'echo canon-ok' >"$T/out" 2>"$T/err"
rc=$?
[ $rc = 0 ] && grep -q canon-ok "$T/out" &&
    it_pass "connects as web.$D, host key found under the canonical name" ||
    { it_fail "connect: rc $rc"; tail -5 "$T/err"; }
grep -q "Canonicalized hostname \"web\" => \"web.$D\"" "$T/err" &&
    it_pass "-v says what the name became" || it_fail "no Canonicalized line"

it_done
