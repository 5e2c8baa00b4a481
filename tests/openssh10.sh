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
# configuration (tests/debian_fetch.sh): a sources list naming
# bookworm-backports on the mirror the system already uses, private lists
# and caches, the system's Debian archive keyring.  The system's own apt
# state is not touched.
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

. "$(dirname "$0")/debian_fetch.sh"
# The 10.x versions of bookworm-backports (apt takes the newest there).
debian_fetch bookworm-backports "$DEST" $PKGS || { say "download failed"; exit 1; }
if ! ready; then
    say "the unpacked packages do not run: $("$DEST/root/usr/bin/ssh" -V 2>&1 || true)"
    exit 1
fi
echo "$DEST/root"
