#!/bin/sh
# openssl35.sh - run a program with OpenSSL 3.5's libcrypto (Debian 13's
# libssl3t64) instead of the system's 3.0, to exercise code that takes
# libcrypto's ML-KEM where the running OpenSSL has one.  Nothing is
# installed: libssl3t64 and the C library it needs (glibc 2.38+, so its
# dynamic loader too) are unpacked into a private folder (tests/
# debian_fetch.sh) and the program is started through that loader with that
# folder first in the library path.
#
#   tests/openssl35.sh program [args...]
#
# The folder is /var/cache/sshtun/openssl35 when writable (CI runs as
# root), else ~/.cache/sshtun/openssl35; it is reused once filled.  The
# program must not be built with sanitizers (their runtime expects the
# system's loader).
set -eu
if mkdir -p /var/cache/sshtun 2>/dev/null && [ -w /var/cache/sshtun ]; then
    DEST=/var/cache/sshtun/openssl35
else
    DEST=${XDG_CACHE_HOME:-$HOME/.cache}/sshtun/openssl35
fi
LD="$DEST/root/usr/lib64/ld-linux-x86-64.so.2"
LIBS="$DEST/root/usr/lib/x86_64-linux-gnu"
if [ ! -x "$LD" ] || [ ! -e "$LIBS/libcrypto.so.3" ]; then
    . "$(dirname "$0")/debian_fetch.sh"
    debian_fetch trixie "$DEST" libssl3t64 libc6 libzstd1 zlib1g ||
        { echo "openssl35.sh: download failed" >&2; exit 1; }
fi
exec "$LD" --library-path "$LIBS:/lib/x86_64-linux-gnu:/usr/lib/x86_64-linux-gnu" "$@"
