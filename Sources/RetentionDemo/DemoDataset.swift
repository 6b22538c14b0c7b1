import Foundation
import RetentionCore
import RetentionStore

/// A synthetic but realistic CRM (prospects, clients, suppliers, invoices, web accounts, support
/// users and tickets) whose ages straddle the shipped policy's cutoffs. Same seed, same `now`: same data.
public struct DemoDataset: Sendable {
    public struct Table: Sendable {
        public var name: String
        public var columns: [String]
        public var rows: [[SQLValue]]

        public init(name: String, columns: [String], rows: [[SQLValue]] = []) {
            self.name = name
            self.columns = columns
            self.rows = rows
        }
    }

    /// The statements that create the tables, in SQL both databases accept.
    public var schemaStatements: [String]
    /// The product's own MySQL/MariaDB DDL for the same tables, run as it is on MariaDB; without
    /// it, MariaDB gets `schemaStatements` in its terms (`MariaDBTerms`).
    public var mariadbSchemaStatements: [String]?
    /// The zone the dataset's wall-clock times are in: a column that stores an instant (MariaDB's
    /// TIMESTAMP) takes the instant that wall-clock time names there, as the product's server would.
    public var wallClockZone: TimeZone
    /// Tables in insertion order (parents before children).
    public var tables: [Table]

    public init(
        schema: [String], mariadbSchema: [String]? = nil, wallClockZone: TimeZone = TimeZone(identifier: "UTC")!,
        tables: [Table]
    ) {
        schemaStatements = schema
        mariadbSchemaStatements = mariadbSchema
        self.wallClockZone = wallClockZone
        self.tables = tables
    }

    /// The statements that create the tables on MariaDB (`mariadb`) or on SQLite and PostgreSQL.
    public func schema(mariadb: Bool) -> [String] {
        guard mariadb else { return schemaStatements }
        return mariadbSchemaStatements ?? schemaStatements.map(MariaDBTerms.statement)
    }

    public static let tableOrder = [
        "third_parties", "prospection_events", "invoices", "invoice_lines", "web_accounts",
        "account_sessions", "support_users", "tickets", "ticket_messages",
    ]

