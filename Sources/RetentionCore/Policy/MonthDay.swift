import Foundation

/// A month and day of the year, as in `fiscal_year: { starts: "04-01" }`.
public struct MonthDay: Sendable, Hashable, Codable {
    public var month: Int
    public var day: Int
    public init(month: Int, day: Int) {
        self.month = month
        self.day = day
    }
}
