import Foundation
import RetentionCore
import RetentionEngine
import RetentionStore
import Synchronization
import TestSupport
import Testing

/// What any store must give the engine, beyond running its statements: the schema as the
/// validator sees it, and the single-run lock.
@Suite struct StoreContractTests {
    /// Audit rows hold whatever their texts are and read back exactly, across more than one
    /// statement's chunk (PostgreSQL sends each column as one array literal).
    @Test(arguments: Backend.allCases)
    func auditTextsRoundTripExactly(_ backend: Backend) async throws {
        let f = try await CRMFixture(backend, policy: CRMPolicies.prospectPurge)
        let awkward = [
            "", "NULL", "a \"quoted\" word", "back\\slash \\\" end\\", "{braces},commas", "line\nbreak\ttab",
            "Chloé 日本 🙂", "  spaced  ",
        ]
        let entries = (0..<1500).map { i in
            let t = awkward[i % awkward.count]
            return AuditEntry(
                seq: Int64(i + 1), runID: "run-" + t, at: t, actor: t, policyHash: t, ruleID: t, action: t, table: t,
                subjectRef: "\(i)" + t, fields: t, detail: t, prevMAC: t, mac: t)
        }
        let store = try await f.store()
        try await store.transaction { session in
            try session.prepareToolTables()
            try session.appendAudit(entries)
        }
        let read = try await store.read { try $0.auditEntries(after: 0, limit: 2000, filter: AuditFilter()) }
        #expect(read.count == entries.count)
        #expect(read == entries)
    }

    /// `interrupt()` cuts short the statement a read is running, from another task: the read
    /// fails instead of running for an hour (a stop asked while planning). Asked until the read has
    /// ended, as the planning pass does: the statement may not have started when first asked.
    @Test(arguments: Backend.allCases)
    func interruptCutsShortTheStatementOfARead(_ backend: Backend) async throws {
        let f = try await CRMFixture(backend, policy: CRMPolicies.prospectPurge)
        let reader = try await f.reader()
        let endless: String
        switch backend {
        case .sqlite: endless = "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n) SELECT count(*) FROM n"
        case .postgres: endless = "SELECT pg_sleep(3600)"
        case .mariadb: endless = "SELECT SLEEP(3600)"
        }
        let ended = Flag()
        let read = Task {
            defer { ended.set() }
            return try await reader.read { session in
                try session.rows(endless, [])
            }
        }
        while !ended.isSet {
            await reader.interrupt()
            try await Task.sleep(for: .milliseconds(50))
        }
        await #expect(throws: (any Error).self) { try await read.value }
        // The reader still reads.
        #expect(try await reader.read { try $0.rowCount(table: "people") } == 7)
    }

    final class Flag: Sendable {
        private let value = Mutex(false)
        var isSet: Bool { value.withLock { $0 } }
        func set() { value.withLock { $0 = true } }
    }

    @Test(arguments: Backend.allCases)
    func introspectionFindsTablesKeysForeignKeysAndIndexes(_ backend: Backend) async throws {
        let f = try await CRMFixture(backend, policy: CRMPolicies.prospectPurge)
        let schema = try await f.reader().read { try $0.schema() }
        let people = try #require(schema.table("people"))
        #expect(people.primaryKey == ["id"])
        #expect(people.columns.map(\.name) == CRMFixture.peopleColumns)
        #expect(people.column("kind")?.notNull == true && people.column("email")?.notNull == false)
        #expect(people.isUniqueColumn("email"))
        #expect(people.hasIndex(leadingWith: "last_seen"))
        #expect(!people.hasIndex(leadingWith: "name"))
        #expect(Set(schema.references(to: "people").map(\.table)) == ["notes", "orders"])
        #expect(schema.table("attachments")?.foreignKeys.first?.referencedColumns == ["id"])
        #expect(schema.table("attachments")?.foreignKeys.first?.columns == ["note_id"])
    }

    @Test(arguments: Backend.allCases)
    func aSecondRunAtTheSameTimeIsLockedOut(_ backend: Backend) async throws {
        let f = try await CRMFixture(backend, policy: CRMPolicies.prospectPurge)
        let held = try await f.store().acquireRunLock()
        do {
            _ = try await f.run()
            Issue.record("ran while another run held the lock")
        } catch {
            #expect(EnforcementError.from(error).kind == .locked)
        }
        #expect(try await f.ids("people").count == 7)
        withExtendedLifetime(held) {}
    }

    /// Erasure requests scripted one after another (or any two commands in a row): the lock one
    /// let go is free for the next at once, not once the server has noticed a closed connection.
    @Test(arguments: Backend.allCases)
    func aReleasedRunLockIsFreeForTheNextCommandAtOnce(_ backend: Backend) async throws {
        let f = try await CRMFixture(backend, policy: CRMPolicies.prospectPurge)
        let store = try await f.store()
        for round in 0..<20 {
            // The handle kept alive past the call: released by the call itself, not by its deinit.
            var kept: (any RunLockHandle)?
            let taken = try await store.withRunLock { lock in
                kept = lock
                return round
            }
            #expect(taken == round)
            defer { withExtendedLifetime(kept) {} }
            let again = try await store.acquireRunLock()
            await again.release()
            // PostgreSQL: asked on another connection, the lock is gone the moment the call returns.
            if backend == .postgres {
                let held = try await store.read {
                    try $0.rows(
                        """
                        SELECT count(*) FROM pg_locks
                        WHERE locktype = 'advisory' AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
                        """, [])
                }
                #expect(held == [[.integer(0)]], "round \(round)")
            }
        }
        let enforcer = try await f.enforcer()
        let prospects = try f.policy().subjects[0]
        for key in ["1", "2", "3", "4"] {
            _ = try await enforcer.erase(
                subject: prospects, keyText: key, request: "REQ-\(key)", now: CRMFixture.now, dryRun: true)
        }
    }
}
