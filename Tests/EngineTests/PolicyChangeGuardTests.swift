import Foundation
import RetentionCore
import RetentionEngine
import RetentionStore
import TestSupport
import Testing

/// An enforcing run compares its policy with the one the last run enforced: a change that makes
/// more records due stops it before any change until accepted, and the acceptance is audited.
@Suite struct PolicyChangeGuardTests {
    static let data = PolicyChangeCounterTests.data

    @Test(arguments: Backend.allCases)
    func aShorterPeriodStopsTheRunUntilAcceptedAndTheAcceptanceIsAudited(_ backend: Backend) async throws {
        let f = try await CRMFixture(backend, data: Self.data, policy: CRMPolicies.anonymise)
        let first = try await f.run()  // 2026-06-01: keeps its copy of the policy
        #expect(first.rules[0].anonymised == 1)
        let copy = f.dir.appendingPathComponent("enforced-policy.yaml").path
        #expect(FileManager.default.contents(atPath: copy) == FileManager.default.contents(atPath: f.policyPath))

        try f.write(policy: CRMPolicies.anonymise.replacingOccurrences(of: "after: 3y", with: "after: 1y"))
        let changed = try f.policy().hash
        let before = try await f.snapshot()
        let entries = try await f.audit().count
        await #expect {
            _ = try await f.run(now: CRMFixture.now.addingTimeInterval(60))
        } throws: { error in
            guard case EnforcementError.policyChangeUnreviewed(let message) = error else { return false }
            return message.contains("`prospect-anonymise`: kept for 3 years → 1 year (due now: 0 → 2)")
                && message.contains("--accept-policy-change \(changed.prefix(12))")
        }
        #expect(try await f.snapshot() == before, "nothing changed")
        #expect(try await f.audit().count == entries, "nothing audited")

        var enforcer = try await f.enforcer()
        enforcer.acceptedPolicyChange = String(changed.prefix(12))
        let accepted = try await enforcer.run(now: CRMFixture.now.addingTimeInterval(120), allowMore: false)
        #expect(accepted.succeeded && accepted.rules[0].anonymised == 2)
        #expect(
            try await f.count("SELECT count(*) FROM people WHERE email IS NULL")
                == (try await f.count(
                    "SELECT count(*) FROM people WHERE kind = 'prospect' AND last_seen < '2025-06-01'")))
        let record = try #require(try await f.audit(action: "policy-change-accepted").first)
        let detail = try JSONSerialization.jsonObject(with: Data(record.detail.utf8)) as? [String: String]
        #expect(detail?["new_sha256"] == changed && detail?["old_sha256"] == first.policyHash)
        #expect(detail?["rule:prospect-anonymise"] == "due_now=0->2")
        #expect(record.runID == accepted.runID && record.policyHash == changed)
        #expect(
            FileManager.default.contents(atPath: copy) == FileManager.default.contents(atPath: f.policyPath),
            "the accepted policy is the one enforced now")

        let next = try await f.run(now: CRMFixture.now.addingTimeInterval(180))
        #expect(next.succeeded, "the same policy again: nothing to accept")
        #expect(try await f.trail().verify().isValid)
    }

    @Test(arguments: [Backend.postgres, .mariadb])
    func aSharedRunsPlannerChecksTheChangeToo(_ backend: Backend) async throws {
        let f = try await CRMFixture(backend, data: Self.data, policy: CRMPolicies.anonymise)
        _ = try await f.enforcer().runAsWorker(now: CRMFixture.now, allowMore: false)
        try f.write(policy: CRMPolicies.anonymise.replacingOccurrences(of: "after: 3y", with: "after: 1y"))
        let before = try await f.snapshot()
        await #expect(throws: EnforcementError.self) {
            _ = try await f.enforcer().runAsWorker(now: CRMFixture.now.addingTimeInterval(60), allowMore: false)
        }
        #expect(try await f.snapshot() == before, "nothing changed")
        var accepting = try await f.enforcer()
        accepting.acceptedPolicyChange = try f.policy().hash
        let report = try await accepting.runAsWorker(now: CRMFixture.now.addingTimeInterval(120), allowMore: false)
        #expect(report.status == .complete && report.rules[0].anonymised == 2, "\(report.message ?? "")")
        #expect(try await f.audit(action: "policy-change-accepted").count == 1)
    }

    @Test(arguments: Backend.allCases)
    func aChangeThatMakesNoMoreRecordsDueRunsAtOnce(_ backend: Backend) async throws {
        let f = try await CRMFixture(
            backend, data: Self.data,
            policy: CRMPolicies.anonymise.replacingOccurrences(of: "after: 3y", with: "after: 1y"))
        #expect(try await f.run().rules[0].anonymised == 3, "the first run has no copy to compare with")
        try f.write(policy: CRMPolicies.anonymise)  // three years: keeps more
        let report = try await f.run(now: CRMFixture.now.addingTimeInterval(60))
        #expect(report.succeeded && report.rules[0].anonymised == 0)
        #expect(try await f.audit(action: "policy-change-accepted").isEmpty)
    }
}
