import Foundation
import GRDB
import RetentionCore
import RetentionStore

/// Creates the demo CRM database as a SQLite file.
public enum SQLiteDemo {
    /// The demo schema: what a small company's CRM looks like, with dates stored as ISO-8601 text
    /// (most tables) and as Unix seconds (web accounts), as real SQLite databases do.
    public static let schema = """
        CREATE TABLE third_parties (
            id INTEGER PRIMARY KEY,
            kind TEXT NOT NULL CHECK (kind IN ('prospect', 'client', 'supplier')),
            company TEXT,
            civility TEXT,
            last_name TEXT NOT NULL,
            first_name TEXT,
            email TEXT,
            phone TEXT,
            address TEXT,
            billing_name TEXT,
            billing_address TEXT,
            source TEXT,
            collected_at TEXT NOT NULL,
            last_contact_at TEXT,
            relationship_ended_at TEXT,
            retention_consent_until TEXT,
            marketing_opt_in INTEGER NOT NULL DEFAULT 0,
            interests TEXT,
            birth_date TEXT
        );
        CREATE INDEX third_parties_kind ON third_parties(kind);
        CREATE INDEX third_parties_collected_at ON third_parties(collected_at);
        CREATE INDEX third_parties_last_contact_at ON third_parties(last_contact_at);
        CREATE INDEX third_parties_relationship_ended_at ON third_parties(relationship_ended_at);
        CREATE UNIQUE INDEX third_parties_email ON third_parties(email);
        CREATE TABLE prospection_events (
            id INTEGER PRIMARY KEY,
            third_party_id INTEGER NOT NULL REFERENCES third_parties(id),
            channel TEXT NOT NULL,
            happened_at TEXT NOT NULL,
            notes TEXT
        );
        CREATE INDEX prospection_events_third_party ON prospection_events(third_party_id);
        CREATE INDEX prospection_events_happened_at ON prospection_events(happened_at);
        CREATE TABLE invoices (
            id INTEGER PRIMARY KEY,
            third_party_id INTEGER NOT NULL REFERENCES third_parties(id),
            number TEXT NOT NULL UNIQUE,
            issued_on TEXT NOT NULL,
            amount_cents INTEGER NOT NULL,
            billing_name TEXT NOT NULL,
            billing_address TEXT NOT NULL
        );
        CREATE INDEX invoices_third_party ON invoices(third_party_id);
        CREATE INDEX invoices_issued_on ON invoices(issued_on);
        CREATE TABLE invoice_lines (
            id INTEGER PRIMARY KEY,
            invoice_id INTEGER NOT NULL REFERENCES invoices(id),
            description TEXT NOT NULL,
            quantity INTEGER NOT NULL,
            unit_price_cents INTEGER NOT NULL
        );
        CREATE INDEX invoice_lines_invoice ON invoice_lines(invoice_id);
        CREATE TABLE web_accounts (
            id INTEGER PRIMARY KEY,
            third_party_id INTEGER REFERENCES third_parties(id),
            username TEXT NOT NULL,
            email TEXT NOT NULL,
            last_login_ip TEXT,
            created_at INTEGER NOT NULL,
            deleted_at INTEGER
        );
        CREATE INDEX web_accounts_third_party ON web_accounts(third_party_id);
        CREATE INDEX web_accounts_deleted_at ON web_accounts(deleted_at);
        CREATE TABLE account_sessions (
            id INTEGER PRIMARY KEY,
            account_id INTEGER NOT NULL REFERENCES web_accounts(id),
            ip TEXT NOT NULL,
            started_at INTEGER NOT NULL
        );
        CREATE INDEX account_sessions_account ON account_sessions(account_id);
        CREATE TABLE support_users (
            id INTEGER PRIMARY KEY,
            client_id INTEGER NOT NULL REFERENCES third_parties(id),
            name TEXT NOT NULL,
            email TEXT NOT NULL,
            phone TEXT,
            job_title TEXT,
            created_at TEXT NOT NULL,
            removed_at TEXT
        );
        CREATE INDEX support_users_client ON support_users(client_id);
        CREATE INDEX support_users_removed_at ON support_users(removed_at);
        CREATE TABLE tickets (
            id INTEGER PRIMARY KEY,
            support_user_id INTEGER REFERENCES support_users(id),
            subject TEXT NOT NULL,
            body TEXT,
            requester_email TEXT,
            opened_at TEXT NOT NULL,
            closed_at TEXT
        );
        CREATE INDEX tickets_support_user ON tickets(support_user_id);
        CREATE INDEX tickets_closed_at ON tickets(closed_at);
        CREATE TABLE ticket_messages (
            id INTEGER PRIMARY KEY,
            ticket_id INTEGER NOT NULL REFERENCES tickets(id),
            author TEXT NOT NULL,
            body TEXT NOT NULL,
            sent_at TEXT NOT NULL
        );
        CREATE INDEX ticket_messages_ticket ON ticket_messages(ticket_id);
        """

    /// Writes a new database at `path` (which must not exist) holding `dataset`.
    public static func create(at path: String, dataset: DemoDataset) throws {
        guard !FileManager.default.fileExists(atPath: path) else {
            throw DatabaseUnavailable(location: "sqlite:\(path)", reason: "the file already exists; the demo only creates new databases")
        }
        let queue = try DatabaseQueue(path: path)
        try queue.write { db in
            try db.execute(sql: schema)
            for table in dataset.tables {
                let columns = table.columns.map(SQLBuilder.quote).joined(separator: ", ")
                let marks = Array(repeating: "?", count: table.columns.count).joined(separator: ", ")
                let statement = try db.makeStatement(sql: "INSERT INTO \(SQLBuilder.quote(table.name)) (\(columns)) VALUES (\(marks))")
                for row in table.rows {
                    try statement.execute(arguments: StatementArguments(row.map(\.databaseValue)))
                }
            }
        }
        try queue.close()
    }
}
