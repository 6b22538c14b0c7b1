import Foundation

/// How many records each rule will find due in each coming week and month (`retentiond
/// forecast`, and the chart of the HTML report). Period i runs from the previous end (or `now`)
/// to `weekEnds[i]` / `monthEnds[i]`.
public struct Forecast: Sendable, Codable {
    public struct RuleForecast: Sendable, Codable {
        public var rule: String
        public var action: String
        public var table: String
        public var weeks: [Int]
        public var months: [Int]

        public init(rule: String, action: String, table: String, weeks: [Int], months: [Int]) {
            self.rule = rule
            self.action = action
            self.table = table
            self.weeks = weeks
            self.months = months
        }
    }
    public var now: Date
    public var timeZone: String
    public var weekEnds: [Date]
    public var monthEnds: [Date]
    public var rules: [RuleForecast]

    public init(now: Date, timeZone: String, weekEnds: [Date], monthEnds: [Date], rules: [RuleForecast]) {
        self.now = now
        self.timeZone = timeZone
        self.weekEnds = weekEnds
        self.monthEnds = monthEnds
        self.rules = rules
    }

    /// `YYYY-MM` of the month each month period covers (the month before its end).
    public var monthLabels: [String] {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: timeZone) ?? .gmt
        return monthEnds.map { end in
            let start = calendar.date(byAdding: .month, value: -1, to: end) ?? end
            let c = calendar.dateComponents([.year, .month], from: start)
            return String(format: "%04d-%02d", c.year ?? 0, c.month ?? 0)
        }
    }

    public func text() -> String {
        let labels = monthLabels
        var out = "rule\taction\t" + labels.joined(separator: "\t") + "\n"
        for r in rules { out += "\(r.rule)\t\(r.action)\t" + r.months.map(String.init).joined(separator: "\t") + "\n" }
        out += "\nweeks (ending " + weekEnds.prefix(1).map { ISO8601DateFormatter().string(from: $0) }.joined() + " and every 7 days):\n"
        for r in rules { out += "\(r.rule)\t" + r.weeks.map(String.init).joined(separator: " ") + "\n" }
        return out
    }
}
