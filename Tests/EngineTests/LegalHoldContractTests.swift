import Foundation
import RetentionCore
import RetentionEngine
import RetentionStore
import Synchronization
import TestSupport
import Testing

/// A held record is never touched, however its subject is keyed and however its key is typed;
/// holds and the trail that vouches for them cannot be removed unnoticed. On both databases.
@Suite struct LegalHoldContractTests {
    /// Prospects keyed by a unique column that is not the primary key (docs/policy.md allows it).
    static let anonymiseByEmail = """
        subjects:
          prospects:
            table: people
            key: email
            filter: { kind: prospect }
            rules:
              - id: prospect-anonymise
                register: "Prospection"
                legal_basis: "legitimate interest"
                clock: { column: last_seen, fallback: collected }
                after: 3y
                action: anonymise
                fields:
                  name: { pseudonym: { prefix: "p-", length: 10 } }
                  phone: null
        """

    /// Invoices keyed by text that looks like numbers.
    static let invoiceSchema =
        CRMFixture.schema + [
            "CREATE TABLE invoices (ref TEXT PRIMARY KEY, issued TEXT NOT NULL)",
            "CREATE INDEX invoices_issued ON invoices(issued)",
            "INSERT INTO invoices VALUES ('007', '2001-01-01'), ('7', '2001-01-01'), ('10042', '2001-01-01'), ('A-1', '2001-01-01')",
        ]

    static let invoicePurge = """
        subjects:
          invoices:
            table: invoices
            key: ref
            rules:
              - id: invoice-purge
                register: "Accounting"
                legal_basis: "legal obligation, 10 years"
                clock: issued
                after: 10y
                action: purge
        """

    @Test(arguments: Backend.allCases)
    func aHeldRecordWhoseSubjectIsKeyedByAUniqueColumnSurvivesTheRun(_ backend: Backend) async throws {
        let f = try await CRMFixture(backend, policy: Self.anonymiseByEmail)
        let registry = try await f.holds()
        // One hold by the table's primary key, one by the subject's own key: both name a row.
        _ = try await registry.add(
            table: "people", keyText: "2", reason: "case 12", by: "dpo", until: nil, now: CRMFixture.now)
        let subject = try #require(try f.policy().subjects.first)
        let byEmail = try await registry.add(
            .subjectKey(subject), keyText: "alice.martin@example.fr", reason: "case 13", by: "dpo", until: nil,
            now: CRMFixture.now)
        #expect(byEmail.key == RecordKey([.integer(1)]), "stored by the primary key")

        let report = try await f.run()
        #expect(report.rules[0].anonymised == 2)
        #expect(report.rules[0].exempt["legal_hold"] == 2)
        // Prospects 1, 2, 4 and 5 are past the cutoff (computed from the fixture's dates); 1 and 2 are held.
        let rows = try await f.rows("SELECT id, name, phone FROM people ORDER BY id")
        #expect(rows[0] == [.integer(1), .text("Alice Martin"), .text("+33 6 11 22 33 44")])
        #expect(rows[1] == [.integer(2), .text("Bruno Petit"), .text("+33 6 55 66 77 88")])
        #expect(rows[2][1] == .text("Chloé Durand"), "not due")
        for row in rows[3...4] {
            #expect(row[1].textValue?.hasPrefix("p-") == true && row[2] == .null, "\(row[0]) is anonymised")
        }
        #expect(rows[5][1] == .text("Fabien Morel"), "a client, another subject")
        let chain = AuditChain(key: try f.key)
        let expected = ["david.roux@example.fr", "emma.blanc@example.fr"].map {
            chain.reference(table: "people", key: RecordKey([.text($0)]))
        }
        #expect(try await f.audit(action: "anonymise").map(\.subjectRef) == expected)
    }

