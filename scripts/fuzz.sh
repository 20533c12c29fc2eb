#!/usr/bin/env bash
# Builds the libFuzzer targets (CMake preset "fuzz", in build-fuzz) and runs each one for
# FUZZ_SECONDS (default 60), printing executions and findings per target. Exits non-zero when
# any target crashed, leaked, timed out or ran out of memory.
#   scripts/fuzz.sh                    all targets, one after the other
#   scripts/fuzz.sh smtp_reply dns_wire  only these
#   FUZZ_SECONDS=600 FUZZ_JOBS=2 scripts/fuzz.sh   longer, two targets at a time
# Seeds come from fuzz/corpus/<target> and fuzz/regressions/<target>; what the fuzzer learns goes
# to build-fuzz/fuzz-work/<target>/corpus (not into git). A crashing input is left in
# build-fuzz/fuzz-work/<target>/artifacts: copy it to fuzz/regressions/<target>/ so that the
# ctest replayer keeps it fixed.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
seconds=${FUZZ_SECONDS:-60}
jobs=${FUZZ_JOBS:-1}

# target -> -max_len: enough for the input the parser meets in practice, small enough to
# keep executions fast.
declare -A max_len=(
  [smtp_reply]=4096
  [smtp_ehlo]=2048
  [smtp_mailbox]=512
  [smtp_idna]=512
  [message_stuffing]=8192
  [message_headers]=4096
  [dns_records]=600
  [dns_wire]=1500
  [socks5]=600
  [mtasts_record]=2048
  [mtasts_policy]=8192
)
if [ "$#" -gt 0 ]; then
  targets=("$@")
else
  targets=(smtp_reply smtp_ehlo smtp_mailbox smtp_idna message_stuffing message_headers
           dns_records dns_wire socks5 mtasts_record mtasts_policy)
fi
for t in "${targets[@]}"; do
  [ -n "${max_len[$t]:-}" ] || { echo "unknown fuzz target: $t" >&2; exit 2; }
done

echo "== building fuzz targets (build-fuzz)"
cmake --preset fuzz >/dev/null
cmake --build build-fuzz -j "$(nproc)" --target $(printf 'fuzz_%s ' "${targets[@]}")

run_one() {
  local t=$1 work=$root/build-fuzz/fuzz-work/$1
  mkdir -p "$work/corpus" "$work/artifacts"
  rm -f "$work"/artifacts/*
  # -close_fd_mask=1: the targets print nothing useful on stdout.
  ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    "$root/build-fuzz/fuzz/fuzz_$t" \
      -max_total_time="$seconds" -max_len="${max_len[$t]}" -timeout=10 -rss_limit_mb=2048 \
      -print_final_stats=1 -artifact_prefix="$work/artifacts/" \
      "$work/corpus" "$root/fuzz/corpus/$t" "$root/fuzz/regressions/$t" \
      >"$work/log" 2>&1 || true
}

for t in "${targets[@]}"; do
  echo "== fuzzing $t for ${seconds}s (-max_len=${max_len[$t]})"
  run_one "$t" &
  while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do wait -n || true; done
done
wait

status=0
printf '\n%-18s %12s %8s %s\n' target executions corpus findings
for t in "${targets[@]}"; do
  work=build-fuzz/fuzz-work/$t
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/log" | tail -n1)
  corpus=$(find "$work/corpus" -type f | wc -l)
  mapfile -t found < <(find "$work/artifacts" -type f | sort)
  if [ -z "$execs" ] && [ "${#found[@]}" -eq 0 ]; then
    found=("(no final stats: see $work/log)")
  fi
  printf '%-18s %12s %8s %s\n' "$t" "${execs:-?}" "$corpus" \
    "$([ "${#found[@]}" -eq 0 ] && echo none || echo "${found[*]}")"
  [ "${#found[@]}" -eq 0 ] || status=1
done
if [ "$status" -ne 0 ]; then
  echo
  echo "Findings above: reproduce with build-fuzz/fuzz/fuzz_<target> <file>, then copy the file to"
  echo "fuzz/regressions/<target>/ so that ctest (fuzz.regress.<target>) replays it."
fi
exit "$status"
