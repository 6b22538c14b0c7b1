import Foundation
import RetentionCore
import RetentionDemo
import RetentionEngine
import RetentionStore
import TestSupport
import Testing

/// etc/examples/znuny.yaml on a database shaped like Znuny's (the tables, columns and foreign
/// keys of otrs-schema.postgresql.sql that the policy touches), on both databases. The expected
/// outcome is computed here from the rows' facts, not taken from a run.
@Suite struct ZnunyExampleTests {
    // "now" is 2026-06-01T00:00:00Z. Znuny stores UTC wall-clock time (storage_time_zone: UTC),
    // so "two years ago" is 2024-06-01 00:00:00 as stored — not 02:00, the Paris time.
    static let twoYearsAgo = "2024-06-01 00:00:00"
    static let now = "2026-06-01 00:00:00"
    static let closedTypes: Set<String> = ["closed", "merged", "removed"]
    static let liveTypes: Set<String> = ["new", "open", "pending reminder", "pending auto"]

    static let stateTypes = [
        1: "new", 2: "open", 3: "closed", 4: "pending reminder", 5: "pending auto", 6: "removed", 7: "merged",
    ]
    /// id: (name, type id); state 10 was added by an administrator.
    static let states = [
        1: ("new", 1), 2: ("open", 2), 3: ("closed successful", 3), 4: ("closed unsuccessful", 3),
        5: ("merged", 7), 6: ("pending reminder", 4), 10: ("closed by admin", 3),
    ]

    struct Ticket {
        var id: Int
        var state: Int
        var customer: String
        var changed: String
        /// (state it moved into, when), oldest first.
        var history: [(Int, String)]
        /// Notes added (when), each a history row in the state the ticket was in then.
        var notes: [String] = []

        /// Its history rows as Znuny writes them: (name, state, when), in the order of their ids.
        var rows: [(String, Int, String)] {
            let moves = history.map { ("StateUpdate", $0.0, $0.1) }
            let noted = notes.map { at in ("AddNote", history.last { $0.1 <= at }!.0, at) }
            return (moves + noted).sorted { $0.2 < $1.2 }
        }
    }
    static let tickets = [
        Ticket(
            id: 1, state: 3, customer: "Alice", changed: "2023-01-01 00:00:00",
            history: [(1, "2022-12-01 08:00:00"), (3, "2023-01-01 00:00:00")]),
        Ticket(
            id: 2, state: 10, customer: "zoe", changed: "2024-05-31 23:59:59",
            history: [(1, "2024-01-01 08:00:00"), (10, "2024-05-31 23:59:59")]),
        Ticket(
            id: 3, state: 4, customer: "zoe", changed: "2024-06-01 00:00:00",
            history: [(1, "2024-01-01 08:00:00"), (4, "2024-06-01 00:00:00")]),
        Ticket(
            id: 4, state: 2, customer: "bob", changed: "2020-02-01 00:00:00",
            history: [(1, "2019-12-01 08:00:00"), (3, "2020-01-01 00:00:00"), (2, "2020-02-01 00:00:00")]),
        Ticket(
            id: 5, state: 5, customer: "zoe", changed: "2021-01-01 00:00:00",
            history: [(1, "2020-12-01 08:00:00"), (5, "2021-01-01 00:00:00")]),
        Ticket(
            id: 6, state: 3, customer: "carol", changed: "2025-03-01 00:00:00",
            history: [(3, "2020-01-01 00:00:00"), (2, "2024-12-01 00:00:00"), (3, "2025-03-01 00:00:00")]),
        // Closed in 2022, a note added while closed, moved to another closed state in 2025: closed since 2022.
        Ticket(
            id: 7, state: 4, customer: "zoe", changed: "2025-01-01 00:00:00",
            history: [(1, "2021-12-01 08:00:00"), (3, "2022-01-01 00:00:00"), (4, "2025-01-01 00:00:00")],
            notes: ["2022-06-01 00:00:00"]),
    ]

    struct CustomerUser {
        var id: Int
        var login: String
        var valid: Int
        var changed: String
    }
    static let customerUsers = [
        // only an old ticket, under "Alice"
        CustomerUser(id: 1, login: "alice", valid: 2, changed: "2025-01-01 00:00:00"),
        CustomerUser(id: 2, login: "bob", valid: 2, changed: "2025-01-01 00:00:00"),  // a live ticket
        // a ticket changed less than 2 years ago
        CustomerUser(id: 3, login: "carol", valid: 2, changed: "2025-01-01 00:00:00"),
        CustomerUser(id: 4, login: "dave", valid: 1, changed: "2019-01-01 00:00:00"),  // still valid
        CustomerUser(id: 5, login: "erin", valid: 2, changed: "2026-01-01 00:00:00"),  // no ticket
    ]
    /// (user_id, key): Znuny's preferences name the user by login, in whatever case it was typed.
    static let preferences = [
        ("ALICE", "UserLanguage"), ("bob", "UserLanguage"), ("erin", "UserTheme"), ("erin2", "UserTheme"),
    ]

