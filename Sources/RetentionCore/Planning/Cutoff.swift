import Foundation

/// When a rule's time is up: a record is due when its clock is earlier than `clockBound`.
///
/// `moment` is `now` minus the rule's duration, in the policy's calendar. For a fiscal-year
/// anchor, "end of the fiscal year of the clock, plus the duration, has passed" is the same as
/// "the clock is before the start of the fiscal year containing `moment`", so the comparison stays
/// a plain, index-friendly `column < value`.
public struct Cutoff: Sendable, Hashable, Codable {
    public var now: Date
    public var moment: Date
    public var clockBound: Date

    public init(now: Date, duration: RetentionDuration, fiscalYearEnd: Bool, fiscalYearStart: MonthDay, calendar: Calendar) {
        self.now = now
        moment = duration.before(now, in: calendar)
        clockBound = fiscalYearEnd ? Cutoff.fiscalYearStart(containing: moment, start: fiscalYearStart, calendar: calendar) : moment
    }

    public init(rule: RetentionRule, policy: Policy, now: Date) {
        self.init(now: now, duration: rule.after, fiscalYearEnd: rule.clock.fiscalYearEnd,
                  fiscalYearStart: policy.fiscalYearStart, calendar: policy.calendar)
    }

    /// The first instant of the fiscal year that contains `date`.
    public static func fiscalYearStart(containing date: Date, start: MonthDay, calendar: Calendar) -> Date {
        let year = calendar.component(.year, from: date)
        let thisYear = calendar.date(from: DateComponents(year: year, month: start.month, day: start.day))!
        return date >= thisYear ? thisYear : calendar.date(from: DateComponents(year: year - 1, month: start.month, day: start.day))!
    }
}
