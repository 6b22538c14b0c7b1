import Foundation

/// How many records each rule will find due in each coming week and month (`retentiond
/// forecast`, and the chart of the HTML report). Period i runs from the previous end (or `now`)
/// to `weekEnds[i]` / `monthEnds[i]`.
public struct Forecast: Sendable, Codable {
    public struct RuleForecast: Sendable, Codable {
        public var rule: String
        public var action: String
        public var table: String
        /// Records that come due in each period: their clock passes the cutoff and nothing keeps
        /// them then.
        public var weeks: [Int]
        public var months: [Int]
        /// Records whose clock passes the cutoff in each period but that would be kept then —
        /// their consent, a related record, an undeclared reference, another rule —, as a plan
        /// would decide on that day (the data as it is now).
        public var keptWeeks: [Int]
        public var keptMonths: [Int]
        /// Records with no clock value yet (an end of relationship not set, no related date):
        /// no forecast can say when they come due.
        public var undated: Int

        public init(
            rule: String, action: String, table: String, weeks: [Int], months: [Int],
            keptWeeks: [Int] = [], keptMonths: [Int] = [], undated: Int = 0
        ) {
            self.rule = rule
            self.action = action
            self.table = table
            self.weeks = weeks
            self.months = months
            self.keptWeeks = keptWeeks
            self.keptMonths = keptMonths
            self.undated = undated
        }

        /// Why the chart shows what it shows, in a sentence: the records kept beside those
        /// counted, and those no forecast can place.
        public var note: String {
            let due = months.reduce(0, +)
            let kept = keptMonths.reduce(0, +)
            var parts: [String] = []
            if due == 0 && kept == 0 {
                parts.append(
                    undated > 0
                        ? "No record can be forecast to come due in these months."
                        : "No record reaches its cutoff in these months.")
            }
            if kept > 0 {
                parts.append(
                    "Besides those shown, \(kept) record(s) reach their cutoff in these months but would be kept then (consent, a related record, a reference, or another rule), as the data stands today."
                )
            }
            if undated > 0 {
                parts.append(
                    "\(undated) record(s) have no clock value yet (the date the rule counts from is not set), so no forecast can say when they come due: they come due once it is set and its period has passed."
                )
            }
            return parts.joined(separator: " ")
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
            <p>Generated on \(iso.string(from: generatedAt)) from <code>\(e(policyPath))</code> (sha256 <code>\(policyHash.prefix(16))…</code>), counting from \(iso.string(from: now)) (\(e(timeZone))). Records already due, already done or held now are not counted; a record reaching its cutoff is counted only if nothing would keep it then (its consent, a related record, another rule, as the data stands today): those kept are said under each chart.</p>
            <nav><ul>\(rules.map { "<li><a href=\"#forecast-\(e($0.rule))\">\(e($0.rule))</a></li>" }.joined())</ul></nav>

            """
        let labels = monthLabels
        for rule in rules {
            out +=
                "<section><h2>\(e(rule.rule)) — \(e(rule.action)) on \(e(rule.table))</h2>\n"
                + RunReport.chart(rule, labels: labels)
            out +=
                "<table><tr><th>week ending</th>"
                + weekEnds.map { "<th>\(iso.string(from: $0).prefix(10))</th>" }.joined() + "</tr>"
            out += "<tr><th>records</th>" + rule.weeks.map { "<td>\($0)</td>" }.joined() + "</tr>"
            if rule.keptWeeks.contains(where: { $0 > 0 }) {
                out += "<tr><th>kept</th>" + rule.keptWeeks.map { "<td>\($0)</td>" }.joined() + "</tr>"
            }
            out += "</table></section>\n"
        }
        return out + "</body></html>\n"
    }

    public func text() -> String {
        let labels = monthLabels
        var out = "rule\taction\t" + labels.joined(separator: "\t") + "\n"
        for r in rules { out += "\(r.rule)\t\(r.action)\t" + r.months.map(String.init).joined(separator: "\t") + "\n" }
        out +=
            "\nweeks (ending " + weekEnds.prefix(1).map { ISO8601DateFormatter().string(from: $0) }.joined()
            + " and every 7 days):\n"
        for r in rules { out += "\(r.rule)\t" + r.weeks.map(String.init).joined(separator: " ") + "\n" }
        let kept = rules.filter { $0.keptMonths.contains { $0 > 0 } }
        if !kept.isEmpty {
            out +=
                "\nkept (reach the cutoff, but consent, a related record, a reference or another rule would keep them then):\n"
            for r in kept { out += "\(r.rule)\t" + r.keptMonths.map(String.init).joined(separator: "\t") + "\n" }
        }
        let undated = rules.filter { $0.undated > 0 }
        if !undated.isEmpty {
            out += "\nno clock value yet (cannot be forecast until it is set):\n"
            for r in undated { out += "\(r.rule)\t\(r.undated)\n" }
        }
        return out
    }
}
