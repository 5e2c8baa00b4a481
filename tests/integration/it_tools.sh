#!/usr/bin/env bash
# it_tools.sh - the tools that run ssh, with sshtun in ssh's place (issue
# 10), against OpenSSH's sshd and against sshtund, both on 127.0.0.1 with
# throwaway keys, logging in as a throwaway user:
#
# - rsync -e sshtun: a tree of a few MB both ways, compared with diff -r;
# - scp -S sshtun: SFTP mode and legacy (-O) mode, both ways, and -r;
# - sftp -S sshtun: a batch of put, get, ls, rename, rm;
# - git clone and push through GIT_SSH_COMMAND (git first probes the
#   command with -G, then passes -o SendEnv=GIT_PROTOCOL);
# - ssh-copy-id through a PATH shim named ssh (it passes -a -x and probes
#   with its own -i and -o options; the password comes through SSH_ASKPASS).
#
# Each tool passes ssh options before the destination and its own command
# after it: before issue 10 every one of them failed (option parsing went
# past the destination; -x, -a unknown).
. "$(dirname "$0")/lib.sh"
it_init "$1"
SSHTUND="$BUILD/sshtund"
[ -x "$SSHTUND" ] || { echo "FAIL: $SSHTUND not built"; exit 1; }
for t in rsync scp sftp git ssh-copy-id; do
    command -v $t >/dev/null || { echo "FAIL: $t not installed"; exit 1; }
done
SFTP_SERVER=/usr/lib/openssh/sftp-server
[ -x "$SFTP_SERVER" ] || { echo "FAIL: $SFTP_SERVER not installed"; exit 1; }
if [ "$(id -u)" != 0 ]; then
    echo "SKIP-NOT-COUNTED: it_tools.sh needs root (a throwaway user to log in as, sshtund)"
    exit 77
fi

TU=sshtun-tl$$
TU_CREATED=0
tools_cleanup() {
    local rc=$?
    [ -n "${SSHTUND_PID:-}" ] && kill -KILL -- "-$SSHTUND_PID" 2>/dev/null
    pkill -KILL -u "$TU" 2>/dev/null
    [ "$TU_CREATED" = 1 ] && userdel "$TU" 2>/dev/null
    (exit $rc)
    it_cleanup
}
trap tools_cleanup EXIT INT TERM

# The user the tools log in as, with its home in $T and a password for
# ssh-copy-id.
chmod 711 "$T"
UH="$T/uh"
useradd -M -d "$UH" -s /bin/sh "$TU" && TU_CREATED=1 || { echo "FAIL: useradd"; exit 1; }
TU_PASS="it-Tools-$$-pw"
echo "$TU:$TU_PASS" | chpasswd
mkdir -p "$UH/.ssh"
cat "$T/user_ed25519.pub" > "$UH/.ssh/authorized_keys"
chown -R "$TU" "$UH"
chmod 700 "$UH" "$UH/.ssh"
chmod 600 "$UH/.ssh/authorized_keys"
tu() { runuser -u "$TU" -- "$@"; }

# ---- the servers ----------------------------------------------------------------------------
SSHD_AUTHKEYS=.ssh/authorized_keys
it_start_sshd "PasswordAuthentication yes" "KbdInteractiveAuthentication no"
SSHD_PORT=$PORT

start_sshtund() {
    local try
    for try in 1 2 3 4 5; do
        STD_PORT=$(it_free_port)
        {
            echo "Port $STD_PORT"
            echo "ListenAddress 127.0.0.1"
            for k in ed25519 ecdsa rsa; do echo "HostKey $T/host_$k"; done
            echo "AuthorizedKeysFile .ssh/authorized_keys"
            echo "PidFile $T/sshtund.pid"
            echo "PasswordAuthentication yes"
            echo "Subsystem sftp $SFTP_SERVER"
            echo "LogLevel VERBOSE"
        } > "$T/sshtund_config"
        setsid "$SSHTUND" -D -e -f "$T/sshtund_config" > "$T/sshtund.log" 2>&1 &
        SSHTUND_PID=$!
        disown "$SSHTUND_PID" # killed at the end; no job report
        for _ in $(seq 1 200); do
            grep -q "ready" "$T/sshtund.log" 2>/dev/null && return 0
            kill -0 "$SSHTUND_PID" 2>/dev/null || break
            sleep 0.05
        done
        grep -q "Address already in use" "$T/sshtund.log" && continue
        echo "FAIL: sshtund did not start:"; cat "$T/sshtund.log"; exit 1
    done
    echo "FAIL: no free port for sshtund"; exit 1
}
start_sshtund

: > "$T/known_hosts"
for p in $SSHD_PORT $STD_PORT; do
    for k in ed25519 ecdsa rsa; do
        echo "[127.0.0.1]:$p $(cut -d' ' -f1,2 "$T/host_$k.pub")" >> "$T/known_hosts"
    done
