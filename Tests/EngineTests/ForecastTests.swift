import Foundation
import RetentionCore
import RetentionEngine
import TestSupport
import Testing

/// The forecast counts the records whose time will be up in each coming month and week.
@Suite struct ForecastTests {
    @Test(arguments: Backend.allCases)
    func recordsAreCountedInThePeriodTheirTimeIsUpIn(_ backend: Backend) async throws {
        // Three years after their last contact: 9 on 2026-06-10, 8 on 2026-08-15, 10 on 2026-07-01 but held.
        let f = try await CRMFixture(
            backend,
            data: CRMFixture.data + [
                "INSERT INTO people VALUES (8, 'prospect', 'Hugo Vidal', 'hugo@example.fr', NULL, NULL, '2023-08-15', '2019-01-01', NULL, 0)",
                "INSERT INTO people VALUES (9, 'prospect', 'Inès Faure', 'ines@example.fr', NULL, NULL, '2023-06-10', '2019-01-01', NULL, 0)",
                "INSERT INTO people VALUES (10, 'prospect', 'Jade Roy', 'jade@example.fr', NULL, NULL, '2023-07-01', '2019-01-01', NULL, 0)",
            ], policy: CRMPolicies.prospectPurge)
        _ = try await f.holds().add(
            table: "people", keyText: "10", reason: "case", by: "dpo", until: nil, now: CRMFixture.now)
        let planner = try await f.planner()
        let forecast = try await Forecaster(resolved: planner.resolved, reader: planner.reader).forecast(
            now: CRMFixture.now, months: 12)
        #expect(forecast.monthLabels.first == "2026-06" && forecast.monthLabels.last == "2027-05")
        let rule = try #require(forecast.rules.first)
        #expect(
            rule.months == [1, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0], "June: 9; August: 8; 10 is held; 3 is due in 2028")
        #expect(rule.weeks.count == 52)
        #expect(
            rule.weeks.enumerated().filter { $0.element > 0 }.map(\.offset) == [1, 10],
            "9 in the week to June 15, 8 in the week to August 17: \(forecast.weekEnds.map { ISO8601DateFormatter().string(from: $0) })"
        )
        // Nothing already due is counted again: the plan's due records are not in the forecast.
        #expect(try await f.plan().rules[0].due == 2, "1 and 2 (4 has consent, 5 an order)")
    }

    /// The forecast counts what will actually come due: a record whose consent or related record
    /// will still keep it when its cutoff passes is counted apart, as kept; a record with no clock
    /// value cannot be placed, and the note under the chart says so.
    @Test(arguments: Backend.allCases)
    func recordsKeptWhenTheirTimeComesAreCountedApart(_ backend: Backend) async throws {
        // Cutoff passes in July 2026 for 11 and 12: 11's consent runs to 2027 (kept), 12's ends on
        // 2026-07-05, before the July period ends (due).
        let consent = try await CRMFixture(
            backend,
            data: CRMFixture.data + [
                "INSERT INTO people VALUES (11, 'prospect', 'Kim', NULL, NULL, NULL, '2023-07-10', '2019-01-01', '2027-01-01', 0)",
                "INSERT INTO people VALUES (12, 'prospect', 'Lou', NULL, NULL, NULL, '2023-07-10', '2019-01-01', '2026-07-05', 0)",
            ], policy: CRMPolicies.prospectPurge)
        let planner = try await consent.planner()
        let prospects = try #require(
            try await Forecaster(resolved: planner.resolved, reader: planner.reader).forecast(now: CRMFixture.now).rules
                .first)
        #expect(prospects.months == [0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0], "12 in July")
        #expect(prospects.keptMonths == [0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0], "11 in July, kept by consent")
        #expect(prospects.keptWeeks.reduce(0, +) == 1 && prospects.undated == 0)
        #expect(prospects.note.contains("1 record(s) reach their cutoff in these months but would be kept"))

        // Anonymised 3 years after last seen unless an order is younger than 5 years (fiscal year
        // end): 14's cutoff passes in September 2026 but its 2025 order keeps it; 2 was never seen.
        let related = try await CRMFixture(
            backend,
            data: CRMFixture.data + [
                "INSERT INTO people VALUES (14, 'client', 'Max', NULL, NULL, NULL, '2023-09-01', '2019-01-01', NULL, 0)",
                "INSERT INTO orders VALUES (1002, 14, '2025-01-01')",
            ],
            policy: CRMPolicies.identityKeptByOrders.replacingOccurrences(
                of: "clock: { latest: [last_seen, collected] }", with: "clock: last_seen"))
        let planner2 = try await related.planner()
        let forecast = try await Forecaster(resolved: planner2.resolved, reader: planner2.reader).forecast(
            now: CRMFixture.now)
        let identity = try #require(forecast.rules.first)
        #expect(identity.months == Array(repeating: 0, count: 12))
        #expect(identity.keptMonths == [0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0], "14, kept by its order")
        #expect(identity.undated == 1, "person 2 has no last_seen")
        #expect(
            identity.note.hasPrefix("Besides those shown, 1 record(s)")
                && identity.note.contains("1 record(s) have no clock value yet"))
        #expect(forecast.text().contains("no clock value yet (cannot be forecast until it is set):\nidentity\t1"))
        #expect(
            forecast.html(policyPath: "p", policyHash: "h").contains("<p class=\"forecast-note\">Besides those shown"))
    }

    @Test func aPolicyCanLeaveTheForecastOutOfItsReports() async throws {
        let f = try await CRMFixture(.sqlite, policy: "reports: { forecast: false }\n" + CRMPolicies.prospectPurge)
        let planner = try await f.planner()
        #expect(await planner.reportForecast(now: CRMFixture.now) == nil)
        let forecaster = Forecaster(resolved: planner.resolved, reader: planner.reader)
        #expect(try await forecaster.forecast(now: CRMFixture.now).rules.count == 1, "`forecast` itself still answers")
        try f.write(policy: CRMPolicies.prospectPurge)
        #expect(try await f.planner().reportForecast(now: CRMFixture.now) != nil)
    }
}
