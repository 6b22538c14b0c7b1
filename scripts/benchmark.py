#!/usr/bin/env python3
"""retentiond against plain SQL doing the same changes, side by side (called by scripts/benchmark.sh).

For each size, a SQLite database is built with N tickets (3 messages each, each message with an
attachment: three levels, the shape of a help desk's tickets, articles and attachments; purged 2
years after closing) and N/2 clients (3 fields anonymised 3 years after the last contact), about half of each
due. Each contender works on a fresh copy of that database, in turn (A B C D E A B C D E ...), and the
median of the runs is printed:

  retentiond   `retentiond run` (release build), audit trail and all
  raw          the same changes in set-based SQL, secure_delete on, no audit
  raw+audit    the same, plus one audit row per record changed (an INSERT ... SELECT per table)
  batched      the same changes and audit rows in batches of 5000 records (retentiond's default
               batch_size), one transaction each (on SQLite with the journal kept between them,
               as retentiond does): the least a tool that commits as it goes and audits every
               record has to do, before any planning, re-check or keyed hashing
  row-by-row   one statement per record from a Python loop, a commit every 500 records

It checks that retentiond and the raw SQL leave identical rows, then times an idle run (nothing
due, after enforcement), `retentiond plan`, `retentiond plan --out FILE`, and selecting the due rows. Peak memory is the
retentiond process's maximum resident set, from /usr/bin/time. On PostgreSQL it also times two
`retentiond run --worker` processes started together on a fresh copy (one run shared by both) and
prints how much faster than one `run` that is.

With BACKENDS=sqlite,postgres (the default when PostgreSQL 15's server binaries are installed),
the same is done on a throwaway PostgreSQL cluster started for the benchmark (initdb, a free
port, stopped at the end; run as the `postgres` user when started as root): each contender gets
its own copy of the source database (CREATE DATABASE … TEMPLATE), the raw SQL runs through psql,
and the row-by-row contender is one statement per record sent through psql (a COMMIT every 500).
With mariadb in BACKENDS (the default when mariadbd is installed), the same on a throwaway MariaDB
server: scripts/benchmark_mariadb.py.
"""
import hashlib
import os
import pwd
import socket
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


def day(rng):
    """A date between 2020-06-01 and 2026-05-31: about half before each cutoff."""
    start = 18414  # 2020-06-01 in days since the epoch
    return time.strftime("%Y-%m-%d", time.gmtime((start + rng.randrange(0, 2190)) * 86400))


