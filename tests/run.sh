#!/usr/bin/env bash
# tests/run.sh - install what is missing, build with ASan+UBSan (warnings are
# errors), and run the whole ctest suite: unit tests, fuzz corpus replays
# and integration tests against real OpenSSH peers on 127.0.0.1.
set -euo pipefail
cd "$(dirname "$0")/.."
. tests/deps.sh
sshtun_install_deps

BUILD=${BUILD:-build}
# The options are always given: a cache that another command configured
# (examples/demo.sh uses build-demo/, but a hand-made build/ may say
# SSHTUN_TESTS=OFF) must not turn the suite into "No tests were found".
cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSSHTUN_WERROR=ON -DSSHTUN_TESTS=ON \
    -DSSHTUN_SANITIZE=ON >/dev/null
cmake --build "$BUILD" -j"$(nproc)"
cd "$BUILD"
# Sanitizers: stop at the first error, report leaks.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
# Signal dispositions back to their defaults: a job runner may start us with
# SIGCHLD or SIGPIPE ignored, exec keeps that, and the tools the tests drive
# (script(1) for one) then wait forever for a child the kernel already reaped.
# sshtun and sshtund reset this themselves; it_client checks that they do.
exec env --default-signal ctest --output-on-failure -j"$(nproc)" "$@"
