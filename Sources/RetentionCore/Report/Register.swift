import Foundation

/// The retention section of the register of processing activities (GDPR art. 30), rendered from
/// the policy that is enforced, so the document and the enforcement cannot drift apart: per
/// register entry, each rule's data, duration in words, clock, action, exemptions and legal
/// basis — and, when a dry run's figures are given, the records held, due and kept.
public struct Register: Sendable {
    public struct Line: Sendable {
        public var rule: String
        public var data: String
        public var keptFor: String
        public var countedFrom: String
        public var then: String
        public var unless: String
        public var legalBasis: String
        /// With figures: records of the subject now, due now, kept and why.
        public var figures: String?
    }
    public struct Entry: Sendable {
        public var register: String
        public var lines: [Line]
    }
    public var policyPath: String
    public var policyHash: String
    public var timeZone: String
    public var entries: [Entry]
    /// When it was generated (and the figures, if any, counted).
    public var generatedAt: Date
    /// What the register says of erased records after a restore (the erasure ledger, `ledger.keep`).
    public var afterErasure: String
    /// With figures: what the rules that keep statistics have counted, per rule and period (the
    /// groups added up), the latest periods first.
    public var statistics: [Statistics] = []

    public struct Statistics: Sendable {
        public var rule: String
        public var table: String
        public var period: String
        /// Per period: records, then the sums in the rule's `sum` order.
        public var rows: [(period: String, records: Int64, sums: [Decimal?])]
        public var sumColumns: [String]
    }

    /// The latest periods shown per rule.
    public static let statisticsPeriods = 24

    /// `tallies` (a dry run's at `generatedAt`, by rule id) adds the live figures.
    public init(
        policy: Policy, tallies: [String: RuleTally] = [:], statistics: [String: [StatisticsRow]] = [:],
        generatedAt: Date = Date()
    ) {
        self.generatedAt = generatedAt
        policyPath = policy.path
        policyHash = policy.hash
        timeZone = policy.timeZone.identifier
        afterErasure =
            "What is purged or anonymised is recorded, without personal data (a keyed reference to the record, the rule and the date), in an erasure ledger kept outside the database, "
            + (policy.ledgerKeep.map { "for \(Self.words($0)) (as long as the oldest backup that can be restored)" }
                ?? "for as long as retentiond enforces this policy")
            + ": when a backup is restored, what was erased since it was made is erased again before anything else runs."
        var entries: [Entry] = []
        for rule in policy.rules {
            let subject = policy.subject(for: rule)
            let line = Line(
                rule: rule.id, data: Self.data(subject, rule), keptFor: Self.words(rule.after),
                countedFrom: Self.words(rule.clock),
                then: Self.words(rule)
                    + (rule.statistics.map { "; first " + Self.words($0, table: policy.statisticsTable) } ?? ""),
                unless: Self.exemptions(rule),
                legalBasis: rule.legalBasis, figures: tallies[rule.id].map(Self.figures))
            if let i = entries.firstIndex(where: { $0.register == rule.register }) {
                entries[i].lines.append(line)
            } else {
                entries.append(Entry(register: rule.register, lines: [line]))
            }
        }
        self.entries = entries
        for rule in policy.statisticsRules {
            guard let kept = rule.statistics, let rows = statistics[rule.id] else { continue }
            let columns = kept.sum.map(\.value)
            let periods = Dictionary(grouping: rows, by: \.period).sorted { $0.key > $1.key }.prefix(
                Self.statisticsPeriods
            ).map { period, rows in
                (
                    period: period, records: rows.reduce(Int64(0)) { $0 + $1.records },
                    sums: columns.map { column -> Decimal? in
                        let values = rows.compactMap { $0.sums[column] }
                        return values.isEmpty ? nil : values.reduce(0, +)
                    }
                )
            }
            self.statistics.append(
                Statistics(
                    rule: rule.id, table: policy.subject(for: rule).table.value, period: kept.period.rawValue,
                    rows: periods, sumColumns: columns))
        }
    }

    static func words(_ statistics: RuleStatistics, table: String) -> String {
        var text = "counted per \(statistics.period.rawValue)"
        if !statistics.by.isEmpty { text += " and " + statistics.by.map(\.value).joined(separator: ", ") }
        if !statistics.sum.isEmpty {
            text += ", with the sums of " + statistics.sum.map(\.value).joined(separator: ", ")
        }
        return text + ", in `\(table)` (groups under \(statistics.minGroup) records merged into `other`)"
    }

    // MARK: Words