    /// The product's tables as the demo builds them (RetentionDemo.ProductSchemas).
    static let schema = ProductSchemas.znuny
    /// On MariaDB, as Znuny's own MySQL schema creates them.
    static let mariadbSchema = ProductSchemas.znunyMySQL

    static var data: [String] {
        var rows = stateTypes.sorted { $0.key < $1.key }.map {
            "INSERT INTO ticket_state_type VALUES (\($0.key), '\($0.value)')"
        }
        rows += states.sorted { $0.key < $1.key }.map {
            "INSERT INTO ticket_state VALUES (\($0.key), '\($0.value.0)', \($0.value.1))"
        }
        rows += ["INSERT INTO dynamic_field VALUES (1, 'TicketProduct', 'Ticket'), (2, 'CustomerSize', 'CustomerUser')"]
        var historyID = 100
        for t in tickets {
            rows.append(
                "INSERT INTO ticket VALUES (\(t.id), '2026\(t.id)', 'ticket \(t.id)', \(t.state), '\(t.customer)', '\(t.history[0].1)', '\(t.changed)')"
            )
            for (name, state, at) in t.rows {
                historyID += 1
                rows.append("INSERT INTO ticket_history VALUES (\(historyID), '\(name)', \(t.id), \(state), '\(at)')")
            }
            rows.append("INSERT INTO article VALUES (\(t.id * 10), \(t.id), '\(t.history[0].1)')")
            rows.append(
                "INSERT INTO article_data_mime VALUES (\(t.id * 100), \(t.id * 10), 'customer\(t.id)@example.fr', 'help', 'body')"
            )
            // Field 1 is a ticket's; field 2 a customer user's, with the same object id.
            rows.append(
                "INSERT INTO dynamic_field_value VALUES (\(t.id * 1000 + 1), 1, \(t.id), 'product'), (\(t.id * 1000 + 2), 2, \(t.id), 'size')"
            )
        }
        // Appointment 1 is only ticket 1's; 2 is shared by tickets 1 and 4; 3 is ticket 5's and 4 ticket 6's.
        rows += [
            "INSERT INTO calendar_appointment VALUES (1, 'visit', 'alice', '2022-12-02 09:00:00'), (2, 'training', 'all', '2022-12-03 09:00:00'), (3, 'call', 'zoe', '2020-12-02 09:00:00'), (4, 'call', 'carol', '2025-03-02 09:00:00')",
            "INSERT INTO calendar_appointment_ticket VALUES (1, 1, 'r1', 1), (1, 1, 'r2', 2), (1, 4, 'r3', 2), (1, 5, 'r4', 3), (1, 6, 'r5', 4)",
        ]
        rows += customerUsers.map {
            "INSERT INTO customer_user VALUES (\($0.id), '\($0.login)', '\($0.login)@example.fr', 'First', 'Last', \($0.valid), '\($0.changed)')"
        }
        rows += preferences.map { "INSERT INTO customer_preferences VALUES ('\($0.0)', '\($0.1)', 'x')" }
        return rows
    }

    // MARK: The register, applied by hand

    static func type(ofState state: Int) -> String { stateTypes[states[state]!.1]! }

    /// Closed since: the last history row in a closed state whose previous row was not (UTC text).
    static func closedSince(_ t: Ticket) -> String? {
        guard closedTypes.contains(type(ofState: t.state)) else { return nil }
        let closed = t.rows.map { closedTypes.contains(type(ofState: $0.1)) }
        return t.rows.indices.filter { closed[$0] && ($0 == 0 || !closed[$0 - 1]) }.map { t.rows[$0].2 }.max()
    }

    static var purgedTickets: Set<Int> {
        Set(tickets.filter { t in closedSince(t).map { $0 < twoYearsAgo } ?? false }.map(\.id))
    }

