"""The PostgreSQL side of scripts/benchmark.py: the same databases, contenders and checks as on
SQLite, on a throwaway PostgreSQL cluster started for the benchmark (initdb, a free port, stopped at
the end; run as the `postgres` user when started as root). Each contender gets its own copy of the
source database (CREATE DATABASE … TEMPLATE); the raw SQL, the batches and the row-by-row
statements go through psql."""
import os
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile

from benchmark import CLIENT_CUTOFF, TICKET_CUTOFF, Server, chunks


def schema(shape):
    return """
CREATE TABLE clients (id INTEGER PRIMARY KEY, name TEXT, email TEXT, phone TEXT, last_contact TEXT NOT NULL);
CREATE INDEX clients_last_contact ON clients(last_contact);
CREATE TABLE tickets (id INTEGER PRIMARY KEY, client_id INTEGER REFERENCES clients(id), subject TEXT, closed_at TEXT NOT NULL);
CREATE INDEX tickets_closed_at ON tickets(closed_at);
CREATE INDEX tickets_client ON tickets(client_id);
CREATE TABLE messages (id INTEGER PRIMARY KEY, ticket_id INTEGER NOT NULL REFERENCES tickets(id), body TEXT);
CREATE INDEX messages_ticket ON messages(ticket_id);
""" + ("""
CREATE TABLE attachments (id INTEGER PRIMARY KEY, message_id INTEGER NOT NULL REFERENCES messages(id), filename TEXT, content BYTEA);
CREATE INDEX attachments_message ON attachments(message_id);
""" if shape.attachments else "")


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


def bindir():
    """Where PostgreSQL's server binaries are, or None."""
    try:
        found = subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True).stdout.strip()
    except FileNotFoundError:
        found = ""
    for candidate in (found, "/usr/lib/postgresql/15/bin"):
        if candidate and os.path.exists(os.path.join(candidate, "initdb")):
            return candidate
    return None