def build(path, tickets):
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
        CREATE TABLE attachments (id INTEGER PRIMARY KEY, message_id INTEGER NOT NULL REFERENCES messages(id), filename TEXT, content BLOB);
        CREATE INDEX attachments_message ON attachments(message_id);
    """)
    clients = max(1, tickets // 2)
    con.executemany("INSERT INTO clients VALUES (?, ?, ?, ?, ?)",
                    ((i, f"Client {i}", f"client{i}@example.fr", f"+33 6 {i:08d}", day(rng)) for i in range(1, clients + 1)))
    con.executemany("INSERT INTO tickets VALUES (?, ?, ?, ?)",
                    ((i, rng.randrange(1, clients + 1), f"ticket {i}", day(rng)) for i in range(1, tickets + 1)))
    con.executemany("INSERT INTO messages VALUES (?, ?, ?)",
                    ((i, (i - 1) // 3 + 1, f"message {i} " + "x" * 80) for i in range(1, 3 * tickets + 1)))
    con.executemany("INSERT INTO attachments VALUES (?, ?, ?, ?)",
                    ((i, i, f"scan-{i}.pdf", b"%PDF" + b"y" * 60) for i in range(1, 3 * tickets + 1)))
    con.commit()
    con.close()


def raw(path, audit=False):
    con = sqlite3.connect(path, isolation_level=None)
    con.execute("PRAGMA secure_delete = ON")
    con.execute("PRAGMA foreign_keys = ON")
    con.execute("BEGIN")
    if audit:
        con.execute("CREATE TABLE audit (seq INTEGER PRIMARY KEY, action TEXT NOT NULL, table_name TEXT NOT NULL, ref TEXT NOT NULL)")
        con.execute("INSERT INTO audit (action, table_name, ref) SELECT 'purge', 'tickets', id FROM tickets WHERE closed_at < ?", (TICKET_CUTOFF,))
        con.execute("INSERT INTO audit (action, table_name, ref) SELECT 'anonymise', 'clients', id FROM clients WHERE last_contact < ?", (CLIENT_CUTOFF,))
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


def batched(path):
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
        con.execute(f"DELETE FROM attachments WHERE message_id IN (SELECT id FROM messages WHERE ticket_id IN ({marks}))", keys)
        con.execute(f"DELETE FROM messages WHERE ticket_id IN ({marks})", keys)
        con.execute(f"DELETE FROM tickets WHERE id IN ({marks})", keys)
        con.executemany("INSERT INTO audit (action, table_name, ref) VALUES ('purge', 'tickets', ?)", [(k,) for k in keys])
        con.execute("COMMIT")
    con.execute("PRAGMA journal_mode = DELETE")
    con.close()


def row_by_row(path):
    con = sqlite3.connect(path)
    con.execute("PRAGMA secure_delete = ON")
    con.execute("PRAGMA foreign_keys = ON")
    done = 0
    for (ticket,) in con.execute("SELECT id FROM tickets WHERE closed_at < ?", (TICKET_CUTOFF,)).fetchall():
        con.execute("DELETE FROM attachments WHERE message_id IN (SELECT id FROM messages WHERE ticket_id = ?)", (ticket,))
        con.execute("DELETE FROM messages WHERE ticket_id = ?", (ticket,))
        con.execute("DELETE FROM tickets WHERE id = ?", (ticket,))
        done += 1
        if done % 500 == 0:
            con.commit()
    for (client,) in con.execute("SELECT id FROM clients WHERE last_contact < ?", (CLIENT_CUTOFF,)).fetchall():
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


def fingerprint(path):
    con = sqlite3.connect(path)
    digest = hashlib.sha256()
    for table in ("clients", "tickets", "messages", "attachments"):
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



# ---------------------------------------------------------------- PostgreSQL

PG_SCHEMA = """
CREATE TABLE clients (id INTEGER PRIMARY KEY, name TEXT, email TEXT, phone TEXT, last_contact TEXT NOT NULL);
CREATE INDEX clients_last_contact ON clients(last_contact);
CREATE TABLE tickets (id INTEGER PRIMARY KEY, client_id INTEGER REFERENCES clients(id), subject TEXT, closed_at TEXT NOT NULL);
CREATE INDEX tickets_closed_at ON tickets(closed_at);
CREATE INDEX tickets_client ON tickets(client_id);
CREATE TABLE messages (id INTEGER PRIMARY KEY, ticket_id INTEGER NOT NULL REFERENCES tickets(id), body TEXT);
CREATE INDEX messages_ticket ON messages(ticket_id);
CREATE TABLE attachments (id INTEGER PRIMARY KEY, message_id INTEGER NOT NULL REFERENCES messages(id), filename TEXT, content BYTEA);
CREATE INDEX attachments_message ON attachments(message_id);
"""


class Postgres:
    """A throwaway PostgreSQL cluster for the benchmark."""

    def __init__(self, bindir):
        self.bindir = bindir
        self.dir = tempfile.mkdtemp(prefix="retentiond-bench-pg-")
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.as_postgres = os.geteuid() == 0
        if self.as_postgres:
            uid = pwd.getpwnam("postgres")
            os.chown(self.dir, uid.pw_uid, uid.pw_gid)
        self.server([f"{bindir}/initdb", "-D", f"{self.dir}/data", "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync"])
        self.server([f"{bindir}/pg_ctl", "-D", f"{self.dir}/data", "-l", f"{self.dir}/log", "-w", "-o",
                     f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1", "start"])

    def server(self, command):
        if self.as_postgres:
            command = ["runuser", "-u", "postgres", "--"] + command
        subprocess.run(command, check=True, capture_output=True, stdin=subprocess.DEVNULL, close_fds=True)

    def psql(self, database, sql=None, script=None):
        command = [f"{self.bindir}/psql", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "-d", database,
                   "-q", "-t", "-A", "-v", "ON_ERROR_STOP=1"]
        if sql is not None:
            command += ["-c", sql]
        result = subprocess.run(command, input=script, capture_output=True, text=True)
        if result.returncode != 0:
            sys.exit(f"psql failed: {result.stderr}")
        return result.stdout.strip()

    def stop(self):
        try:
            self.server([f"{self.bindir}/pg_ctl", "-D", f"{self.dir}/data", "-m", "immediate", "stop"])
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)


def pg_build(pg, name, tickets):
    """The same shape and proportions as `build`, generated in the server (deterministic)."""
    pg.psql("postgres", f"CREATE DATABASE {name}")
    clients = max(1, tickets // 2)
    def day(seed):
        return f"to_char(date '2020-06-01' + ((hashtext({seed}) & 2147483647) % 2190), 'YYYY-MM-DD')"
    pg.psql(name, script=PG_SCHEMA + f"""
        INSERT INTO clients SELECT i, 'Client ' || i, 'client' || i || '@example.fr', '+33 6 ' || lpad(i::text, 8, '0'),
               {day("'c' || i")} FROM generate_series(1, {clients}) AS i;
        INSERT INTO tickets SELECT i, 1 + (hashtext('t' || i) & 2147483647) % {clients}, 'ticket ' || i,
               {day("'d' || i")} FROM generate_series(1, {tickets}) AS i;
        INSERT INTO messages SELECT i, (i - 1) / 3 + 1, 'message ' || i || ' ' || repeat('x', 80) FROM generate_series(1, {3 * tickets}) AS i;
        INSERT INTO attachments SELECT i, i, 'scan-' || i || '.pdf', convert_to('%PDF' || repeat('y', 60), 'UTF8') FROM generate_series(1, {3 * tickets}) AS i;
        ANALYZE;
    """)


PG_RAW = f"""
BEGIN;
DELETE FROM attachments WHERE message_id IN (SELECT m.id FROM messages m JOIN tickets t ON t.id = m.ticket_id WHERE t.closed_at < '{TICKET_CUTOFF}');
DELETE FROM messages WHERE ticket_id IN (SELECT id FROM tickets WHERE closed_at < '{TICKET_CUTOFF}');
DELETE FROM tickets WHERE closed_at < '{TICKET_CUTOFF}';
UPDATE clients SET name = 'anonymised', email = NULL, phone = NULL WHERE last_contact < '{CLIENT_CUTOFF}';
COMMIT;
"""

PG_RAW_AUDIT = f"""
BEGIN;
CREATE TABLE audit (seq BIGSERIAL PRIMARY KEY, action TEXT NOT NULL, table_name TEXT NOT NULL, ref TEXT NOT NULL);
INSERT INTO audit (action, table_name, ref) SELECT 'purge', 'tickets', id FROM tickets WHERE closed_at < '{TICKET_CUTOFF}';
INSERT INTO audit (action, table_name, ref) SELECT 'anonymise', 'clients', id FROM clients WHERE last_contact < '{CLIENT_CUTOFF}';
COMMIT;
""" + PG_RAW


def pg_row_by_row(pg, database):
    tickets = pg.psql(database, f"SELECT id FROM tickets WHERE closed_at < '{TICKET_CUTOFF}' ORDER BY id").split()
    clients = pg.psql(database, f"SELECT id FROM clients WHERE last_contact < '{CLIENT_CUTOFF}' ORDER BY id").split()
    lines, done = ["BEGIN;"], 0
    for ticket in tickets:
        lines += [f"DELETE FROM attachments WHERE message_id IN (SELECT id FROM messages WHERE ticket_id = {ticket});",
                  f"DELETE FROM messages WHERE ticket_id = {ticket};", f"DELETE FROM tickets WHERE id = {ticket};"]
        done += 1
        if done % 500 == 0:
            lines += ["COMMIT;", "BEGIN;"]
    for client in clients:
        lines.append(f"UPDATE clients SET name = 'anonymised', email = NULL, phone = NULL WHERE id = {client};")
        done += 1
        if done % 500 == 0:
            lines += ["COMMIT;", "BEGIN;"]
    lines.append("COMMIT;")
    pg.psql(database, script="\n".join(lines))


def pg_batched(pg, database):
    clients = pg.psql(database, f"SELECT id FROM clients WHERE last_contact < '{CLIENT_CUTOFF}' ORDER BY id").split()
    tickets = pg.psql(database, f"SELECT id FROM tickets WHERE closed_at < '{TICKET_CUTOFF}' ORDER BY id").split()
    lines = ["CREATE TABLE audit (seq BIGSERIAL PRIMARY KEY, action TEXT NOT NULL, table_name TEXT NOT NULL, ref TEXT NOT NULL);"]
    for keys in chunks(clients):
        listed = ",".join(keys)
        lines += ["BEGIN;", f"UPDATE clients SET name = 'anonymised', email = NULL, phone = NULL WHERE id IN ({listed});",
                  f"INSERT INTO audit (action, table_name, ref) SELECT 'anonymise', 'clients', k FROM unnest('{{{listed}}}'::text[]) AS k;",
                  "COMMIT;"]
    for keys in chunks(tickets):
        listed = ",".join(keys)
        # `= ANY (ARRAY(…))`, as retentiond writes it: with `IN (SELECT …)` and thousands of keys
        # PostgreSQL hash-joins a scan of the whole child table, in every batch.
        lines += ["BEGIN;", f"DELETE FROM attachments WHERE message_id = ANY (ARRAY(SELECT id FROM messages WHERE ticket_id IN ({listed})));",
                  f"DELETE FROM messages WHERE ticket_id IN ({listed});", f"DELETE FROM tickets WHERE id IN ({listed});",
                  f"INSERT INTO audit (action, table_name, ref) SELECT 'purge', 'tickets', k FROM unnest('{{{listed}}}'::text[]) AS k;",
                  "COMMIT;"]
    pg.psql(database, script="\n".join(lines))


def pg_fingerprint(pg, database):
    return pg.psql(database, "SELECT md5(string_agg(t, '|' ORDER BY t)) FROM ("
                   "SELECT 'c' || row(c.*)::text AS t FROM clients c UNION ALL SELECT 't' || row(t.*)::text FROM tickets t "
                   "UNION ALL SELECT 'm' || row(m.*)::text FROM messages m UNION ALL SELECT 'a' || row(a.*)::text FROM attachments a) AS rows")


def pg_select_due(pg, database):
    # The rows themselves, to the client, as on SQLite (and as `plan` reads them): not a count.
    pg.psql(database, f"SELECT id FROM tickets WHERE closed_at < '{TICKET_CUTOFF}'")
    pg.psql(database, f"SELECT id, name, email, phone FROM clients WHERE last_contact < '{CLIENT_CUTOFF}'")


class Server:
    """What `measure_server` needs of a database server: how to build the source database, copy
    it, run SQL on a copy, fingerprint a copy's rows, and the contenders written in its SQL."""

    def __init__(self, build, query, copy, database, raw, raw_audit, batched, row_by_row, fingerprint, select_due,
                 end_round=lambda size: None):
        self.build, self.query, self.copy, self.database = build, query, copy, database
        self.raw, self.raw_audit, self.batched, self.row_by_row = raw, raw_audit, batched, row_by_row
        self.fingerprint, self.select_due, self.end_round = fingerprint, select_due, end_round


