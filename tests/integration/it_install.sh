#!/usr/bin/env bash
# it_install.sh - what `cmake --install` puts where, and that the installed
# programs, manual pages and shell completion work and say the same things
# as the programs do.
#
# - cmake --install into a temporary DESTDIR, for the prefix the build was
#   configured with and for a second build configured with --prefix=/usr:
#   every file in its GNUInstallDirs place, the unit's paths following the
#   prefix, the installed binaries running.
# - Each manual page renders with groff and man without a warning.
# - Drift: every option of each program's usage text is described in its
#   page (an .It Fl X entry); every keyword of the client's and the server's
#   keyword tables is named in sshtun(1) / sshtund_config(5); the bash
#   completion offers every option of the usage text and every client
#   keyword.
. "$(dirname "$0")/lib.sh"
it_init "$1"
SRC=$(cd "$(dirname "$0")/../.." && pwd)
SSHTUND="$BUILD/sshtund"

# ---- install tree ------------------------------------------------------------
check_tree() { # check_tree <root> <prefix>
    local r=$1 p=$2 f missing=""
    for f in bin/sshtun sbin/sshtund share/man/man1/sshtun.1 share/man/man8/sshtund.8 \
        share/man/man5/sshtund_config.5 share/bash-completion/completions/sshtun \
        share/doc/sshtun/README.md share/doc/sshtun/examples/sshtund-bastion.conf \
        share/doc/sshtun/examples/sshtund-user.conf lib/systemd/system/sshtund.service \
        lib/systemd/user/sshtun-tunnel@.service; do
        [ -e "$r$p/$f" ] || missing="$missing $f"
    done
    it_check "install under $p: every file in place" "" "$missing"
    [ -x "$r$p/bin/sshtun" ] && [ -x "$r$p/sbin/sshtund" ] &&
        it_pass "install under $p: programs executable" ||
        it_fail "install under $p: programs not executable"
    local exec_lines
    exec_lines=$(grep -E '^Exec' "$r$p/lib/systemd/system/sshtund.service" | awk '{print $1}' |
        sed 's/^Exec[A-Za-z]*=//' | LC_ALL=C sort -u | tr "\n" " ")
    it_check "install under $p: the unit starts the installed sshtund" \
        "/bin/kill $p/sbin/sshtund " "$exec_lines"
    exec_lines=$(grep -E '^Exec' "$r$p/lib/systemd/user/sshtun-tunnel@.service" | awk '{print $1}' |
        sed 's/^Exec[A-Za-z]*=//' | tr "\n" " ")
    it_check "install under $p: the tunnel unit starts the installed sshtun" \
        "$p/bin/sshtun " "$exec_lines"
    "$r$p/bin/sshtun" -V > "$T/v.out" 2>&1
    grep -q '^sshtun_' "$T/v.out" && it_pass "installed sshtun runs (-V)" ||
        it_fail "installed sshtun -V: $(cat "$T/v.out")"
    "$r$p/sbin/sshtund" -t -f /dev/null -h "$T/host_ed25519" -o Port=2222 > "$T/t.out" 2>&1 &&
        it_pass "installed sshtund runs (-t)" || it_fail "installed sshtund -t: $(cat "$T/t.out")"
}

prefix=$(sed -n 's/^CMAKE_INSTALL_PREFIX:PATH=//p' "$BUILD/CMakeCache.txt")
DESTDIR="$T/root1" cmake --install "$BUILD" > "$T/install1.log" 2>&1 ||
    { it_fail "cmake --install failed"; cat "$T/install1.log"; }
check_tree "$T/root1" "$prefix"

# Another prefix, from a build of its own (release, programs only).
cmake -S "$SRC" -B "$T/b2" -DCMAKE_INSTALL_PREFIX=/usr -DSSHTUN_TESTS=OFF \
    -DCMAKE_BUILD_TYPE=Release > "$T/b2.log" 2>&1 &&
    cmake --build "$T/b2" -j2 --target sshtun sshtund >> "$T/b2.log" 2>&1 &&
    DESTDIR="$T/root2" cmake --install "$T/b2" >> "$T/b2.log" 2>&1 ||
    { it_fail "build and install with --prefix=/usr"; tail -20 "$T/b2.log"; }
check_tree "$T/root2" /usr

# ---- manual pages --------------------------------------------------------------
PAGES="$SRC/tunnel/client/sshtun.1 $SRC/tunnel/server/sshtund.8 $SRC/tunnel/server/sshtund_config.5"
for pg in $PAGES; do
    w=$(groff -mandoc -ww -z -Tutf8 "$pg" 2>&1)
    it_check "groff renders $(basename "$pg") without warnings" "" "$w"
    w=$(LC_ALL=C.UTF-8 man --warnings=w -l "$pg" 2>&1 >/dev/null)
    it_check "man renders $(basename "$pg") without warnings" "" "$w"
