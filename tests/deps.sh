# deps.sh - install what sshtun needs to build and test, on Debian 12.
# Sourced by tests/run.sh and examples/demo.sh.  Installs only what is
# missing (apt-get; needs root or sudo) so a ready machine pays nothing.
# Arguments, if any, replace the package list (examples/demo.sh needs less).
sshtun_install_deps() {
    local pkgs="gcc make cmake pkg-config libssl-dev libc-ares-dev libev-dev libcmocka-dev zlib1g-dev \
openssh-server openssh-client socat curl python3 procps \
util-linux bsdutils passwd python3-cryptography \
git man-db groff-base debhelper dpkg-dev adduser \
dropbear-bin python3-asyncssh tmux valgrind rsync openssl iproute2 xvfb x11-utils xauth haproxy"
    [ $# -gt 0 ] && pkgs="$*"
    local missing=""
    for p in $pkgs; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
            missing="$missing $p"
    done
    # npm (for test_pq_noble's independent ML-KEM): Debian's nodejs and npm
    # unless some node with npm is there already (a NodeSource nodejs carries
    # its own npm and conflicts with Debian's package of it).
    if [ $# -eq 0 ] && ! command -v npm >/dev/null 2>&1; then
        missing="$missing nodejs npm"
    fi
    if [ -n "$missing" ]; then
        echo "Installing:$missing"
        local sudo=""
        [ "$(id -u)" -ne 0 ] && sudo="sudo"
        export DEBIAN_FRONTEND=noninteractive
        $sudo apt-get update -qq
        # No daemons are started on install (no init system needed).
        $sudo apt-get install -y -qq --no-install-recommends $missing >/dev/null
    fi
    # sshd refuses to start without its privilege separation directory.
    if [ ! -d /run/sshd ]; then
        if [ "$(id -u)" -eq 0 ]; then mkdir -p /run/sshd; else sudo mkdir -p /run/sshd; fi
    fi
}
