import Foundation
import RetentionCore
import RetentionEngine
import RetentionStore
import TestSupport
import Testing

/// `retentiond diff`'s counts: the records each rule finds due under the old and the new policy,
/// now and within twelve months, on the three databases — against counts made in SQL here.
@Suite struct PolicyChangeCounterTests {
    /// Prospects last seen well away from every cutoff below; one client, whom the rule ignores.
    static let data =
        ["2020-01-01", "2024-01-01", "2025-01-01", "2026-01-01", "2026-05-01"].enumerated().map { i, seen in
            "INSERT INTO people VALUES (\(i + 1), 'prospect', 'P\(i + 1)', 'p\(i + 1)@example.fr', NULL, NULL, '\(seen)', '2019-01-01', NULL, 0)"
        } + [
            "INSERT INTO people VALUES (9, 'client', 'C', 'c@example.fr', NULL, NULL, '2020-01-01', '2019-01-01', NULL, 0)"
        ]

    /// The policy as it was (anonymised 3 years after last seen), in a file of its own, and the
    /// fixture's policy changed to one year.
    func fixture(_ backend: Backend, old: String = CRMPolicies.anonymise) async throws -> (CRMFixture, Policy) {
        let f = try await CRMFixture(backend, data: Self.data, policy: old)
        let oldPath = f.dir.appendingPathComponent("before.yaml").path
        try FileManager.default.copyItem(atPath: f.policyPath, toPath: oldPath)
        let before = try PolicyParser(path: oldPath).parseFile().0
        try f.write(policy: CRMPolicies.anonymise.replacingOccurrences(of: "after: 3y", with: "after: 1y"))
        return (f, before)
    }

    func prospectsSeenBefore(_ f: CRMFixture, _ day: String) async throws -> Int {
        try await f.count("SELECT count(*) FROM people WHERE kind = 'prospect' AND last_seen < '\(day)'")
    }

    @Test(arguments: Backend.allCases)
    func aShorterPeriodIsCountedNowAndWithinTwelveMonths(_ backend: Backend) async throws {
        let (f, before) = try await fixture(backend)
        let planner = try await f.planner()
        var diff = PolicyDiff(old: before, new: planner.policy)
        try await PolicyChangeCounter(planner: planner).count(&diff, old: before, now: CRMFixture.now)  // 2026-06-01

        let rule = try #require(diff.rules.first)
        #expect(rule.changes.map(\.direction) == [.moreDue])
        #expect(
            rule.dueNow
                == PolicyDiff.Counts(
                    old: try await prospectsSeenBefore(f, "2023-06-01"),
                    new: try await prospectsSeenBefore(f, "2025-06-01")))
        #expect(
            rule.dueWithin12Months
                == PolicyDiff.Counts(
                    old: try await prospectsSeenBefore(f, "2024-06-01"),
                    new: try await prospectsSeenBefore(f, "2026-06-01")))
        #expect(
            rule.dueNow == PolicyDiff.Counts(old: 1, new: 3)
                && rule.dueWithin12Months == PolicyDiff.Counts(old: 2, new: 5), "the data as written")
        #expect(diff.makesMoreDue && diff.oldNotCounted == nil)
        #expect(try await f.count("SELECT count(*) FROM people WHERE email IS NULL") == 0, "nothing changed")

        // Work already done is not due again under either policy.
        _ = try await f.run()
        let afterRun = try await f.planner()  // with the audit key the run created
        var after = PolicyDiff(old: before, new: afterRun.policy)
        try await PolicyChangeCounter(planner: afterRun).count(&after, old: before, now: CRMFixture.now)
        #expect(after.rules.first?.dueNow == PolicyDiff.Counts(old: 0, new: 0))
    }

    @Test(arguments: Backend.allCases)
    func anOldPolicyThatNoLongerFitsTheDatabaseIsSaidAndTheNewOneStillCounted(_ backend: Backend) async throws {
        let (f, before) = try await fixture(
            backend,
            old: CRMPolicies.anonymise.replacingOccurrences(of: "column: last_seen", with: "column: last_visit"))
        let planner = try await f.planner()
        var diff = PolicyDiff(old: before, new: planner.policy)
        try await PolicyChangeCounter(planner: planner).count(&diff, old: before, now: CRMFixture.now)
        #expect(
            diff.oldNotCounted?.contains("before.yaml does not validate against") == true, "\(diff.oldNotCounted ?? "")"
        )
        #expect(diff.rules.first?.dueNow == PolicyDiff.Counts(old: nil, new: 3))
        #expect(diff.rules.first?.changes.map(\.facet) == ["kept for", "counted from"])
    }
}
