#!/usr/bin/env bash
# it_readme.sh - the README's two commands, in one clone, in either order.
#
# examples/demo.sh once configured build/ without tests, and tests/run.sh
# then reused that cache and ran "No tests were found!!!" with status 0.
# Here a copy of the source tree runs: demo, the test command (listing only,
# ctest -N), demo again, the test command again.  Each must succeed, and
# each listing must hold exactly as many tests as this build's.
. "$(dirname "$0")/lib.sh"
it_init "$1"
SRC=$(cd "$(dirname "$0")/../.." && pwd)
CLONE="$T/clone"
mkdir "$CLONE"
# the tracked and new files of the tree as it is now (not a build dir)
(cd "$SRC" && git ls-files -co --exclude-standard -z | xargs -0 cp --parents -t "$CLONE") ||
    { echo "FAIL: could not copy the source tree"; exit 1; }

want=$(cd "$BUILD" && ctest -N | sed -n 's/^Total Tests: //p')
[ "${want:-0}" -gt 0 ] || { echo "FAIL: this build lists no tests"; exit 1; }

run_demo() {
    local rc=0
    (cd "$CLONE" && bash examples/demo.sh) > "$T/demo.log" 2>&1 || rc=$?
    if [ $rc = 0 ] && grep -q '^Done (sshtund)' "$T/demo.log"; then
        it_pass "demo.sh $1"
    else
        it_fail "demo.sh $1 (exit status $rc)"; tail -40 "$T/demo.log"
    fi
}
run_tests_listing() {
    local got
    (cd "$CLONE" && bash tests/run.sh -N) > "$T/run.log" 2>&1 || { it_fail "tests/run.sh $1 exited $?"; tail -20 "$T/run.log"; return; }
    got=$(sed -n 's/^Total Tests: //p' "$T/run.log")
    it_check "tests/run.sh $1 lists the whole suite" "$want" "$got"
}

run_demo "on a fresh clone"
run_tests_listing "after demo.sh"
run_demo "after tests/run.sh"
run_tests_listing "after demo.sh twice"
[ -x "$CLONE/build/sshtun" ] && [ -x "$CLONE/build-demo/sshtun" ] &&
    it_pass "each command keeps its own build directory" ||
    it_fail "build/ and build-demo/ not both built"
it_done
