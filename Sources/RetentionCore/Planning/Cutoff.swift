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

    /// A cutoff the calendar cannot compute (a date beyond its range): the rule fails, it never
    /// falls back to another date.
    public struct Unavailable: Error, Sendable, CustomStringConvertible {
        public var rule: String?
        public var now: Date
        public var duration: RetentionDuration
        public var description: String {
            (rule.map { "rule `\($0)`: " } ?? "")
                + "the cutoff \(duration) before \(ISO8601DateFormatter().string(from: now)) cannot be computed; nothing is done for this rule"
        }
    }

    public init(
        now: Date, duration: RetentionDuration, fiscalYearEnd: Bool, fiscalYearStart: MonthDay, calendar: Calendar
    ) throws(Unavailable) {
        guard let moment = duration.before(now, in: calendar) else { throw Unavailable(now: now, duration: duration) }
        var bound: Date? = moment
        if fiscalYearEnd {
            bound = Cutoff.fiscalYearStart(containing: moment, start: fiscalYearStart, calendar: calendar)
        }
        guard let bound else { throw Unavailable(now: now, duration: duration) }
        self.now = now
        self.moment = moment
        clockBound = bound
    }

    public init(rule: RetentionRule, policy: Policy, now: Date) throws(Unavailable) {
        do {
            try self.init(
                now: now, duration: rule.after, fiscalYearEnd: rule.clock.fiscalYearEnd,
                fiscalYearStart: policy.fiscalYearStart, calendar: policy.calendar)
        } catch {
            var named = error
            named.rule = rule.id
            throw named
        }
    }

    /// The first instant of the fiscal year that contains `date`; nil beyond the calendar's range.
    public static func fiscalYearStart(containing date: Date, start: MonthDay, calendar: Calendar) -> Date? {
        let year = calendar.component(.year, from: date)
        guard let thisYear = calendar.date(from: DateComponents(year: year, month: start.month, day: start.day)) else {
            return nil
        }
        return date >= thisYear
            ? thisYear : calendar.date(from: DateComponents(year: year - 1, month: start.month, day: start.day))
    }
}
