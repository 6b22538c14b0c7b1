import Foundation
import Testing

@testable import RetentionCore

@Suite struct RetentionDurationTests {
    func paris() -> Calendar {
        var c = Calendar(identifier: .gregorian)
        c.timeZone = TimeZone(identifier: "Europe/Paris")!
        return c
    }

    func date(_ text: String) -> Date { ISO8601DateFormatter().date(from: text)! }

    @Test(arguments: [
        ("3y", RetentionDuration(years: 3)),
        ("3 years", RetentionDuration(years: 3)),
        ("24 months", RetentionDuration(months: 24)),
        ("24mo", RetentionDuration(months: 24)),
        ("90 days", RetentionDuration(days: 90)),
        ("2w", RetentionDuration(days: 14)),
        ("1y 6mo", RetentionDuration(years: 1, months: 6)),
        ("12h", RetentionDuration(hours: 12)),
        ("0d", RetentionDuration()),
        ("0", RetentionDuration()),
    ])
    func parsesCalendarDurations(text: String, expected: RetentionDuration) throws {
        #expect(try RetentionDuration(parsing: text) == expected)
    }

    @Test func rejectsMalformedDurationsWithAHint() {
        #expect(throws: RetentionDuration.ParseError.ambiguousUnit("m")) { try RetentionDuration(parsing: "3m") }
        #expect(throws: RetentionDuration.ParseError.unknownUnit("fortnights")) {
            try RetentionDuration(parsing: "3 fortnights")
        }
        #expect(throws: RetentionDuration.ParseError.negative) { try RetentionDuration(parsing: "-1y") }
        #expect(throws: RetentionDuration.ParseError.empty) { try RetentionDuration(parsing: " ") }
        #expect(throws: RetentionDuration.ParseError.malformed("years")) { try RetentionDuration(parsing: "years") }
    }

    @Test(arguments: [
        "201y", "5000y", "9223372036854775807y", "99999999999999999999d", "2401mo", "100y 101y", "73100d", "10000000w",
    ])
    func refusesDurationsLongerThanTwoHundredYears(text: String) {
        #expect(throws: RetentionDuration.ParseError.tooLong(text)) { try RetentionDuration(parsing: text) }
    }

    @Test func acceptsTheLongestDurationAndComputesItsCutoff() throws {
        let longest = try RetentionDuration(parsing: "200y")
        let cutoff = try #require(longest.before(date("2026-01-01T00:00:00Z"), in: paris()))
        #expect(paris().component(.year, from: cutoff) == 1826)
    }

    @Test func aCutoffTheCalendarCannotComputeFailsInsteadOfFallingBack() {
        // Built directly (the parser refuses it): a date the calendar cannot represent is an error, never `now`.
        let absurd = RetentionDuration(years: Int.max / 2)
        #expect(absurd.before(date("2026-01-01T00:00:00Z"), in: paris()) == nil)
        #expect(throws: Cutoff.Unavailable.self) {
            try Cutoff(
                now: date("2026-01-01T00:00:00Z"), duration: absurd, fiscalYearEnd: false,
                fiscalYearStart: MonthDay(month: 1, day: 1), calendar: paris())
        }
    }

    @Test func oneYearBeforeALeapDayIsTheTwentyEighthOfFebruary() {
        let now = date("2024-02-29T12:00:00Z")
        #expect(RetentionDuration(years: 1).before(now, in: paris()) == date("2023-02-28T12:00:00Z"))
    }

    @Test func oneMonthBeforeTheEndOfMarchIsTheEndOfFebruary() {
        // 12:00 in Paris (summer time, UTC+2) on 31 March; 12:00 in Paris (UTC+1) at the end of February.
        #expect(
            RetentionDuration(months: 1).before(date("2023-03-31T10:00:00Z"), in: paris())
                == date("2023-02-28T11:00:00Z"))
        #expect(
            RetentionDuration(months: 1).before(date("2024-03-31T10:00:00Z"), in: paris())
                == date("2024-02-29T11:00:00Z"))
    }

    @Test func threeYearsIsNotAFixedNumberOfDays() throws {
        let now = date("2026-03-01T00:00:00Z")
        let cutoff = try #require(RetentionDuration(years: 3).before(now, in: paris()))
        // 2023-03-01 local: 1096 days across the leap day of 2024.
        #expect(now.timeIntervalSince(cutoff) / 86_400 == 1096)
    }

    @Test func daysKeepTheWallClockTimeAcrossDaylightSavingTime() {
        // 14:00 in Paris in summer (UTC+2); 90 days earlier is 14:00 in winter (UTC+1).
        let now = date("2026-06-15T12:00:00Z")
        let cutoff = RetentionDuration(days: 90).before(now, in: paris())
        #expect(cutoff == date("2026-03-17T13:00:00Z"))
        var utc = Calendar(identifier: .gregorian)
        utc.timeZone = TimeZone(identifier: "UTC")!
        #expect(RetentionDuration(days: 90).before(now, in: utc) == date("2026-03-17T12:00:00Z"))
    }

    @Test func theTimeZoneDecidesWhichDayAYearEarlierIs() throws {
        // 23:30 UTC on 31 December is already 1 January in Paris.
        let now = date("2025-12-31T23:30:00Z")
        let cutoff = try #require(RetentionDuration(years: 1).before(now, in: paris()))
        #expect(paris().component(.year, from: cutoff) == 2025)
        #expect(paris().component(.month, from: cutoff) == 1)
    }
}

@Suite struct CutoffTests {
    func calendar() -> Calendar {
        var c = Calendar(identifier: .gregorian)
        c.timeZone = TimeZone(identifier: "Europe/Paris")!
        return c
    }

    @Test func fiscalYearAnchorMovesTheBoundToTheStartOfTheFiscalYear() throws {
        let now = ISO8601DateFormatter().date(from: "2026-11-23T10:00:00Z")!
        let cal = calendar()
        let cutoff = try Cutoff(
            now: now, duration: RetentionDuration(years: 10), fiscalYearEnd: true,
            fiscalYearStart: MonthDay(month: 1, day: 1), calendar: cal)
        // An invoice of 2016 ends its fiscal year on 31 December 2016, +10y = 2026-12-31: not due yet.
        // So only invoices before 1 January 2016 are due.
        #expect(cutoff.clockBound == cal.date(from: DateComponents(year: 2016, month: 1, day: 1))!)
        #expect(cutoff.moment == cal.date(from: DateComponents(year: 2016, month: 11, day: 23, hour: 11))!)
    }

    @Test func fiscalYearsThatStartInAprilAreRespected() throws {
        let cal = calendar()
        let now = cal.date(from: DateComponents(year: 2026, month: 2, day: 10))!
        let cutoff = try Cutoff(
            now: now, duration: RetentionDuration(years: 10), fiscalYearEnd: true,
            fiscalYearStart: MonthDay(month: 4, day: 1), calendar: cal)
        // 10 years before is 2016-02-10, inside the fiscal year that started 2015-04-01.
        #expect(cutoff.clockBound == cal.date(from: DateComponents(year: 2015, month: 4, day: 1))!)
    }

    @Test func withoutAnAnchorTheBoundIsTheMoment() throws {
        let now = Date(timeIntervalSince1970: 1_800_000_000)
        let cutoff = try Cutoff(
            now: now, duration: RetentionDuration(days: 1), fiscalYearEnd: false,
            fiscalYearStart: MonthDay(month: 1, day: 1), calendar: calendar())
        #expect(cutoff.clockBound == now.addingTimeInterval(-86_400))
    }
}