def build(pg, name, tickets, shape):
    """The same shape and proportions as `benchmark.build`, generated in the server (deterministic)."""
    pg.psql("postgres", f"CREATE DATABASE {name}")
    clients = max(1, tickets // 2)

    def day(seed):
        return f"to_char(date '2020-06-01' + ((hashtext({seed}) & 2147483647) % 2190), 'YYYY-MM-DD')"
    attachments = f"""
        INSERT INTO attachments SELECT i, i, 'scan-' || i || '.pdf', convert_to('%PDF' || repeat('y', 60), 'UTF8') FROM generate_series(1, {3 * tickets}) AS i;
    """ if shape.attachments else ""
    pg.psql(name, script=schema(shape) + f"""
        INSERT INTO clients SELECT i, 'Client ' || i, 'client' || i || '@example.fr', '+33 6 ' || lpad(i::text, 8, '0'),
               {day("'c' || i")} FROM generate_series(1, {clients}) AS i;
        INSERT INTO tickets SELECT i, 1 + (hashtext('t' || i) & 2147483647) % {clients}, 'ticket ' || i,
               {day("'d' || i")} FROM generate_series(1, {tickets}) AS i;
        INSERT INTO messages SELECT i, (i - 1) / 3 + 1, 'message ' || i || ' ' || repeat('x', 80) FROM generate_series(1, {3 * tickets}) AS i;
    """ + attachments + "ANALYZE;")


def raw(shape):
    attachments = (f"DELETE FROM attachments WHERE message_id IN (SELECT m.id FROM messages m JOIN tickets t ON t.id = m.ticket_id"
                   f" WHERE t.closed_at < '{TICKET_CUTOFF}');\n" if shape.attachments else "")
    return f"""
BEGIN;
{attachments}DELETE FROM messages WHERE ticket_id IN (SELECT id FROM tickets WHERE closed_at < '{TICKET_CUTOFF}');
DELETE FROM tickets WHERE closed_at < '{TICKET_CUTOFF}';
UPDATE clients SET name = 'anonymised', email = NULL, phone = NULL WHERE last_contact < '{CLIENT_CUTOFF}';
COMMIT;
"""


def raw_audit(shape):
    return f"""
BEGIN;
CREATE TABLE audit (seq BIGSERIAL PRIMARY KEY, action TEXT NOT NULL, table_name TEXT NOT NULL, ref TEXT NOT NULL);
INSERT INTO audit (action, table_name, ref) SELECT 'purge', 'tickets', id FROM tickets WHERE closed_at < '{TICKET_CUTOFF}';
INSERT INTO audit (action, table_name, ref) SELECT 'anonymise', 'clients', id FROM clients WHERE last_contact < '{CLIENT_CUTOFF}';
COMMIT;
""" + raw(shape)


def due(pg, database):
    """The due tickets and clients, in key order."""
    return (pg.psql(database, f"SELECT id FROM tickets WHERE closed_at < '{TICKET_CUTOFF}' ORDER BY id").split(),
            pg.psql(database, f"SELECT id FROM clients WHERE last_contact < '{CLIENT_CUTOFF}' ORDER BY id").split())


def row_by_row(pg, database, shape):
    tickets, clients = due(pg, database)
    lines, done = ["BEGIN;"], 0
    for ticket in tickets:
        if shape.attachments:
            lines.append(f"DELETE FROM attachments WHERE message_id IN (SELECT id FROM messages WHERE ticket_id = {ticket});")
        lines += [f"DELETE FROM messages WHERE ticket_id = {ticket};", f"DELETE FROM tickets WHERE id = {ticket};"]
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


def batched(pg, database, shape):
    tickets, clients = due(pg, database)
    lines = ["CREATE TABLE audit (seq BIGSERIAL PRIMARY KEY, action TEXT NOT NULL, table_name TEXT NOT NULL, ref TEXT NOT NULL);"]
    for keys in chunks(clients):
        listed = ",".join(keys)
        lines += ["BEGIN;", f"UPDATE clients SET name = 'anonymised', email = NULL, phone = NULL WHERE id IN ({listed});",
                  f"INSERT INTO audit (action, table_name, ref) SELECT 'anonymise', 'clients', k FROM unnest('{{{listed}}}'::text[]) AS k;",
                  "COMMIT;"]
    for keys in chunks(tickets):
        listed = ",".join(keys)
        lines.append("BEGIN;")
        if shape.attachments:
            # `= ANY (ARRAY(…))`, as retentiond writes it: with `IN (SELECT …)` and thousands of keys
            # PostgreSQL hash-joins a scan of the whole child table, in every batch.
            lines.append(f"DELETE FROM attachments WHERE message_id = ANY (ARRAY(SELECT id FROM messages WHERE ticket_id IN ({listed})));")
        lines += [f"DELETE FROM messages WHERE ticket_id IN ({listed});", f"DELETE FROM tickets WHERE id IN ({listed});",
                  f"INSERT INTO audit (action, table_name, ref) SELECT 'purge', 'tickets', k FROM unnest('{{{listed}}}'::text[]) AS k;",
                  "COMMIT;"]
    pg.psql(database, script="\n".join(lines))


def fingerprint(pg, database, shape):
    rows = " UNION ALL ".join(f"SELECT '{table[0]}' || row(x.*)::text AS t FROM {table} x" for table in shape.tables)
    return pg.psql(database, f"SELECT md5(string_agg(t, '|' ORDER BY t)) FROM ({rows}) AS rows")


def select_due(pg, database):
    # The rows themselves, to the client, as on SQLite (and as `plan` reads them): not a count.
    pg.psql(database, f"SELECT id FROM tickets WHERE closed_at < '{TICKET_CUTOFF}'")
    pg.psql(database, f"SELECT id, name, email, phone FROM clients WHERE last_contact < '{CLIENT_CUTOFF}'")


def server(pg):
    """This cluster as `benchmark.measure_server` drives it."""
    return Server(
        build=lambda name, size, shape: build(pg, name, size, shape),
        query=pg.psql,
        copy=lambda source, name, shape: pg.psql("postgres", f"CREATE DATABASE {name} TEMPLATE {source}"),
        database=lambda name: f"{{ postgres: {{ host: 127.0.0.1, port: {pg.port}, database: {name}, user: postgres, tls: disable }} }}",
        raw=raw, raw_audit=raw_audit,
        batched=lambda name, shape: batched(pg, name, shape), row_by_row=lambda name, shape: row_by_row(pg, name, shape),
        fingerprint=lambda name, shape: fingerprint(pg, name, shape), select_due=lambda name: select_due(pg, name))