done

# Options of a usage text: the letters in [-abc] groups and each [-x arg].
usage_flags() {
    tr -d '\n' | grep -oE '\[-[A-Za-z0-9]+( |\])' | sed 's/^\[-//; s/[] ]$//' |
        while read -r g; do
            # a group such as [-46fGMN], or the letter of [-x arg]
            echo "$g" | fold -w1
        done | sort -u
}
check_usage_in_page() { # check_usage_in_page <name> <usage text file> <page>
    local f missing="" n
    n=$(usage_flags < "$2" | wc -l)
    [ "$n" -ge 8 ] || { it_fail "$1: only $n options read from the usage text"; return; }
    for f in $(usage_flags < "$2"); do
        grep -qE "^\.It Fl $f( |$)" "$3" || missing="$missing -$f"
    done
    it_check "$1: every option of the usage text ($n) is described in $(basename "$3")" "" "$missing"
}
"$SSHTUN" > "$T/usage.sshtun" 2>&1
"$SSHTUND" -/ > "$T/usage.sshtund" 2>&1
check_usage_in_page sshtun "$T/usage.sshtun" "$SRC/tunnel/client/sshtun.1"
check_usage_in_page sshtund "$T/usage.sshtund" "$SRC/tunnel/server/sshtund.8"

# Keywords of a keyword table: {"Name", K_...} entries.
table_keywords() { grep -oE '\{"[A-Z][A-Za-z0-9]+", *K_' "$1" | sed 's/{"//; s/",.*//' | sort -u; }
check_keywords_in_page() { # <name> <source> <page>
    local k missing="" n
    n=$(table_keywords "$2" | wc -l)
    [ "$n" -ge 30 ] || { it_fail "$1: only $n keywords read from $(basename "$2")"; return; }
    for k in $(table_keywords "$2"); do
        grep -qiE "^\.(Cm|It Cm)( .*)? $k( |,|$)" "$3" || missing="$missing $k"
    done
    it_check "$1: every keyword ($n) is named in $(basename "$3")" "" "$missing"
}
check_keywords_in_page sshtun "$SRC/tunnel/client/tun_options.c" "$SRC/tunnel/client/sshtun.1"
check_keywords_in_page sshtund "$SRC/tunnel/server/tun_srvconfig.c" "$SRC/tunnel/server/sshtund_config.5"

# ---- bash completion -------------------------------------------------------------
COMPL="$T/root1$prefix/share/bash-completion/completions/sshtun"
complete_words() { # complete_words word... (the last is the one completed)
    bash -c 'source "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$((${#COMP_WORDS[@]} - 1));
             _sshtun; printf "%s\n" "${COMPREPLY[@]}"' _ "$COMPL" sshtun "$@"
}
offered=$(complete_words -)
missing=""
for f in $(usage_flags < "$T/usage.sshtun"); do
    grep -qx -- "-$f" <<<"$offered" || missing="$missing -$f"
done
it_check "completion offers every option of sshtun's usage text" "" "$missing"
offered=$(complete_words -o "" | tr 'A-Z' 'a-z')
missing=""
for k in $(table_keywords "$SRC/tunnel/client/tun_options.c"); do
    grep -qx -- "$(tr 'A-Z' 'a-z' <<<"$k")=" <<<"$offered" || missing="$missing $k"
done
it_check "completion offers every client keyword after -o" "" "$missing"
it_check "completion of -o StrictHostKeyChecking=a" \
    "StrictHostKeyChecking=ask StrictHostKeyChecking=accept-new" \
    "$(complete_words -o StrictHostKeyChecking=a | tr '\n' ' ' | sed 's/ $//')"
it_check "completion of -O" "stop status" "$(complete_words -O s | tr '\n' ' ' | sed 's/ $//')"
printf 'Host alpha beta\n  HostName 192.0.2.1\nHost *.wild\n  User x\nMatch host gamma\n' > "$T/cfg"
it_check "completion of hosts from -F's Host lines (no patterns)" "alpha beta" \
    "$(complete_words -F "$T/cfg" "" | sort | tr '\n' ' ' | sed 's/ $//')"
it_check "completion keeps user@" "bob@beta" "$(complete_words -F "$T/cfg" bob@b)"
it_check "nothing offered after the destination (the remote command)" "" \
    "$(complete_words -F "$T/cfg" alpha l)"
it_done