    /// The demo schema, in SQL that SQLite and PostgreSQL both accept: what a small company's CRM
    /// looks like, with dates as ISO-8601 text (most tables) and as Unix seconds (web accounts).
    public static let schema: [String] = [
        """
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
        )
        """,
        "CREATE INDEX third_parties_kind ON third_parties(kind)",
        "CREATE INDEX third_parties_collected_at ON third_parties(collected_at)",
        "CREATE INDEX third_parties_last_contact_at ON third_parties(last_contact_at)",
        "CREATE INDEX third_parties_relationship_ended_at ON third_parties(relationship_ended_at)",
        "CREATE UNIQUE INDEX third_parties_email ON third_parties(email)",
        """
        CREATE TABLE prospection_events (
            id INTEGER PRIMARY KEY,
            third_party_id INTEGER NOT NULL REFERENCES third_parties(id),
            channel TEXT NOT NULL,
            happened_at TEXT NOT NULL,
            notes TEXT
        )
        """,
        "CREATE INDEX prospection_events_third_party ON prospection_events(third_party_id)",
        "CREATE INDEX prospection_events_happened_at ON prospection_events(happened_at)",
        """
        CREATE TABLE invoices (
            id INTEGER PRIMARY KEY,
            third_party_id INTEGER NOT NULL REFERENCES third_parties(id),
            number TEXT NOT NULL UNIQUE,
            issued_on TEXT NOT NULL,
            amount_cents INTEGER NOT NULL,
            billing_name TEXT NOT NULL,
            billing_address TEXT NOT NULL
        )
        """,
        "CREATE INDEX invoices_third_party ON invoices(third_party_id)",
        "CREATE INDEX invoices_issued_on ON invoices(issued_on)",
        """
        CREATE TABLE invoice_lines (
            id INTEGER PRIMARY KEY,
            invoice_id INTEGER NOT NULL REFERENCES invoices(id),
            description TEXT NOT NULL,
            quantity INTEGER NOT NULL,
            unit_price_cents INTEGER NOT NULL
        )
        """,
        "CREATE INDEX invoice_lines_invoice ON invoice_lines(invoice_id)",
        """
        CREATE TABLE web_accounts (
            id INTEGER PRIMARY KEY,
            third_party_id INTEGER REFERENCES third_parties(id),
            username TEXT NOT NULL,
            email TEXT NOT NULL,
            last_login_ip TEXT,
            created_at INTEGER NOT NULL,
            deleted_at INTEGER
        )
        """,
        "CREATE INDEX web_accounts_third_party ON web_accounts(third_party_id)",
        "CREATE INDEX web_accounts_deleted_at ON web_accounts(deleted_at)",
        """
        CREATE TABLE account_sessions (
            id INTEGER PRIMARY KEY,
            account_id INTEGER NOT NULL REFERENCES web_accounts(id),
            ip TEXT NOT NULL,
            started_at INTEGER NOT NULL
        )
        """,
        "CREATE INDEX account_sessions_account ON account_sessions(account_id)",
        """
        CREATE TABLE support_users (
            id INTEGER PRIMARY KEY,
            client_id INTEGER NOT NULL REFERENCES third_parties(id),
            name TEXT NOT NULL,
            email TEXT NOT NULL,
            phone TEXT,
            job_title TEXT,
            created_at TEXT NOT NULL,
            removed_at TEXT
        )
        """,
        "CREATE INDEX support_users_client ON support_users(client_id)",
        "CREATE INDEX support_users_removed_at ON support_users(removed_at)",
        """
        CREATE TABLE tickets (
            id INTEGER PRIMARY KEY,
            support_user_id INTEGER REFERENCES support_users(id),
            subject TEXT NOT NULL,
            body TEXT,
            requester_email TEXT,
            opened_at TEXT NOT NULL,
            closed_at TEXT
        )
        """,
        "CREATE INDEX tickets_support_user ON tickets(support_user_id)",
        "CREATE INDEX tickets_closed_at ON tickets(closed_at)",
        """
        CREATE TABLE ticket_messages (
            id INTEGER PRIMARY KEY,
            ticket_id INTEGER NOT NULL REFERENCES tickets(id),
            author TEXT NOT NULL,
            body TEXT NOT NULL,
            sent_at TEXT NOT NULL
        )
        """,
        "CREATE INDEX ticket_messages_ticket ON ticket_messages(ticket_id)",
    ]

    /// Creates the indexes `check` advises (its hints that are `CREATE INDEX` statements), as an
    /// operator following them would: on the demo's own database only. Returns their names.
    public static func createAdvisedIndexes(_ hints: [String], in session: any WritingSession) throws -> [String] {
        let prefix = "CREATE INDEX "
        let statements = Set(hints.filter { $0.hasPrefix(prefix) }).sorted()
        for statement in statements {
            _ = try session.execute("CREATE INDEX IF NOT EXISTS " + statement.dropFirst(prefix.count), [])
        }
        return statements.compactMap {
            $0.dropFirst(prefix.count).split(separator: " ").first.map { $0.filter { $0 != "\"" && $0 != "`" } }
        }
    }

    /// Creates the schema and inserts every row through `session`, in multi-row INSERTs. `mariadb`:
    /// the database is MariaDB (see `schema(mariadb:)`).
    public func load(into session: any WritingSession, mariadb: Bool = false) throws {
        for statement in schema(mariadb: mariadb) { _ = try session.execute(statement, []) }
        let schema = try session.schema()
        for table in tables {
            // Dates travel as text; native date columns take them through a cast.
            let storage = table.columns.map { name in schema.table(table.name)?.column(name)?.nativeDateStorage }
            for start in stride(from: 0, to: table.rows.count, by: 200) {
                let values = table.rows[start..<min(start + 200, table.rows.count)].map { row -> SQL in
                    "(\(zip(row, storage).map { value, storage in session.dialect.bound(storage == .timestamptz ? instant(value) : value, as: storage?.sqlCast) }.joined(separator: ", ")))"
                }
                try session.execute(
                    "INSERT INTO \(ident: table.name) (\(idents: table.columns)) VALUES \(values.joined(separator: ", "))"
                )
            }
        }
    }

