import Foundation
import RetentionCore
import RetentionEngine
import RetentionStore
import TestSupport
import Testing

/// retentiond through a real PgBouncer, the pooler most PostgreSQL sites run: in session mode it
/// works as on a direct connection (no startup parameter PgBouncer refuses); in transaction mode,
/// where the run lock cannot hold, it refuses before changing anything.
@Suite struct PgBouncerTests {
    @Test func aRunThroughPgBouncerInSessionModeComesOutAsADirectOne() async throws {
        let f = try await CRMFixture(.postgres, policy: CRMPolicies.prospectPurge)
        let pooler = try await PgBouncer.start(.session)
        try f.reachThrough(pooler)
        try f.write(policy: CRMPolicies.prospectPurge)
        guard case .postgres(let location) = try f.settings().database else {
            Issue.record("not PostgreSQL")
            return
        }
        #expect(location.port == pooler.port, "through the pooler")
        let report = try await f.run()
        #expect(report.succeeded, "\(report.message ?? "")")
        // Prospects 1 and 2 are due (computed from the fixture's dates); 4 keeps consent, 3 and 5 are recent.
        #expect(report.rules[0].purged == 2)
        #expect(
            try await f.rows("SELECT id FROM people ORDER BY id") == [3, 4, 5, 6, 7].map { [SQLValue.integer($0)] })
        #expect(try await f.count("SELECT count(*) FROM notes WHERE person_id IN (1, 2)") == 0)
        #expect(try await f.audit(action: "purge").count == 2)
        #expect(try await f.trail().verify().isValid)
    }

    @Test func aPoolThatSharesSessionsIsRefusedBeforeAnyChange() async throws {
        let f = try await CRMFixture(.postgres, policy: CRMPolicies.prospectPurge)
        try f.reachThrough(try await PgBouncer.start(.transaction))
        try f.write(policy: CRMPolicies.prospectPurge)
        let before = try await f.snapshot()
        do {
            let report = try await f.run()
            Issue.record("ran through a transaction pool: \(report.status) \(report.message ?? "")")
        } catch let error as DatabaseUnavailable {
            #expect(error.reason.contains("pool_mode = transaction"), "\(error)")
        }
        #expect(try await f.snapshot() == before, "nothing changed")
    }
}
