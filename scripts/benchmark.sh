#!/usr/bin/env bash
# Measures `retentiond run` (release build) on the demo CRM at growing sizes and prints, per size,
# the rows in the database, the records changed, the wall time, the throughput and the peak
# resident memory of the run process. Memory must stay flat as the tables grow: batches are
# bounded and the plan streams through a file.
#
#   scripts/benchmark.sh [SCALE…]      default: 1 10 50 (1 = 1200 third parties, ~9000 rows)
set -euo pipefail
cd "$(dirname "$0")/.."
scales=("${@:-1 10 50}")
read -r -a scales <<< "${scales[*]}"
swift build -c release --product retentiond >/dev/null
bin=.build/release/retentiond
now=2026-11-23T10:00:00Z
printf '%-6s %10s %10s %9s %10s %12s\n' scale rows changed seconds "records/s" "peak RSS MB"
for scale in "${scales[@]}"; do
  dir=$(mktemp -d)
  "$bin" demo --seed 1 --scale "$scale" --dir "$dir" --now "$now" --no-run >/dev/null
  python3 - "$bin" "$dir" "$now" "$scale" <<'PY'
import json, os, resource, sqlite3, subprocess, sys, time
binary, folder, now, scale = sys.argv[1:]
db = os.path.join(folder, "crm.sqlite")
con = sqlite3.connect(db)
tables = [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%'")]
rows = sum(con.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0] for t in tables)
con.close()
start = time.monotonic()
result = subprocess.run([binary, "run", "--config", "etc/retentiond/retentiond.yaml", "--state-dir", folder,
                         "--now", now, "--allow-more"], capture_output=True, text=True)
elapsed = time.monotonic() - start
if result.returncode != 0:
    sys.exit(f"run failed ({result.returncode}): {result.stderr}")
peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
report = sorted(f for f in os.listdir(os.path.join(folder, "reports")) if f.endswith(".json"))[-1]
with open(os.path.join(folder, "reports", report)) as f:
    data = json.load(f)
changed = sum(r["flagged"] + r["anonymised"] + r["purged"] for r in data["rules"])
print(f"{scale:<6} {rows:>10} {changed:>10} {elapsed:>9.2f} {changed / elapsed:>10.0f} {peak_kb / 1024:>12.1f}")
PY
  rm -rf "$dir"
done
