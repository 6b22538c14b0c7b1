import Foundation
import GRDB
import Testing
@testable import RetentionCore
@testable import RetentionEngine
import RetentionSQLite
import RetentionStore

/// Saved plans, stale entries, refusals and the guards that stop a run before any change.
@Suite struct PlanApplyTests {
    @Test func staleEntriesAreSkippedAndReportedNeverForced() async throws {
        let f = try Fixture(policy: EnforcementTests.anonymise)
        let planPath = f.dir.appendingPathComponent("review.plan").path
        let plan = try await f.plan(out: planPath)
        #expect(plan.totalDue == 4)
        // Between the review and the apply: Alice comes back (no longer due), Bruno gets a legal hold,
        // and Emma's record is deleted by someone else.
        try f.execute("UPDATE people SET last_seen = '2026-05-20' WHERE id = 1")
        _ = try await f.holds().add(table: "people", keyText: "2", reason: "case 12", by: "dpo", until: nil, now: Fixture.now)
        try f.execute("DELETE FROM orders WHERE person_id = 5; DELETE FROM people WHERE id = 5")

        let report = try await f.enforcer().apply(planPath: planPath, wallClock: Fixture.now, allowMore: false)
        let tally = report.rules[0]
        #expect(tally.anonymised == 1)
        #expect(tally.stale == 2)
        #expect(tally.gone == 1)
        let rows = try f.query("SELECT id, email FROM people WHERE id IN (1, 2, 4) ORDER BY id")
        #expect(rows.map { $0["email"] as String? } == ["alice.martin@example.fr", "bruno.petit@example.fr", nil])
        #expect(try f.audit(action: "anonymise").map { $0["subject_ref"] as String } == [try f.reference("people", 4)])
    }

    @Test func aPlanFromAnotherPolicyIsRefusedAndChangesNothing() async throws {
        let f = try Fixture(policy: EnforcementTests.anonymise)
        let planPath = f.dir.appendingPathComponent("p.plan").path
        _ = try await f.plan(out: planPath)
        try f.writePolicy(EnforcementTests.anonymise + "\n# edited after the plan\n")
        let digest = try f.fileDigest()
        await #expect(throws: EnforcementError.self) {
            _ = try await f.enforcer().apply(planPath: planPath, wallClock: Fixture.now, allowMore: false)
        }
        do {
            _ = try await f.enforcer().apply(planPath: planPath, wallClock: Fixture.now, allowMore: false)
        } catch let error as EnforcementError {
            #expect(error.kind == .refused)
            #expect(error.description.contains("different policy"))
        }
        #expect(try f.fileDigest() == digest)
    }

    @Test func aPlanForAnotherDatabaseIsRefused() async throws {
        let f = try Fixture(policy: EnforcementTests.anonymise)
        let planPath = f.dir.appendingPathComponent("p.plan").path
        _ = try await f.plan(out: planPath)
        // The same policy file, pointed at another database through the state directory override.
        let g = try Fixture(policy: EnforcementTests.anonymise)
        try FileManager.default.removeItem(atPath: g.policyPath)
        try FileManager.default.copyItem(atPath: f.policyPath, toPath: g.policyPath)
        g.stateDirectoryOverride = g.dir.path
        do {
            _ = try await g.enforcer().apply(planPath: planPath, wallClock: Fixture.now, allowMore: false)
            Issue.record("a plan for another database was applied")
        } catch let error as EnforcementError {
            #expect(error.kind == .refused)
            #expect(error.description.contains("another database"))
        }
        #expect(try g.query("SELECT count(*) AS n FROM people WHERE email IS NULL").first?["n"] == 0)
    }

    @Test func aTruncatedPlanIsRefused() async throws {
        let f = try Fixture(policy: EnforcementTests.anonymise)
        let planPath = f.dir.appendingPathComponent("p.plan").path
        _ = try await f.plan(out: planPath)
        let lines = try String(contentsOfFile: planPath, encoding: .utf8).split(separator: "\n")
        try (lines.dropLast().joined(separator: "\n") + "\n").write(toFile: planPath, atomically: true, encoding: .utf8)
        do {
            _ = try await f.enforcer().apply(planPath: planPath, wallClock: Fixture.now, allowMore: false)
            Issue.record("a truncated plan was applied")
        } catch let error as EnforcementError {
            #expect(error.description.contains("cut short"))
        }
    }

    @Test func aSafetyLimitStopsTheWholeRunBeforeAnyChange() async throws {
        let policy = EnforcementTests.anonymise + "\n        safety: { max_records: 3 }\n"
        let f = try Fixture(policy: policy)
        let digest = try f.fileDigest()
        do {
            _ = try await f.run()
            Issue.record("the safety limit did not stop the run")
        } catch let error as EnforcementError {
            #expect(error.kind == .safetyLimit)
            #expect(error.description.contains("rule `prospect-anonymise`: 4 records due, more than max_records 3"))
            #expect(error.description.contains("--allow-more"))
        }
        #expect(try f.fileDigest() == digest, "not a byte changed")
        let report = try await f.run(allowMore: true)
        #expect(report.rules[0].anonymised == 4)
    }

    @Test func aPercentageLimitNamesTheFigures() async throws {
        let policy = EnforcementTests.anonymise + "\n        safety: { max_percent: 50 }\n"
        let f = try Fixture(policy: policy)
        do {
            _ = try await f.run()
            Issue.record("the safety limit did not stop the run")
        } catch let error as EnforcementError {
            #expect(error.description.contains("4 of 7 rows of `people` (57.14%), more than max_percent 50%"))
        }
    }

    @Test func aClockEarlierThanTheLastCompletedRunIsRefused() async throws {
        let f = try Fixture(policy: EnforcementTests.anonymise)
        _ = try await f.run()
        do {
            _ = try await f.run(now: Fixture.now.addingTimeInterval(-3600))
            Issue.record("ran with a clock earlier than the last run")
        } catch let error as EnforcementError {
            #expect(error.kind == .refused)
            #expect(error.description.contains("earlier than the last completed run"))
        }
    }

    @Test func aSecondRunWaitsForNoOneItReportsTheLock() async throws {
        let f = try Fixture(policy: EnforcementTests.anonymise)
        let lock = try RunLock.acquire(path: f.dbPath + ".retentiond-lock")
        do {
            _ = try await f.run()
            Issue.record("ran while another run held the lock")
        } catch {
            #expect(EnforcementError.from(error).kind == .locked)
        }
        withExtendedLifetime(lock) {}
        #expect(try f.query("SELECT count(*) AS n FROM people WHERE email IS NULL").first?["n"] == 0)
    }
}