def postgres_server(pg):
    return Server(
        build=lambda name, size: pg_build(pg, name, size),
        query=pg.psql,
        copy=lambda source, name: pg.psql("postgres", f"CREATE DATABASE {name} TEMPLATE {source}"),
        database=lambda name: f"{{ postgres: {{ host: 127.0.0.1, port: {pg.port}, database: {name}, user: postgres, tls: disable }} }}",
        raw=PG_RAW, raw_audit=PG_RAW_AUDIT,
        batched=lambda name: pg_batched(pg, name), row_by_row=lambda name: pg_row_by_row(pg, name),
        fingerprint=lambda name: pg_fingerprint(pg, name), select_due=lambda name: pg_select_due(pg, name))


def measure_server(binary, rounds, size, server):
    """The contenders on a database server (PostgreSQL, MariaDB), each on a fresh copy of one
    source database, alternated round by round; whether each left the rows retentiond left."""
    source = f"source_{size}"
    server.build(source, size)
    records = int(server.query(source, f"SELECT (SELECT count(*) FROM tickets WHERE closed_at < '{TICKET_CUTOFF}')"
                                       f" + (SELECT count(*) FROM clients WHERE last_contact < '{CLIENT_CUTOFF}')"))
    work = tempfile.mkdtemp(prefix="retentiond-bench-")
    counter = [0]

    def fresh():
        counter[0] += 1
        name = f"copy_{size}_{counter[0]}"
        server.copy(source, name)
        folder = os.path.join(work, name)
        os.makedirs(folder)
        with open(os.path.join(folder, "policy.yaml"), "w") as f:
            f.write(POLICY.replace("database: { sqlite: crm.sqlite }", f"database: {server.database(name)}"))
        return name, folder

    def timed_script(name, script):
        start = time.monotonic()
        server.query(name, script=script)
        return time.monotonic() - start

    try:
        times = {k: [] for k in ("retentiond", "raw", "raw+audit", "batched", "row-by-row", "plan", "plan-out", "select", "worker", "workers")}
        peaks, idle, same = [], [], True
        for _ in range(rounds):
            name, folder = fresh()
            seconds, peak = retentiond(binary, folder, "run")
            times["retentiond"].append(seconds)
            peaks.append(peak)
            idle.append(retentiond(binary, folder, "run")[0])
            enforced = server.fingerprint(name)
            name, _ = fresh()
            times["raw"].append(timed_script(name, server.raw))
            same = same and server.fingerprint(name) == enforced
            name, _ = fresh()
            times["raw+audit"].append(timed_script(name, server.raw_audit))
            name, _ = fresh()
            times["batched"].append(timed(server.batched, name))
            same = same and server.fingerprint(name) == enforced
            name, _ = fresh()
            times["row-by-row"].append(timed(server.row_by_row, name))
            same = same and server.fingerprint(name) == enforced
            name, folder = fresh()
            times["plan"].append(retentiond(binary, folder, "plan")[0])
            times["plan-out"].append(retentiond(binary, folder, "plan", "--out", "review.plan")[0])
            times["select"].append(timed(server.select_due, name))
            name, folder = fresh()
            times["worker"].append(workers(binary, folder, 1))
            same = same and server.fingerprint(name) == enforced
            name, folder = fresh()
            times["workers"].append(workers(binary, folder, 2))
            same = same and server.fingerprint(name) == enforced
            server.end_round(size)
        return records, times, peaks, idle, same
    finally:
        shutil.rmtree(work, ignore_errors=True)

