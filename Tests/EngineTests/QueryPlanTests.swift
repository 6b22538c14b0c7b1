import Foundation
import RetentionCore
import RetentionEngine
import RetentionStore
import TestSupport
import Testing

/// The statements a purge rule runs are served by indexes on both databases: the due test, and
/// the re-check of a batch with its legal holds on children and grandchildren — never a scan of a
/// child table per parent.
@Suite struct QueryPlanTests {
    /// Three levels of children under the subject, each linked by an indexed foreign key.
    static let schema =
        CRMFixture.schema + [
            "CREATE INDEX notes_person ON notes(person_id)",
            "CREATE INDEX attachments_note ON attachments(note_id)",
            "CREATE TABLE annotations (id INTEGER PRIMARY KEY, attachment_id INTEGER NOT NULL REFERENCES attachments(id), body TEXT)",
            "CREATE INDEX annotations_attachment ON annotations(attachment_id)",
            "CREATE INDEX orders_person ON orders(person_id)",
        ]
    /// 50,000 attachments and 100,000 rows in the deepest table (under a record that is not due),
    /// as a help desk's history tables have: a scan of either per parent would show.
    static let data =
        CRMFixture.data + [
            "INSERT INTO annotations VALUES (1000, 100, 'signed')",
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 50000) INSERT INTO attachments SELECT 1000 + i, 13, 'file' FROM n",
            // `/` is not integer division on MariaDB
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 100000) INSERT INTO annotations SELECT 2000 + i, 1000 + (i + 1 - (i + 1) % 2) / 2, 'history' FROM n",
        ]

    static let policy = """
        subjects:
          prospects:
            table: people
            key: id
            filter: { kind: prospect }
            rules:
              - id: prospect-purge
                register: "Prospection"
                legal_basis: "legitimate interest, 3 years"
                clock: last_seen
                after: 3y
                action: purge
                children:
                  - table: notes
                    foreign_key: person_id
                    children:
                      - table: attachments
                        foreign_key: note_id
                        children:
                          - { table: annotations, foreign_key: attachment_id }
        """

    /// The plan's lines, with PostgreSQL told to avoid sequential scans wherever an index can
    /// serve (so a scan that remains means no index could).
    func plan(_ f: CRMFixture, _ sql: SQL, hinted: Bool = true) async throws -> [String] {
        let backend = f.backend
        return try await f.executing { executing in
            let text = sql.text(for: executing.dialect)
            switch backend {
            case .sqlite:
                return try executing.rows("EXPLAIN QUERY PLAN " + text, sql.bindings).compactMap { $0.last?.textValue }
            case .postgres:
                if hinted { _ = try executing.execute("SET LOCAL enable_seqscan = off", []) }
                return try executing.rows("EXPLAIN " + text, sql.bindings).compactMap { $0.first?.textValue }
            case .mariadb:
                // One line per table read: "alias access-type key possible-keys". MariaDB scans a
                // table of a few rows even where an index serves (no setting says otherwise in
                // 10.11): a scan is a failure only when no index could serve (no possible key).
                return try executing.rows("EXPLAIN " + text, sql.bindings).map { row in
                    [row[2], row[3], row[5], row[4]].map { $0.textValue ?? "-" }.joined(separator: " ")
                }
            }
        }
    }

    /// Lines that read a whole table; the subject's (`subjectTable`, alias `s`) too when `includingSubject`.
    func scans(_ lines: [String], backend: Backend, includingSubject: Bool, subjectTable: String = "people") -> [String]
    {
        lines.filter { line in
            switch backend {
            // SQLite names tables by their alias in the plan: `SCAN c1` reads all of a child table.
            // `SCAN g` walks the trail's reference segments, found one primary-key probe each.
            case .sqlite:
                return line.hasPrefix("SCAN ") && line != "SCAN g" && (includingSubject || !line.hasPrefix("SCAN s"))
            case .postgres:
                return line.contains("Seq Scan") && (includingSubject || !line.contains(" \(subjectTable) s "))
            // Derived tables (`<derived2>`) and the segments' recursive walk are not tables of the database.
            case .mariadb:
                return line.hasSuffix(" ALL - -") && !line.hasPrefix("<") && !line.hasPrefix("g ")
                    && (includingSubject || !line.hasPrefix("s "))
            }
        }
    }

    /// The tool's tables exist and an annotation is held, so hold checks are part of the statements.
    func prepared(_ backend: Backend) async throws -> (CRMFixture, RuleQuery, SQLBuilder) {
        let f = try await CRMFixture(backend, schema: Self.schema, data: Self.data, policy: Self.policy)
        _ = try await f.holds().add(
            table: "annotations", keyText: "1000", reason: "evidence", by: "dpo", until: nil, now: CRMFixture.now)
        // PostgreSQL plans from statistics (and is told to avoid sequential scans wherever an index
        // can serve); SQLite without statistics takes an index whenever one serves.
        try await f.gatherStatistics()
        #expect(try await f.count("SELECT count(*) FROM annotations") == 100_001)
        let policy = try f.policy()
        let (resolved, _) = try await Enforcer.validate(policy, store: try await f.reader())
        let query = try #require(try resolved?.query(for: policy.rules[0], now: CRMFixture.now, toolTablesExist: true))
        return (f, query, SQLBuilder(dialect: try await f.executing { $0.dialect }))
    }

    @Test func theDueTestReadsAsTheSQLItIsWithEveryValueBound() async throws {
        let (_, query, builder) = try await prepared(.sqlite)
        let sql = builder.candidates(query, after: RecordKey([.integer(41)]), keys: nil, limit: 500)
        let text = sql.description
        // What keeps a record, as one column: no consent or related test here, an undeclared reference (4), holds (8).
        #expect(
            text.hasPrefix(
                "SELECT s.\"id\", s.\"last_seen\", CASE WHEN EXISTS (SELECT 1 FROM \"orders\" AS u WHERE u.\"person_id\" = s.\"id\") THEN 1 ELSE 0 END * 4 + CASE WHEN EXISTS (SELECT 1 FROM retentiond_holds AS h WHERE h.table_name = ? AND h.record_key = "
            ))
        #expect(text.contains("THEN 1 ELSE 0 END * 8 FROM \"people\" AS s"))
        #expect(
            text.contains(
                "FROM \"notes\" AS c0 JOIN \"attachments\" AS c1 ON c1.\"note_id\" = c0.\"id\" JOIN \"annotations\" AS c2 ON c2.\"attachment_id\" = c1.\"id\" WHERE c0.\"person_id\" = s.\"id\""
            ))
        #expect(
            text.hasSuffix(
                " FROM \"people\" AS s WHERE s.\"kind\" = ? AND ((s.\"last_seen\" IS NOT NULL AND s.\"last_seen\" < ?)) AND s.\"id\" > ? ORDER BY s.\"id\" LIMIT ?"
            ))
        // Values travel as bindings, in the order of their placeholders: nothing from the data is in the text.
        // The cutoff: 2026-06-01T00:00Z is 02:00 in Paris; three years before, in the column's own layout.
        #expect(sql.bindings.first == .text("people"))
        #expect(
            Array(sql.bindings.suffix(4)) == [
                .text("prospect"), .text("2023-06-01 02:00:00"), .integer(41), .integer(500),
            ])
        #expect(text.components(separatedBy: "?").count - 1 == sql.bindings.count)
        let numbered = SQLDialect(
            numberedPlaceholders: true, flagIsSet: { $0 }, canonicalKey: { $0.joined() }, keyValueKind: { _ in .other },
            textOf: { $0 }, lockRows: "")
        #expect(sql.text(for: numbered).hasSuffix("LIMIT $\(sql.bindings.count)"))
    }

    /// A batch's keys are one list, whose placeholders are numbered in turn with the values around it.
    @Test func aBatchsKeysAreBoundInTheOrderOfTheirPlaceholders() async throws {
        let keys: [SQLValue] = [.integer(7), .integer(8), .integer(9)]
        let sql: SQL =
            "SELECT \(.integer(1)) FROM t WHERE k IN (\(SQL.list(keys))) AND s = \(.text("z"))\(SQL.list([]))"
        #expect(sql.description == "SELECT ? FROM t WHERE k IN (?, ?, ?) AND s = ?")
        let numbered = SQLDialect(
            numberedPlaceholders: true, flagIsSet: { $0 }, canonicalKey: { $0.joined() }, keyValueKind: { _ in .other },
            textOf: { $0 }, lockRows: "")
        #expect(sql.text(for: numbered) == "SELECT $1 FROM t WHERE k IN ($2, $3, $4) AND s = $5")
        #expect(sql.bindings == [.integer(1), .integer(7), .integer(8), .integer(9), .text("z")])

        // Children whose foreign key references the subject's key are matched on the batch's keys,
        // without reading the subject's rows again; the levels below go through the level above.
        let (_, query, builder) = try await prepared(.sqlite)
        let batch = [RecordKey([.integer(1)]), RecordKey([.integer(2)])]
        let paths = query.childPaths.map {
            builder.deleteChildren($0, subjectTable: "people", keyColumns: ["id"], keys: batch).description
        }
        #expect(paths.first == "DELETE FROM \"notes\" AS x WHERE x.\"person_id\" IN (?, ?)")
        #expect(
            paths.dropFirst().first
                == "DELETE FROM \"attachments\" AS x WHERE x.\"note_id\" IN (SELECT c.\"id\" FROM \"notes\" AS c WHERE c.\"person_id\" IN (?, ?))"
        )
    }

    @Test(arguments: Backend.allCases)
    func everyStatementOfABatchIsServedByIndexesAllTheWayDown(_ backend: Backend) async throws {
        let (f, query, builder) = try await prepared(backend)
        let keys = [RecordKey([.integer(1)]), RecordKey([.integer(2)])]
        func ref(_ n: Int) -> String { String(repeating: String(n), count: 64) }
        var statements: [(String, SQL)] = [
            ("re-check", builder.candidates(query, after: nil, keys: keys, limit: nil)),
            ("existing keys", "SELECT p.\"id\" FROM \"people\" AS p WHERE \(builder.keyIn("p", ["id"], keys))"),
            ("delete records", builder.deleteRows(table: "people", keyColumns: ["id"], keys: keys)),
            (
                "already done",
                builder.auditedReferences(rule: "r", action: "anonymise", references: [ref(1), ref(2)], indexed: true)
            ),
            (
                "a record's entries",
                builder.auditEntries(after: 0, limit: 100, filter: AuditFilter(subjectRef: ref(1)), indexed: true)
            ),
            ("mark", builder.markDone(rule: "r", table: "people", keyColumns: ["id"], keys: keys)),
            ("unmark", builder.unmarkDone(rules: ["r"], table: "people", keyColumns: ["id"], keys: keys)),
            // Fields given one value for every record (`null`, `constant`): set through the keys alone.
            (
                "anonymise",
                builder.anonymise(
                    table: "people", keyColumns: ["id"], fields: ["email", "name"],
                    rows: keys.map { ($0, [.null, .text("gone")]) })
            ),
        ]
        for path in query.childPaths {
            statements.append(
                (
                    "delete \(path.last!.table)",
                    builder.deleteChildren(path, subjectTable: "people", keyColumns: ["id"], keys: keys)
                ))
        }
        #expect(statements.count == 11, "notes, attachments and annotations are purged with their prospect")
        // A dry run's count of what a page's due records would take with them.
        for path in query.childPaths {
            statements.append(
                (
                    "count \(path.last!.table)",
                    builder.countChildren(path, subjectTable: "people", keyColumns: ["id"], keys: keys)
                ))
        }
        #expect(!statements[7].1.description.contains("VALUES"), "\(statements[7].1.description)")
        #expect(
            statements[0].1.description.contains("JOIN \"annotations\""),
            "three levels of children are checked for holds")
        for (name, sql) in statements {
            let lines = try await plan(f, sql)
            #expect(
                scans(lines, backend: backend, includingSubject: true).isEmpty,
                "\(name): \(lines.joined(separator: "\n"))")
        }

        var marked = query
        marked.excludeDone = true
        let due = try await plan(f, builder.candidates(marked, after: nil, keys: nil, limit: 500))
        #expect(
            builder.candidates(marked, after: nil, keys: nil, limit: 500).description.contains(
                "NOT EXISTS (SELECT 1 FROM retentiond_done AS d"))
        // How the subject's due rows are found (clock index, or key order for paging) is the
        // planner's choice on a table this small; what hangs off each row must be probed.
        #expect(scans(due, backend: backend, includingSubject: false).isEmpty, "\(due.joined(separator: "\n"))")

        // And the hold on the grandchild's child keeps its prospect, through all of it.
        let report = try await f.run()
        #expect(report.rules[0].exempt["legal_hold"] == 1)
        #expect(try await f.ids("people").contains(1))
    }

    /// What another subject's rules say of a purge's child rows ("keeping wins") is read on the
    /// rows the foreign key's index finds, in the same probe as their holds: 20,000 invoices under
    /// a ticket that is not due are never read for the tickets that are; an owned row's is one
    /// primary-key probe.
    @Test(arguments: Backend.allCases)
    func anotherSubjectsSayOverChildRowsIsReadThroughTheirIndexes(_ backend: Backend) async throws {
        let f = try await CRMFixture(
            backend,
            schema: PrecedenceTests.ticketSchema + [
                "CREATE TABLE appointments (id INTEGER PRIMARY KEY, starts_at TEXT)",
                "CREATE TABLE appointment_links (id INTEGER PRIMARY KEY, ticket_id INTEGER REFERENCES tickets(id), appointment_id INTEGER REFERENCES appointments(id))",
                "CREATE INDEX links_ticket ON appointment_links(ticket_id)",
                "CREATE INDEX links_appointment ON appointment_links(appointment_id)",
            ],
            data: PrecedenceTests.ticketData + [
                "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 20000) INSERT INTO invoices SELECT 1000 + i, 5, '2025-01-01', 0 FROM n"
            ],
            policy: """
                subjects:
                  tickets:
                    table: tickets
                    key: id
                    rules:
                      - id: ticket-purge
                        register: "Support"
                        legal_basis: "contract, 1 year after closing"
                        clock: closed_at
                        after: 1y
                        action: purge
                        children:
                          - { table: messages, foreign_key: ticket_id }
                          - { table: invoices, foreign_key: ticket_id, children: [{ table: invoice_lines, foreign_key: invoice_id }] }
                          - { table: appointment_links, foreign_key: ticket_id, owns: [{ table: appointments, foreign_key: appointment_id }] }
                  invoices:
                    table: invoices
                    key: id
                    exempt:
                      consent: { flag: hold_flag }
                    rules:
                      - id: accounting
                        register: "Accounting"
                        legal_basis: "legal obligation, 10 years"
                        clock: { column: issued_on, anchor: fiscal_year_end }
                        after: 10y
                        action: purge
                        children: auto
                  appointments:
                    table: appointments
                    key: id
                    rules:
                      - id: agenda
                        register: "Agenda"
                        legal_basis: "legal obligation, 10 years"
                        clock: starts_at
                        after: 10y
                        action: purge

                """)
        try await f.gatherStatistics()
        let policy = try f.policy()
        let (resolved, _) = try await Enforcer.validate(policy, store: try await f.reader())
        let query = try #require(try resolved?.query(for: policy.rules[0], now: CRMFixture.now, toolTablesExist: false))
        #expect(query.keepers.map(\.subject) == ["invoices", "appointments"])
        let builder = SQLBuilder(dialect: try await f.executing { $0.dialect })
        let keys = [RecordKey([.integer(1)]), RecordKey([.integer(2)])]
        let recheck = builder.candidates(query, after: nil, keys: keys, limit: nil)
        #expect(
            recheck.description.contains("FROM \"invoices\" AS c0 WHERE c0.\"ticket_id\" = s.\"id\" AND ("),
            "\(recheck.description)")
        for (name, sql) in [
            ("re-check", recheck), ("page", builder.candidates(query, after: nil, keys: nil, limit: 500)),
        ] {
            let lines = try await plan(f, sql)
            #expect(
                scans(lines, backend: backend, includingSubject: false, subjectTable: "tickets").isEmpty,
                "\(name): \(lines.joined(separator: "\n"))")
        }
        // An owned row is tested where the delete finds it, by its primary key.
        let owned = try #require(query.childPaths.first { $0[$0.count - 1].owned }?.last)
        #expect(owned.keptBy == ["appointments"])
        let delete = builder.deleteOwned(owned, keys: [RecordKey([.integer(100)])], keepers: query.keepers)
        #expect(
            delete.description.hasSuffix(
                "AND NOT (NOT (CASE WHEN (((o.\"starts_at\" IS NOT NULL AND o.\"starts_at\" < ?))) THEN 1 ELSE 0 END = 1))"
            ), "\(delete.description)")
        let lines = try await plan(f, delete)
        #expect(scans(lines, backend: backend, includingSubject: true).isEmpty, "\(lines.joined(separator: "\n"))")
    }

    /// PostgreSQL left to its own plans (statistics, no hints): a batch of the default size whose
    /// children are a few percent of their tables reaches them through the foreign keys' indexes.
    /// Written as `IN (subquery)`, the planner costed a hash join on a scan of the whole child
    /// table as cheaper — and ran that scan in every batch; a dry run's count, written as a join
    /// from the page's keys, did the same.
    @Test func aLargeBatchReachesItsChildrenThroughTheirIndexesOnPostgres() async throws {
        let f = try await CRMFixture(
            .postgres, schema: Self.schema,
            data: Self.data + [
                "INSERT INTO people SELECT 100 + i, 'prospect', 'p', NULL, NULL, NULL, '2020-01-01', '2019-01-01', NULL, 0 FROM generate_series(1, 40000) AS i",
                "INSERT INTO notes SELECT 100000 + i, 100 + (i + 2) / 3, 'n' FROM generate_series(1, 120000) AS i",
                "INSERT INTO attachments SELECT 200000 + i, 100000 + i, 'a' FROM generate_series(1, 120000) AS i",
                "ANALYZE",
            ], policy: Self.policy)
        let policy = try f.policy()
        let (resolved, _) = try await Enforcer.validate(policy, store: try await f.reader())
        let query = try #require(try resolved?.query(for: policy.rules[0], now: CRMFixture.now, toolTablesExist: false))
        let builder = SQLBuilder(dialect: try await f.executing { $0.dialect })
        let keys = (101..<101 + RunSettings.defaultBatchSize).map { RecordKey([.integer(Int64($0))]) }
        #expect(query.childPaths.count == 3)
        for path in query.childPaths {
            for sql in [
                builder.deleteChildren(path, subjectTable: "people", keyColumns: ["id"], keys: keys),
                builder.selectChildren(
                    path, subjectTable: "people", keyColumns: ["id"], keys: keys, columns: ["id"], order: ["id"]),
                builder.countChildren(path, subjectTable: "people", keyColumns: ["id"], keys: keys),
            ] {
                let lines = try await plan(f, sql, hinted: false)
                #expect(
                    !lines.contains { $0.contains("Seq Scan") && !$0.contains(" people p") },
                    "\(path.last!.table): \(lines.joined(separator: "\n"))")
            }
        }
    }

    /// A batch of a flag or anonymise rule reads its records' marks by one probe each. With
    /// statistics taken while the marks were few, PostgreSQL hashed every mark of the rule for each
    /// batch — as an anti-join when the mark was tested in the condition, as a hashed subplan when
    /// it was read as a column — or walked the clock's index over the rule's whole past: either
    /// way a batch's cost grew with every batch before it.
    @Test func aBatchReadsItsRecordsMarksByProbesOnPostgres() async throws {
        let f = try await CRMFixture(
            .postgres, schema: CRMFixture.schema,
            data: CRMFixture.data + [
                "INSERT INTO people SELECT 100 + i, 'prospect', 'p', NULL, NULL, NULL, '2020-01-01', '2019-01-01', NULL, 0 FROM generate_series(1, 60000) AS i"
            ], policy: CRMPolicies.anonymise)
        // the tool's tables; nothing due yet
        _ = try await f.run(now: CRMFixture.now.addingTimeInterval(-86_400 * 3650))
        // As on the benchmark's database, statistics taken when the rule had a few hundred marks.
        try await f.sql([
            "INSERT INTO retentiond_done SELECT 'prospect-anonymise', '[' || id || ']' FROM people WHERE id BETWEEN 101 AND 900",
            "ANALYZE",
            "INSERT INTO retentiond_done SELECT 'prospect-anonymise', '[' || id || ']' FROM people WHERE id BETWEEN 901 AND 50100",
        ])
        let policy = try f.policy()
        let (resolved, _) = try await Enforcer.validate(policy, store: try await f.reader())
        var query = try #require(try resolved?.query(for: policy.rules[0], now: CRMFixture.now, toolTablesExist: true))
        query.excludeDone = true
        query.heldTables = []  // as a batch reads them: no hold in force
        let builder = SQLBuilder(dialect: try await f.executing { $0.dialect })
        let keys = (40_101..<40_101 + RunSettings.defaultBatchSize).map { RecordKey([.integer(Int64($0))]) }
        let lines = try await plan(f, builder.candidates(query, after: nil, keys: keys, limit: nil), hinted: false)
        let plan = lines.joined(separator: "\n")
        #expect(
            !lines.contains {
                $0.contains("Hash") || $0.contains("Seq Scan") || $0.contains("people_last_seen")
                    || $0.contains("people_collected")
            }, "\(plan)")
        #expect(plan.contains("Index Only Scan using retentiond_done_pkey"), "\(plan)")

        // The marked records come back flagged, and a run counts them as already done.
        let recheck = builder.candidates(query, after: nil, keys: keys, limit: nil)
        let rows = try await f.executing { try $0.rows(recheck) }
        #expect(
            rows.map { SQLBuilder.decodeCandidate($0, query: query, keys: true).markedDone }.filter { $0 }.count
                == RunSettings.defaultBatchSize)
    }

    /// A test through a relation whose first step an index serves stays one probe of that index per
    /// record, whatever PostgreSQL's statistics say. With statistics taken while the related table
    /// was small (or none at all), PostgreSQL turned such a `NOT EXISTS` into a join over a scan of
    /// the related table, once per record (the Dolibarr example's forecast: 3.2 s against 0.09 s).
    @Test(arguments: Backend.allCases)
    func aRelationsTestIsAnIndexProbePerRecordWhateverTheStatistics(_ backend: Backend) async throws {
        let f = try await CRMFixture(
            backend,
            schema: CRMFixture.schema + [
                "CREATE TABLE events (id INTEGER PRIMARY KEY, person_id INTEGER NOT NULL, kind TEXT NOT NULL, at TEXT)",
                "CREATE INDEX events_person ON events(person_id)",
            ],
            data: CRMFixture.data + [
                "INSERT INTO events VALUES (1, 1, 'call', '2020-02-01')"
            ],
            policy: """
                subjects:
                  prospects:
                    table: people
                    key: id
                    relations:
                      events: { table: events, on: { person_id: id }, where: { kind: call } }
                    filter: { kind: prospect }
                    rules:
                      - id: prospect-purge
                        register: "Prospection"
                        legal_basis: "legitimate interest, 3 years"
                        clock: { latest: [last_seen, events.at] }
                        after: 3y
                        action: purge
                """)
        // Statistics taken while the related table had one row; then it grows, as a help desk's
        // history does between two passes of autovacuum.
        try await f.gatherStatistics()
        try await f.sql([
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 20000) INSERT INTO people SELECT 100 + i, 'prospect', 'p', NULL, NULL, NULL, '2022-01-01', '2019-01-01', NULL, 0 FROM n",
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 60000) INSERT INTO events SELECT 1 + i, 100 + i / 3, 'call', '2022-06-01' FROM n",
        ])
        let policy = try f.policy()
        let (resolved, _) = try await Enforcer.validate(policy, store: try await f.reader())
        let resolvedPolicy = try #require(resolved)
        let query = try resolvedPolicy.query(for: policy.rules[0], now: CRMFixture.now, toolTablesExist: false)
        let boundaries = try (1...12).map { month in
            try resolvedPolicy.query(
                for: policy.rules[0], now: CRMFixture.now.addingTimeInterval(Double(month) * 30 * 86_400),
                toolTablesExist: false
            ).clock
        }
        let builder = SQLBuilder(dialect: try await f.executing { $0.dialect })
        for sql in [
            builder.forecast(query, boundaries: boundaries),
            builder.candidates(query, after: nil, keys: nil, limit: 5000),
        ] {
            let lines = try await plan(f, sql, hinted: false)
            let text = lines.joined(separator: "\n")
            switch backend {
            case .sqlite:
                #expect(!lines.contains { $0.hasPrefix("SCAN r") }, "\(text)")
            case .postgres:
                #expect(!lines.contains { $0.contains("on events") && !$0.contains("events_person") }, "\(text)")
                #expect(!lines.contains { $0.contains("Hash") || $0.contains("Materialize") }, "\(text)")
            case .mariadb:
                #expect(!lines.contains { $0.hasPrefix("r") && $0.hasSuffix(" ALL - -") }, "\(text)")
            }
        }
    }
}