    static func data(_ subject: Subject, _ rule: RetentionRule) -> String {
        let filter = subject.filter.map { condition in
            switch condition.test {
            case .equals(let v): return "\(condition.column.value) = \(v)"
            case .notEquals(let v): return "\(condition.column.value) ≠ \(v)"
            case .oneOf(let vs):
                return "\(condition.column.value) in (\(vs.map(\.description).joined(separator: ", ")))"
            case .isNull(let b): return "\(condition.column.value) is \(b ? "" : "not ")empty"
            case .exists(let b): return "\(b ? "with" : "without") \(condition.column.value)"
            }
        }
        return "\(subject.id): `\(subject.table.value)`"
            + (filter.isEmpty ? "" : " where " + filter.joined(separator: ", "))
    }

    public static func words(_ d: RetentionDuration) -> String {
        let parts = [
            (d.years, "year"), (d.months, "month"), (d.days, "day"), (d.hours, "hour"), (d.minutes, "minute"),
            (d.seconds, "second"),
        ]
        .filter { $0.0 != 0 }.map { "\($0.0) \($0.1)\($0.0 == 1 ? "" : "s")" }
        return parts.isEmpty ? "until the date (no delay)" : parts.joined(separator: " ")
    }

    static func words(_ clock: RetentionClock) -> String {
        let names = clock.columns.map {
            clock.earliest.contains($0.value) || clock.entered.contains($0.value)
                ? "the " + clock.words(for: $0) : $0.value
        }
        var text: String
        switch (clock.combination, names.count) {
        case (_, 1): text = names[0]
        case (.latest, _): text = "the latest of " + names.dropLast().joined(separator: ", ") + " and " + names.last!
        case (.firstPresent, _): text = names[0] + " (if empty: " + names.dropFirst().joined(separator: ", then ") + ")"
        }
        if clock.fiscalYearEnd { text = "the end of the fiscal year of " + text }
        return text
    }

    /// What the rule does, in words, with the phase the record is in: moved to the archive, or
    /// done there (the CNIL's active base → intermediate archive → deletion).
    public static func words(_ rule: RetentionRule) -> String {
        let text = words(rule.action)
        if rule.archives { return "moved to the intermediate archive" + text.dropFirst("deleted".count) }
        return rule.phase == .archive ? "in the intermediate archive: " + text : text
    }

    static func words(_ action: RuleAction) -> String {
        switch action {
        case .flag:
            return "flagged for review (nothing changed)"
        case .anonymise(let fields, let children):
            let changed = fields.filter { $0.strategy != .keep }.map { "\($0.column.value) (\(words($0.strategy)))" }
            let kids = children.map { child -> String in
                if case .anonymise(let childFields) = child.action {
                    return "`\(child.table.value)` anonymised ("
                        + childFields.filter { $0.strategy != .keep }.map(\.column.value).joined(separator: ", ") + ")"
                }
                return "`\(child.table.value)` deleted"
            }
            return "anonymised: " + changed.joined(separator: ", ")
                + (kids.isEmpty ? "" : "; with it " + kids.joined(separator: ", "))
        case .purge(let selection):
            switch selection {
            case .foreignKeys: return "deleted, with every row that references it"
            case .declared(let children):
                func names(_ list: [ChildTable]) -> [String] {
                    list.flatMap {
                        ["`\($0.table.value)`"] + names($0.children) + $0.owns.map { "`\($0.table.value)`" }
                    }
                }
                let all = names(children)
                return "deleted" + (all.isEmpty ? "" : ", with " + all.joined(separator: ", "))
            }
        }
    }

    static func words(_ strategy: AnonymisationStrategy) -> String {
        switch strategy {
        case .null: return "erased"
        case .constant: return "replaced by a constant"
        case .pseudonym: return "pseudonymised"
        case .mask: return "masked"
        case .year: return "reduced to the year"
        case .keep: return "kept"
        }
    }

    static func exemptions(_ rule: RetentionRule) -> String {
        exemptionReasons(rule).joined(separator: "; ")
    }

    /// What keeps a due record of `rule`, one reason each, in words.
    static func exemptionReasons(_ rule: RetentionRule) -> [String] {
        var reasons = ["a legal hold"]
        for consent in rule.exemptions.consent {
            reasons.append(
                consent.kind == .until
                    ? "the person's agreement to keep it until \(consent.column.value)"
                    : "the person's agreement (\(consent.column.value))")
        }
        for related in rule.exemptions.related {
            if let within = related.within, let clock = related.clock {
                reasons.append("a related \(related.name) younger than \(words(within)) (counted from \(words(clock)))")
            } else {
                reasons.append("any related \(related.name)")
            }
        }
        return reasons
    }

    static func figures(_ tally: RuleTally) -> String {
        let kept = tally.exempt.sorted { $0.key < $1.key }.map {
            "\($0.value) \($0.key.replacingOccurrences(of: "_", with: " "))"
        }
        let records =
            tally.subjectRecords.map {
                "\($0) records of `\(tally.subject)` (of \(tally.tableRows) rows in `\(tally.table)`)"
            }
            ?? "\(tally.tableRows) rows in `\(tally.table)`"
        return "\(records); \(tally.due) due now" + (kept.isEmpty ? "" : "; kept: " + kept.joined(separator: ", "))
            + (tally.alreadyDone > 0 ? "; \(tally.alreadyDone) already done" : "")
    }

