#!/usr/bin/env bash
# it_package.sh - the Debian packages: `dpkg-buildpackage -us -uc -b` on a
# copy of the tree builds sshtun and sshtund; their contents are checked
# with dpkg-deb -c; then they are installed on this machine (needs root: CI
# machines are throwaway), checked (the sshtund system user made by
# postinst, host keys, the unit installed but not enabled, the installed
# sshtund accepting the shipped configuration, the manual pages found by
# man), and purged again.
. "$(dirname "$0")/lib.sh"
it_init "$1"
[ "$(id -u)" -eq 0 ] || { echo "SKIP: installing packages needs root"; exit 77; }
for p in sshtun sshtund; do
    if dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        echo "SKIP: package $p is installed on this machine; the test would remove it"
        exit 77
    fi
done
SRC=$(cd "$(dirname "$0")/../.." && pwd)
mkdir "$T/pkg" "$T/pkg/src"
(cd "$SRC" && git ls-files -co --exclude-standard -z | xargs -0 cp --parents -t "$T/pkg/src") ||
    { echo "FAIL: could not copy the source tree"; exit 1; }
if (cd "$T/pkg/src" && dpkg-buildpackage -us -uc -b) > "$T/build.log" 2>&1; then
    it_pass "dpkg-buildpackage -us -uc -b builds"
else
    it_fail "dpkg-buildpackage failed"; tail -30 "$T/build.log"; it_done; exit 1
fi
DEB_C=$(ls "$T"/pkg/sshtun_*.deb 2>/dev/null | head -1)
DEB_D=$(ls "$T"/pkg/sshtund_*.deb 2>/dev/null | head -1)
[ -n "$DEB_C" ] && [ -n "$DEB_D" ] && it_pass "both packages built" ||
    { it_fail "packages missing: $(ls "$T/pkg")"; it_done; exit 1; }

contents() { dpkg-deb -c "$1" | awk '{print $6}' | sed 's|^\./|/|'; }
has_all() { # has_all <deb> path...
    local deb=$1 f missing=""
    shift
    local list
    list=$(contents "$deb")
    for f in "$@"; do grep -qx -- "$f" <<<"$list" || missing="$missing $f"; done
    it_check "$(basename "$deb") holds $*" "" "$missing"
}
has_all "$DEB_C" /usr/bin/sshtun /usr/share/man/man1/sshtun.1.gz \
    /usr/share/bash-completion/completions/sshtun /usr/lib/systemd/user/sshtun-tunnel@.service
has_all "$DEB_D" /usr/sbin/sshtund /usr/share/man/man8/sshtund.8.gz \
    /usr/share/man/man5/sshtund_config.5.gz /lib/systemd/system/sshtund.service \
    /etc/sshtund/sshtund_config /usr/share/doc/sshtund/examples/sshtund-bastion.conf
it_check "the client package holds no server" "" "$(contents "$DEB_C" | grep sshtund)"
dpkg-deb -I "$DEB_D" conffiles | grep -qx /etc/sshtund/sshtund_config &&
    it_pass "sshtund_config is a conffile" || it_fail "sshtund_config is not a conffile"

# ---- installed for real, then purged -----------------------------------------
# The sshtund user stays after a purge (Debian policy); the test removes it
# again when it made it, so the machine is as it was.
had_user=0
getent passwd sshtund >/dev/null && had_user=1
purge() {
    dpkg -P sshtund sshtun > "$T/purge.log" 2>&1
    local rc=$?
    [ $had_user = 0 ] && getent passwd sshtund >/dev/null && userdel sshtund 2>/dev/null
    return $rc
}
trap 'purge; it_cleanup' EXIT
if DEBIAN_FRONTEND=noninteractive dpkg -i "$DEB_C" "$DEB_D" > "$T/install.log" 2>&1; then
    it_pass "dpkg -i installs both"
else
    it_fail "dpkg -i failed"; cat "$T/install.log"
fi
getent passwd sshtund > "$T/pw" && it_pass "postinst made the sshtund system user" ||
    it_fail "no sshtund user after install"
uid=$(cut -d: -f3 "$T/pw")
[ -n "$uid" ] && [ "$uid" -lt 1000 ] && it_pass "sshtund is a system user (uid $uid)" ||
    it_fail "sshtund uid '$uid' is not a system uid"
it_check "its shell is nologin" /usr/sbin/nologin "$(cut -d: -f7 "$T/pw")"
[ -f /etc/sshtund/ssh_host_ed25519_key ] && it_pass "postinst made host keys" ||
    it_fail "no host keys in /etc/sshtund"
it_check "host key mode" 600 "$(stat -c %a /etc/sshtund/ssh_host_ed25519_key 2>/dev/null)"
/usr/sbin/sshtund -t -f /etc/sshtund/sshtund_config > "$T/t.log" 2>&1 &&
    it_pass "installed sshtund accepts the shipped configuration" ||
    it_fail "sshtund -t on the shipped configuration: $(cat "$T/t.log")"
[ -f /lib/systemd/system/sshtund.service ] && it_pass "unit installed" || it_fail "unit missing"
enabled=$(ls /etc/systemd/system/*.wants/sshtund.service 2>/dev/null)
it_check "unit not enabled" "" "$enabled"
it_check "man finds sshtun(1)" /usr/share/man/man1/sshtun.1.gz "$(man -w sshtun 2>/dev/null)"
it_check "man finds sshtund_config(5)" /usr/share/man/man5/sshtund_config.5.gz \
    "$(man -w 5 sshtund_config 2>/dev/null)"
/usr/bin/sshtun -V 2>&1 | grep -q '^sshtun_' && it_pass "installed sshtun runs" ||
    it_fail "installed sshtun does not run"

purge && it_pass "dpkg -P purges both" || { it_fail "dpkg -P failed"; cat "$T/purge.log"; }
[ ! -e /usr/bin/sshtun ] && [ ! -e /usr/sbin/sshtund ] && [ ! -e /etc/sshtund ] &&
    it_pass "purge leaves no programs, configuration or host keys" ||
    it_fail "left after purge: $(ls -d /usr/bin/sshtun /usr/sbin/sshtund /etc/sshtund 2>/dev/null)"
trap it_cleanup EXIT
it_done