done

# sshtun with the test's options, as the tools are given it; PORT picks the
# server.  `ssh` in $T/shim is the same for ssh-copy-id, which must not get
# our identity (it checks whether its key is installed by logging in).
mkdir -p "$T/shim"
cat > "$T/st" <<EOF
#!/bin/sh
exec timeout 120 "$SSHTUN" -F none -p "\$PORT" -i "$T/user_ed25519" -o IdentityAgent=none \\
    -o UserKnownHostsFile="$T/known_hosts" -o GlobalKnownHostsFile=/dev/null \\
    -o StrictHostKeyChecking=yes -o BatchMode=yes "\$@"
EOF
cat > "$T/shim/ssh" <<EOF
#!/bin/sh
exec timeout 120 "$SSHTUN" -F none -p "\$PORT" -o IdentityAgent=none \\
    -o UserKnownHostsFile="$T/known_hosts" -o GlobalKnownHostsFile=/dev/null \\
    -o StrictHostKeyChecking=yes "\$@"
EOF
cat > "$T/askpass" <<EOF
#!/bin/sh
echo "$TU_PASS"
EOF
chmod 755 "$T/st" "$T/shim/ssh" "$T/askpass"
ST="$T/st"

# A tree of a few MB: nested directories, odd names, an empty file, a
# symlink, a large file.
TREE="$T/tree"
mkdir -p "$TREE/a/b/c" "$TREE/with space" "$TREE/empty-dir"
for i in $(seq 1 40); do
    d=$TREE
    case $((i % 4)) in 1) d="$TREE/a" ;; 2) d="$TREE/a/b/c" ;; 3) d="$TREE/with space" ;; esac
    head -c $((RANDOM * 3)) /dev/urandom > "$d/file $i.bin"
done
head -c 2500000 /dev/urandom > "$TREE/large.bin"
: > "$TREE/a/empty"
ln -s "a/b/c" "$TREE/link"
echo "tree: $(du -sh "$TREE" | cut -f1)"
head -c 3000000 /dev/urandom > "$T/file3m"

same_tree() { diff -r --no-dereference "$1" "$2" > "$T/diff.out" 2>&1; }

for SRV in sshd sshtund; do
    export PORT=$SSHD_PORT
    [ $SRV = sshtund ] && PORT=$STD_PORT
    R="$UH/$SRV"
    tu mkdir -p "$R"
    echo "== server: $SRV (port $PORT)"

    # ---- rsync -e ------------------------------------------------------------------------
    rm -rf "$T/rsback"
    if timeout 180 rsync -a -e "$ST" "$TREE/" "$TU@127.0.0.1:$R/rs/" > "$T/rsync.log" 2>&1; then
        same_tree "$TREE" "$R/rs" && it_pass "$SRV: rsync -e sshtun uploads the tree (diff -r clean)" ||
            it_fail "$SRV: rsync upload differs: $(head -5 "$T/diff.out")"
    else
        it_fail "$SRV: rsync upload failed: $(tail -5 "$T/rsync.log")"
    fi
    if timeout 180 rsync -a -e "$ST" "$TU@127.0.0.1:$R/rs/" "$T/rsback/" > "$T/rsync.log" 2>&1; then
        same_tree "$TREE" "$T/rsback" && it_pass "$SRV: rsync -e sshtun downloads it back (diff -r clean)" ||
            it_fail "$SRV: rsync download differs: $(head -5 "$T/diff.out")"
    else
        it_fail "$SRV: rsync download failed: $(tail -5 "$T/rsync.log")"
    fi
    echo "changed for $SRV" >> "$TREE/a/empty"
    timeout 180 rsync -a --delete -e "$ST" "$TREE/" "$TU@127.0.0.1:$R/rs/" > "$T/rsync.log" 2>&1 &&
        same_tree "$TREE" "$R/rs" && it_pass "$SRV: rsync -e sshtun again: the change follows" ||
        it_fail "$SRV: rsync update: $(tail -3 "$T/rsync.log") $(head -3 "$T/diff.out")"

    # ---- scp -S, SFTP and legacy modes ------------------------------------------------------
    for mode in sftp legacy; do
        o=""
        [ $mode = legacy ] && o=-O
        rm -f "$T/scp_back"
        timeout 120 scp $o -q -S "$ST" "$T/file3m" "$TU@127.0.0.1:$R/scp_$mode" > "$T/scp.log" 2>&1 &&
            cmp -s "$T/file3m" "$R/scp_$mode" && it_pass "$SRV: scp${o:+ $o} -S sshtun upload ($mode mode)" ||
            it_fail "$SRV: scp $mode upload: $(tail -3 "$T/scp.log")"
        timeout 120 scp $o -q -S "$ST" "$TU@127.0.0.1:$R/scp_$mode" "$T/scp_back" > "$T/scp.log" 2>&1 &&
            cmp -s "$T/file3m" "$T/scp_back" && it_pass "$SRV: scp${o:+ $o} -S sshtun download ($mode mode)" ||
            it_fail "$SRV: scp $mode download: $(tail -3 "$T/scp.log")"
        rm -rf "$T/scp_tree"
        timeout 180 scp $o -r -q -S "$ST" "$TU@127.0.0.1:$R/rs/a" "$T/scp_tree" > "$T/scp.log" 2>&1 &&
            diff -r "$TREE/a" "$T/scp_tree" > "$T/diff.out" 2>&1 &&
            it_pass "$SRV: scp${o:+ $o} -r -S sshtun downloads a tree ($mode mode)" ||
            it_fail "$SRV: scp -r $mode: $(tail -3 "$T/scp.log") $(head -3 "$T/diff.out")"
    done

    # ---- sftp -S ----------------------------------------------------------------------------------
    rm -f "$T/sftp_back"
    cat > "$T/batch" <<EOF
