#!/usr/bin/env python3
"""retentiond against plain SQL doing the same changes, side by side (called by scripts/benchmark.sh).

For each shape and size, a SQLite database is built with N tickets, purged 2 years after closing,
and N/2 clients (3 fields anonymised 3 years after the last contact), about half of each due. Two
shapes (SHAPES=help-desk,plain, the default, to choose):

  help-desk    3 messages a ticket, each with an attachment (a small BLOB): three levels, the shape
               of a help desk's tickets, articles and attachments
  plain        3 messages a ticket, no BLOBs: one child level

Each contender works on a fresh copy of that database, in turn (A B C D E A B C D E ...), and the
median of the runs is printed:

  retentiond   `retentiond run` (release build), audit trail and all
  raw          the same changes in set-based SQL, secure_delete on, no audit
  raw+audit    the same, plus one audit row per record changed (an INSERT ... SELECT per table)
  batched      the same changes and audit rows in batches of 5000 records (retentiond's default
               batch_size), one transaction each (on SQLite with the journal kept between them,
               as retentiond does): the least a tool that commits as it goes and audits every
               record has to do, before any planning, re-check or keyed hashing
  row-by-row   one statement per record, in key order, from a Python loop, a commit every 500
               records

It checks that retentiond and the raw SQL leave identical rows, then times an idle run (nothing
due, after enforcement), `retentiond plan`, `retentiond plan --out FILE`, and selecting the due rows. Peak memory is the
retentiond process's maximum resident set, from /usr/bin/time. On PostgreSQL and MariaDB it also
times two `retentiond run --worker` processes started together on a fresh copy (one run shared by
both) and prints how much faster than one `run` that is.

With BACKENDS=sqlite,postgres (the default when PostgreSQL 15's server binaries are installed),
the same is done on a throwaway PostgreSQL cluster started for the benchmark: each contender gets
its own copy of the source database, the raw SQL runs through psql, and the row-by-row contender
is one statement per record sent through psql (a COMMIT every 500): scripts/benchmark_postgres.py.
With mariadb in BACKENDS (the default when mariadbd is installed), the same on a throwaway MariaDB
server: scripts/benchmark_mariadb.py.
"""
import hashlib
import os
import random
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time

NOW = "2026-06-01T00:00:00Z"
CLIENT_CUTOFF = "2023-06-01"   # 3 years before NOW, in UTC
TICKET_CUTOFF = "2024-06-01"   # 2 years before NOW

POLICY = """version: 1
time_zone: UTC
state_dir: .
database: { sqlite: crm.sqlite }
safety: { max_percent: 100 }
subjects:
  clients:
    table: clients
    key: id
    rules:
      - id: client-anonymise
        register: "Clients"
        legal_basis: "contract, then 3 years"
        clock: last_contact
        after: 3y
        action: anonymise
        fields:
          name: { constant: "anonymised" }
          email: null
          phone: null
  tickets:
    table: tickets
    key: id
    rules:
      - id: ticket-purge
        register: "Support"
        legal_basis: "legitimate interest, 2 years"
        clock: closed_at
        after: 2y
        action: purge
        children:
          - table: messages
            foreign_key: ticket_id
            children:
              - { table: attachments, foreign_key: message_id }
"""


class Shape:
    """What a database holds besides the clients: tickets with 3 messages each, and (`attachments`)
    a small BLOB attached to each message."""

    def __init__(self, name, attachments):
        self.name, self.attachments = name, attachments
        self.slug = name.replace("-", "")
        self.tables = ("clients", "tickets", "messages") + (("attachments",) if attachments else ())
        self.policy = POLICY if attachments else POLICY.replace(
            "\n            children:\n              - { table: attachments, foreign_key: message_id }", "")


SHAPES = {"help-desk": Shape("help-desk", True), "plain": Shape("plain", False)}


def day(rng):
    """A date between 2020-06-01 and 2026-05-31: about half before each cutoff."""
    start = 18414  # 2020-06-01 in days since the epoch
    return time.strftime("%Y-%m-%d", time.gmtime((start + rng.randrange(0, 2190)) * 86400))


