import Foundation

/// Reads and writes date values in the ways databases store them, so that cutoffs can be compared
/// with stored values directly in SQL (and so use an index).
public enum DateCodec {
    /// How ISO-8601 text is laid out in a column; a cutoff is rendered the same way so that text
    /// comparison orders correctly.
    public enum TextLayout: Sendable, Hashable, Codable {
        /// `2024-05-01` (compared against `2024-05-01 00:00:00`-style cutoffs).
        case date
        /// `2024-05-01 13:45:00` or `2024-05-01T13:45:00`, local time in the policy's zone.
        case local(separator: String)
        /// `2024-05-01T13:45:00Z`: UTC.
        case utc(separator: String)
    }

    /// The layout a stored value uses; `.local(" ")` for anything that is not text.
    public static func layout(of value: SQLValue) -> TextLayout {
        guard case .text(let text) = value else { return .local(separator: " ") }
        if text.count == 10 { return .date }
        let separator = text.count > 10 && Array(text)[10] == "T" ? "T" : " "
        if text.hasSuffix("Z") || text.hasSuffix("+00:00") { return .utc(separator: separator) }
        return .local(separator: separator)
    }

    /// The bound value a cutoff takes for a column of this storage and layout.
    public static func render(_ date: Date, storage: DateStorage, layout: TextLayout, calendar: Calendar) -> SQLValue {
        switch storage {
        case .unix:
            return .integer(Int64(date.timeIntervalSince1970.rounded(.down)))
        case .unixMilliseconds:
            return .integer(Int64((date.timeIntervalSince1970 * 1000).rounded(.down)))
        case .julian:
            return .real(date.timeIntervalSince1970 / 86_400 + 2_440_587.5)
        case .date, .timestamp:
            return render(date, storage: .iso8601, layout: .local(separator: " "), calendar: calendar)
        case .timestamptz:
            return render(date, storage: .iso8601, layout: .utc(separator: "T"), calendar: calendar)
        case .iso8601:
            var cal = calendar
            let separator: String
            var suffix = ""
            switch layout {
            case .date:
                separator = " "
            case .local(let s):
                separator = s
            case .utc(let s):
                separator = s
                suffix = "Z"
                cal.timeZone = TimeZone(identifier: "UTC")!
            }
            let f = CivilTime(date, calendar: cal)
            var text = Self.digits(f.year, 4) + "-" + Self.digits(f.month, 2) + "-" + Self.digits(f.day, 2)
            if layout == .date, f.hour == 0, f.minute == 0, f.second == 0 { return .text(text) }
            text +=
                separator + Self.digits(f.hour, 2) + ":" + Self.digits(f.minute, 2) + ":" + Self.digits(f.second, 2)
                + suffix
            return .text(text)
        }
    }

    /// `n` in decimal, zero-padded to `width` (as `%0<width>d` would write it).
    static func digits(_ n: Int, _ width: Int) -> String {
        let magnitude = String(n.magnitude)
        let zeros = String(repeating: "0", count: max(0, width - magnitude.count - (n < 0 ? 1 : 0)))
        return (n < 0 ? "-" : "") + zeros + magnitude
    }

    /// A moment's date and time of day in a calendar's time zone. Gregorian calendars (every
    /// policy's) are computed from the zone's offset at that moment and the days since 1970 (Howard
    /// Hinnant's `civil_from_days`): a database's dates are rendered once per row read, and
    /// `Calendar.dateComponents` cost about 4 µs each (a timestamp clock over 667,000 due rows made
    /// PostgreSQL's `plan` 3.5× slower than a text one). Other calendars, and years outside
    /// 1583…9999, go through `Calendar` (whose Gregorian calendar is Julian before October 1582).
    struct CivilTime: Equatable {
        var year, month, day, hour, minute, second: Int

        init(_ date: Date, calendar: Calendar) {
            if calendar.identifier == .gregorian,
                let fields = Self.gregorian(date, offset: calendar.timeZone.secondsFromGMT(for: date))
            {
                self = fields
                return
            }
            let c = calendar.dateComponents([.year, .month, .day, .hour, .minute, .second], from: date)
            self.init(year: c.year!, month: c.month!, day: c.day!, hour: c.hour!, minute: c.minute!, second: c.second!)
        }

        init(year: Int, month: Int, day: Int, hour: Int, minute: Int, second: Int) {
            (self.year, self.month, self.day, self.hour, self.minute, self.second) = (
                year, month, day, hour, minute, second
            )
        }

