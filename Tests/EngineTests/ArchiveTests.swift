import Foundation
import RetentionCore
import RetentionStore
import TestSupport
import Testing

@testable import RetentionEngine

/// The intermediate archive (docs/policy.md, "Archive"): invoices moved, with their lines and
/// payments, from the application's database into a separate one at the end of the fiscal year
/// + 1, and purged from there at 10 years. What each database holds after each run is compared
/// with the rows read with plain SQL before it, value for value.
@Suite struct ArchiveTests {
    static func schema(_ backend: Backend) -> [String] {
        let bytes = backend == .postgres ? "BYTEA" : "BLOB"
        return [
            "CREATE TABLE invoices (id INTEGER PRIMARY KEY, ref VARCHAR(20) NOT NULL, issued_on DATE NOT NULL, total DECIMAL(12,2), currency CHAR(3), scan \(bytes))",
            "CREATE INDEX invoices_issued_on ON invoices(issued_on)",
            "CREATE TABLE invoice_lines (id INTEGER PRIMARY KEY, invoice_id INTEGER NOT NULL REFERENCES invoices(id), label VARCHAR(40), amount DECIMAL(12,2))",
            "CREATE INDEX invoice_lines_invoice ON invoice_lines(invoice_id)",
            "CREATE TABLE payments (id INTEGER PRIMARY KEY, invoice_id INTEGER NOT NULL REFERENCES invoices(id), paid_on DATE, amount DECIMAL(12,2))",
            "CREATE INDEX payments_invoice ON payments(invoice_id)",
        ]
    }

    /// Invoice i (1…24) is issued on 15 March of 2003 + i (2004 … 2027 would be too late: the
    /// last ones are this year's and next year's): two lines and a payment each, a scan every third.
    static func data(_ backend: Backend) -> [String] {
        func blob(_ i: Int) -> String {
            guard i % 3 == 0 else { return "NULL" }
            let hex = String(format: "00ff%02x27", i)
            return backend == .postgres ? "'\\x\(hex)'::bytea" : "x'\(hex)'"
        }
        return (1...23).flatMap { i -> [String] in
            [
                "INSERT INTO invoices VALUES (\(i), 'INV-\(i)', '\(2003 + i)-03-15', \(i * 1000).\(String(format: "%02d", i)), 'EUR', \(blob(i)))",
                "INSERT INTO invoice_lines VALUES (\(i * 10), \(i), 'service \(i)', \(i * 600).50), (\(i * 10 + 1), \(i), 'goods', \(i * 400 - 1).\(String(format: "%02d", i - 1)))",
                "INSERT INTO payments VALUES (\(i * 100), \(i), '\(2003 + i)-04-01', \(i * 1000).\(String(format: "%02d", i)))",
            ]
        }
    }

    /// The policy while the fixture loads its data, before the archive database is made.
    static let loading = """
        subjects:
          invoices:
            table: invoices
            key: id
            rules:
              - { id: loading, register: "Accounting", legal_basis: "none", clock: issued_on, after: 100y, action: flag }

        """

    static func policy(archive: String) -> String {
        """
        fiscal_year: { starts: "01-01" }
        \(archive)
        subjects:
          invoices:
            table: invoices
            key: id
            rules:
              - id: invoices-to-archive
                register: "Accounting"
                legal_basis: "legal obligation (Code de commerce L123-22)"
                clock: { column: issued_on, anchor: fiscal_year_end }
                after: 1y
                action: archive
                children:
                  - { table: invoice_lines, foreign_key: invoice_id }
                  - { table: payments, foreign_key: invoice_id }
              - id: invoices-end
                phase: archive
                register: "Accounting"
                legal_basis: "legal obligation (Code de commerce L123-22: 10 years)"
                clock: { column: issued_on, anchor: fiscal_year_end }
                after: 10y
                action: purge
                children:
                  - { table: invoice_lines, foreign_key: invoice_id }
                  - { table: payments, foreign_key: invoice_id }

        """
    }

    /// The invoices in `backend`'s database under `policy(archive:)`, with an empty archive of its kind.
    static func fixture(_ backend: Backend) async throws -> CRMFixture {
        let f = try await CRMFixture(backend, schema: schema(backend), data: data(backend), policy: loading)
        try f.write(policy: policy(archive: try await f.newArchiveSection()))
        return f
    }

