#!/usr/bin/env bash
# retentiond side by side with plain SQL doing the same changes (release build), on two shapes
# (SHAPES=help-desk,plain: tickets with messages and attachments, or messages only):
# per shape and size, the median wall time of `retentiond run`, of the raw set-based SQL (no
# audit), of the raw SQL plus one audit row per record, of the same in batches of 5000 with their
# audit rows (one transaction each), and of one statement per record in key order (SQLite: a
# Python loop; the servers: a statement per record through the client), their ratios,
# retentiond's peak memory, an idle run (nothing due), `plan`, `plan --out`, and selecting the
# due rows; and a check that retentiond, the raw SQL, the batches and the row-by-row script leave
# identical rows — on SQLite and, where their servers are installed, on a throwaway PostgreSQL 15
# cluster and a throwaway MariaDB server (BACKENDS=sqlite,postgres,mariadb to choose; on the
# servers also one `run --worker` and two together). Details: scripts/benchmark.py.
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
