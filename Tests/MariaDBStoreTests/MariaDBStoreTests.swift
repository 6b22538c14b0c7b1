import Foundation
import RetentionCore
import RetentionEngine
import RetentionStore
import Synchronization
import TestSupport
import Testing

/// What only a server does, on MariaDB: connections the server (or an administrator) kills
/// mid-run, and row locks the application holds.
@Suite(.tags(.slow), .timeLimit(.minutes(30))) struct MariaDBServerTests {
    /// The fixture's database name, for the `mariadb` client.
    func database(_ f: CRMFixture) throws -> String {
        try #require(f.databaseSection.split(separator: "database: ").last?.split(separator: ",").first)
            .trimmingCharacters(in: .whitespaces)
    }

    /// Runs `enforcer` until it has committed a purge batch, then calls `interrupt`; the run's report.
    func interrupted(_ f: CRMFixture, _ enforcer: Enforcer, by interrupt: () async throws -> Void) async throws
        -> RunReport
    {
        let finished = Atomic(false)
        let running = Task {
            defer { finished.store(true, ordering: .releasing) }
            return try await enforcer.run(now: CRMFixture.now, allowMore: false)
        }
        while !finished.load(ordering: .acquiring) {
            let trail =
                try await f.count(
                    "SELECT count(*) FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name = 'retentiond_audit'"
                ) == 1
            if trail, try await f.count("SELECT count(*) FROM retentiond_audit WHERE action = 'purge'") > 0 { break }
            try await Task.sleep(for: .milliseconds(20))
        }
        try await interrupt()
        return try await running.value
    }

    /// Committed batches stay, each with its entries; the next run finishes the work.
    func expectCommittedBatchesStayAndTheNextRunFinishes(_ f: CRMFixture, total: Int) async throws {
        let remaining = try await f.ids("contacts")
        let purged = try await f.audit(action: "purge")
        #expect(!purged.isEmpty && remaining.count > 0)
        #expect(purged.count == total - remaining.count, "committed batches stay, each with its audit entries")
        #expect(purged.count % 2 == 0)
        // In batches of the default size: small ones were for the interrupted run to be caught among them.
        let next = try await f.run(batchSize: RunSettings.defaultBatchSize)
        #expect(next.status == .complete)
        #expect(try await f.ids("contacts").isEmpty)
        #expect(
            try await AuditTrail(store: try await f.reader(), key: try f.key, stateDirectory: f.dir.path).verify()
                .isValid)
    }

    @Test func losingTheConnectionMidRunFailsCleanlyAndTheNextRunFinishes() async throws {
        let total = 4000
        let f = try await CRMFixture(
            .mariadb, schema: CRMPolicies.contacts(total), policy: "batch_size: 2\n" + CRMPolicies.contactPurge)
        let server = try await MariaDBServer.start()
        let database = try database(f)
        let report = try await interrupted(f, try await f.enforcer()) {
            // The server drops every connection to the database (the run's and its lock's).
            let ids = try await server.sql(
                "mysql", "SELECT id FROM information_schema.processlist WHERE db = '\(database)'"
            ).split(separator: "\n")
            for id in ids { _ = try? await server.sql("mysql", "KILL \(id)") }
        }
        #expect(report.status == .incomplete)
        #expect(
            report.failure == .databaseUnavailable || report.failure == .locked,
            "\(report.failure.map { "\($0)" } ?? "none")")
        #expect(
            report.message?.contains("unavailable") == true || report.message?.contains("run lock") == true,
            "\(report.message ?? "")")
        try await expectCommittedBatchesStayAndTheNextRunFinishes(f, total: total)
    }

    @Test func aRunThatLosesItsLockStopsBeforeItsNextBatchCommits() async throws {
        let total = 4000
        let f = try await CRMFixture(
            .mariadb, schema: CRMPolicies.contacts(total), policy: "batch_size: 2\n" + CRMPolicies.contactPurge)
        let server = try await MariaDBServer.start()
        let database = try database(f)
        let report = try await interrupted(f, try await f.enforcer()) {
            // Only the lock's connection, as an administrator (or wait_timeout) would: nobody watches
            // that connection, so the batches must ask.
            let holder = try await server.sql(database, "SELECT IS_USED_LOCK('retentiond:\(database)')")
            try #require(Int(holder) != nil, "the run holds its lock: \(holder)")
            try await server.sql("mysql", "KILL \(holder)")
        }
        #expect(report.status == .incomplete)
        #expect(report.failure == .locked, "\(report.message ?? "")")
        #expect(report.message?.contains("the run lock on") == true, "\(report.message ?? "")")
        try await expectCommittedBatchesStayAndTheNextRunFinishes(f, total: total)
    }

    @Test func aConcurrentUpdateCannotSlipBetweenTheRecheckAndTheChange() async throws {
        let f = try await CRMFixture(.mariadb, policy: CRMPolicies.anonymise)
        // The CRM's own transaction: Alice comes back (no longer due), not yet committed.
        let updated = DispatchSemaphore(value: 0)
        let commit = DispatchSemaphore(value: 0)
        let application = Task {
            try await f.executing { sql in
                _ = try sql.execute("UPDATE people SET last_seen = '2026-05-01' WHERE id = 1", [])
                updated.signal()
                commit.wait()
            }
        }
        await withCheckedContinuation { continuation in
            DispatchQueue.global().async {
                updated.wait()
                continuation.resume()
            }
        }

        let finished = Atomic(false)
        let running = Task {
            defer { finished.store(true, ordering: .releasing) }
            return try await f.run()
        }
        // Wait until the run's batch waits for Alice's row, then let the application commit.
        // (The batch's re-check of the people, locking them, is the statement under way.)
        while try await f.count(
            "SELECT count(*) FROM information_schema.processlist WHERE info LIKE '%FROM \"people\" AS s %FOR UPDATE' AND id <> CONNECTION_ID()"
        ) == 0 {
            let ended = finished.load(ordering: .acquiring)
            if ended {
                Issue.record(
                    "the run ended without waiting for the row the application holds: \(try await running.value)")
                commit.signal()
                return
            }
            try await Task.sleep(for: .milliseconds(10))
        }
        commit.signal()
        try await application.value
        let report = try await running.value

        #expect(report.rules[0].stale == 1, "re-checked on the committed row: no longer due")
        #expect(report.rules[0].anonymised == 3)
        #expect(try await f.rows("SELECT name FROM people WHERE id = 1") == [[.text("Alice Martin")]])
        #expect(!(try await f.audit(action: "anonymise").map(\.subjectRef).contains(try f.reference("people", 1))))
    }

    /// A snapshot read that reaches a table another session created after the snapshot began
    /// (the first worker creating the work queue while another reads it) fails on MariaDB with
    /// "Table definition has changed" (1412): the store reads again on a new snapshot.
    @Test func aReadOverTakenByAnotherSessionsDDLIsReadAgain() async throws {
        let f = try await CRMFixture(.mariadb, policy: CRMPolicies.prospectPurge)
        let server = try await MariaDBServer.start()
        let database = try database(f)
        let attempts = Atomic(0)
        let rows = try await f.reader().read { session -> Int in
            attempts.add(1, ordering: .relaxed)
            let sql = session
            // The snapshot has begun; another session creates the table now (no-op the second time).
            let created = try Spawn.runBlocking(
                "/usr/bin/mariadb",
                [
                    "--no-defaults", "--socket=\(server.socket)", "--user=root", database, "-e",
                    "CREATE TABLE IF NOT EXISTS late (id INTEGER PRIMARY KEY); INSERT IGNORE INTO late VALUES (1)",
                ])
            guard created.succeeded else { return -2 }
            return try sql.rows("SELECT id FROM late WHERE id = ?", [.integer(1)]).count
        }
        #expect(rows == 1)
        #expect(attempts.load(ordering: .relaxed) == 2, "the first snapshot was older than the table")
    }
}
