import Foundation
import GRDB
import Testing
@testable import RetentionCore
@testable import RetentionEngine

/// The trail detects any tampering, and holds no personal value.
@Suite struct AuditTrailTests {
    func enforced() async throws -> Fixture {
        let f = try Fixture(policy: EnforcementTests.anonymise)
        _ = try await f.run()
        #expect(try f.audit().count == 5)
        return f
    }

    func problems(_ f: Fixture) async throws -> [String] {
        try await f.trail().verify().problems.map(\.description)
    }

    /// What an attacker with write access would do first: remove the append-only triggers.
    func tamper(_ f: Fixture, _ sql: String) throws {
        try f.execute("DROP TRIGGER retentiond_audit_append_only_update; DROP TRIGGER retentiond_audit_append_only_delete; " + sql)
    }

    @Test func anIntactTrailVerifies() async throws {
        let f = try await enforced()
        let result = try await f.trail().verify()
        #expect(result.isValid)
        #expect(result.entries == 5)
        #expect(result.recordedHead?.seq == 5)
    }

    @Test func theTrailIsAppendOnlyInTheDatabase() async throws {
        let f = try await enforced()
        #expect(throws: (any Error).self) { try f.execute("UPDATE retentiond_audit SET action = 'flag' WHERE seq = 2") }
        #expect(throws: (any Error).self) { try f.execute("DELETE FROM retentiond_audit WHERE seq = 2") }
    }

    @Test func aModifiedEntryIsDetected() async throws {
        let f = try await enforced()
        try tamper(f, "UPDATE retentiond_audit SET fields = 'email' WHERE seq = 2")
        #expect(try await problems(f) == ["entry 2: its content does not match its MAC (modified)"])
    }

    @Test func aDeletedEntryIsDetected() async throws {
        let f = try await enforced()
        try tamper(f, "DELETE FROM retentiond_audit WHERE seq = 3")
        #expect(try await problems(f).contains { $0.contains("missing") })
    }

    @Test func reorderedEntriesAreDetected() async throws {
        let f = try await enforced()
        try tamper(f, """
            UPDATE retentiond_audit SET seq = 100 WHERE seq = 2;
            UPDATE retentiond_audit SET seq = 2 WHERE seq = 3;
            UPDATE retentiond_audit SET seq = 3 WHERE seq = 100;
            """)
        #expect(!(try await problems(f)).isEmpty)
    }

    @Test func aTruncatedTrailIsDetected() async throws {
        let f = try await enforced()
        try tamper(f, "DELETE FROM retentiond_audit WHERE seq >= 4")
        #expect(try await problems(f).contains { $0.contains("truncated") })
    }

    @Test func everyEntryOfEveryKindIsCoveredByTheChain() async throws {
        let f = try await enforced()
        for column in ["run_id", "at", "actor", "policy_hash", "rule_id", "table_name", "subject_ref", "detail", "prev_mac"] {
            let g = try await enforced()
            try tamper(g, "UPDATE retentiond_audit SET \(column) = \(column) || 'x' WHERE seq = 1")
            #expect(!(try await problems(g)).isEmpty, "a change to \(column) went unnoticed")
        }
        #expect(try await problems(f).isEmpty)
    }

    @Test func theTrailHoldsNoPersonalValues() async throws {
        let f = try Fixture(policy: EnforcementTests.prospectPurge)
        let originals = try f.query("SELECT * FROM people").flatMap { row in row.databaseValues.compactMap { String.fromDatabaseValue($0) } }
            .filter { $0.count > 3 && $0 != "prospect" && $0 != "client" }
        _ = try await f.holds().add(table: "people", keyText: "3", reason: "case", by: "dpo", until: nil, now: Fixture.now)
        _ = try await f.run()
        let trail = try f.audit().flatMap { row in row.databaseValues.compactMap { String.fromDatabaseValue($0) } }.joined(separator: "\u{1}")
        for value in originals {
            #expect(!trail.contains(value), "the audit trail contains a personal value")
        }
    }
}