    // MARK: Rendering

    /// `generatedAt` to the second, in UTC.
    var generated: String { ISO8601DateFormatter().string(from: generatedAt) }

    var columns: [String] {
        ["data concerned", "kept for", "counted from", "then", "unless", "legal basis", "rule"]
            + (hasFigures ? ["now"] : [])
    }
    var hasFigures: Bool { entries.contains { $0.lines.contains { $0.figures != nil } } }

    func cells(_ line: Line) -> [String] {
        [line.data, line.keptFor, line.countedFrom, line.then, line.unless, line.legalBasis, "`\(line.rule)`"]
            + (hasFigures ? [line.figures ?? ""] : [])
    }

    public func markdown() -> String {
        var out = "# Retention — register of processing activities\n\n"
        out +=
            "Generated by retentiond on \(generated) from `\(policyPath)` (sha256 `\(policyHash.prefix(16))…`), the policy it enforces. Dates are counted in \(timeZone).\n"
        for entry in entries {
            out +=
                "\n## \(Markdown.cell(entry.register))\n\n| " + columns.joined(separator: " | ") + " |\n|"
                + columns.map { _ in "---|" }.joined() + "\n"
            for line in entry.lines {
                out += "| " + cells(line).map(Markdown.cell).joined(separator: " | ") + " |\n"
            }
        }
        for kept in statistics {
            out += "\n## Kept as statistics: `\(kept.rule)`\n\n"
            out +=
                "What rule `\(kept.rule)` counted of the `\(kept.table)` records it erased, per \(kept.period) of its clock (the latest \(Self.statisticsPeriods) at most).\n\n"
            guard !kept.rows.isEmpty else {
                out += "Nothing counted yet.\n"
                continue
            }
            let header = [kept.period, "records"] + kept.sumColumns.map { "sum of \($0)" }
            out += "| " + header.joined(separator: " | ") + " |\n|" + header.map { _ in "---|" }.joined() + "\n"
            for row in kept.rows { out += "| " + Self.cells(row).joined(separator: " | ") + " |\n" }
        }
        return out + "\n## After erasure\n\n" + afterErasure + "\n"
    }

    static func cells(_ row: (period: String, records: Int64, sums: [Decimal?])) -> [String] {
        [row.period, String(row.records)] + row.sums.map { $0.map { NSDecimalNumber(decimal: $0).stringValue } ?? "" }
    }

    public func html() -> String {
        func escape(_ text: String) -> String {
            text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
                .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
                .replacingOccurrences(of: "`", with: "")
        }
        var out = """
            <!DOCTYPE html>
            <html lang="en"><head><meta charset="utf-8"><title>Retention — register of processing activities</title>
            <style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse;width:100%}th,td{border:1px solid #999;padding:.3em;text-align:left;vertical-align:top}th{background:#eee}</style>
            </head><body>
            <h1>Retention — register of processing activities</h1>
            <p>Generated by retentiond on \(generated) from <code>\(escape(policyPath))</code> (sha256 <code>\(policyHash.prefix(16))…</code>), the policy it enforces. Dates are counted in \(escape(timeZone)).</p>

            """
        for entry in entries {
            out +=
                "<h2>\(escape(entry.register))</h2>\n<table><tr>" + columns.map { "<th>\(escape($0))</th>" }.joined()
                + "</tr>\n"
            for line in entry.lines {
                out += "<tr>" + cells(line).map { "<td>\(escape($0))</td>" }.joined() + "</tr>\n"
            }
            out += "</table>\n"
        }
        for kept in statistics {
            out +=
                "<h2>Kept as statistics: \(escape(kept.rule))</h2>\n<p>What rule \(escape(kept.rule)) counted of the \(escape(kept.table)) records it erased, per \(kept.period) of its clock (the latest \(Self.statisticsPeriods) at most).</p>\n"
            guard !kept.rows.isEmpty else {
                out += "<p>Nothing counted yet.</p>\n"
                continue
            }
            let header = [kept.period, "records"] + kept.sumColumns.map { "sum of \($0)" }
            out += "<table><tr>" + header.map { "<th>\(escape($0))</th>" }.joined() + "</tr>\n"
            for row in kept.rows {
                out += "<tr>" + Self.cells(row).map { "<td>\(escape($0))</td>" }.joined() + "</tr>\n"
            }
            out += "</table>\n"
        }
        return out + "<h2>After erasure</h2>\n<p>\(escape(afterErasure))</p>\n</body></html>\n"
    }
}