    /// A wall-clock text in `wallClockZone` as the instant it names (`…T…Z`, as instants are bound).
    func instant(_ value: SQLValue) -> SQLValue {
        guard case .text(let text) = value else { return value }
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.dateFormat = "yyyy-MM-dd HH:mm:ss"
        formatter.timeZone = wallClockZone
        guard let date = formatter.date(from: text) else { return value }
        formatter.timeZone = TimeZone(identifier: "UTC")!
        formatter.dateFormat = "yyyy-MM-dd'T'HH:mm:ss'Z'"
        return .text(formatter.string(from: date))
    }

    /// The demo CRM the shipped policy governs.
    public init(seed: UInt64, now: Date, scale: Int = 1) {
        schemaStatements = Self.schema
        mariadbSchemaStatements = nil
        wallClockZone = TimeZone(identifier: "Europe/Paris")!
        var rng = SplitMix64(seed: seed)
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "Europe/Paris")!
        func daysAgo(_ days: Int) -> Date {
            now.addingTimeInterval(-Double(days) * 86_400 - Double(rng.next(upTo: 86_400)))
        }
        func isoDate(_ d: Date) -> SQLValue {
            let c = calendar.dateComponents([.year, .month, .day], from: d)
            return .text(String(format: "%04d-%02d-%02d", c.year!, c.month!, c.day!))
        }
        func isoDateTime(_ d: Date) -> SQLValue {
            let c = calendar.dateComponents([.year, .month, .day, .hour, .minute, .second], from: d)
            return .text(
                String(
                    format: "%04d-%02d-%02d %02d:%02d:%02d", c.year!, c.month!, c.day!, c.hour!, c.minute!, c.second!))
        }
        func unix(_ d: Date) -> SQLValue { .integer(Int64(d.timeIntervalSince1970)) }
        func pick<T>(_ list: [T]) -> T { list[rng.next(upTo: list.count)] }
        func text(_ s: String) -> SQLValue { .text(s) }

        var thirdParties = Table(
            name: "third_parties",
            columns: [
                "id", "kind", "company", "civility", "last_name", "first_name", "email", "phone",
                "address", "billing_name", "billing_address", "source", "collected_at",
                "last_contact_at", "relationship_ended_at", "retention_consent_until",
                "marketing_opt_in", "interests", "birth_date",
            ], rows: [])
        var events = Table(
            name: "prospection_events", columns: ["id", "third_party_id", "channel", "happened_at", "notes"], rows: [])
        var invoices = Table(
            name: "invoices",
            columns: [
                "id", "third_party_id", "number", "issued_on", "amount_cents", "billing_name", "billing_address",
            ], rows: [])
        var lines = Table(
            name: "invoice_lines", columns: ["id", "invoice_id", "description", "quantity", "unit_price_cents"],
            rows: [])
        var accounts = Table(
            name: "web_accounts",
            columns: ["id", "third_party_id", "username", "email", "last_login_ip", "created_at", "deleted_at"],
            rows: [])
        var sessions = Table(name: "account_sessions", columns: ["id", "account_id", "ip", "started_at"], rows: [])
        var users = Table(
            name: "support_users",
            columns: ["id", "client_id", "name", "email", "phone", "job_title", "created_at", "removed_at"], rows: [])
        var tickets = Table(
            name: "tickets",
            columns: ["id", "support_user_id", "subject", "body", "requester_email", "opened_at", "closed_at"], rows: []
        )
        var messages = Table(
            name: "ticket_messages", columns: ["id", "ticket_id", "author", "body", "sent_at"], rows: [])

