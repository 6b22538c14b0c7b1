import Foundation
import Testing
import RetentionCore
import RetentionEngine
import RetentionStore

/// What only PostgreSQL has: native date types, and a server that can drop the connection mid-run.
@Suite struct PostgresOnlyTests {
    @Test func nativeDateTimestampAndTimestamptzColumnsWorkAsClocksAndWithYear() async throws {
        let schema = [
            "CREATE TABLE visits (id INTEGER PRIMARY KEY, visitor TEXT NOT NULL, born DATE, seen_on DATE, seen_at TIMESTAMP, seen_tz TIMESTAMPTZ)",
            "CREATE INDEX visits_seen_on ON visits(seen_on)",
            "CREATE INDEX visits_seen_at ON visits(seen_at)",
            "CREATE INDEX visits_seen_tz ON visits(seen_tz)",
            "INSERT INTO visits VALUES (1, 'old', '1980-06-17', '2020-01-01', '2020-01-01 10:00', '2020-01-01 10:00+01')",
            "INSERT INTO visits VALUES (2, 'new', '1990-02-03', '2026-05-30', '2026-05-30 10:00', '2026-05-30 10:00+02')",
            "INSERT INTO visits VALUES (3, 'edge', NULL, '2023-06-01', '2023-05-31 23:59', '2023-05-31 21:59:00+00')",
        ]
        for clock in ["seen_on", "seen_at", "seen_tz"] {
            let policy = """
                subjects:
                  visits:
                    table: visits
                    key: id
                    rules:
                      - id: visits
                        register: "Visits"
                        legal_basis: "legitimate interest"
                        clock: \(clock)
                        after: 3y
                        action: anonymise
                        fields: { visitor: { constant: "gone" }, born: year }
                """
            let f = try await ContractFixture(.postgres, schema: schema, policy: policy)
            let (_, diagnostics) = try await ContractFixture.validate(f)
            #expect(diagnostics.filter { $0.severity == .error }.isEmpty, "\(diagnostics)")
            _ = try await f.run()
            // Now is 2026-06-01 00:00 UTC = 02:00 in Paris; the cutoff is 2023-06-01 02:00 Paris.
            let rows = try await f.rows("SELECT id, visitor, born::text FROM visits ORDER BY id")
            #expect(rows[0][1] == .text("gone"), "\(clock)")
            #expect(rows[0][2] == .text("1980-01-01"), "\(clock)")
            #expect(rows[1][1] == .text("new"), "\(clock)")
            // Record 3 sits just before the cutoff in every representation.
            #expect(rows[2][1] == .text("gone"), "\(clock)")
        }
    }

    @Test func losingTheConnectionMidRunFailsCleanlyAndTheNextRunFinishes() async throws {
        let total = 4000
        let schema = [
            "CREATE TABLE contacts (id INTEGER PRIMARY KEY, email TEXT, last_seen TEXT NOT NULL)",
            "CREATE INDEX contacts_last_seen ON contacts(last_seen)",
            "INSERT INTO contacts SELECT i, 'c' || i || '@example.fr', '2019-01-01' FROM generate_series(1, \(total)) AS i",
        ]
        let policy = """
            batch_size: 2
            subjects:
              contacts:
                table: contacts
                key: id
                rules:
                  - id: contact-purge
                    register: "Prospection"
                    legal_basis: "legitimate interest"
                    clock: last_seen
                    after: 3y
                    action: purge
            """
        let f = try await ContractFixture(.postgres, schema: schema, policy: policy)
        let enforcer = try await f.enforcer()
        let running = Task { try await enforcer.run(now: ContractFixture.now, allowMore: false) }
        // Once some batches are committed, the server drops every other connection to the database.
        let deadline = Date().addingTimeInterval(30)
        while Date() < deadline {
            let purged = try await f.rows("SELECT count(*) FROM pg_class WHERE relname = 'retentiond_audit'").first?.first == .integer(1)
                ? try await f.rows("SELECT count(*) FROM retentiond_audit WHERE action = 'purge'").first?.first : .integer(0)
            if case .integer(let n)? = purged, n > 0 { break }
            try await Task.sleep(for: .milliseconds(20))
        }
        try await f.sql(["SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"])
        let report = try await running.value
        #expect(report.status == .incomplete)
        #expect(report.failureStatus == ExitStatus.databaseUnavailable.rawValue)
        #expect(report.message?.contains("unavailable") == true)

        let remaining = try await f.ids("contacts")
        let purged = try await f.audit(action: "purge")
        #expect(!purged.isEmpty && remaining.count > 0)
        #expect(purged.count == total - remaining.count, "committed batches stay, each with its audit entries")
        #expect(purged.count % 2 == 0)

        let next = try await f.run()
        #expect(next.status == .complete)
        #expect(try await f.ids("contacts").isEmpty)
        let trail = AuditTrail(store: try await f.store(readOnly: true), key: try f.key, stateDirectory: f.dir.path)
        #expect(try await trail.verify().isValid)
    }
}

extension ContractFixture {
    static func validate(_ f: ContractFixture) async throws -> (ResolvedPolicy?, [Diagnostic]) {
        try await Enforcer.validate(try f.policy(), store: try await f.store(readOnly: true))
    }
}
