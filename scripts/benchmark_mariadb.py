"""The MariaDB side of scripts/benchmark.py: the same databases, contenders and checks as on
PostgreSQL, on a throwaway MariaDB server started for the benchmark (mariadb-install-db, mariadbd
on a free port, as the `mysql` user when started as root, stopped at the end). Each contender gets
its own copy of the source database (CREATE TABLE … LIKE, INSERT … SELECT); the raw SQL, the
batches and the row-by-row statements go through the `mariadb` client."""
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

from benchmark import CLIENT_CUTOFF, TICKET_CUTOFF, Server, chunks

SCHEMA = """
CREATE TABLE clients (id INTEGER PRIMARY KEY, name VARCHAR(100), email VARCHAR(100), phone VARCHAR(40), last_contact VARCHAR(10) NOT NULL, KEY clients_last_contact (last_contact));
CREATE TABLE tickets (id INTEGER PRIMARY KEY, client_id INTEGER REFERENCES clients(id), subject VARCHAR(100), closed_at VARCHAR(10) NOT NULL,
    KEY tickets_closed_at (closed_at), KEY tickets_client (client_id));
CREATE TABLE messages (id INTEGER PRIMARY KEY, ticket_id INTEGER NOT NULL REFERENCES tickets(id), body VARCHAR(200), KEY messages_ticket (ticket_id));
"""

ATTACHMENTS = """
CREATE TABLE attachments (id INTEGER PRIMARY KEY, message_id INTEGER NOT NULL REFERENCES messages(id), filename VARCHAR(100), content BLOB,
    KEY attachments_message (message_id));
"""

def raw(shape):
    attachments = ("DELETE a FROM attachments AS a JOIN messages AS m ON m.id = a.message_id JOIN tickets AS t ON t.id = m.ticket_id"
                   f" WHERE t.closed_at < '{TICKET_CUTOFF}';\n" if shape.attachments else "")
    return f"""
START TRANSACTION;
{attachments}DELETE m FROM messages AS m JOIN tickets AS t ON t.id = m.ticket_id WHERE t.closed_at < '{TICKET_CUTOFF}';
DELETE FROM tickets WHERE closed_at < '{TICKET_CUTOFF}';
UPDATE clients SET name = 'anonymised', email = NULL, phone = NULL WHERE last_contact < '{CLIENT_CUTOFF}';
COMMIT;
"""


def raw_audit(shape):
    return f"""
CREATE TABLE audit (seq BIGINT AUTO_INCREMENT PRIMARY KEY, action VARCHAR(20) NOT NULL, table_name VARCHAR(40) NOT NULL, ref VARCHAR(40) NOT NULL);
START TRANSACTION;
INSERT INTO audit (action, table_name, ref) SELECT 'purge', 'tickets', id FROM tickets WHERE closed_at < '{TICKET_CUTOFF}';
INSERT INTO audit (action, table_name, ref) SELECT 'anonymise', 'clients', id FROM clients WHERE last_contact < '{CLIENT_CUTOFF}';
COMMIT;
""" + raw(shape)


