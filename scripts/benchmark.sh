#!/usr/bin/env bash
# retentiond side by side with plain SQL doing the same changes (release build):
# per size, the median wall time of `retentiond run`, of the raw set-based SQL (no audit), of the
# raw SQL plus one audit row per record, of the same in batches of 5000 with their audit rows
# (one transaction each), and of one statement per record (a Python loop), their
# ratios, retentiond's peak memory, an idle run (nothing due), `plan`, and selecting the due rows;
# and a check that retentiond and the raw SQL leave identical rows — on SQLite and, when PostgreSQL
# 15 is installed, on a throwaway PostgreSQL cluster (BACKENDS=sqlite or postgres to choose).
# Details: scripts/benchmark.py.
#
#   scripts/benchmark.sh [TICKETS…]     default: 10000 100000 (clients: half as many; 3 messages a ticket)
#   ROUNDS=5 scripts/benchmark.sh …      runs per contender, alternated (default 3); medians are printed
set -euo pipefail
cd "$(dirname "$0")/.."
sizes=("${@:-10000 100000}")
read -r -a sizes <<< "${sizes[*]}"
[ -x /usr/bin/time ] || { echo "needs /usr/bin/time (Debian: apt-get install time)" >&2; exit 1; }
swift build -c release --product retentiond >/dev/null
echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -sr); times in seconds"
exec python3 scripts/benchmark.py "$PWD/.build/release/retentiond" "${ROUNDS:-3}" "${sizes[@]}"
