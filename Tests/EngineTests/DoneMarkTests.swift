import Foundation
import RetentionCore
import RetentionEngine
import RetentionStore
import TestSupport
import Testing

/// What a flag or anonymise rule did is marked beside the trail (`retentiond_done`), so a run with
/// nothing due reads what is due, not the rule's whole history — and a lost mark still never makes
/// a record be changed twice.
@Suite struct DoneMarkTests {
    func marks(_ f: CRMFixture, _ rule: String) async throws -> Int {
        try await f.count("SELECT count(*) FROM retentiond_done WHERE rule_id = '\(rule)' AND record_key <> '*'")
    }

    @Test(arguments: Backend.allCases)
    func aRuleMarksWhatItDidAndItsNextRunLeavesThoseRecordsOut(_ backend: Backend) async throws {
        let f = try await CRMFixture(backend, policy: CRMPolicies.anonymise)
        _ = try await f.run()
        #expect(try await marks(f, "prospect-anonymise") == 4)
        #expect(
            try await f.count("SELECT count(*) FROM retentiond_done WHERE record_key = '*'") == 1,
            "the rule's marks are complete")

        // The next run's query leaves the marked records out: it reads none of them.
        let policy = try f.policy()
        let (resolved, _) = try await Enforcer.validate(policy, store: try await f.reader())
        var query = try #require(try resolved?.query(for: policy.rules[0], now: CRMFixture.now, toolTablesExist: true))
        query.excludeDone = true
        let read = try await f.reader().read { [query] in try $0.candidates(query, after: nil, limit: 100) }
        #expect(read.isEmpty)