def measure_sqlite(binary, rounds, size):
    work = tempfile.mkdtemp(prefix="retentiond-bench-")
    try:
        source = os.path.join(work, "source.sqlite")
        build(source, size)
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
                f.write(POLICY)
            return folder

        times = {k: [] for k in ("retentiond", "raw", "raw+audit", "batched", "row-by-row", "plan", "plan-out", "select")}
        peaks, idle, same = [], [], True
        for _ in range(rounds):
            folder = fresh("retentiond")
            seconds, peak = retentiond(binary, folder, "run")
            times["retentiond"].append(seconds)
            peaks.append(peak)
            idle.append(retentiond(binary, folder, "run")[0])
            enforced = fingerprint(os.path.join(folder, "crm.sqlite"))
            folder = fresh("raw")
            times["raw"].append(timed(raw, os.path.join(folder, "crm.sqlite")))
            same = same and fingerprint(os.path.join(folder, "crm.sqlite")) == enforced
            folder = fresh("raw-audit")
            times["raw+audit"].append(timed(raw, os.path.join(folder, "crm.sqlite"), True))
            folder = fresh("batched")
            times["batched"].append(timed(batched, os.path.join(folder, "crm.sqlite")))
            same = same and fingerprint(os.path.join(folder, "crm.sqlite")) == enforced
            folder = fresh("row-by-row")
            times["row-by-row"].append(timed(row_by_row, os.path.join(folder, "crm.sqlite")))
            same = same and fingerprint(os.path.join(folder, "crm.sqlite")) == enforced
            folder = fresh("plan")
            times["plan"].append(retentiond(binary, folder, "plan")[0])
            times["plan-out"].append(retentiond(binary, folder, "plan", "--out", "review.plan")[0])
            times["select"].append(timed(select_due, os.path.join(folder, "crm.sqlite")))
        return records, times, peaks, idle, same
    finally:
        shutil.rmtree(work, ignore_errors=True)


