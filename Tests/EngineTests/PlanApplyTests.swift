import Foundation
import RetentionCore
import RetentionEngine
import RetentionStore
import TestSupport
import Testing

/// Saved plans, stale entries, refusals and the guards that stop a run before any change.
@Suite struct PlanApplyTests {
    @Test(arguments: Backend.allCases)
    func staleEntriesAreSkippedAndReportedNeverForced(_ backend: Backend) async throws {
        let f = try await CRMFixture(backend, policy: CRMPolicies.anonymise)
        let planPath = f.dir.appendingPathComponent("review.plan").path
        let plan = try await f.plan(out: planPath)
        #expect(plan.totalDue == 4)
        // Between the review and the apply: Alice comes back (no longer due), Bruno gets a legal hold,
        // and Emma's record is deleted by someone else.
        try await f.sql(["UPDATE people SET last_seen = '2026-05-20' WHERE id = 1"])
        _ = try await f.holds().add(
            table: "people", keyText: "2", reason: "case 12", by: "dpo", until: nil, now: CRMFixture.now)
        try await f.sql(["DELETE FROM orders WHERE person_id = 5", "DELETE FROM people WHERE id = 5"])

        let report = try await f.enforcer().apply(planPath: planPath, wallClock: CRMFixture.now, allowMore: false)
        let tally = report.rules[0]
        #expect(tally.anonymised == 1)
        #expect(tally.stale == 2)
        #expect(tally.gone == 1)
        #expect(
            try await f.texts("SELECT email FROM people WHERE id IN (1, 2, 4) ORDER BY id") == [
                "alice.martin@example.fr", "bruno.petit@example.fr", nil,
            ])
        #expect(try await f.audit(action: "anonymise").map(\.subjectRef) == [try f.reference("people", 4)])
    }

    /// Planning probes holds only on the tables that have one; a hold placed on another table's
    /// row after the plan is made is found by the batch's re-check, which tests every table.
    @Test(arguments: Backend.allCases)
    func aHoldPlacedOnAChildRowAfterThePlanStillKeepsItsRecord(_ backend: Backend) async throws {
        let f = try await CRMFixture(backend, policy: CRMPolicies.prospectPurge)
        let registry = try await f.holds()
        // In force when the plan is made: a hold on `people` (a client, outside the rule), none on attachments.
        _ = try await registry.add(
            table: "people", keyText: "7", reason: "case 1", by: "dpo", until: nil, now: CRMFixture.now)
        let planPath = f.dir.appendingPathComponent("review.plan").path
        let plan = try await f.plan(out: planPath)
        // Alice (1) and Bruno (2) are past three years and kept by nothing (from the fixture's rows).
        #expect(plan.rules[0].due == 2)
        // Alice's note's attachment is held after the review.
        _ = try await registry.add(
            table: "attachments", keyText: "100", reason: "case 2", by: "dpo", until: nil, now: CRMFixture.now)

        let report = try await f.enforcer().apply(planPath: planPath, wallClock: CRMFixture.now, allowMore: false)
        #expect(report.rules[0].purged == 1)
        #expect(try await f.ids("people") == [1, 3, 4, 5, 6, 7])
        #expect(try await f.ids("notes") == [10, 11, 13])
        #expect(try await f.ids("attachments") == [100, 101])
        #expect(try await f.audit(action: "purge").map(\.subjectRef) == [try f.reference("people", 2)])

        // Planned again, with the hold in force on attachments: Alice is exempt from the start.
        let again = try await f.plan()
        #expect(again.rules[0].due == 0)
        #expect(again.rules[0].exempt["legal_hold"] == 1)
    }

    @Test(arguments: Backend.allCases)
    func aPlanFromAnotherPolicyIsRefusedAndChangesNothing(_ backend: Backend) async throws {
        let f = try await CRMFixture(backend, policy: CRMPolicies.anonymise)
        let planPath = f.dir.appendingPathComponent("p.plan").path
        _ = try await f.plan(out: planPath)
        try f.write(policy: CRMPolicies.anonymise + "\n# edited after the plan\n")
        let before = try await f.snapshot()
        await #expect(throws: EnforcementError.self) {
            _ = try await f.enforcer().apply(planPath: planPath, wallClock: CRMFixture.now, allowMore: false)
        }
        do {
            _ = try await f.enforcer().apply(planPath: planPath, wallClock: CRMFixture.now, allowMore: false)
        } catch let error as EnforcementError {
            #expect(error.kind == .refused)
            #expect(error.description.contains("different policy"))
        }
        #expect(try await f.snapshot() == before)
    }

    @Test(arguments: Backend.allCases)
    func aPlanForAnotherDatabaseIsRefused(_ backend: Backend) async throws {
        let f = try await CRMFixture(backend, policy: CRMPolicies.anonymise)
        let planPath = f.dir.appendingPathComponent("p.plan").path
        _ = try await f.plan(out: planPath)
        // The same policy file, pointed at another database (as --state-dir or --database-url do).
        let g = try await CRMFixture(backend, policy: CRMPolicies.anonymise)
        g.databaseOverride = try g.settings().database
        try FileManager.default.removeItem(atPath: g.policyPath)
        try FileManager.default.copyItem(atPath: f.policyPath, toPath: g.policyPath)
        g.stateDirectoryOverride = g.dir.path
        do {
            _ = try await g.enforcer().apply(planPath: planPath, wallClock: CRMFixture.now, allowMore: false)
            Issue.record("a plan for another database was applied")
        } catch let error as EnforcementError {
            #expect(error.kind == .refused)
            #expect(error.description.contains("another database"))
        }
        #expect(try await g.count("SELECT count(*) FROM people WHERE email IS NULL") == 0)
    }

    @Test(arguments: Backend.allCases)
    func aTruncatedPlanIsRefused(_ backend: Backend) async throws {
        let f = try await CRMFixture(backend, policy: CRMPolicies.anonymise)
        let planPath = f.dir.appendingPathComponent("p.plan").path
        _ = try await f.plan(out: planPath)
        let lines = try String(contentsOfFile: planPath, encoding: .utf8).split(separator: "\n")
        try (lines.dropLast().joined(separator: "\n") + "\n").write(toFile: planPath, atomically: true, encoding: .utf8)
        do {
            _ = try await f.enforcer().apply(planPath: planPath, wallClock: CRMFixture.now, allowMore: false)
            Issue.record("a truncated plan was applied")
        } catch let error as EnforcementError {
            #expect(error.description.contains("cut short"))
        }
    }

    @Test(arguments: Backend.allCases)
    func aSafetyLimitStopsTheWholeRunBeforeAnyChange(_ backend: Backend) async throws {
        let policy = CRMPolicies.anonymise + "\n        safety: { max_records: 3 }\n"
        let f = try await CRMFixture(backend, policy: policy)
        let before = try await f.snapshot()
        do {
            _ = try await f.run()
            Issue.record("the safety limit did not stop the run")
        } catch let error as EnforcementError {
            #expect(error.kind == .safetyLimit)
            #expect(error.description.contains("rule `prospect-anonymise`: 4 records due, more than max_records 3"))
            #expect(error.description.contains("--allow-more"))
        }
        #expect(try await f.snapshot() == before, "nothing changed")
        #expect(try await f.reader().read { try $0.toolTablesExist() } == false)
        let report = try await f.run(allowMore: true)
        #expect(report.rules[0].anonymised == 4)
    }

    @Test(arguments: Backend.allCases)
    func aPercentageLimitNamesTheFigures(_ backend: Backend) async throws {
        let policy = CRMPolicies.anonymise + "\n        safety: { max_percent: 50 }\n"
        let f = try await CRMFixture(backend, policy: policy)
        do {
            _ = try await f.run()
            Issue.record("the safety limit did not stop the run")
        } catch let error as EnforcementError {
            #expect(error.description.contains("4 of 7 rows of `people` (57.14%), more than max_percent 50%"))
        }
    }

    @Test(arguments: Backend.allCases)
    func aClockEarlierThanTheLastCompletedRunIsRefused(_ backend: Backend) async throws {
        let f = try await CRMFixture(backend, policy: CRMPolicies.anonymise)
        _ = try await f.run()
        do {
            _ = try await f.run(now: CRMFixture.now.addingTimeInterval(-3600))
            Issue.record("ran with a clock earlier than the last run")
        } catch let error as EnforcementError {
            #expect(error.kind == .refused)
            #expect(error.description.contains("earlier than the last completed run"))
        }
    }
}