    @Test(arguments: Backend.allCases)
    func holdKeysAreTypedByTheirColumnAndMatchExactly(_ backend: Backend) async throws {
        let f = try await CRMFixture(backend, schema: Self.invoiceSchema, policy: Self.invoicePurge)
        let registry = try await f.holds()
        for typed in ["2.0", "02", " 2", "2x"] {
            await #expect(throws: EnforcementError.self, "`\(typed)` is not the integer key 2") {
                _ = try await registry.add(
                    table: "people", keyText: typed, reason: "x", by: "y", until: nil, now: CRMFixture.now)
            }
        }
        await #expect(throws: EnforcementError.self, "no such invoice") {
            _ = try await registry.add(
                table: "invoices", keyText: "99", reason: "x", by: "y", until: nil, now: CRMFixture.now)
        }
        let zeros = try await registry.add(
            table: "invoices", keyText: "007", reason: "tax audit", by: "cfo", until: nil, now: CRMFixture.now)
        let number = try await registry.add(
            table: "invoices", keyText: "10042", reason: "tax audit", by: "cfo", until: nil, now: CRMFixture.now)
        #expect(zeros.key == RecordKey([.text("007")]))
        #expect(number.key == RecordKey([.text("10042")]))
        #expect(
            try await f.rows("SELECT record_key FROM retentiond_holds ORDER BY id") == [
                [.text("[\"007\"]")], [.text("[\"10042\"]")],
            ])

        let report = try await f.run()
        #expect(report.rules[0].purged == 2)
        #expect(report.rules[0].exempt["legal_hold"] == 2)
        #expect(
            try await f.rows("SELECT ref FROM invoices ORDER BY ref") == [[.text("007")], [.text("10042")]],
            "`7` and `A-1` are gone; the held texts stay")
    }

    /// SQLite keeps text that does not read as a number as text, even in an INTEGER key (all but a
    /// rowid table's `INTEGER PRIMARY KEY`): such a record is due like the others, so it is holdable.
    @Test func textInAnIntegerKeyOfAWithoutRowidTableCanBeHeld() async throws {
        let schema = [
            "CREATE TABLE tickets (id INTEGER PRIMARY KEY, closed TEXT NOT NULL) WITHOUT ROWID",
            "INSERT INTO tickets VALUES (1, '2001-01-01'), ('abc', '2001-01-01'), ('7x', '2001-01-01'), (2, '2001-01-01')",
        ]
        let f = try await CRMFixture(
            .sqlite, schema: schema,
            policy: Self.invoicePurge
                .replacingOccurrences(of: "table: invoices", with: "table: tickets").replacingOccurrences(
                    of: "key: ref", with: "key: id"
                )
                .replacingOccurrences(of: "clock: issued", with: "clock: closed"))
        let registry = try await f.holds()
        let text = try await registry.add(
            table: "tickets", keyText: "abc", reason: "case 1", by: "dpo", until: nil, now: CRMFixture.now)
        let number = try await registry.add(
            table: "tickets", keyText: "2", reason: "case 2", by: "dpo", until: nil, now: CRMFixture.now)
        #expect(text.key == RecordKey([.text("abc")]) && number.key == RecordKey([.integer(2)]))
        // `02` cannot be stored as text in that column (SQLite makes it 2): no such record, said so.
        await #expect(throws: EnforcementError.self) {
            _ = try await registry.add(
                table: "tickets", keyText: "02", reason: "x", by: "y", until: nil, now: CRMFixture.now)
        }
        let report = try await f.run()
        #expect(report.rules[0].purged == 2 && report.rules[0].exempt["legal_hold"] == 2)
        #expect(
            try await f.rows("SELECT id FROM tickets ORDER BY id") == [[.integer(2)], [.text("abc")]],
            "1 and `7x` purged; the held two stay")
    }

    @Test(arguments: Backend.allCases)
    func aHoldRemovedOrReleasedByHandStopsEnforcementAndFailsVerification(_ backend: Backend) async throws {
        let f = try await CRMFixture(backend, policy: CRMPolicies.prospectPurge)
        let registry = try await f.holds()
        let hold = try await registry.add(
            table: "people", keyText: "1", reason: "case", by: "dpo", until: nil, now: CRMFixture.now)
        // The table refuses it as the audit trail does.
        await #expect(throws: (any Error).self) {
            try await f.sql(["DELETE FROM retentiond_holds WHERE id = \(hold.id)"])
        }
        await #expect(throws: (any Error).self) {
            try await f.sql(["UPDATE retentiond_holds SET until = '2000-01-01T00:00:00Z' WHERE id = \(hold.id)"])
        }
        if backend == .postgres {
            await #expect(throws: (any Error).self) { try await f.sql(["TRUNCATE retentiond_holds"]) }
        }
        // A release is the one change the table allows: done by hand, only the trail tells.
        try await f.sql([
            "UPDATE retentiond_holds SET released_at = '2026-01-01T00:00:00Z', released_by = 'x' WHERE id = \(hold.id)"
        ])
        await expectTamperingRefused { _ = try await f.run() }
        // Someone with DDL rights drops the protection, then the hold.
        try await f.dropHoldProtection()
        try await f.sql(["DELETE FROM retentiond_holds WHERE id = \(hold.id)"])
        await expectTamperingRefused { _ = try await f.run() }
        await expectTamperingRefused {
            _ = try await f.planner().dryRun(now: CRMFixture.now, mode: .plan, planPath: nil)
        }
        #expect(try await f.ids("people") == [1, 2, 3, 4, 5, 6, 7], "nothing was purged")
        #expect(try await f.audit(action: "purge").isEmpty)

        let verification = try await AuditTrail(store: try await f.reader(), key: try f.key, stateDirectory: f.dir.path)
            .verify()
        #expect(!verification.isValid)
        #expect(
            verification.holdProblems == [
                "hold \(hold.id) on `people` (audit entry 1) is missing from retentiond_holds: it was deleted by hand, without a release"
            ])
    }

    @Test(arguments: Backend.allCases)
    func aHoldInsertedByHandIsHonouredAndReported(_ backend: Backend) async throws {
        let f = try await CRMFixture(backend, policy: CRMPolicies.prospectPurge)
        _ = try await f.run(now: CRMFixture.now.addingTimeInterval(-86_400 * 3650))
        try await f.sql([
            "INSERT INTO retentiond_holds (table_name, record_key, reason, placed_by, placed_at) VALUES ('people', '[1]', 'by hand', 'x', '2026-01-01T00:00:00Z')"
        ])
        let report = try await f.run()
        #expect(report.rules[0].exempt["legal_hold"] == 1)
        #expect(try await f.ids("people") == [1, 3, 4, 5, 6, 7])
        let verification = try await AuditTrail(store: try await f.reader(), key: try f.key, stateDirectory: f.dir.path)
            .verify()
        #expect(verification.isValid)
        #expect(verification.holdWarnings.count == 1)
    }

    @Test(arguments: Backend.allCases)
    func checkListsHoldsThatProtectNoRecordExactly(_ backend: Backend) async throws {
        let f = try await CRMFixture(backend, schema: Self.invoiceSchema, policy: Self.invoicePurge)
        let registry = try await f.holds()
        _ = try await registry.add(
            table: "invoices", keyText: "007", reason: "kept", by: "cfo", until: nil, now: CRMFixture.now)
        _ = try await registry.add(
            table: "invoices", keyText: "A-1", reason: "gone later", by: "cfo", until: nil, now: CRMFixture.now)
        // What an older version stored for `--key 10042` on this text key: a number, which never matched.
        try await f.sql([
            "INSERT INTO retentiond_holds (table_name, record_key, reason, placed_by, placed_at) VALUES ('invoices', '[10042]', 'old', 'x', '2026-01-01T00:00:00Z')",
            "DELETE FROM invoices WHERE ref = 'A-1'",
        ])
        let messages = try await HoldRegistry.unmatched(in: try await f.reader(), at: CRMFixture.now)
        #expect(
            messages == [
                "hold 2 on `invoices`:A-1 names no existing record (deleted since it was placed?)",
                "hold 3 on `invoices`:10042 does not match its record's key exactly (a number for a text key, or the reverse, as older versions stored it): the record is NOT protected; release the hold and place it again with `retentiond hold add`",
            ])
    }

    /// PostgreSQL lets another session commit between two statements of a batch: a hold placed
    /// while a batch is in flight waits for the batch to commit, so no batch changes a record under
    /// a hold it did not see. (On SQLite the batch's writing transaction already keeps it out.)
    @Test func aHoldPlacedWhileABatchIsInFlightWaitsForItsCommit() async throws {
        let f = try await CRMFixture(.postgres, policy: CRMPolicies.prospectPurge)
        // the tool's tables, nothing due yet
        _ = try await f.run(now: CRMFixture.now.addingTimeInterval(-86_400 * 3650))
        let store = try await f.store()
        let release = DispatchSemaphore(value: 0)
        let batch = Task {
            try await store.transaction { session in
                try session.lockHolds(exclusive: false)
                release.wait()
            }
        }
        // This test's database only: pg_locks is the whole server's, and the suite's other tests share
        // it. Counting their waiting locks let the wait below end before this hold had asked (and
        // said why), which failed the test on a loaded machine.
        func advisoryLocks(_ condition: String) async throws -> Int {
            try await f.count(
                """
                SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND \(condition)
                  AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
                """)
        }
        while try await advisoryLocks("mode = 'ShareLock' AND granted") == 0 {
            try await Task.sleep(for: .milliseconds(20))
        }

        var registry = try await f.holds()
        let told = Mutex<[String]>([])
        registry.onWait = { message in told.withLock { $0.append(message) } }
        let finished = Finished()
        let hold = Task { [registry] in
            defer { finished.set() }
            return try await registry.add(
                table: "people", keyText: "1", reason: "case", by: "dpo", until: nil, now: CRMFixture.now)
        }
        while try await advisoryLocks("NOT granted") == 0, !finished.isSet {
            try await Task.sleep(for: .milliseconds(20))
        }
        #expect(!finished.isSet, "the hold waits for the batch")
        #expect(try await f.count("SELECT count(*) FROM retentiond_holds") == 0)
        // And says why, before waiting, so that the operator is not left guessing.
        #expect(told.withLock { $0 }.count == 1)
        #expect(told.withLock { $0 }.first?.contains("a run's batch is in progress") == true)
        release.signal()
        try await batch.value
        _ = try await hold.value
        #expect(try await f.count("SELECT count(*) FROM retentiond_holds") == 1)
        #expect(try await f.audit(action: "hold-add").count == 1)

        // With no batch in flight, a hold is placed at once, without a word.
        _ = try await registry.add(
            table: "people", keyText: "2", reason: "case", by: "dpo", until: nil, now: CRMFixture.now)
        #expect(told.withLock { $0 }.count == 1)
        #expect(try await f.count("SELECT count(*) FROM retentiond_holds") == 2)
    }
}