    /// Every row of the three tables, every value as the database writes it as text (bytes as they are).
    static func contents(_ f: CRMFixture) async throws -> [String: [[SQLValue]]] {
        [
            "invoices": try await f.rows(
                "SELECT id, ref, CAST(issued_on AS TEXT), CAST(total AS TEXT), currency, scan FROM invoices ORDER BY id"
            ),
            "invoice_lines": try await f.rows(
                "SELECT id, invoice_id, label, CAST(amount AS TEXT) FROM invoice_lines ORDER BY id"),
            "payments": try await f.rows(
                "SELECT id, invoice_id, CAST(paid_on AS TEXT), CAST(amount AS TEXT) FROM payments ORDER BY id"),
        ]
    }

    /// The rows of `contents` that belong to the invoices `ids` (or to none of them, `keeping`).
    static func rows(_ contents: [String: [[SQLValue]]], of ids: Set<Int64>, keeping: Bool = false) -> [String:
        [[SQLValue]]]
    {
        contents.mapValues { rows in
            rows.filter { row in
                let id: SQLValue = row.count == 6 ? row[0] : row[1]
                guard case .integer(let invoice) = id else { return false }
                return ids.contains(invoice) != keeping
            }
        }
    }

    @Test(arguments: Backend.allCases)
    func invoicesMoveWholeToTheArchiveAndEndThere(_ backend: Backend) async throws {
        let f = try await CRMFixture(
            backend, schema: Self.schema(backend), data: Self.data(backend), policy: Self.loading)
        try f.write(policy: Self.policy(archive: try await f.newArchiveSection()), batchSize: 4)
        let before = try await Self.contents(f)
        // Invoice 5 (2008) is under a legal hold in the application's database.
        let hold = try await f.holds().add(
            table: "invoices", keyText: "5", reason: "tax audit", by: "dpo", until: nil,
            now: Date.iso("2026-05-01T00:00:00Z"))

        // 1 June 2026 (Paris): an invoice of 2024 or before has passed its fiscal year's end + 1 year.
        let now = Date.iso("2026-06-01T00:00:00Z")
        let moved = Set((1...21).map(Int64.init)).subtracting([5])
        let report = try await f.run(now: now)
        #expect(report.rules.map(\.rule) == ["invoices-to-archive"])
        #expect(report.rules[0].action == "archive")
        #expect(report.rules[0].purged == moved.count)
        #expect(report.rules[0].childRowsPurged == ["invoice_lines": moved.count * 2, "payments": moved.count])
        #expect(
            try await Self.contents(f) == Self.rows(before, of: moved, keeping: true),
            "the application keeps what was not moved, as it was")
        f.phase = .archive
        #expect(
            try await Self.contents(f) == Self.rows(before, of: moved),
            "the archive holds what was moved, value for value")
        #expect(try await f.count("SELECT count(*) FROM retentiond_archive_pending") == 0)

        // The application's trail says what moved, record by record; no personal value in it.
        f.phase = .active
        let entries = try await f.audit()
        #expect(entries.filter { $0.action == "archive" }.count == moved.count)
        #expect(Set(entries.filter { $0.action == "archive-children" }.map(\.table)) == ["invoice_lines", "payments"])
        #expect(
            Set(entries.filter { $0.action == "archive" }.map(\.subjectRef))
                == Set(try moved.map { try f.reference("invoices", $0) }))
        #expect(try await f.trail().verify().isValid)

        // The archive's own rule, its own run: invoices of 2015 and before are 10 years past their year's end.
        f.phase = .archive
        let ended = Set((1...12).map(Int64.init)).subtracting([5])
        let archiveRun = try await f.run(now: now)
        #expect(archiveRun.rules.map(\.rule) == ["invoices-end"])
        #expect(archiveRun.rules[0].purged == ended.count)
        #expect(try await Self.contents(f) == Self.rows(before, of: moved.subtracting(ended)))
        #expect(try await f.audit().filter { $0.action == "purge" }.count == ended.count)
        #expect(try await f.trail().verify().isValid, "the archive's trail is a chain of its own")

        // Nothing more is due: a second run of each phase changes neither database.
        f.phase = .active
        #expect(try await f.run(now: now).totalChanged == 0)
        #expect(try await Self.contents(f) == Self.rows(before, of: moved, keeping: true))
        f.phase = .archive
        #expect(try await f.run(now: now).totalChanged == 0)
        #expect(try await Self.contents(f) == Self.rows(before, of: moved.subtracting(ended)))

        // Released, invoice 5 moves on the next run — and, 2008 being long over, ends at the archive's next.
        f.phase = .active
        _ = try await f.holds().release(id: hold.id, by: "dpo", now: Date.iso("2026-06-02T00:00:00Z"))
        #expect(try await f.run(now: Date.iso("2026-06-02T00:00:00Z")).rules[0].purged == 1)
        f.phase = .archive
        #expect(try await Self.contents(f)["invoices"]?.first?.first == .integer(5))
        #expect(try await f.run(now: Date.iso("2026-06-02T00:00:00Z")).rules[0].purged == 1)
        #expect(try await Self.contents(f) == Self.rows(before, of: moved.subtracting(ended)))
    }

    /// What a crash between the two databases leaves — copies committed in the archive, the
    /// application's batch committed or not — is completed by the next run before anything else:
    /// a record still in the application's database keeps it (its copy goes), one no longer
    /// there is in the archive for good.
    @Test(arguments: Backend.allCases)
    func aBatchInterruptedBetweenTheTwoDatabasesIsCompleted(_ backend: Backend) async throws {
        let f = try await Self.fixture(backend)
        let before = try await Self.contents(f)
        let enforcer = try await f.enforcer()
        let archive = try #require(enforcer.archive)
        let shape = enforcer.resolved.archiveShape(of: try #require(enforcer.policy.archivingRules.first))
        // Invoices 22 and 23 (2025, 2026: not due): copied as a batch does, then the crash. Invoice
        // 23's batch had committed in the application's database (deleted there by hand here).
        let keys = [RecordKey([.integer(22)]), RecordKey([.integer(23)])]
        let copies = try await enforcer.store.read { try $0.rowsToArchive(shape, keys: keys) }
        try await archive.store.transaction {
            try $0.prepareArchive(enforcer.resolved.archivedTables(for: archive.policy))
        }
        try await archive.store.transaction { try $0.storeArchived(copies, shape: shape, keys: keys, unmarking: []) }
        try await f.sql([
            "DELETE FROM invoice_lines WHERE invoice_id = 23", "DELETE FROM payments WHERE invoice_id = 23",
            "DELETE FROM invoices WHERE id = 23",
        ])

        _ = try await f.run(now: Date.iso("2026-06-01T00:00:00Z"))
        let moved = Set((1...21).map(Int64.init))
        #expect(
            try await Self.contents(f) == Self.rows(before, of: moved.union([23]), keeping: true),
            "invoice 22 stays where it is due to stay")
        f.phase = .archive
        #expect(
            try await Self.contents(f) == Self.rows(before, of: moved.union([23])),
            "invoice 23 is in the archive, its copy only there; 22's copy is gone")
        #expect(try await f.count("SELECT count(*) FROM retentiond_archive_pending") == 0)
    }

    /// A row changed after its copy was committed is not deleted from the application's database:
    /// the batch is refused and nothing changes there; the copies of what it kept are removed, and
    /// the record moves on a later attempt as it is then.
    @Test(arguments: Backend.allCases)
    func aRecordChangedAfterItsCopyIsNotDeleted(_ backend: Backend) async throws {
        let f = try await Self.fixture(backend)
        let before = try await Self.contents(f)
        let enforcer = try await f.enforcer()
        let applier = try enforcer.applier(runID: "test")
        try await applier.prepare()
        let work = try #require(
            try applier.batchWorks(planNow: Date.iso("2026-06-01T00:00:00Z"))["invoices-to-archive"])
        let keys = [RecordKey([.integer(3)]), RecordKey([.integer(4)])]
        let copies = try await #require(work.archive).copy(keys, from: enforcer.store)
        // The application corrects a line of invoice 3 between the copy and the deletion.
        try await f.sql(["UPDATE invoice_lines SET label = 'corrected' WHERE id = 30"])
        await #expect(throws: StoreFailure.self) {
            try await enforcer.store.transaction { try work.apply(in: $0, keys: keys, lock: nil, copies: copies) }
        }
        var expected = before
        expected["invoice_lines"] = expected["invoice_lines"]!.map {
            $0[0] == .integer(30) ? [$0[0], $0[1], .text("corrected"), $0[3]] : $0
        }
        #expect(try await Self.contents(f) == expected, "nothing was deleted")

        // Through the applier, the batch copies again first: both invoices move, 3 as corrected.
        _ = try await applier.applyBatch(work, keys: keys, lock: nil)
        #expect(try await Self.contents(f) == Self.rows(expected, of: [3, 4], keeping: true))
        f.phase = .archive
        #expect(try await Self.contents(f) == Self.rows(expected, of: [3, 4]))
        #expect(try await f.count("SELECT count(*) FROM retentiond_archive_pending") == 0)
    }

    /// Keeping wins across the archive: rows another rule reads to keep its records (a `related`
    /// exemption, here) may not be moved away from it — unless the archive rule copies that rule's
    /// table into the archive with them.
    @Test func aRuleKeptByRowsAnArchiveRuleMovesIsRefusedUnlessItsTableIsCopied() async throws {
        let schema = [
            "CREATE TABLE customers (id INTEGER PRIMARY KEY, name VARCHAR(40), ended_on DATE)",
            "CREATE TABLE invoices (id INTEGER PRIMARY KEY, customer_id INTEGER NOT NULL REFERENCES customers(id), issued_on DATE NOT NULL)",
            "CREATE INDEX invoices_customer ON invoices(customer_id)",
            "CREATE INDEX invoices_issued_on ON invoices(issued_on)",
            "INSERT INTO customers VALUES (1, 'Alice', '2015-01-01')",
            "INSERT INTO invoices VALUES (10, 1, '2020-06-01')",
        ]
        func policy(copies: String) -> String {
            """
            archive: { sqlite: archive.sqlite }
            subjects:
              customers:
                table: customers
                key: id
                rules:
                  - id: customer-identity
                    register: "Accounting"
                    legal_basis: "legal obligation"
                    clock: ended_on
                    after: 3y
                    action: anonymise
                    fields: { name: null }
                    exempt:
                      related:
                        - { table: invoices, foreign_key: customer_id, clock: { column: issued_on, anchor: fiscal_year_end }, within: 10y }
              invoices:
                table: invoices
                key: id
                rules:
                  - id: invoices-to-archive
                    register: "Accounting"
                    legal_basis: "legal obligation"
                    clock: { column: issued_on, anchor: fiscal_year_end }
                    after: 1y
                    action: archive
            \(copies)

            """
        }
        let f = try await CRMFixture(.sqlite, schema: schema, policy: Self.loading)
        try f.write(policy: policy(copies: ""))
        let (refused, diagnostics) = try await f.validate()
        #expect(refused == nil)
        #expect(
            diagnostics.contains {
                $0.severity == .error && $0.message.contains("rule `customer-identity` reads `invoices`")
                    && $0.message.contains("rule `invoices-to-archive` moves to the archive")
            },
            "\(diagnostics)")
        try f.write(policy: policy(copies: "        copies: [{ table: customers, foreign_key: customer_id }]"))
        let (accepted, more) = try await f.validate()
        #expect(accepted != nil, "\(more)")
        // The copy: the customer's row goes to the archive with the invoice (of 2020, which kept
        // it here), and stays here too; the next run anonymises it here, not there.
        _ = try await f.run(now: Date.iso("2026-06-01T00:00:00Z"))
        #expect(try await f.texts("SELECT name FROM customers") == ["Alice"])
        #expect(
            try await f.run(now: Date.iso("2026-06-01T00:10:00Z")).rules.first { $0.rule == "customer-identity" }?
                .anonymised == 1)
        #expect(try await f.texts("SELECT name FROM customers") == [nil])
        f.phase = .archive
        #expect(try await f.texts("SELECT name FROM customers") == ["Alice"])
        #expect(try await f.count("SELECT count(*) FROM invoices") == 1)
    }

    /// A backup of the application's database restored after records moved brings them back;
    /// re-anchoring moves them again from the erasure ledger, their earlier copies replaced — each
    /// record in one place again, the archive as before the restore.
    @Test(arguments: Backend.allCases)
    func aRestoreOfTheApplicationsDatabaseMovesTheRecordsAgain(_ backend: Backend) async throws {
        let f = try await Self.fixture(backend)
        let before = try await Self.contents(f)
        // A first run with nothing due yet makes the trail; the backup is taken after it.
        #expect(try await f.run(now: Date.iso("2004-01-01T00:00:00Z")).totalChanged == 0)
        let backup = try await f.backup()
        let now = Date.iso("2026-06-01T00:00:00Z")
        _ = try await f.run(now: now)
        let moved = Set((1...21).map(Int64.init))
        f.phase = .archive
        let archived = try await Self.contents(f)
        #expect(archived == Self.rows(before, of: moved))

        f.phase = .active
        try await f.restore(backup)
        #expect(try await Self.contents(f) == before, "the restore brought the moved invoices back")
        let done = try await f.enforcer().reanchor(reason: "restore", now: now.addingTimeInterval(60), dryRun: false)
        let replay = try #require(done.replay)
        #expect(
            replay.outcomes.contains(
                ReplayReport.Outcome(
                    rule: "invoices-to-archive", action: "archive", table: "invoices", outcome: "archived",
                    records: moved.count)),
            "\(replay.outcomes)")
        #expect(try await Self.contents(f) == Self.rows(before, of: moved, keeping: true))
        f.phase = .archive
        #expect(try await Self.contents(f) == archived, "each record in one place, as before the restore")
        #expect(try await f.count("SELECT count(*) FROM retentiond_archive_pending") == 0)
    }
}