    /// The statistics the example keeps of the purged tickets (`statistics: { period: month, by:
    /// [ticket_state_id] }`, min_group 5): per month of closing in Paris; a month over at the cutoff
    /// has its groups (one ticket each here) merged into `other`; one not over keeps them, open.
    static var expectedStatistics: Set<[String]> {
        let utc = DateFormatter()
        let paris = DateFormatter()
        utc.locale = Locale(identifier: "en_US_POSIX")
        utc.timeZone = TimeZone(identifier: "UTC")
        utc.dateFormat = "yyyy-MM-dd HH:mm:ss"
        paris.locale = Locale(identifier: "en_US_POSIX")
        paris.timeZone = TimeZone(identifier: "Europe/Paris")
        paris.dateFormat = "yyyy-MM"
        // The cutoff, in Paris: 2024-06-01 02:00; May 2024 ended before it, June 2024 did not.
        let cutoffMonth = paris.string(from: utc.date(from: twoYearsAgo)!)
        var rows: [String: [String]] = [:]
        for t in tickets where purgedTickets.contains(t.id) {
            let month = paris.string(from: utc.date(from: closedSince(t)!)!)
            let over = month < cutoffMonth
            let group = over ? "other" : "{\"ticket_state_id\":\(t.state)}"
            let count = (rows["\(month) \(group)"].flatMap { Int($0[2]) } ?? 0) + 1
            rows["\(month) \(group)"] = [month, group, String(count), over ? "0" : "1"]
        }
        return Set(rows.values)
    }

    static var purgedCustomerUsers: Set<Int> {
        Set(
            customerUsers.filter { u in
                guard u.valid == 2, u.changed < now else { return false }
                let theirs = tickets.filter { $0.customer.lowercased() == u.login.lowercased() }
                let live = theirs.contains { liveTypes.contains(type(ofState: $0.state)) }
                let recent = theirs.contains { $0.changed >= twoYearsAgo }
                return !live && !recent
            }.map(\.id))
    }

    @Test(arguments: Backend.allCases)
    func theExamplePolicyKeepsTheRegistersPromisesRowByRow(_ backend: Backend) async throws {
        let f = try await CRMFixture(
            backend, schema: Self.schema, mariadbSchema: Self.mariadbSchema, data: Self.data,
            wholePolicy: try CRMFixture.packageFile("etc/examples/znuny.yaml"))
        let (resolved, diagnostics) = try await f.validate()
        #expect(resolved != nil, "\(diagnostics)")
        // Znuny has no LOWER(…) indexes: `check` asks for one per case-insensitive match — except on
        // MariaDB, whose case-insensitive collation already compares as LOWER does (a plain index serves).
        #expect(
            diagnostics.filter { $0.message.contains("case-insensitively: only an index on LOWER") }.count
                == (backend == .mariadb ? 0 : 3), "\(diagnostics)")

