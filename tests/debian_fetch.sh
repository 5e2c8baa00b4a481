#!/bin/sh
# debian_fetch.sh - fetch Debian packages from another suite of the
# system's own mirror and unpack them into a private folder, without
# installing anything or touching the system's apt state.
#
#   . tests/debian_fetch.sh
#   debian_fetch <suite> <folder> <package>...
#
# The mirror and keyring are those of the system's main Debian entry (the
# one for "bookworm" in /etc/apt/sources.list.d/debian.sources, deb822, or
# in /etc/apt/sources.list); no host name is written here.  apt-get runs
# with a private sources list naming <suite>, private lists and caches, and
# downloads the newest version of each package in that suite (dependencies
# are not followed: the caller names what it needs); dpkg -x unpacks them
# into <folder>/root.  <folder>/apt is scratch space, removed at the end.
debian_fetch() {
    suite=$1 dest=$2
    shift 2
    mirror="" keyring=""
    if [ -r /etc/apt/sources.list.d/debian.sources ]; then
        set -- "$@" --- $(awk '
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
        # the packages, then "---", then what awk printed
        pkgs=""
        while [ $# -gt 0 ] && [ "$1" != "---" ]; do pkgs="$pkgs $1"; shift; done
        shift
        [ $# -ge 1 ] && mirror=$1
        [ $# -ge 2 ] && [ "$2" != "-" ] && keyring=$2
        set -- $pkgs
    fi
    if [ -z "$mirror" ] && [ -r /etc/apt/sources.list ]; then
        mirror=$(awk '$1 == "deb" {
                i = 2
                if ($i ~ /^\[/) { while ($i !~ /\]$/) i++; i++ }
                if ($(i + 1) == "bookworm") { print $i; exit }
            }' /etc/apt/sources.list)
    fi
    if [ -z "$mirror" ]; then
        echo "debian_fetch: no Debian bookworm entry in the system's apt sources" >&2
        return 1
    fi
    [ -n "$keyring" ] || keyring=/usr/share/keyrings/debian-archive-keyring.gpg
    work="$dest/apt"
    rm -rf "$dest/root" "$work"
    mkdir -p "$work/lists/partial" "$work/cache/archives/partial" "$work/debs" "$work/parts" \
        "$dest/root"
    echo "deb [signed-by=$keyring] $mirror $suite main" > "$work/sources.list"
    : > "$work/preferences"
    # Root's apt drops to the _apt user for downloads, who may not be able
    # to write here; the sandbox gains nothing for a read-only download.
    apt_opts="-o Dir::Etc::sourcelist=$work/sources.list -o Dir::Etc::sourceparts=$work/parts
        -o Dir::Etc::preferences=$work/preferences -o Dir::Etc::preferencesparts=$work/parts
        -o Dir::State::Lists=$work/lists -o Dir::Cache=$work/cache
        -o Dir::State::status=/var/lib/dpkg/status -o APT::Sandbox::User=root
        -o Debug::NoLocking=1 -o Acquire::Retries=3"
    echo "debian_fetch: $* from $mirror $suite" >&2
    apt-get -qq $apt_opts update >&2 || return 1
    (cd "$work/debs" && apt-get -qq $apt_opts download "$@" >&2) || return 1
    for d in "$work/debs"/*.deb; do
        dpkg -x "$d" "$dest/root" || return 1
    done
    rm -rf "$work"
}
