import Foundation
import Testing

@testable import RetentionCore

/// The parts of "statistics that survive" that need no database: the policy's syntax, periods,
/// and how counts land among stored rows and are merged when their period is over.
@Suite struct StatisticsModelTests {
    static func policy(_ statistics: String, action: String = "purge", top: String = "") -> String {
        """
        version: 1
        time_zone: Europe/Paris
        state_dir: /srv/retention
        database: { sqlite: crm.sqlite }
        \(top)subjects:
          tickets:
            table: tickets
            key: id
            rules:
              - id: ticket-purge
                register: "Support"
                legal_basis: "legitimate interest"
                clock: closed_at
                after: 2y
                action: \(action)
                statistics: \(statistics)
        """
    }

    func errors(_ text: String) -> [String] {
        do {
            _ = try PolicyParser(path: "/p.yaml").parse(text, hash: "h")
            return []
        } catch let invalid as PolicyInvalid {
            return invalid.errors.map(\.description)
        } catch {
            return ["\(error)"]
        }
    }

    @Test func aRuleDeclaresItsStatistics() throws {
        let (policy, _, _) = try PolicyParser(path: "/p.yaml").parse(
            Self.policy(
                "{ period: quarter, by: [queue, type], sum: [minutes], min_group: 10 }",
                top: "statistics: { table: support_figures }\n"), hash: "h")
        let statistics = try #require(policy.rules[0].statistics)
        #expect(statistics.period == .quarter)
        #expect(statistics.by.map(\.value) == ["queue", "type"])
        #expect(statistics.sum.map(\.value) == ["minutes"])
        #expect(statistics.minGroup == 10)
        #expect(statistics.location.line == 17)
        #expect(policy.statisticsTable == "support_figures")
        #expect(
            try PolicyParser(path: "/p.yaml").parse(Self.policy("{ period: year }"), hash: "h").0.rules[0].statistics?
                .minGroup == 5)
    }

    @Test func mistakesAreNamedWhereTheyAre() {
        let cases: [(String, String, String)] = [
            ("{ period: week }", "purge", "/p.yaml:16:31: error: unknown period `week`"),
            ("{ by: [queue] }", "purge", "/p.yaml:16:21: error: rule `ticket-purge`.statistics has no `period`"),
            ("{ period: month, min_group: 1 }", "purge", "min_group must be a whole number from 2 to 1000000"),
            ("{ period: month, by: [queue, queue] }", "purge", "`queue` is listed twice in `statistics.by`"),
            ("{ period: month, per: [queue] }", "purge", "unknown key `per`"),
            ("{ period: month }", "flag", "`statistics` is for rules that erase (purge or anonymise)"),
            ("{ period: month, by: [a.b] }", "purge", "is not a valid rule `ticket-purge`.statistics.by column"),
        ]
        for (statistics, action, says) in cases {
            let found = errors(Self.policy(statistics, action: action))
            #expect(found.contains { $0.contains(says) }, "\(statistics): \(found)")
        }
        #expect(
            errors(Self.policy("{ period: month }", top: "statistics: { table: Figures }\n")).contains {
                $0.contains("must be lower case")
            })
    }

    @Test func periodsAreOfThePolicysCalendar() throws {
        var paris = Calendar(identifier: .gregorian)
        paris.timeZone = TimeZone(identifier: "Europe/Paris")!
        // 23:30 UTC on 31 March is already April in Paris.
        let date = Date.iso("2024-03-31T23:30:00Z")
        #expect(RuleStatistics.Period.month.label(of: date, calendar: paris) == "2024-04")
        #expect(RuleStatistics.Period.quarter.label(of: date, calendar: paris) == "2024-Q2")
        #expect(RuleStatistics.Period.year.label(of: date, calendar: paris) == "2024")
        #expect(RuleStatistics.Period.month.end(of: "2024-12", calendar: paris) == Date.iso("2024-12-31T23:00:00Z"))
        #expect(RuleStatistics.Period.quarter.end(of: "2024-Q1", calendar: paris) == Date.iso("2024-03-31T22:00:00Z"))
        #expect(RuleStatistics.Period.year.end(of: "2024", calendar: paris) == Date.iso("2024-12-31T23:00:00Z"))
        #expect(RuleStatistics.Period.month.end(of: "2024-Q1", calendar: paris) == nil)
        #expect(RuleStatistics.Period.quarter.end(of: "2024-Q5", calendar: paris) == nil)
        #expect(RuleStatistics.Period.end(ofAny: "2024-Q1", calendar: paris) == Date.iso("2024-03-31T22:00:00Z"))
        #expect(RuleStatistics.Period.end(ofAny: "2024-03", calendar: paris) == Date.iso("2024-03-31T22:00:00Z"))
        #expect(RuleStatistics.Period.end(ofAny: "other", calendar: paris) == nil)
        #expect(RuleStatistics.Period.year.label(of: Date.iso("0999-06-01T00:00:00Z"), calendar: paris) == "0999")
        // A batch finds each record's period among those it met: the last minute of March in
        // Paris, then the first of April, then March again.
        let monthly = RuleStatistics(
            by: [], period: .month, sum: [], location: SourceLocation(file: "p", line: 1, column: 1))
        var tally = StatisticsTally(rule: "r", statistics: monthly)
        for instant in [
            "2024-03-31T21:59:59Z", "2024-03-31T22:00:00Z", "2024-03-01T00:00:00Z", "2024-02-29T22:59:59Z",
            "2024-04-30T21:59:59Z",
        ] {
            try tally.count(clock: Date.iso(instant), values: [], calendar: paris)
        }
        #expect(tally.recordsPerPeriod == ["2024-02": 1, "2024-03": 2, "2024-04": 2])
    }

    static let statistics = RuleStatistics(
        by: [Name("queue", at: SourceLocation(file: "p", line: 1, column: 1))], period: .month,
        sum: [Name("amount", at: SourceLocation(file: "p", line: 1, column: 1))], minGroup: 3,
        location: SourceLocation(file: "p", line: 1, column: 1))

    @Test func aBatchLandsInItsGroupsOrInOtherOnceItsPeriodIsOver() throws {
        var utc = Calendar(identifier: .gregorian)
        utc.timeZone = TimeZone(identifier: "UTC")!
        var tally = StatisticsTally(rule: "r", statistics: Self.statistics)
        try tally.count(
            clock: Date.iso("2024-01-10T00:00:00Z"), values: [.text("support"), .text("10.10")], calendar: utc)
        try tally.count(clock: Date.iso("2024-01-11T00:00:00Z"), values: [.text("support"), .real(0.2)], calendar: utc)
        try tally.count(clock: Date.iso("2024-01-12T00:00:00Z"), values: [.text("legal"), .null], calendar: utc)
        try tally.count(clock: Date.iso("2024-02-01T00:00:00Z"), values: [.text("legal"), .integer(3)], calendar: utc)
        #expect(tally.recordsPerPeriod == ["2024-01": 3, "2024-02": 1])
        // January is over (its rows closed); February is open.
        let stored = [
            StatisticsRow(
                rule: "r", period: "2024-01", group: #"{"queue":"support"}"#, records: 5, sums: ["amount": 1],
                open: false)
        ]
        let rows = tally.landing(on: stored)
        #expect(
            rows == [
                StatisticsRow(rule: "r", period: "2024-01", group: "other", records: 1, sums: [:], open: false),
                StatisticsRow(
                    rule: "r", period: "2024-01", group: #"{"queue":"support"}"#, records: 7,
                    sums: ["amount": Decimal(string: "11.3")!], open: false),
                StatisticsRow(
                    rule: "r", period: "2024-02", group: #"{"queue":"legal"}"#, records: 1, sums: ["amount": 3],
                    open: true),
            ])
        #expect(rows[1].sumsText == #"{"amount":"11.3"}"#, "exact decimals: 1 + 10.10 + 0.2")
        #expect(StatisticsRow.sums(from: rows[1].sumsText) == rows[1].sums)
        var bad = StatisticsTally(rule: "r", statistics: Self.statistics)
        #expect(throws: StatisticsError.self) {
            try bad.count(clock: Date(), values: [.text("x"), .text("twelve")], calendar: utc)
        }
    }

    @Test func closingAPeriodMergesItsSmallGroupsIntoOther() {
        let rows = [
            StatisticsRow(
                rule: "r", period: "2024-01", group: #"{"queue":"support"}"#, records: 3, sums: ["amount": 3],
                open: true),
            StatisticsRow(
                rule: "r", period: "2024-01", group: #"{"queue":"legal"}"#, records: 1, sums: ["amount": 7], open: true),
            StatisticsRow(
                rule: "r", period: "2024-01", group: #"{"queue":"sales"}"#, records: 2, sums: [:], open: true),
            StatisticsRow(
                rule: "r", period: "2023-12", group: #"{"queue":"legal"}"#, records: 4, sums: [:], open: false),
        ]
        let (removed, written) = StatisticsFolding.close(rows, minGroup: 3, grouped: true)
        #expect(removed.map(\.group) == [#"{"queue":"legal"}"#, #"{"queue":"sales"}"#])
        #expect(
            written == [
                StatisticsRow(
                    rule: "r", period: "2024-01", group: #"{"queue":"support"}"#, records: 3, sums: ["amount": 3],
                    open: false),
                StatisticsRow(
                    rule: "r", period: "2024-01", group: "other", records: 3, sums: ["amount": 7], open: false),
            ], "December was already closed: left as it is")
        // Without `by`, a period's one row is closed whatever its size.
        let alone = [StatisticsRow(rule: "r", period: "2024", group: "{}", records: 1, open: true)]
        #expect(StatisticsFolding.close(alone, minGroup: 5, grouped: false).written.map(\.open) == [false])
        #expect(StatisticsFolding.close(alone, minGroup: 5, grouped: false).removed.isEmpty)
    }
}

extension Date {
    fileprivate static func iso(_ text: String) -> Date { ISO8601DateFormatter().date(from: text)! }
}
