#!/usr/bin/env bash
# Runs the whole test suite several times in a row while busy loops keep every core busy, and
# prints one line per run: whether it passed, how long it took, and which tests failed.
# A suite that passes only on an idle machine fails in CI at random; this is how to find out.
#
#   scripts/suite-under-load.sh [RUNS] [BUSY_LOOPS]     # defaults: 10 runs, one loop per core
#
# Each run's whole output is kept in $LOGS (default /tmp/suite-under-load). Exits 1 after the
# runs if any was red. Builds the tests first (without load); the runs use --skip-build.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-10}
loops=${2:-$(nproc)}
logs=${LOGS:-/tmp/suite-under-load}
mkdir -p "$logs"

swift build --build-tests

busy=()
stop_busy() { [ ${#busy[@]} -eq 0 ] || kill "${busy[@]}" 2>/dev/null || true; }
trap stop_busy EXIT
for _ in $(seq "$loops"); do
  (while :; do :; done) &
  busy+=($!)
done
echo "$loops busy loop(s) started; $runs run(s) of the suite; logs in $logs"

red=0
for run in $(seq "$runs"); do
  log="$logs/run-$run.log"
  start=$(date +%s)
  if swift test --skip-build > "$log" 2>&1; then status=green; else status=red; red=$((red + 1)); fi
  seconds=$(( $(date +%s) - start ))
  summary=$(grep -E "^✔ Test run with|^✘ Test run with" "$log" | tail -1 || true)
  echo "run $run: $status in ${seconds} s — ${summary:-no summary line (see $log)}"
  if [ "$status" = red ]; then
    grep -E "^✘ Test [^r]|recorded an issue" "$log" | head -5 | sed 's/^/    /' || true
  fi
done
echo "$((runs - red)) of $runs run(s) green under $loops busy loop(s)"
[ "$red" -eq 0 ]