def build(path, tickets, shape):
    rng = random.Random(20261125)
    con = sqlite3.connect(path)
    con.executescript("""
        CREATE TABLE clients (id INTEGER PRIMARY KEY, name TEXT, email TEXT, phone TEXT, last_contact TEXT NOT NULL);
        CREATE INDEX clients_last_contact ON clients(last_contact);
        CREATE TABLE tickets (id INTEGER PRIMARY KEY, client_id INTEGER REFERENCES clients(id), subject TEXT, closed_at TEXT NOT NULL);
        CREATE INDEX tickets_closed_at ON tickets(closed_at);
        CREATE INDEX tickets_client ON tickets(client_id);
        CREATE TABLE messages (id INTEGER PRIMARY KEY, ticket_id INTEGER NOT NULL REFERENCES tickets(id), body TEXT);
        CREATE INDEX messages_ticket ON messages(ticket_id);
    """)
    clients = max(1, tickets // 2)
    con.executemany("INSERT INTO clients VALUES (?, ?, ?, ?, ?)",
                    ((i, f"Client {i}", f"client{i}@example.fr", f"+33 6 {i:08d}", day(rng)) for i in range(1, clients + 1)))
    con.executemany("INSERT INTO tickets VALUES (?, ?, ?, ?)",
                    ((i, rng.randrange(1, clients + 1), f"ticket {i}", day(rng)) for i in range(1, tickets + 1)))
    con.executemany("INSERT INTO messages VALUES (?, ?, ?)",
                    ((i, (i - 1) // 3 + 1, f"message {i} " + "x" * 80) for i in range(1, 3 * tickets + 1)))
    if shape.attachments:
        con.executescript("""
            CREATE TABLE attachments (id INTEGER PRIMARY KEY, message_id INTEGER NOT NULL REFERENCES messages(id), filename TEXT, content BLOB);
            CREATE INDEX attachments_message ON attachments(message_id);
        """)
        con.executemany("INSERT INTO attachments VALUES (?, ?, ?, ?)",
                        ((i, i, f"scan-{i}.pdf", b"%PDF" + b"y" * 60) for i in range(1, 3 * tickets + 1)))
    con.commit()
    con.close()


def raw(path, shape, audit=False):
    con = sqlite3.connect(path, isolation_level=None)
    con.execute("PRAGMA secure_delete = ON")
    con.execute("PRAGMA foreign_keys = ON")
    con.execute("BEGIN")
    if audit:
        con.execute("CREATE TABLE audit (seq INTEGER PRIMARY KEY, action TEXT NOT NULL, table_name TEXT NOT NULL, ref TEXT NOT NULL)")
        con.execute("INSERT INTO audit (action, table_name, ref) SELECT 'purge', 'tickets', id FROM tickets WHERE closed_at < ?", (TICKET_CUTOFF,))
        con.execute("INSERT INTO audit (action, table_name, ref) SELECT 'anonymise', 'clients', id FROM clients WHERE last_contact < ?", (CLIENT_CUTOFF,))
    if shape.attachments:
        con.execute("DELETE FROM attachments WHERE message_id IN (SELECT m.id FROM messages m JOIN tickets t ON t.id = m.ticket_id"
                    " WHERE t.closed_at < ?)", (TICKET_CUTOFF,))
    con.execute("DELETE FROM messages WHERE ticket_id IN (SELECT id FROM tickets WHERE closed_at < ?)", (TICKET_CUTOFF,))
    con.execute("DELETE FROM tickets WHERE closed_at < ?", (TICKET_CUTOFF,))
    con.execute("UPDATE clients SET name = 'anonymised', email = NULL, phone = NULL WHERE last_contact < ?", (CLIENT_CUTOFF,))
    con.execute("COMMIT")
    con.close()


BATCH = 5000


def chunks(keys):
    return [keys[i:i + BATCH] for i in range(0, len(keys), BATCH)]


def batched(path, shape):
    con = sqlite3.connect(path, isolation_level=None)
    con.execute("PRAGMA secure_delete = ON")
    con.execute("PRAGMA foreign_keys = ON")
    con.execute("PRAGMA journal_mode = PERSIST")
    con.execute("CREATE TABLE audit (seq INTEGER PRIMARY KEY, action TEXT NOT NULL, table_name TEXT NOT NULL, ref TEXT NOT NULL)")
    clients = [r[0] for r in con.execute("SELECT id FROM clients WHERE last_contact < ? ORDER BY id", (CLIENT_CUTOFF,))]
    tickets = [r[0] for r in con.execute("SELECT id FROM tickets WHERE closed_at < ? ORDER BY id", (TICKET_CUTOFF,))]
    for keys in chunks(clients):
        marks = ",".join("?" * len(keys))
        con.execute("BEGIN IMMEDIATE")
        con.execute(f"UPDATE clients SET name = 'anonymised', email = NULL, phone = NULL WHERE id IN ({marks})", keys)
        con.executemany("INSERT INTO audit (action, table_name, ref) VALUES ('anonymise', 'clients', ?)", [(k,) for k in keys])
        con.execute("COMMIT")
    for keys in chunks(tickets):
        marks = ",".join("?" * len(keys))
        con.execute("BEGIN IMMEDIATE")
        if shape.attachments:
            con.execute(f"DELETE FROM attachments WHERE message_id IN (SELECT id FROM messages WHERE ticket_id IN ({marks}))", keys)
        con.execute(f"DELETE FROM messages WHERE ticket_id IN ({marks})", keys)
        con.execute(f"DELETE FROM tickets WHERE id IN ({marks})", keys)
        con.executemany("INSERT INTO audit (action, table_name, ref) VALUES ('purge', 'tickets', ?)", [(k,) for k in keys])
        con.execute("COMMIT")
    con.execute("PRAGMA journal_mode = DELETE")
    con.close()


def row_by_row(path, shape):
    con = sqlite3.connect(path)
    con.execute("PRAGMA secure_delete = ON")
    con.execute("PRAGMA foreign_keys = ON")
    done = 0
    for (ticket,) in con.execute("SELECT id FROM tickets WHERE closed_at < ? ORDER BY id", (TICKET_CUTOFF,)).fetchall():
        if shape.attachments:
            con.execute("DELETE FROM attachments WHERE message_id IN (SELECT id FROM messages WHERE ticket_id = ?)", (ticket,))
        con.execute("DELETE FROM messages WHERE ticket_id = ?", (ticket,))
        con.execute("DELETE FROM tickets WHERE id = ?", (ticket,))
        done += 1
        if done % 500 == 0:
            con.commit()
    for (client,) in con.execute("SELECT id FROM clients WHERE last_contact < ? ORDER BY id", (CLIENT_CUTOFF,)).fetchall():
        con.execute("UPDATE clients SET name = 'anonymised', email = NULL, phone = NULL WHERE id = ?", (client,))
        done += 1
        if done % 500 == 0:
            con.commit()
    con.commit()
    con.close()


def select_due(path):
    con = sqlite3.connect(path)
    con.execute("SELECT id FROM tickets WHERE closed_at < ?", (TICKET_CUTOFF,)).fetchall()
    con.execute("SELECT id, name, email, phone FROM clients WHERE last_contact < ?", (CLIENT_CUTOFF,)).fetchall()
    con.close()


def fingerprint(path, shape):
    con = sqlite3.connect(path)
    digest = hashlib.sha256()
    for table in shape.tables:
        for row in con.execute(f"SELECT * FROM {table} ORDER BY id"):
            digest.update(repr(row).encode())
    con.close()
    return digest.hexdigest()


def retentiond(binary, folder, *arguments):
    """Runs retentiond in `folder`; returns (seconds, peak RSS in MB)."""
    timing = os.path.join(folder, "time.txt")
    start = time.monotonic()
    result = subprocess.run(["/usr/bin/time", "-f", "%M", "-o", timing, binary, *arguments, "--config", "policy.yaml",
                             "--now", NOW, "--log-level", "error"], cwd=folder, capture_output=True, text=True)
    elapsed = time.monotonic() - start
    if result.returncode not in (0, 2):
        sys.exit(f"retentiond {' '.join(arguments)} failed ({result.returncode}): {result.stderr}")
    with open(timing) as f:
        peak = int(f.read().split()[-1]) / 1024
    return elapsed, peak


def workers(binary, folder, count):
    """Starts `count` `retentiond run --worker` processes together in `folder`; seconds until all exit."""
    start = time.monotonic()
    processes = [subprocess.Popen([binary, "run", "--worker", "--config", "policy.yaml", "--now", NOW, "--log-level", "error"],
                                  cwd=folder, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True) for _ in range(count)]
    for process in processes:
        _, errors = process.communicate()
        if process.returncode != 0:
            sys.exit(f"retentiond run --worker failed ({process.returncode}): {errors}")
    return time.monotonic() - start


def timed(function, *arguments):
    start = time.monotonic()
    function(*arguments)
    return time.monotonic() - start



class Server:
    """What `measure_server` needs of a database server: how to build a source database of a shape,
    copy it, run SQL on a copy, fingerprint a copy's rows, and the contenders written in its SQL."""

    def __init__(self, build, query, copy, database, raw, raw_audit, batched, row_by_row, fingerprint, select_due,
                 end_round=lambda prefix: None):
        self.build, self.query, self.copy, self.database = build, query, copy, database
        self.raw, self.raw_audit, self.batched, self.row_by_row = raw, raw_audit, batched, row_by_row
        self.fingerprint, self.select_due, self.end_round = fingerprint, select_due, end_round


CONTENDERS = ("retentiond", "raw", "raw+audit", "batched", "row-by-row", "plan", "plan-out", "select")


def measure_server(binary, rounds, size, shape, server):
    """The contenders on a database server (PostgreSQL, MariaDB), each on a fresh copy of one
    source database, alternated round by round; whether each left the rows retentiond left."""
    source = f"source_{shape.slug}_{size}"
    server.build(source, size, shape)
    records = int(server.query(source, f"SELECT (SELECT count(*) FROM tickets WHERE closed_at < '{TICKET_CUTOFF}')"
                                       f" + (SELECT count(*) FROM clients WHERE last_contact < '{CLIENT_CUTOFF}')"))
    work = tempfile.mkdtemp(prefix="retentiond-bench-")
    prefix = f"copy_{shape.slug}_{size}_"
    counter = [0]

    def fresh():
        counter[0] += 1
        name = f"{prefix}{counter[0]}"
        server.copy(source, name, shape)
        folder = os.path.join(work, name)
        os.makedirs(folder)
        with open(os.path.join(folder, "policy.yaml"), "w") as f:
            f.write(shape.policy.replace("database: { sqlite: crm.sqlite }", f"database: {server.database(name)}"))
        return name, folder

    def timed_script(name, script):
        start = time.monotonic()
        server.query(name, script=script)
        return time.monotonic() - start

    try:
        times = {k: [] for k in CONTENDERS + ("worker", "workers")}
        peaks, idle, same = [], [], True
        for _ in range(rounds):
            name, folder = fresh()
            seconds, peak = retentiond(binary, folder, "run")
            times["retentiond"].append(seconds)
            peaks.append(peak)
            idle.append(retentiond(binary, folder, "run")[0])
            enforced = server.fingerprint(name, shape)
            name, _ = fresh()
            times["raw"].append(timed_script(name, server.raw(shape)))
            same = same and server.fingerprint(name, shape) == enforced
            name, _ = fresh()
            times["raw+audit"].append(timed_script(name, server.raw_audit(shape)))
            name, _ = fresh()
            times["batched"].append(timed(server.batched, name, shape))
            same = same and server.fingerprint(name, shape) == enforced
            name, _ = fresh()
            times["row-by-row"].append(timed(server.row_by_row, name, shape))
            same = same and server.fingerprint(name, shape) == enforced
            name, folder = fresh()
            times["plan"].append(retentiond(binary, folder, "plan")[0])
            times["plan-out"].append(retentiond(binary, folder, "plan", "--out", "review.plan")[0])
            times["select"].append(timed(server.select_due, name))
            name, folder = fresh()
            times["worker"].append(workers(binary, folder, 1))
            same = same and server.fingerprint(name, shape) == enforced
            name, folder = fresh()
            times["workers"].append(workers(binary, folder, 2))
            same = same and server.fingerprint(name, shape) == enforced
            server.end_round(prefix)
        return records, times, peaks, idle, same
    finally:
        shutil.rmtree(work, ignore_errors=True)


def measure_sqlite(binary, rounds, size, shape):
    work = tempfile.mkdtemp(prefix="retentiond-bench-")
    try:
        source = os.path.join(work, "source.sqlite")
        build(source, size, shape)
        con = sqlite3.connect(source)
        records = con.execute("SELECT count(*) FROM tickets WHERE closed_at < ?", (TICKET_CUTOFF,)).fetchone()[0] \
            + con.execute("SELECT count(*) FROM clients WHERE last_contact < ?", (CLIENT_CUTOFF,)).fetchone()[0]
        con.close()

        def fresh(name):
            folder = os.path.join(work, name)
            shutil.rmtree(folder, ignore_errors=True)
            os.makedirs(folder)
            shutil.copy(source, os.path.join(folder, "crm.sqlite"))
            with open(os.path.join(folder, "policy.yaml"), "w") as f:
                f.write(shape.policy)
            return os.path.join(folder, "crm.sqlite")

        times = {k: [] for k in CONTENDERS}
        peaks, idle, same = [], [], True
        for _ in range(rounds):
            database = fresh("retentiond")
            folder = os.path.dirname(database)
            seconds, peak = retentiond(binary, folder, "run")
            times["retentiond"].append(seconds)
            peaks.append(peak)
            idle.append(retentiond(binary, folder, "run")[0])
            enforced = fingerprint(database, shape)
            database = fresh("raw")
            times["raw"].append(timed(raw, database, shape))
            same = same and fingerprint(database, shape) == enforced
            database = fresh("raw-audit")
            times["raw+audit"].append(timed(raw, database, shape, True))
            database = fresh("batched")
            times["batched"].append(timed(batched, database, shape))
            same = same and fingerprint(database, shape) == enforced
            database = fresh("row-by-row")
            times["row-by-row"].append(timed(row_by_row, database, shape))
            same = same and fingerprint(database, shape) == enforced
            database = fresh("plan")
            folder = os.path.dirname(database)
            times["plan"].append(retentiond(binary, folder, "plan")[0])
            times["plan-out"].append(retentiond(binary, folder, "plan", "--out", "review.plan")[0])
            times["select"].append(timed(select_due, database))
        return records, times, peaks, idle, same
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main():
    binary, rounds, sizes = sys.argv[1], int(sys.argv[2]), [int(s) for s in sys.argv[3:]]
    import benchmark_postgres
    bindir = benchmark_postgres.bindir()
    mariadb = shutil.which("mariadbd") or os.path.exists("/usr/sbin/mariadbd")
    default = ["sqlite"] + (["postgres"] if bindir else []) + (["mariadb"] if mariadb else [])
    backends = os.environ.get("BACKENDS", ",".join(default)).split(",")
    shapes = os.environ.get("SHAPES", ",".join(SHAPES)).split(",")
    for name in shapes:
        if name not in SHAPES:
            sys.exit(f"SHAPES names {name!r}; the shapes are {', '.join(SHAPES)}")
    if "postgres" in backends and not bindir:
        sys.exit("BACKENDS names postgres, but PostgreSQL's server binaries (initdb) are not installed")
    if "mariadb" in backends and not mariadb:
        sys.exit("BACKENDS names mariadb, but MariaDB's server (mariadbd, Debian: mariadb-server) is not installed")
    if "mariadb" in backends:
        os.environ["PATH"] += ":/usr/sbin"
        import benchmark_mariadb
    print(f"{'database':>8} {'shape':>9} {'tickets':>8} {'records':>8} {'retentiond':>10} {'raw':>7} {'raw+aud':>7} {'batched':>7} {'by-row':>7} "
          f"{'ret/raw':>7} {'ret/r+a':>7} {'ret/bat':>7} {'row/ret':>7} {'RSS MB':>7} {'idle':>6} {'plan':>6} {'--out':>6} {'select':>6} {'same':>5}")
    pg = benchmark_postgres.Postgres(bindir) if "postgres" in backends else None
    mdb = benchmark_mariadb.MariaDB() if "mariadb" in backends else None
    try:
        for backend in backends:
            for shape in (SHAPES[name] for name in shapes):
                for size in sizes:
                    if backend == "sqlite":
                        records, times, peaks, idle, same = measure_sqlite(binary, rounds, size, shape)
                    elif backend == "mariadb":
                        records, times, peaks, idle, same = measure_server(binary, rounds, size, shape, benchmark_mariadb.server(mdb))
                    else:
                        records, times, peaks, idle, same = measure_server(binary, rounds, size, shape, benchmark_postgres.server(pg))
                    m = {k: statistics.median(v) for k, v in times.items()}
                    print(f"{backend:>8} {shape.name:>9} {size:>8} {records:>8} {m['retentiond']:>10.2f} {m['raw']:>7.2f} {m['raw+audit']:>7.2f} "
                          f"{m['batched']:>7.2f} {m['row-by-row']:>7.2f} "
                          f"{m['retentiond'] / m['raw']:>7.1f} {m['retentiond'] / m['raw+audit']:>7.1f} {m['retentiond'] / m['batched']:>7.1f} "
                          f"{m['row-by-row'] / m['retentiond']:>7.2f} {max(peaks):>7.1f} {statistics.median(idle):>6.2f} {m['plan']:>6.2f} "
                          f"{m['plan-out']:>6.2f} {m['select']:>6.2f} {'yes' if same else 'NO':>5}", flush=True)
                    if "workers" in m:
                        print(f"{'':>8} {shape.name:>9} {size:>8} run --worker: one process {m['worker']:.2f} s, two together {m['workers']:.2f} s "
                              f"({m['worker'] / m['workers']:.2f}x faster with two)", flush=True)
                    if not same:
                        sys.exit(f"{backend}, {shape.name}: retentiond and the raw SQL left different rows")
    finally:
        if pg:
            pg.stop()
        if mdb:
            mdb.stop()


if __name__ == "__main__":
    main()