        let prospects = 600 * scale
        let clients = 450 * scale
        let suppliers = 150 * scale
        var invoiceNumber = 0
        for id in 1...(prospects + clients + suppliers) {
            let kind = id <= prospects ? "prospect" : id <= prospects + clients ? "client" : "supplier"
            let first = pick(Self.firstNames)
            let last = pick(Self.lastNames)
            let company = pick(Self.companies)
            let email =
                "\(first.lowercased()).\(last.lowercased().replacingOccurrences(of: " ", with: ""))\(id)@\(pick(Self.domains))"
            let phone = String(
                format: "+33 6 %02d %02d %02d %02d", rng.next(upTo: 100), rng.next(upTo: 100), rng.next(upTo: 100),
                rng.next(upTo: 100))
            let address = "\(1 + rng.next(upTo: 120)) \(pick(Self.streets)), \(pick(Self.cities))"
            let collected = daysAgo(30 + rng.next(upTo: 12 * 365))
            let collectedDays = Int(now.timeIntervalSince(collected) / 86_400)
            // Prospects: some never contacted again (NULL), others contacted some time after collection.
            let lastContact: Date? =
                kind == "prospect" && rng.next(upTo: 3) == 0 ? nil : daysAgo(rng.next(upTo: max(1, collectedDays)))
            var ended: Date?
            if kind != "prospect", rng.next(upTo: 2) == 0 { ended = daysAgo(rng.next(upTo: max(1, collectedDays))) }
            let consent: SQLValue =
                rng.next(upTo: 15) == 0
                ? isoDate(now.addingTimeInterval(Double(365 + rng.next(upTo: 700)) * 86_400)) : .null
            let birth = daysAgo(365 * (22 + rng.next(upTo: 45)))
            thirdParties.rows.append([
                .integer(Int64(id)), text(kind), text(company), text(pick(["M.", "Mme"])), text(last), text(first),
                text(email), text(phone),
                text(address), kind == "client" ? text("\(first) \(last)") : .null,
                kind == "client" ? text(address) : .null,
                text(pick(["salon", "site web", "recommandation", "démarchage"])), isoDate(collected),
                lastContact.map(isoDate) ?? .null, ended.map(isoDate) ?? .null, consent,
                .integer(Int64(rng.next(upTo: 2))),
                text(pick(["formation", "logiciel", "maintenance", "hébergement"])), isoDate(birth),
            ])
            for _ in 0..<rng.next(upTo: 4) {
                events.rows.append([
                    .integer(Int64(events.rows.count + 1)), .integer(Int64(id)),
                    text(pick(["email", "téléphone", "salon", "courrier"])),
                    isoDateTime(daysAgo(rng.next(upTo: max(1, collectedDays)))), text("Échange avec \(first) \(last)"),
                ])
            }
            if kind == "client" {
                let activeDays = ended.map { Int(now.timeIntervalSince($0) / 86_400) } ?? 0
                for _ in 0..<(1 + rng.next(upTo: 4)) {
                    invoiceNumber += 1
                    let issued = daysAgo(activeDays + rng.next(upTo: max(1, collectedDays - activeDays)))
                    let invoiceID = Int64(invoices.rows.count + 1)
                    invoices.rows.append([
                        .integer(invoiceID), .integer(Int64(id)), text(String(format: "F%06d", invoiceNumber)),
                        isoDate(issued),
                        .integer(Int64(5_000 + rng.next(upTo: 500_000))), text("\(first) \(last)"), text(address),
                    ])
                    for _ in 0..<(1 + rng.next(upTo: 3)) {
                        lines.rows.append([
                            .integer(Int64(lines.rows.count + 1)), .integer(invoiceID),
                            text(pick(["Licence LoGeAs WEB", "Formation", "Maintenance annuelle", "Hébergement"])),
                            .integer(Int64(1 + rng.next(upTo: 5))), .integer(Int64(10_000 + rng.next(upTo: 90_000))),
                        ])
                    }
                }
                for _ in 0..<rng.next(upTo: 3) {
                    let userID = Int64(users.rows.count + 1)
                    let name = "\(pick(Self.firstNames)) \(pick(Self.lastNames))"
                    let created = daysAgo(rng.next(upTo: max(1, collectedDays)))
                    let removed: Date? = ended ?? (rng.next(upTo: 6) == 0 ? daysAgo(rng.next(upTo: 900)) : nil)
                    users.rows.append([
                        .integer(userID), .integer(Int64(id)), text(name),
                        text(
                            "\(name.lowercased().replacingOccurrences(of: " ", with: "."))\(userID)@\(pick(Self.domains))"
                        ),
                        text(phone), text(pick(["comptable", "secrétaire", "directrice", "gestionnaire"])),
                        isoDateTime(created), removed.map(isoDateTime) ?? .null,
                    ])
                    for _ in 0..<rng.next(upTo: 4) {
                        let ticketID = Int64(tickets.rows.count + 1)
                        let opened = daysAgo(rng.next(upTo: 6 * 365))
                        let openedDays = Int(now.timeIntervalSince(opened) / 86_400)
                        let closed: Date? =
                            rng.next(upTo: 8) == 0 ? nil : daysAgo(max(0, openedDays - 1 - rng.next(upTo: 30)))
                        tickets.rows.append([
                            .integer(ticketID), .integer(userID),
                            text(
                                pick(["Erreur à l'import", "Question facturation", "Accès MonEspace", "Mise à jour"])),
                            text(
                                "Bonjour, je suis \(name), \(pick(["je n'arrive pas à me connecter", "une facture est en double", "l'export plante"]))."
                            ),
                            text("\(name.lowercased().replacingOccurrences(of: " ", with: "."))@\(pick(Self.domains))"),
                            isoDateTime(opened), closed.map(isoDateTime) ?? .null,
                        ])
                        for _ in 0..<(1 + rng.next(upTo: 3)) {
                            messages.rows.append([
                                .integer(Int64(messages.rows.count + 1)), .integer(ticketID),
                                text(pick([name, "Support LoGeAs"])),
                                text("Message concernant le ticket \(ticketID)"), isoDateTime(opened),
                            ])
                        }
                    }
                }
            }
            if kind != "supplier", rng.next(upTo: 3) == 0 {
                let accountID = Int64(accounts.rows.count + 1)
                let created = daysAgo(rng.next(upTo: max(1, collectedDays)))
                let deleted: Date? = rng.next(upTo: 4) == 0 ? daysAgo(rng.next(upTo: 400)) : nil
                accounts.rows.append([
                    .integer(accountID), .integer(Int64(id)), text("\(first.lowercased())\(id)"), text(email),
                    text("192.0.2.\(rng.next(upTo: 255))"), unix(created), deleted.map(unix) ?? .null,
                ])
                for _ in 0..<rng.next(upTo: 4) {
                    sessions.rows.append([
                        .integer(Int64(sessions.rows.count + 1)), .integer(accountID),
                        text("198.51.100.\(rng.next(upTo: 255))"),
                        unix(daysAgo(rng.next(upTo: 700))),
                    ])
                }
            }
        }
        tables = [thirdParties, events, invoices, lines, accounts, sessions, users, tickets, messages]
    }

    static let firstNames = [
        "Camille", "Léa", "Manon", "Chloé", "Inès", "Jade", "Louise", "Emma", "Lucas", "Hugo", "Louis", "Gabriel",
        "Arthur", "Jules", "Nathan", "Paul", "Claire", "Sophie", "Julien", "Thomas", "Nicolas", "Élodie", "Antoine",
        "Margaux",
    ]
    static let lastNames = [
        "Martin", "Bernard", "Dubois", "Thomas", "Robert", "Richard", "Petit", "Durand", "Leroy", "Moreau", "Simon",
        "Laurent", "Lefebvre", "Michel", "Garcia", "David", "Bertrand", "Roux", "Vincent", "Fournier", "Morel",
        "Girard", "Mercier", "Blanc",
    ]
    static let companies = [
        "SCOP Les Tisserands", "Mairie de Saint-Pierre", "Atelier Lumière", "Boulangerie du Port",
        "Coopérative Agricole du Val",
        "Cabinet Roux & Associés", "Transports Girard", "École Montessori Les Pins", "Association Horizon",
        "Garage Central",
    ]
    static let streets = [
        "rue de la République", "avenue Jean Jaurès", "place du Marché", "chemin des Vignes", "boulevard Victor Hugo",
        "rue des Écoles",
    ]
    static let cities = [
        "29200 Brest", "35000 Rennes", "44000 Nantes", "56100 Lorient", "22000 Saint-Brieuc", "29000 Quimper",
    ]
    static let domains = ["example.fr", "example.com", "example.org"]
}

/// A small, fast, seedable generator (SplitMix64): the demo must not depend on the system's randomness.
struct SplitMix64: Sendable {
    private var state: UInt64
    public init(seed: UInt64) { state = seed }
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    public mutating func next(upTo bound: Int) -> Int { Int(next() % UInt64(max(1, bound))) }
}
