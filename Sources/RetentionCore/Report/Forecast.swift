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

    /// One self-contained page (inline CSS and SVG, nothing fetched): per rule, a chart of the
    /// records becoming due each month and the weekly counts, with when it was made and from
    /// which policy.
    public func html(policyPath: String, policyHash: String, generatedAt: Date = Date()) -> String {
        let e = RunReport.escape
        let iso = ISO8601DateFormatter()
        var out = """
            <!DOCTYPE html>
            <html lang="en"><head><meta charset="utf-8"><title>retentiond forecast</title>
            <style>body{font-family:sans-serif;margin:2em;max-width:70em}table{border-collapse:collapse}th,td{border:1px solid #aaa;padding:.25em .5em}th{background:#eee}td{text-align:right}svg text{font-size:10px}</style>
            </head><body>
            <h1>retentiond forecast</h1>
            <p>Generated on \(iso.string(from: generatedAt)) from <code>\(e(policyPath))</code> (sha256 <code>\(policyHash.prefix(16))…</code>), counting from \(iso.string(from: now)) (\(e(timeZone))). Records already due, already done or held now are not counted; consent and related records are decided when the time comes.</p>
            <nav><ul>\(rules.map { "<li><a href=\"#forecast-\(e($0.rule))\">\(e($0.rule))</a></li>" }.joined())</ul></nav>

            """
        let labels = monthLabels
        for rule in rules {
            out += "<section><h2>\(e(rule.rule)) — \(e(rule.action)) on \(e(rule.table))</h2>\n" + RunReport.chart(rule, labels: labels)
            out += "<table><tr><th>week ending</th>" + weekEnds.map { "<th>\(iso.string(from: $0).prefix(10))</th>" }.joined() + "</tr>"
            out += "<tr><th>records</th>" + rule.weeks.map { "<td>\($0)</td>" }.joined() + "</tr></table></section>\n"
        }
        return out + "</body></html>\n"
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
