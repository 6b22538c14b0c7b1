import Foundation
import Logging
import Testing
import RetentionCore
import RetentionEngine
import TestSupport

/// The forecast counts the records whose time will be up in each coming month and week.
@Suite struct ForecastTests {
    @Test(arguments: Backend.allCases)
    func recordsAreCountedInThePeriodTheirTimeIsUpIn(_ backend: Backend) async throws {
        // Three years after their last contact: 9 on 2026-06-10, 8 on 2026-08-15, 10 on 2026-07-01 but held.
        let f = try await CRMFixture(backend, data: CRMFixture.data + [
            "INSERT INTO people VALUES (8, 'prospect', 'Hugo Vidal', 'hugo@example.fr', NULL, NULL, '2023-08-15', '2019-01-01', NULL, 0)",
            "INSERT INTO people VALUES (9, 'prospect', 'Inès Faure', 'ines@example.fr', NULL, NULL, '2023-06-10', '2019-01-01', NULL, 0)",
            "INSERT INTO people VALUES (10, 'prospect', 'Jade Roy', 'jade@example.fr', NULL, NULL, '2023-07-01', '2019-01-01', NULL, 0)",
        ], policy: CRMPolicies.prospectPurge)
        _ = try await f.holds().add(table: "people", keyText: "10", reason: "case", by: "dpo", until: nil, now: CRMFixture.now)
        let planner = try await f.planner()
        let forecast = try await Forecaster(resolved: planner.resolved, reader: planner.reader).forecast(now: CRMFixture.now, months: 12)
        #expect(forecast.monthLabels.first == "2026-06" && forecast.monthLabels.last == "2027-05")
        let rule = try #require(forecast.rules.first)
        #expect(rule.months == [1, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0], "June: 9; August: 8; 10 is held; 3 is due in 2028")
        #expect(rule.weeks.count == 52)
        #expect(rule.weeks.enumerated().filter { $0.element > 0 }.map(\.offset) == [1, 10], "9 in the week to June 15, 8 in the week to August 17: \(forecast.weekEnds.map { ISO8601DateFormatter().string(from: $0) })")
        // Nothing already due is counted again: the plan's due records are not in the forecast.
        #expect(try await f.plan().rules[0].due == 2, "1 and 2 (4 has consent, 5 an order)")
    }

    @Test func aPolicyCanLeaveTheForecastOutOfItsReports() async throws {
        let f = try await CRMFixture(.sqlite, policy: "reports: { forecast: false }\n" + CRMPolicies.prospectPurge)
        let planner = try await f.planner()
        let forecaster = Forecaster(resolved: planner.resolved, reader: planner.reader)
        #expect(await forecaster.forReport(now: CRMFixture.now, logger: Logger(label: "test")) == nil)
        #expect(try await forecaster.forecast(now: CRMFixture.now).rules.count == 1, "`forecast` itself still answers")
        try f.write(policy: CRMPolicies.prospectPurge)
        let planner2 = try await f.planner()
        #expect(await Forecaster(resolved: planner2.resolved, reader: planner2.reader).forReport(now: CRMFixture.now, logger: Logger(label: "test")) != nil)
    }
}