        let second = try await f.run(now: CRMFixture.now.addingTimeInterval(86_400))
        #expect(second.rules[0].alreadyDone == 4 && second.rules[0].pastCutoff == 4 && second.rules[0].anonymised == 0)
    }

    @Test(arguments: Backend.allCases)
    func aSavedPlanAppliedAfterAnotherRunMarkedItsRecordsChangesThemNoMore(_ backend: Backend) async throws {
        // The batch re-check reads each record's mark: what another run did since the plan was
        // made is stale, not done twice (no second anonymisation, no second audit entry).
        let f = try await CRMFixture(backend, policy: CRMPolicies.anonymise)
        let planPath = f.dir.appendingPathComponent("review.plan").path
        #expect(try await f.plan(out: planPath).totalDue == 4)
        _ = try await f.run()
        let report = try await f.enforcer().apply(
            planPath: planPath, wallClock: CRMFixture.now.addingTimeInterval(60), allowMore: false)
        #expect(report.rules[0].anonymised == 0 && report.rules[0].stale == 4, "\(report.rules[0])")
        #expect(try await f.audit(action: "anonymise").count == 4)
        #expect(try await f.trail().verify().isValid)
    }

    @Test(arguments: Backend.allCases)
    func aRecordWithoutItsMarkIsProcessedAgainNeverSkipped(_ backend: Backend) async throws {
        // The safer side for the data: a record the marks do not name may be a new one under a
        // reused key, so it is treated as not done. Anonymising an anonymised record again keeps
        // it anonymous; skipping a new record would keep its data past its time.
        let f = try await CRMFixture(backend, policy: CRMPolicies.anonymise)
        _ = try await f.run()
        try await f.sql(["DELETE FROM retentiond_done WHERE record_key <> '*' AND record_key LIKE '%1%'"])
        let second = try await f.run(now: CRMFixture.now.addingTimeInterval(86_400))
        #expect(second.rules[0].anonymised == 1 && second.rules[0].alreadyDone == 3)
        #expect(
            try await f.texts("SELECT email FROM people WHERE id IN (1, 2, 4, 5) ORDER BY id") == [nil, nil, nil, nil])
        #expect(try await marks(f, "prospect-anonymise") == 4)
        #expect(try await f.audit(action: "anonymise").count == 5)
        #expect(try await f.trail().verify().isValid)
    }

    @Test(arguments: Backend.allCases)
    func aTrailFromBeforeTheMarksIsMarkedOnceOnTheNextRun(_ backend: Backend) async throws {
        let f = try await CRMFixture(backend, policy: CRMPolicies.anonymise)
        _ = try await f.run()
        // As an older version left it: a trail, no marks at all.
        try await f.sql(["DROP TABLE retentiond_done"])
        let plan = try await f.plan(now: CRMFixture.now.addingTimeInterval(60))
        #expect(plan.rules[0].alreadyDone == 4 && plan.rules[0].due == 0, "without marks the trail decides")
        let second = try await f.run(now: CRMFixture.now.addingTimeInterval(86_400))
        #expect(second.rules[0].anonymised == 0 && second.rules[0].alreadyDone == 4)
        #expect(try await marks(f, "prospect-anonymise") == 4)
        #expect(try await f.count("SELECT count(*) FROM retentiond_done WHERE record_key = '*'") == 1)
        #expect(try await f.trail().verify().isValid)
    }

    @Test(arguments: Backend.allCases)
    func aPurgeTakesTheMarksOfItsRecordsWithThem(_ backend: Backend) async throws {
        // Prospects are flagged after 3 years and purged after 8: the purge removes the flag's marks,
        // so a key the application reuses later is not taken for a record already flagged.
        let policy = """
            subjects:
              prospects:
                table: people
                key: id
                filter: { kind: prospect }
                rules:
                  - id: prospect-flag
                    register: "Prospection"
                    legal_basis: "legitimate interest"
                    clock: { latest: [last_seen, collected] }
                    after: 3y
                    action: flag
                  - id: prospect-purge
                    register: "Prospection"
                    legal_basis: "legitimate interest"
                    clock: { latest: [last_seen, collected] }
                    after: 8y
                    action: purge
                    children: auto
            """
        let f = try await CRMFixture(backend, policy: policy)
        let first = try await f.run()
        // Flagged: 1 (2020-01-01), 2 (2019-05-05), 4 (2020-02-02), 5 (2020-03-03); none is 8 years old on 2026-06-01.
        #expect(first.rules[0].flagged == 4 && first.rules[1].purged == 0)
        #expect(try await marks(f, "prospect-flag") == 4)
        // Two years on (cutoff 2020-06-01), every flagged record is past 8 years: purged, and its mark goes with it.
        let later = try await f.run(now: Date.iso("2028-06-01T00:00:00Z"))
        #expect(later.rules[1].purged == 4)
        #expect(try await marks(f, "prospect-flag") == 0)
        try await f.sql([
            "INSERT INTO people VALUES (1, 'prospect', 'New Person', 'new@example.fr', NULL, NULL, '2021-01-01', '2021-01-01', NULL, 0)"
        ])
        let reused = try await f.run(now: Date.iso("2028-06-02T00:00:00Z"))
        #expect(reused.rules[0].flagged == 1, "a new record under a reused key is flagged as new")
    }
}

/// `retentiond flagged` reads what a flag rule marked, with the subject's review columns.
@Suite struct FlaggedRecordsTests {
    @Test(arguments: Backend.allCases)
    func theRecordsAFlagRuleMarkedAreListedWithTheirReviewColumnsInKeyOrder(_ backend: Backend) async throws {
        let f = try await CRMFixture(backend, policy: CRMPolicies.anonymise(action: "        action: flag"))
        _ = try await f.run()
        try await f.sql(["DELETE FROM notes WHERE person_id = 2", "DELETE FROM people WHERE id = 2"])
        let rows = try await f.reader().read {
            try $0.markedRecords(
                ruleID: "prospect-anonymise", table: "people", keyColumns: ["id"], columns: ["name", "last_seen"],
                after: nil, limit: 10)
        }
        // Flagged: 1, 2, 4, 5; 2 is gone since.
        #expect(
            rows == [
                [.integer(1), .text("Alice Martin"), .text("2020-01-01")],
                [.integer(4), .text("David Roux"), .text("2020-02-02")],
                [.integer(5), .text("Emma Blanc"), .text("2020-03-03")],
            ])
        let page = try await f.reader().read {
            try $0.markedRecords(
                ruleID: "prospect-anonymise", table: "people", keyColumns: ["id"], columns: [],
                after: RecordKey([.integer(1)]), limit: 1)
        }
        #expect(page == [[.integer(4)]])
    }
}
