import Foundation
import RetentionCore
import RetentionEngine
import RetentionStore
import TestSupport
import Testing

/// The trail detects any tampering, and holds no personal value.
@Suite struct AuditTrailTests {
    func enforced(_ backend: Backend) async throws -> CRMFixture {
        let f = try await CRMFixture(backend, policy: CRMPolicies.anonymise)
        _ = try await f.run()
        #expect(try await f.audit().count == 5)
        return f
    }

    func problems(_ f: CRMFixture) async throws -> [String] {
        try await f.trail().verify().problems.map(\.description)
    }

    /// What an attacker with write access would do first: remove the append-only triggers.
    func tamper(_ f: CRMFixture, _ statements: String...) async throws {
        try await f.dropAuditProtection()
        try await f.sql(statements)
    }

    @Test(arguments: Backend.allCases)
    func anIntactTrailVerifies(_ backend: Backend) async throws {
        let f = try await enforced(backend)
        let result = try await f.trail().verify()
        #expect(result.isValid)
        #expect(result.entries == 5)
        #expect(result.recordedHead?.seq == 5)
    }

    @Test(arguments: Backend.allCases)
    func theTrailIsAppendOnlyInTheDatabase(_ backend: Backend) async throws {
        let f = try await enforced(backend)
        await #expect(throws: (any Error).self) {
            try await f.sql(["UPDATE retentiond_audit SET action = 'flag' WHERE seq = 2"])
        }
        await #expect(throws: (any Error).self) { try await f.sql(["DELETE FROM retentiond_audit WHERE seq = 2"]) }
        #expect(try await f.audit().count == 5)
    }

    /// The references filed beside the trail are derived data, but a filing removed would hide an
    /// entry from lookups by record: verify reports it, and a rebuild mends it.
    @Test(arguments: Backend.allCases)
    func aRemovedFilingIsReportedAndARebuildMendsIt(_ backend: Backend) async throws {
        let f = try await enforced(backend)
        try await f.sql(["DELETE FROM retentiond_audit_refs WHERE seq = (SELECT min(seq) FROM retentiond_audit_refs)"])
        let result = try await f.trail().verify()
        #expect(!result.isValid)
        #expect(result.problems.isEmpty, "the chain itself is intact")
        #expect(
            result.anchorProblems.count == 1 && result.anchorProblems[0].contains("retentiond_audit_refs")
                && result.anchorProblems[0].contains("1 entries missing"))
        // Another filing in its place, so that the counts agree, still leaves that entry unfiled.
        try await f.sql(["INSERT INTO retentiond_audit_refs (segment, ref, seq) VALUES (0, '0123456789abcdef', 999999)"]
        )
        let swapped = try await f.trail().verify()
        #expect(
            swapped.anchorProblems == [
                result.anchorProblems[0].replacingOccurrences(
                    of: "1 entries missing from it", with: "1 entries missing from it, 1 rows that file no entry")
            ],
            "\(swapped.anchorProblems)")
        try await f.sql(["DROP TABLE retentiond_audit_refs"])
        try await f.store().transaction { try $0.prepareToolTables() }
        #expect(try await f.trail().verify().isValid)
    }

    @Test(arguments: Backend.allCases)
    func aModifiedEntryIsDetected(_ backend: Backend) async throws {
        let f = try await enforced(backend)
        try await tamper(f, "UPDATE retentiond_audit SET fields = 'email' WHERE seq = 2")
        #expect(try await problems(f) == ["entry 2: its content does not match its MAC (modified)"])
    }

    @Test(arguments: Backend.allCases)
    func aDeletedEntryIsDetected(_ backend: Backend) async throws {
        let f = try await enforced(backend)
        try await tamper(f, "DELETE FROM retentiond_audit WHERE seq = 3")
        #expect(try await problems(f).contains { $0.contains("missing") })
    }

    @Test(arguments: Backend.allCases)
    func reorderedEntriesAreDetected(_ backend: Backend) async throws {
        let f = try await enforced(backend)
        try await tamper(
            f, "UPDATE retentiond_audit SET seq = 100 WHERE seq = 2",
            "UPDATE retentiond_audit SET seq = 2 WHERE seq = 3",
            "UPDATE retentiond_audit SET seq = 3 WHERE seq = 100")
        #expect(!(try await problems(f)).isEmpty)
    }

    @Test(arguments: Backend.allCases)
    func aTruncatedTrailIsDetected(_ backend: Backend) async throws {
        let f = try await enforced(backend)
        try await tamper(f, "DELETE FROM retentiond_audit WHERE seq >= 4")
        #expect(try await problems(f).contains { $0.contains("truncated") })
    }

    @Test(arguments: Backend.allCases)
    func everyColumnOfAnEntryIsCoveredByTheChain(_ backend: Backend) async throws {
        // One trail, each column changed then put back (every value here is ASCII, so the last
        // character is the appended one on every database): the change alone is what is noticed.
        let f = try await enforced(backend)
        try await f.dropAuditProtection()
        for column in [
            "run_id", "at", "actor", "policy_hash", "rule_id", "table_name", "subject_ref", "detail", "prev_mac",
        ] {
            try await f.sql(["UPDATE retentiond_audit SET \(column) = \(column) || 'x' WHERE seq = 1"])
            #expect(!(try await problems(f)).isEmpty, "a change to \(column) went unnoticed")
            try await f.sql([
                "UPDATE retentiond_audit SET \(column) = substr(\(column), 1, length(\(column)) - 1) WHERE seq = 1"
            ])
            #expect(try await problems(f).isEmpty, "\(column) put back")
        }
    }

    @Test(arguments: Backend.allCases)
    func theTrailHoldsNoPersonalValues(_ backend: Backend) async throws {
        let f = try await CRMFixture(backend, policy: CRMPolicies.prospectPurge)
        let originals = try await f.rows("SELECT * FROM people").flatMap { $0.compactMap(\.textValue) }
            .filter { $0.count > 3 && $0 != "prospect" && $0 != "client" }
        _ = try await f.holds().add(
            table: "people", keyText: "3", reason: "case", by: "dpo", until: nil, now: CRMFixture.now)
        _ = try await f.run()
        let trail = try await f.rows("SELECT * FROM retentiond_audit").flatMap { $0.compactMap(\.textValue) }.joined(
            separator: "\u{1}")
        #expect(!trail.isEmpty)
        for value in originals {
            #expect(!trail.contains(value), "the audit trail contains a personal value")
        }
    }
}
