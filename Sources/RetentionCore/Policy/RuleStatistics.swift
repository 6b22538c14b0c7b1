import Foundation

/// What a purge or anonymise rule keeps of the records it erases: how many there were per period of
/// its clock (and per group of declared non-personal columns), and the sums of declared numeric
/// columns — written in the batch that erases them (docs/policy.md, "Statistics").
public struct RuleStatistics: Sendable, Hashable {
    public enum Period: String, Sendable, Hashable, CaseIterable {
        case month, quarter, year
    }

    /// Columns of the record's own table the counts are grouped by.
    public var by: [Name]
    public var period: Period
    /// Numeric columns of the record's own table summed per group.
    public var sum: [Name]
    /// Groups of fewer records are merged into `other` once their period is over.
    public var minGroup: Int
    public var location: SourceLocation

    public static let defaultMinGroup = 5

    public init(
        by: [Name], period: Period, sum: [Name], minGroup: Int = RuleStatistics.defaultMinGroup,
        location: SourceLocation
    ) {
        self.by = by
        self.period = period
        self.sum = sum
        self.minGroup = minGroup
        self.location = location
    }

    /// The columns a batch reads for them: `by`, then `sum`.
    public var columns: [String] { by.map(\.value) + sum.map(\.value) }
}

extension RuleStatistics.Period {
    /// `2024-03`, `2024-Q1`, `2024`: the period holding `date`, in the policy's calendar.
    public func label(of date: Date, calendar: Calendar) -> String {
        let parts = calendar.dateComponents([.year, .month], from: date)
        let (year, month) = (parts.year ?? 0, parts.month ?? 1)
        let digits = String(year)
        let yyyy = String(repeating: "0", count: max(0, 4 - digits.count)) + digits
        switch self {
        case .month: return "\(yyyy)-\(month < 10 ? "0" : "")\(month)"
        case .quarter: return "\(yyyy)-Q\((month - 1) / 3 + 1)"
        case .year: return yyyy
        }
    }

    /// The first instant after the period `label`, whichever kind of period it names (`2024-03`,
    /// `2024-Q1` and `2024` cannot be mistaken for one another).
    public static func end(ofAny label: String, calendar: Calendar) -> Date? {
        allCases.lazy.compactMap { $0.end(of: label, calendar: calendar) }.first
    }

    /// The first instant of the period `label`.
    public func start(of label: String, calendar: Calendar) -> Date? {
        guard let end = end(of: label, calendar: calendar) else { return nil }
        let length: DateComponents
        switch self {
        case .month: length = DateComponents(month: -1)
        case .quarter: length = DateComponents(month: -3)
        case .year: length = DateComponents(year: -1)
        }
        return calendar.date(byAdding: length, to: end)
    }

    /// The first instant after the period `label` (nil for a label of another period kind).
    public func end(of label: String, calendar: Calendar) -> Date? {
        let pieces = label.split(separator: "-")
        guard let year = pieces.first.flatMap({ Int($0) }) else { return nil }
        var start = DateComponents(year: year, month: 1, day: 1)
        let length: DateComponents
        switch (self, pieces.count) {
        case (.month, 2):
            guard let month = Int(pieces[1]), (1...12).contains(month) else { return nil }
            start.month = month
            length = DateComponents(month: 1)
        case (.quarter, 2):
            guard pieces[1].hasPrefix("Q"), let quarter = Int(pieces[1].dropFirst()), (1...4).contains(quarter) else {
                return nil
            }
            start.month = (quarter - 1) * 3 + 1
            length = DateComponents(month: 3)
        case (.year, 1):
            length = DateComponents(year: 1)
        default:
            return nil
        }
        return calendar.date(from: start).flatMap { calendar.date(byAdding: length, to: $0) }
    }
}