class MariaDB:
    """A throwaway MariaDB server for the benchmark."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="retentiond-bench-mariadb-")
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.socket = os.path.join(self.dir, "mysqld.sock")
        user = ["--user=mysql"] if os.geteuid() == 0 else []
        if os.geteuid() == 0:
            shutil.chown(self.dir, "mysql", "mysql")
        subprocess.run(["mariadb-install-db", "--no-defaults", f"--datadir={self.dir}/data", "--auth-root-authentication-method=normal",
                        "--skip-test-db"] + user, check=True, capture_output=True)
        # Durable commits, as a production server has them (innodb_flush_log_at_trx_commit=1, the default).
        self.server = subprocess.Popen(["mariadbd", "--no-defaults", f"--datadir={self.dir}/data", f"--port={self.port}", f"--socket={self.socket}",
                                        "--bind-address=127.0.0.1", "--skip-name-resolve", "--innodb-buffer-pool-size=1G",
                                        "--max-recursive-iterations=100000000", f"--log-error={self.dir}/log"] + user,
                                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(600):
            if subprocess.run(["mariadb-admin", "--no-defaults", f"--socket={self.socket}", "--user=root", "ping"],
                              capture_output=True).returncode == 0:
                return
            time.sleep(0.1)
        sys.exit("mariadbd did not start")

    def sql(self, database, sql=None, script=None):
        command = ["mariadb", "--no-defaults", f"--socket={self.socket}", "--user=root", "--batch", "--skip-column-names", database]
        if sql is not None:
            command += ["-e", sql]
        result = subprocess.run(command, input=script, capture_output=True, text=True)
        if result.returncode != 0:
            sys.exit(f"mariadb failed: {result.stderr}")
        return result.stdout.strip()

    def stop(self):
        self.server.kill()
        self.server.wait()
        shutil.rmtree(self.dir, ignore_errors=True)


def build(db, name, tickets, shape):
    """The same shape and proportions as `benchmark.build`, generated in the server (deterministic)."""
    db.sql("mysql", f"CREATE DATABASE {name} CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci")
    clients = max(1, tickets // 2)

    def day(seed):
        return f"DATE_FORMAT(DATE '2020-06-01' + INTERVAL (CRC32({seed}) % 2190) DAY, '%Y-%m-%d')"

    def series(n):
        return f"WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {n}) "
    attachments = ATTACHMENTS + f"""
        INSERT INTO attachments {series(3 * tickets)} SELECT i, i, CONCAT('scan-', i, '.pdf'), CONCAT('%PDF', REPEAT('y', 60)) FROM n;
    """ if shape.attachments else ""
    db.sql(name, script=SCHEMA + f"""
        INSERT INTO clients {series(clients)} SELECT i, CONCAT('Client ', i), CONCAT('client', i, '@example.fr'), CONCAT('+33 6 ', LPAD(i, 8, '0')),
               {day("CONCAT('c', i)")} FROM n;
        INSERT INTO tickets {series(tickets)} SELECT i, 1 + CRC32(CONCAT('t', i)) % {clients}, CONCAT('ticket ', i), {day("CONCAT('d', i)")} FROM n;
        INSERT INTO messages {series(3 * tickets)} SELECT i, (i - 1) DIV 3 + 1, CONCAT('message ', i, ' ', REPEAT('x', 80)) FROM n;
    """ + attachments + f"ANALYZE TABLE {', '.join(shape.tables)};")


def copy(db, source, name, shape):
    db.sql("mysql", f"CREATE DATABASE {name} CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci")
    db.sql(name, script="SET foreign_key_checks = 0;\n" + "".join(
        f"CREATE TABLE {t} LIKE {source}.{t}; INSERT INTO {t} SELECT * FROM {source}.{t};\n" for t in shape.tables)
        + f"ANALYZE TABLE {', '.join(shape.tables)};")


def row_by_row(db, database, shape):
    tickets = db.sql(database, f"SELECT id FROM tickets WHERE closed_at < '{TICKET_CUTOFF}' ORDER BY id").split()
    clients = db.sql(database, f"SELECT id FROM clients WHERE last_contact < '{CLIENT_CUTOFF}' ORDER BY id").split()
    lines, done = ["START TRANSACTION;"], 0
    for ticket in tickets:
        if shape.attachments:
            lines.append(f"DELETE a FROM attachments AS a JOIN messages AS m ON m.id = a.message_id WHERE m.ticket_id = {ticket};")
        lines += [f"DELETE FROM messages WHERE ticket_id = {ticket};", f"DELETE FROM tickets WHERE id = {ticket};"]
        done += 1
        if done % 500 == 0:
            lines += ["COMMIT;", "START TRANSACTION;"]
    for client in clients:
        lines.append(f"UPDATE clients SET name = 'anonymised', email = NULL, phone = NULL WHERE id = {client};")
        done += 1
        if done % 500 == 0:
            lines += ["COMMIT;", "START TRANSACTION;"]
    lines.append("COMMIT;")
    db.sql(database, script="\n".join(lines))


def batched(db, database, shape):
    clients = db.sql(database, f"SELECT id FROM clients WHERE last_contact < '{CLIENT_CUTOFF}' ORDER BY id").split()
    tickets = db.sql(database, f"SELECT id FROM tickets WHERE closed_at < '{TICKET_CUTOFF}' ORDER BY id").split()
    lines = ["CREATE TABLE audit (seq BIGINT AUTO_INCREMENT PRIMARY KEY, action VARCHAR(20) NOT NULL, table_name VARCHAR(40) NOT NULL, ref VARCHAR(40) NOT NULL);"]
    for keys in chunks(clients):
        listed = ",".join(keys)
        lines += ["START TRANSACTION;", f"UPDATE clients SET name = 'anonymised', email = NULL, phone = NULL WHERE id IN ({listed});",
                  "INSERT INTO audit (action, table_name, ref) VALUES " + ",".join(f"('anonymise','clients','{k}')" for k in keys) + ";",
                  "COMMIT;"]
    for keys in chunks(tickets):
        listed = ",".join(keys)
        lines.append("START TRANSACTION;")
        if shape.attachments:
            lines.append(f"DELETE a FROM attachments AS a JOIN messages AS m ON m.id = a.message_id WHERE m.ticket_id IN ({listed});")
        lines += [f"DELETE FROM messages WHERE ticket_id IN ({listed});", f"DELETE FROM tickets WHERE id IN ({listed});",
                  "INSERT INTO audit (action, table_name, ref) VALUES " + ",".join(f"('purge','tickets','{k}')" for k in keys) + ";",
                  "COMMIT;"]
    db.sql(database, script="\n".join(lines))


COLUMNS = {"clients": "id, name, email, phone, last_contact", "tickets": "id, client_id, subject, closed_at",
           "messages": "id, ticket_id, body", "attachments": "id, message_id, filename, HEX(content)"}


def fingerprint(db, database, shape):
    tables = ", ".join(f"(SELECT GROUP_CONCAT(CONCAT_WS('|', {COLUMNS[t]}) ORDER BY id SEPARATOR ';') FROM {t})" for t in shape.tables)
    return db.sql(database, f"SET SESSION group_concat_max_len = 4294967295; SELECT SHA2(CONCAT_WS('#', {tables}), 256)")


def select_due(db, database):
    db.sql(database, f"SELECT id FROM tickets WHERE closed_at < '{TICKET_CUTOFF}'")
    db.sql(database, f"SELECT id, name, email, phone FROM clients WHERE last_contact < '{CLIENT_CUTOFF}'")


def server(db):
    """This server as `benchmark.measure_server` drives it; each round's copies dropped after it."""
    def drop_copies(prefix):
        for database in db.sql("mysql", f"SHOW DATABASES LIKE '{prefix.replace('_', '!_')}%'".replace("!", "\\")).split():
            db.sql("mysql", f"DROP DATABASE {database}")
    return Server(
        build=lambda name, size, shape: build(db, name, size, shape),
        query=db.sql,
        copy=lambda source, name, shape: copy(db, source, name, shape),
        database=lambda name: f"{{ mariadb: {{ host: 127.0.0.1, port: {db.port}, database: {name}, user: root, tls: disable }} }}",
        raw=raw, raw_audit=raw_audit,
        batched=lambda name, shape: batched(db, name, shape), row_by_row=lambda name, shape: row_by_row(db, name, shape),
        fingerprint=lambda name, shape: fingerprint(db, name, shape), select_due=lambda name: select_due(db, name),
        end_round=drop_copies)