cd $R
put $T/file3m sftp_up
get sftp_up $T/sftp_back
rename sftp_up sftp_moved
ls -1
rm sftp_moved
EOF
    if timeout 120 sftp -S "$ST" -b "$T/batch" "$TU@127.0.0.1" > "$T/sftp.log" 2>&1; then
        cmp -s "$T/file3m" "$T/sftp_back" && grep -q "sftp_moved" "$T/sftp.log" && [ ! -e "$R/sftp_moved" ] &&
            it_pass "$SRV: sftp -S sshtun: put, get, rename, ls, rm" ||
            it_fail "$SRV: sftp batch results: $(tail -5 "$T/sftp.log")"
    else
        it_fail "$SRV: sftp -S sshtun failed: $(tail -5 "$T/sftp.log")"
    fi

    # ---- git clone and push over GIT_SSH_COMMAND ------------------------------------------------
    tu git init -q --bare "$R/repo.git"
    GITC="git -c user.name=it -c user.email=it@example.invalid -c init.defaultBranch=main"
    rm -rf "$T/clone" "$T/clone2"
    export GIT_SSH_COMMAND="$ST"
    if timeout 120 $GITC clone -q "$TU@127.0.0.1:$R/repo.git" "$T/clone" > "$T/git.log" 2>&1; then
        it_pass "$SRV: git clone through GIT_SSH_COMMAND=sshtun"
        cp -r "$TREE/a" "$T/clone/"
        (cd "$T/clone" && { $GITC checkout -q -b main 2>/dev/null; true; } && $GITC add -A &&
            $GITC commit -q -m "via sshtun $SRV" && timeout 120 $GITC push -q origin main) \
            > "$T/git.log" 2>&1 && it_pass "$SRV: git push through sshtun" ||
            it_fail "$SRV: git push: $(tail -5 "$T/git.log")"
        it_check "$SRV: the pushed commit is in the server's repository" "via sshtun $SRV" \
            "$(tu git --git-dir="$R/repo.git" log -1 --format=%s main 2>&1)"
        timeout 120 $GITC clone -q "$TU@127.0.0.1:$R/repo.git" "$T/clone2" > "$T/git.log" 2>&1 &&
            diff -r "$TREE/a" "$T/clone2/a" > "$T/diff.out" 2>&1 &&
            it_pass "$SRV: a second clone has the pushed files" ||
            it_fail "$SRV: second clone: $(tail -3 "$T/git.log") $(head -3 "$T/diff.out")"
    else
        it_fail "$SRV: git clone: $(tail -5 "$T/git.log")"
    fi
    unset GIT_SSH_COMMAND

    # ---- ssh-copy-id through a PATH shim named ssh -------------------------------------------------
    ssh-keygen -q -t ed25519 -N '' -C "copied-$SRV" -f "$T/newkey_$SRV"
    PATH="$T/shim:$PATH" SSH_ASKPASS="$T/askpass" SSH_ASKPASS_REQUIRE=force DISPLAY= \
        timeout 120 ssh-copy-id -i "$T/newkey_$SRV.pub" "$TU@127.0.0.1" </dev/null > "$T/sci.log" 2>&1
    rc=$?
    grep -q "copied-$SRV" "$UH/.ssh/authorized_keys" && [ $rc = 0 ] &&
        it_pass "$SRV: ssh-copy-id through a shim named ssh installs the key" ||
        it_fail "$SRV: ssh-copy-id rc $rc: $(tail -5 "$T/sci.log")"
    out=$(timeout 60 "$SSHTUN" -F none -p "$PORT" -i "$T/newkey_$SRV" -o IdentitiesOnly=yes \
        -o IdentityAgent=none -o UserKnownHostsFile="$T/known_hosts" -o BatchMode=yes \
        "$TU@127.0.0.1" 'id -un' </dev/null 2>&1)
    it_check "$SRV: logging in with the copied key" "$TU" "$out"
done

it_done