def pg_bindir():
    try:
        bindir = subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True).stdout.strip()
    except FileNotFoundError:
        bindir = ""
    for candidate in (bindir, "/usr/lib/postgresql/15/bin"):
        if candidate and os.path.exists(os.path.join(candidate, "initdb")):
            return candidate
    return None


def main():
    binary, rounds, sizes = sys.argv[1], int(sys.argv[2]), [int(s) for s in sys.argv[3:]]
    bindir = pg_bindir()
    mariadb = shutil.which("mariadbd") or os.path.exists("/usr/sbin/mariadbd")
    default = ["sqlite"] + (["postgres"] if bindir else []) + (["mariadb"] if mariadb else [])
    backends = os.environ.get("BACKENDS", ",".join(default)).split(",")
    if "postgres" in backends and not bindir:
        sys.exit("BACKENDS names postgres, but PostgreSQL's server binaries (initdb) are not installed")
    if "mariadb" in backends and not mariadb:
        sys.exit("BACKENDS names mariadb, but MariaDB's server (mariadbd, Debian: mariadb-server) is not installed")
    if "mariadb" in backends:
        os.environ["PATH"] += ":/usr/sbin"
        import benchmark_mariadb
    print(f"{'database':>8} {'tickets':>8} {'records':>8} {'retentiond':>10} {'raw':>7} {'raw+aud':>7} {'batched':>7} {'by-row':>7} "
          f"{'ret/raw':>7} {'ret/r+a':>7} {'ret/bat':>7} {'row/ret':>7} {'RSS MB':>7} {'idle':>6} {'plan':>6} {'--out':>6} {'select':>6} {'same':>5}")
    pg = Postgres(bindir) if "postgres" in backends else None
    mdb = benchmark_mariadb.MariaDB() if "mariadb" in backends else None
    try:
        for backend in backends:
            for size in sizes:
                if backend == "sqlite":
                    records, times, peaks, idle, same = measure_sqlite(binary, rounds, size)
                elif backend == "mariadb":
                    records, times, peaks, idle, same = measure_server(binary, rounds, size, benchmark_mariadb.server(mdb))
                else:
                    records, times, peaks, idle, same = measure_server(binary, rounds, size, postgres_server(pg))
                m = {k: statistics.median(v) for k, v in times.items()}
                print(f"{backend:>8} {size:>8} {records:>8} {m['retentiond']:>10.2f} {m['raw']:>7.2f} {m['raw+audit']:>7.2f} {m['batched']:>7.2f} {m['row-by-row']:>7.2f} "
                      f"{m['retentiond'] / m['raw']:>7.1f} {m['retentiond'] / m['raw+audit']:>7.1f} {m['retentiond'] / m['batched']:>7.1f} {m['row-by-row'] / m['retentiond']:>7.2f} "
                      f"{max(peaks):>7.1f} {statistics.median(idle):>6.2f} {m['plan']:>6.2f} {m['plan-out']:>6.2f} {m['select']:>6.2f} {'yes' if same else 'NO':>5}",
                      flush=True)
                if "workers" in m:
                    print(f"{'':>8} {size:>8} run --worker: one process {m['worker']:.2f} s, two together {m['workers']:.2f} s "
                          f"({m['worker'] / m['workers']:.2f}x faster with two)", flush=True)
                if not same:
                    sys.exit(f"{backend}: retentiond and the raw SQL left different rows")
    finally:
        if pg:
            pg.stop()
        if mdb:
            mdb.stop()

if __name__ == "__main__":
    main()
