#!/usr/bin/env bash
# Runs every test: formatting, the normal build's unit + integration tests, then the same suite
# built with AddressSanitizer + UndefinedBehaviorSanitizer. Needs root (testbed on ports 25/53).
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=$(nproc)

echo "== clang-format check"
mapfile -t sources < <(git ls-files '*.cpp' '*.hpp')
if [ "${#sources[@]}" -gt 0 ]; then
  clang-format --dry-run -Werror "${sources[@]}"
fi

echo "== build + tests (RelWithDebInfo)"
cmake --preset dev >/dev/null
cmake --build --preset dev -j "$jobs"
ctest --preset dev -j "$jobs"

echo "== fuzzing: a short run of every libFuzzer target (scripts/fuzz.sh runs longer ones)"
FUZZ_SECONDS=${FUZZ_SECONDS:-10} FUZZ_JOBS=$jobs bash scripts/fuzz.sh

echo "== build + tests (ASan + UBSan)"
cmake --preset asan >/dev/null
cmake --build --preset asan -j "$jobs"
ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  ctest --preset asan -j "$jobs"
