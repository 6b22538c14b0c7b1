import Foundation

/// A retention period in calendar units (`3y`, `24 months`, `90 days`).
///
/// Years and months are calendar units, not fixed numbers of days: subtracting one year from
/// 29 February gives 28 February, and one month before 31 March is the last day of February.
public struct RetentionDuration: Sendable, Hashable, Codable, CustomStringConvertible {
    public var years: Int
    public var months: Int
    public var days: Int
    public var hours: Int
    public var minutes: Int
    public var seconds: Int

    public init(years: Int = 0, months: Int = 0, days: Int = 0, hours: Int = 0, minutes: Int = 0, seconds: Int = 0) {
        self.years = years
        self.months = months
        self.days = days
        self.hours = hours
        self.minutes = minutes
        self.seconds = seconds
    }

    public enum ParseError: Error, Sendable, Equatable, CustomStringConvertible {
        case empty
        case malformed(String)
        case unknownUnit(String)
        case ambiguousUnit(String)
        case negative
        case tooLong(String)

        public var description: String {
            switch self {
            case .empty:
                return "empty duration; write a number and a unit, e.g. `3y`, `24 months` or `90 days`"
            case .malformed(let text):
                return "`\(text)` is not a duration; write a number and a unit, e.g. `3y`, `24 months` or `90 days`"
            case .unknownUnit(let unit):
                return
                    "unknown duration unit `\(unit)`; use y/years, mo/months, w/weeks, d/days, h/hours, min/minutes or s/seconds"
            case .ambiguousUnit(let unit):
                return "`\(unit)` is ambiguous (months or minutes?); write `mo` or `months`"
            case .negative:
                return "a retention duration cannot be negative"
            case .tooLong(let text):
                return
                    "`\(text)` is longer than \(RetentionDuration.maximumYears) years, the longest duration retentiond accepts"
            }
        }
    }

    /// The longest duration a policy may give (all parts together): far beyond any legal retention
    /// period, and small enough that no date computation can overflow.
    public static let maximumYears = 200
    /// The same bound in seconds, counting a year as 365.2425 days and a month as a twelfth of it.
    static let maximumSeconds = Double(maximumYears) * 365.2425 * 86_400

    /// The length in seconds, approximate for years and months; used to bound durations only.
    var approximateSeconds: Double {
        let yearSeconds = 365.2425 * 86_400
        return Double(years) * yearSeconds + Double(months) * yearSeconds / 12
            + Double(days) * 86_400 + Double(hours) * 3600 + Double(minutes) * 60 + Double(seconds)
    }

    /// Parses one or more `<number><unit>` parts: `3y`, `3 years`, `1y 6mo`, `90 days`, `0d`.
    /// The whole may not exceed `maximumYears`.
    public init(parsing text: String) throws(ParseError) {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        guard !trimmed.isEmpty else { throw .empty }
        if trimmed.hasPrefix("-") { throw .negative }
        var result = RetentionDuration()
        var scalars = Substring(trimmed)
        var sawPart = false
        while !scalars.isEmpty {
            scalars = scalars.drop(while: { $0 == " " })
            let digits = scalars.prefix(while: { $0.isASCII && $0.isNumber })
            guard !digits.isEmpty else { throw .malformed(trimmed) }
            // Digits beyond what fits in an Int are far past the bound anyway.
            guard digits.count <= 12, let amount = Int(digits) else { throw .tooLong(trimmed) }
            scalars = scalars.dropFirst(digits.count).drop(while: { $0 == " " })
            let unit = scalars.prefix(while: { $0.isLetter }).lowercased()
            guard !unit.isEmpty else {
                if amount == 0 && !sawPart && scalars.isEmpty {
                    self = result
                    return
                }
                throw .malformed(trimmed)
            }
            scalars = scalars.dropFirst(unit.count).drop(while: { $0 == " " || $0 == "," })
            switch unit {
            case "y", "yr", "yrs", "year", "years": result.years += amount
            case "mo", "mon", "month", "months": result.months += amount
            case "w", "week", "weeks": result.days += amount * 7
            case "d", "day", "days": result.days += amount
            case "h", "hour", "hours": result.hours += amount
            case "min", "mins", "minute", "minutes": result.minutes += amount
            case "s", "sec", "secs", "second", "seconds": result.seconds += amount
            case "m": throw .ambiguousUnit(unit)
            default: throw .unknownUnit(unit)
            }
            sawPart = true
            // Checked after every part, so no sum of parts can overflow.
            if result.approximateSeconds > Self.maximumSeconds { throw .tooLong(trimmed) }
        }
        self = result
    }

    public var isZero: Bool { years == 0 && months == 0 && days == 0 && hours == 0 && minutes == 0 && seconds == 0 }

    /// The length in seconds of the parts that have a fixed length (days, hours, minutes, seconds);
    /// nil when years or months make it depend on the calendar.
    public var fixedSeconds: Int? {
        guard years == 0, months == 0 else { return nil }
        return ((days * 24 + hours) * 60 + minutes) * 60 + seconds
    }

    /// The moment this duration before `date`, in `calendar` (which carries the policy's time zone);
    /// nil when the calendar cannot represent it (never another date instead).
    public func before(_ date: Date, in calendar: Calendar) -> Date? {
        var components = DateComponents()
        components.year = -years
        components.month = -months
        components.day = -days
        components.hour = -hours
        components.minute = -minutes
        components.second = -seconds
        // Foundation clamps to the end of a shorter month (31 March − 1 month = 28/29 February).
        return calendar.date(byAdding: components, to: date)
    }

    public var description: String {
        var parts: [String] = []
        if years != 0 { parts.append("\(years)y") }
        if months != 0 { parts.append("\(months)mo") }
        if days != 0 { parts.append("\(days)d") }
        if hours != 0 { parts.append("\(hours)h") }
        if minutes != 0 { parts.append("\(minutes)min") }
        if seconds != 0 { parts.append("\(seconds)s") }
        return parts.isEmpty ? "0d" : parts.joined(separator: " ")
    }
}