        /// nil outside years 1583…9999 (and for moments no `Int` holds).
        static func gregorian(_ date: Date, offset: Int) -> CivilTime? {
            let instant = date.timeIntervalSince1970.rounded(.down)
            guard instant.isFinite, abs(instant) < 1e12 else { return nil }
            let seconds = Int(instant) + offset
            let days = seconds >= 0 ? seconds / 86_400 : (seconds - 86_399) / 86_400
            let secondOfDay = seconds - days * 86_400
            let z = days + 719_468
            let era = (z >= 0 ? z : z - 146_096) / 146_097
            let dayOfEra = z - era * 146_097
            let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
            let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
            let shiftedMonth = (5 * dayOfYear + 2) / 153
            let month = shiftedMonth < 10 ? shiftedMonth + 3 : shiftedMonth - 9
            let year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0)
            guard (1583...9999).contains(year) else { return nil }
            return CivilTime(
                year: year, month: month, day: dayOfYear - (153 * shiftedMonth + 2) / 5 + 1,
                hour: secondOfDay / 3600, minute: secondOfDay % 3600 / 60, second: secondOfDay % 60)
        }
    }

    /// Parses a stored value; nil when it is not a date in that storage format.
    public static func parse(_ value: SQLValue, storage: DateStorage, calendar: Calendar) -> Date? {
        switch (storage, value) {
        case (.unix, .integer(let s)): return Date(timeIntervalSince1970: TimeInterval(s))
        case (.unix, .real(let s)): return Date(timeIntervalSince1970: s)
        case (.unixMilliseconds, .integer(let ms)): return Date(timeIntervalSince1970: TimeInterval(ms) / 1000)
        case (.julian, .real(let j)): return Date(timeIntervalSince1970: (j - 2_440_587.5) * 86_400)
        case (.julian, .integer(let j)): return Date(timeIntervalSince1970: (Double(j) - 2_440_587.5) * 86_400)
        case (.iso8601, .text(let text)), (.date, .text(let text)), (.timestamp, .text(let text)),
            (.timestamptz, .text(let text)):
            return parseISO(text, calendar: calendar)
        default: return nil
        }
    }

    /// `YYYY-MM-DD`, optionally followed by ` ` or `T`, `HH:MM[:SS[.fff]]` and `Z` or `±HH:MM`.
    /// Without a zone the value is local time in the policy's zone.
    public static func parseISO(_ text: String, calendar: Calendar) -> Date? {
        let chars = Array(text.utf8)
        func number(_ from: Int, _ count: Int) -> Int? {
            guard from + count <= chars.count else { return nil }
            var n = 0
            for c in chars[from..<(from + count)] {
                guard c >= 48 && c <= 57 else { return nil }
                n = n * 10 + Int(c - 48)
            }
            return n
        }
        guard chars.count >= 10, chars[4] == UInt8(ascii: "-"), chars[7] == UInt8(ascii: "-"),
            let year = number(0, 4), let month = number(5, 2), let day = number(8, 2),
            (1...12).contains(month), (1...31).contains(day)
        else { return nil }
        var components = DateComponents(year: year, month: month, day: day, hour: 0, minute: 0, second: 0)
        var cal = calendar
        var index = 10
        if chars.count > 10 {
            guard chars[10] == UInt8(ascii: " ") || chars[10] == UInt8(ascii: "T"),
                let hour = number(11, 2), chars.count >= 16, chars[13] == UInt8(ascii: ":"),
                let minute = number(14, 2), hour < 24, minute < 60
            else { return nil }
            components.hour = hour
            components.minute = minute
            index = 16
            if chars.count >= 19, chars[16] == UInt8(ascii: ":"), let second = number(17, 2), second < 61 {
                components.second = second
                index = 19
                if index < chars.count, chars[index] == UInt8(ascii: ".") {
                    index += 1
                    while index < chars.count, chars[index] >= 48, chars[index] <= 57 { index += 1 }
                }
            }
            if index < chars.count {
                if chars[index] == UInt8(ascii: "Z") && index == chars.count - 1 {
                    cal.timeZone = TimeZone(identifier: "UTC")!
                } else if chars[index] == UInt8(ascii: "+") || chars[index] == UInt8(ascii: "-"),
                    let oh = number(index + 1, 2), let om = number(index + 4, 2), chars.count == index + 6
                {
                    let sign = chars[index] == UInt8(ascii: "+") ? 1 : -1
                    cal.timeZone = TimeZone(secondsFromGMT: sign * (oh * 3600 + om * 60))!
                } else {
                    return nil
                }
            }
        }
        guard let date = cal.date(from: components),
            cal.component(.day, from: date) == day
        else { return nil }
        return date
    }
}
