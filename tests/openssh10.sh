#!/bin/sh
# openssh10.sh - OpenSSH 10.0 from Debian 12's backports suite, unpacked into
# a private folder, never installed: the system's ssh/sshd (9.2) stay as they
# are.  Prints the folder (it has usr/bin/ssh, usr/sbin/sshd,
# usr/lib/openssh/{sshd-session,sshd-auth,sftp-server}) on stdout.
#
#   tests/openssh10.sh [folder]
#
# The folder defaults to /var/cache/sshtun/openssh10 when that can be
# written (CI runs as root), else ~/.cache/sshtun/openssh10; a folder that
# already holds OpenSSH 10 is reused, so only the first run downloads.
#
# The packages come through apt-get download with a private apt
# configuration: a sources list naming bookworm-backports on the mirror the
# system already uses (read from /etc/apt/sources.list.d/debian.sources or
# /etc/apt/sources.list; no host name is written here), private lists and
# caches, and the system's Debian archive keyring for the signatures.  The
# system's own apt state is not touched.
#
# Running the unpacked sshd: it must be started by its absolute path and
# told where its helpers are (10.0 splits sshd into sshd, sshd-session and
# sshd-auth):  SshdSessionPath <folder>/usr/lib/openssh/sshd-session and
# SshdAuthPath <folder>/usr/lib/openssh/sshd-auth.
set -eu

PKGS="openssh-client openssh-server openssh-sftp-server"

if [ $# -ge 1 ]; then
    DEST=$1
elif mkdir -p /var/cache/sshtun 2>/dev/null && [ -w /var/cache/sshtun ]; then
    DEST=/var/cache/sshtun/openssh10
else
    DEST=${XDG_CACHE_HOME:-$HOME/.cache}/sshtun/openssh10
fi

ready() {
    [ -x "$DEST/root/usr/bin/ssh" ] && [ -x "$DEST/root/usr/sbin/sshd" ] &&
        [ -x "$DEST/root/usr/lib/openssh/sshd-session" ] &&
        [ -x "$DEST/root/usr/lib/openssh/sshd-auth" ] &&
        "$DEST/root/usr/bin/ssh" -V 2>&1 | grep -q '^OpenSSH_10\.'
}

if ready; then
    echo "$DEST/root"
    exit 0
fi

say() { echo "openssh10.sh: $*" >&2; }

# The mirror and keyring of the system's main Debian entry (the suite
# "bookworm" itself, not -security or -updates).
mirror="" keyring=""
if [ -r /etc/apt/sources.list.d/debian.sources ]; then
    # deb822: stanzas separated by blank lines.
    set -- $(awk '
        BEGIN { RS = ""; FS = "\n" }
        {
            uri = ""; suites = ""; key = ""
            for (i = 1; i <= NF; i++) {
                if ($i ~ /^URIs:/) { uri = $i; sub(/^URIs:[ \t]*/, "", uri); sub(/[ \t].*/, "", uri) }
                if ($i ~ /^Suites:/) { suites = " " $i " " }
                if ($i ~ /^Signed-By:/) { key = $i; sub(/^Signed-By:[ \t]*/, "", key) }
            }
            if (uri != "" && suites ~ /[ \t]bookworm[ \t]/) { print uri, (key == "" ? "-" : key); exit }
        }' /etc/apt/sources.list.d/debian.sources)
    [ $# -ge 1 ] && mirror=$1
    [ $# -ge 2 ] && [ "$2" != "-" ] && keyring=$2
fi
if [ -z "$mirror" ] && [ -r /etc/apt/sources.list ]; then
    # One-line format: deb [options] URI suite components...
    mirror=$(awk '$1 == "deb" {
            i = 2
            if ($i ~ /^\[/) { while ($i !~ /\]$/) i++; i++ }
            if ($(i + 1) == "bookworm") { print $i; exit }
        }' /etc/apt/sources.list)
fi
if [ -z "$mirror" ]; then
    say "no Debian bookworm entry in /etc/apt/sources.list.d/debian.sources or /etc/apt/sources.list"
    exit 1
fi
[ -n "$keyring" ] || keyring=/usr/share/keyrings/debian-archive-keyring.gpg

work="$DEST/apt"
rm -rf "$DEST/root" "$work"
mkdir -p "$work/lists/partial" "$work/cache/archives/partial" "$work/debs" "$work/parts" \
    "$DEST/root"
echo "deb [signed-by=$keyring] $mirror bookworm-backports main" > "$work/sources.list"
: > "$work/preferences"
# Root's apt drops to the _apt user for downloads; that user may not be
# able to write our folder, and there is nothing to gain from the sandbox
# for a read-only download.
set -- -o Dir::Etc::sourcelist="$work/sources.list" -o Dir::Etc::sourceparts="$work/parts" \
    -o Dir::Etc::preferences="$work/preferences" -o Dir::Etc::preferencesparts="$work/parts" \
    -o Dir::State::Lists="$work/lists" -o Dir::Cache="$work/cache" \
    -o Dir::State::status=/var/lib/dpkg/status -o APT::Sandbox::User=root \
    -o Debug::NoLocking=1 -o Acquire::Retries=3
say "fetching OpenSSH 10 from $mirror bookworm-backports"
apt-get -qq "$@" update >&2
# The newest 10.x of each package in the backports suite.
debs=""
for p in $PKGS; do
    v=$(apt-cache "$@" madison "$p" | awk -F'|' '{gsub(/ /, "", $2); print $2}' |
        grep '^1:10\.' | head -n1)
    [ -n "$v" ] || { say "no OpenSSH 10 $p in bookworm-backports"; exit 1; }
    (cd "$work/debs" && apt-get -qq "$@" download "$p=$v" >&2)
done
for d in "$work/debs"/*.deb; do
    dpkg -x "$d" "$DEST/root"
done
rm -rf "$work/lists" "$work/cache"
if ! ready; then
    say "the unpacked packages do not run: $("$DEST/root/usr/bin/ssh" -V 2>&1 || true)"
    exit 1
fi
echo "$DEST/root"