        #expect(
            Self.purgedTickets == [1, 2, 5, 7],
            "ticket 3 is closed at the bound (UTC), 4 is open, 6 was closed again recently, 7 closed since 2022")
        #expect(Self.purgedCustomerUsers == [1, 5])

        let report = try await f.run()
        #expect(report.failure == nil)

        let keptTickets = Self.tickets.map(\.id).filter { !Self.purgedTickets.contains($0) }
        #expect(try await f.rows("SELECT id FROM ticket ORDER BY id").map { $0[0].int } == keptTickets)
        #expect(try await f.rows("SELECT id FROM article ORDER BY id").map { $0[0].int } == keptTickets.map { $0 * 10 })
        #expect(
            try await f.rows("SELECT id FROM article_data_mime ORDER BY id").map { $0[0].int }
                == keptTickets.map { $0 * 100 })
        #expect(Set(try await f.rows("SELECT ticket_id FROM ticket_history").map { $0[0].int }) == Set(keptTickets))
        let fieldValues = try await f.rows("SELECT id FROM dynamic_field_value ORDER BY id").map { $0[0].int }
        let expectedValues: [Int] = Self.tickets.flatMap { t -> [Int] in
            let theirs = Self.purgedTickets.contains(t.id) ? [] : [t.id * 1000 + 1]
            return theirs + [t.id * 1000 + 2]
        }
        #expect(
            try await f.rows("SELECT ticket_id FROM calendar_appointment_ticket ORDER BY ticket_id").map { $0[0].int }
                == [4, 6])
        #expect(
            try await f.rows("SELECT id FROM calendar_appointment ORDER BY id").map { $0[0].int } == [2, 4],
            "an appointment goes with the last ticket that pointed at it, and stays while another does")
        #expect(
            fieldValues == expectedValues,
            "a ticket's dynamic field values go with it; another object's with the same id stay")

        #expect(
            try await f.rows("SELECT id FROM customer_user ORDER BY id").map { $0[0].int }
                == Self.customerUsers.map(\.id).filter { !Self.purgedCustomerUsers.contains($0) })
        let purgedLogins = Set(Self.customerUsers.filter { Self.purgedCustomerUsers.contains($0.id) }.map(\.login))
        #expect(
            try await f.texts("SELECT user_id FROM customer_preferences").compactMap { $0 }.sorted()
                == Self.preferences.map(\.0).filter { !purgedLogins.contains($0.lowercased()) }.sorted(),
            "preferences go with their user whatever the case of the login; erin2's stay")

        let audit = try await f.audit(action: "purge")
        #expect(audit.filter { $0.ruleID == "znuny-tickets" }.count == Self.purgedTickets.count)
        #expect(audit.filter { $0.ruleID == "znuny-customer-users" }.count == Self.purgedCustomerUsers.count)
        #expect(try await f.trail().verify().isValid)

        // Tickets closed per month survive them.
        let statistics = try await f.rows(
            "SELECT period, group_values, records, period_open FROM retentiond_statistics WHERE rule_id = 'znuny-tickets'"
        )
        #expect(Set(statistics.map { $0.map(\.description) }) == Self.expectedStatistics)
        #expect(
            Self.expectedStatistics.contains { $0[3] == "1" } && Self.expectedStatistics.contains { $0[1] == "other" },
            "both kinds of month")
    }

    /// Every statement of a batch of either rule is served by indexes, with 40,000 history rows
    /// and articles of a ticket that is not due: the relations are probes, not scans per record.
    /// The case-insensitive matches use the LOWER(…) indexes `check` asks for (on MariaDB, whose
    /// case-insensitive collations compare as LOWER does, Znuny's own plain indexes).
    @Test(arguments: Backend.allCases)
    func everyStatementThroughRelationsIsServedByIndexes(_ backend: Backend) async throws {
        let f = try await CRMFixture(
            backend,
            schema: Self.schema + [
                "CREATE INDEX ticket_customer_user_lower ON ticket (LOWER(customer_user_id))",
                "CREATE INDEX customer_preferences_user_lower ON customer_preferences (LOWER(user_id))",
            ], mariadbSchema: Self.mariadbSchema,
            data: Self.data + [
                "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 40000) INSERT INTO ticket_history SELECT 10000 + i, 'AddNote', 4, 2, '2020-03-01 00:00:00' FROM n",
                "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 20000) INSERT INTO article SELECT 10000 + i, 4, '2020-03-01 00:00:00' FROM n",
            ], wholePolicy: try CRMFixture.packageFile("etc/examples/znuny.yaml"))
        try await f.gatherStatistics()
        _ = try await f.holds().add(
            table: "article_data_mime", keyText: "400", reason: "evidence", by: "dpo", until: nil, now: CRMFixture.now)
        let policy = try f.policy()
        let (resolved, diagnostics) = try await Enforcer.validate(policy, store: try await f.reader())
        try #require(resolved != nil, "\(diagnostics)")
        // Once the LOWER(…) indexes exist, `check` no longer asks for them.
        #expect(!diagnostics.contains { $0.message.contains("case-insensitively") }, "\(diagnostics)")
        let builder = SQLBuilder(dialect: try await f.executing { $0.dialect })
        let planner = QueryPlanTests()
        for rule in policy.rules {
            let query = try #require(try resolved?.query(for: rule, now: CRMFixture.now, toolTablesExist: true))
            let keys = [RecordKey([.integer(1)]), RecordKey([.integer(2)])]
            var statements: [(String, SQL)] = [
                ("re-check", builder.candidates(query, after: nil, keys: keys, limit: nil))
            ]
            for path in query.childPaths {
                statements.append(
                    (
                        "delete \(path.last!.table)",
                        builder.deleteChildren(
                            path, subjectTable: query.table, keyColumns: query.keyColumns, keys: keys)
                    ))
                statements.append(
                    (
                        "count \(path.last!.table)",
                        builder.countChildren(path, subjectTable: query.table, keyColumns: query.keyColumns, keys: keys)
                    ))
            }
            for (name, sql) in statements {
                let lines = try await planner.plan(f, sql)
                #expect(
                    planner.scans(lines, backend: backend, includingSubject: true).isEmpty,
                    "\(rule.id) \(name): \(lines.joined(separator: "\n"))")
            }
            let due = try await planner.plan(f, builder.candidates(query, after: nil, keys: nil, limit: 500))
            #expect(
                planner.scans(due, backend: backend, includingSubject: false, subjectTable: query.table).isEmpty,
                "\(rule.id): \(due.joined(separator: "\n"))")
        }
    }

    /// An index key on LOWER(column) as each database writes it back: PostgreSQL casts a varchar
    /// (`lower((customer_user_id)::text)`), SQLite keeps the statement's text.
    @Test func aLowerKeyIsReadAsTheDatabasesWriteItBack() {
        #expect(IndexInfo.lowerKey("lower((customer_user_id)::text)") == "customer_user_id")
        #expect(IndexInfo.lowerKey("lower(user_id)") == "user_id")
        #expect(IndexInfo.lowerKey("LOWER(\"user_id\")") == "user_id")
        #expect(IndexInfo.lowerKey("upper(user_id)") == nil)
        #expect(IndexInfo.lowerKey("lower(a || b)") == nil)
        #expect(IndexInfo.lowerKey("lower(substr(login, 1, 3))") == nil)
    }
}
