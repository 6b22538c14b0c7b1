import Foundation
import RetentionCore
import RetentionEngine
import RetentionStore
import TestSupport
import Testing

/// `explain`: for one record, each rule's clock, the day it is due, and what keeps it.
@Suite struct ExplainTests {
    @Test(arguments: Backend.allCases)
    func eachRecordGetsTheAnswerItsFactsGive(_ backend: Backend) async throws {
        let f = try await CRMFixture(backend, policy: CRMPolicies.prospectPurge)
        _ = try await f.holds().add(
            table: "people", keyText: "2", reason: "case 12", by: "dpo", until: nil, now: CRMFixture.now)
        let planner = try await f.planner()
        let explainer = Explainer(resolved: planner.resolved, reader: planner.reader)
        let subject = try f.policy().subjects[0]
        func rule(_ key: String) async throws -> Explanation.RuleStanding {
            let explanation = try await explainer.explain(subject: subject, keyText: key, now: CRMFixture.now)
            #expect(explanation.rules.count == 1)
            return explanation.rules[0]
        }
        var paris = Calendar(identifier: .gregorian)
        paris.timeZone = TimeZone(identifier: "Europe/Paris")!
        func day(_ y: Int, _ m: Int, _ d: Int) -> Date { paris.date(from: DateComponents(year: y, month: m, day: d))! }

        // 1: last seen 2020-01-01 (collected 2019): three years later it is due, nothing keeps it.
        let one = try await rule("1")
        #expect(one.applies && one.due && one.keptBy.isEmpty && !one.done)
        #expect(one.clock == "2020-01-01")
        #expect(one.dueOn == day(2023, 1, 1))
        #expect(one.verdict == "due since 2023-01-01: the next run will purge it")
        // 2: due too, but held.
        let two = try await rule("2")
        #expect(two.due && two.keptBy == ["legal_hold"])
        #expect(two.verdict.hasPrefix("due since 2022-05-05, but kept: a legal hold"))
        // 3: seen 2025-12-01: due on 2028-12-01.
        let three = try await rule("3")
        #expect(!three.due && three.dueOn == day(2028, 12, 1))
        #expect(three.verdict.hasPrefix("not due yet: the next run after 2028-12-01 will purge it"))
        // 4: agreed to be kept until 2027; 5: an order still names it.
        #expect(try await rule("4").keptBy == ["consent"])
        #expect(try await rule("5").keptBy == ["referenced_by_undeclared_table"])
        // 6 is a client: the prospects' rule does not apply.
        let six = try await rule("6")
        #expect(!six.applies && !six.due)
        #expect(six.verdict.hasPrefix("does not apply"))

        await #expect(throws: (any Error).self) {
            _ = try await explainer.explain(subject: subject, keyText: "99", now: CRMFixture.now)
        }
        await #expect(throws: (any Error).self) {
            _ = try await explainer.explain(subject: subject, keyText: "1.0", now: CRMFixture.now)
        }

        // After the run: 1 is gone; the answer for 3 is unchanged.
        _ = try await f.run()
        await #expect(throws: (any Error).self) {
            _ = try await explainer.explain(subject: subject, keyText: "1", now: CRMFixture.now)
        }
        #expect(try await rule("3").dueOn == day(2028, 12, 1))
    }

    /// Kept by related records: the answer names each one, its date, and until when it keeps.
    @Test(arguments: Backend.allCases)
    func aRecordKeptByRelatedRecordsNamesThemAndUntilWhen(_ backend: Backend) async throws {
        let f = try await CRMFixture(
            backend, data: CRMFixture.data + ["INSERT INTO orders VALUES (1002, 5, '2022-06-01')"],
            policy: CRMPolicies.identityKeptByOrders)
        let planner = try await f.planner()
        let explainer = Explainer(resolved: planner.resolved, reader: planner.reader)
        let subject = try f.policy().subjects[0]
        var paris = Calendar(identifier: .gregorian)
        paris.timeZone = TimeZone(identifier: "Europe/Paris")!
        func day(_ y: Int, _ m: Int, _ d: Int) -> Date { paris.date(from: DateComponents(year: y, month: m, day: d))! }

        // 5's orders: 2024-01-01 keeps it until its fiscal year's end (2025-01-01) + 5 years; 2022-06-01 until 2028-01-01.
        let five = try #require(
            try await explainer.explain(subject: subject, keyText: "5", now: CRMFixture.now).rules.first)
        #expect(five.keptBy == ["related_record"])
        #expect(
            five.keptByRecords == [
                Explanation.RelatedKeeper(table: "orders", key: "1000", clock: "2024-01-01", until: day(2030, 1, 1)),
                Explanation.RelatedKeeper(table: "orders", key: "1002", clock: "2022-06-01", until: day(2028, 1, 1)),
            ])
        #expect(
            five.verdict.contains(
                "a related record that must still be kept: `orders` 1000 (dated 2024-01-01, kept until 2030-01-01), `orders` 1002 (dated 2022-06-01, kept until 2028-01-01)"
            ),
            "\(five.verdict)")
        // 6's order of 2019 kept it until 2025-01-01: it keeps nothing now.
        let six = try #require(
            try await explainer.explain(subject: subject, keyText: "6", now: CRMFixture.now).rules.first)
        #expect(six.due && six.keptBy.isEmpty && six.keptByRecords.isEmpty)
    }
}
