import Foundation

/// The report as one self-contained HTML page for people (no script, font or network; inline CSS
/// and SVG): a summary in plain language first, then each rule with its register entry, cutoff,
/// figures, children and exemptions, the terms explained, and the forecast as a chart.
extension RunReport {
    public func html(policy: Policy, forecast: Forecast?) -> String {
        let planned = mode == .plan || mode == .dryRun
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = policy.timeZone
        func when(_ date: Date) -> String {
            let c = calendar.dateComponents([.year, .month, .day, .hour, .minute], from: date)
            return String(
                format: "%04d-%02d-%02d %02d:%02d", c.year ?? 0, c.month ?? 0, c.day ?? 0, c.hour ?? 0, c.minute ?? 0)
        }
        var out = """
            <!DOCTYPE html>
            <html lang="en"><head><meta charset="utf-8"><title>retentiond \(mode.rawValue) \(Self.escape(runID))</title>
            <style>body{font-family:sans-serif;margin:2em;max-width:70em}table{border-collapse:collapse}th,td{border:1px solid #aaa;padding:.25em .5em;text-align:left}th{background:#eee}td.n{text-align:right}.summary{font-size:1.2em;background:#f4f4f4;padding:1em}dt{font-weight:bold}svg text{font-size:10px}</style>
            </head><body>
            <h1>retentiond \(mode.rawValue) report</h1>
            <p class="summary" id="summary">\(Self.escape(summarySentence(planned: planned)))</p>
            <table><tr><th>run</th><td>\(Self.escape(runID))</td></tr><tr><th>status</th><td>\(status.rawValue)\(message.map { " — " + Self.escape($0) } ?? "")</td></tr>
            <tr><th>policy</th><td>\(Self.escape(policyPath)) (sha256 \(policyHash.prefix(16))…)</td></tr><tr><th>database</th><td>\(Self.escape(database))</td></tr>
            <tr><th>now</th><td>\(when(now)) (\(Self.escape(policy.timeZone.identifier)))</td></tr>
            <tr><th>generated</th><td>\(when(finishedAt)) (\(Self.escape(policy.timeZone.identifier)))</td></tr></table>
            <h2>Rows per table</h2><table id="tables"><tr><th>table</th><th>\(planned ? "would be deleted" : "deleted")</th><th>\(planned ? "would be changed" : "changed")</th></tr>\((tables ?? [:]).sorted { $0.key < $1.key }.map { "<tr><td>\(Self.escape($0.key))</td><td class=\"n\">\($0.value.deleted)</td><td class=\"n\">\($0.value.changed)</td></tr>" }.joined())</table>
            <nav id="contents"><h2>Rules</h2><ul>\(rules.map { "<li><a href=\"#rule-\(Self.escape($0.rule))\">\(Self.escape($0.rule))</a> — \(Self.escape($0.action)) on \(Self.escape($0.table))</li>" }.joined())</ul></nav>

            """
        for tally in rules {
            let rule = policy.rules.first { $0.id == tally.rule }
            out +=
                "<section class=\"rule\" id=\"rule-\(Self.escape(tally.rule))\"><h2>\(Self.escape(tally.rule)) — \(Self.escape(tally.action)) on \(Self.escape(tally.table))</h2>\n"
            out += "<p>Register: \(Self.escape(tally.register))<br>Legal basis: \(Self.escape(tally.legalBasis))<br>"
            out +=
                "Cutoff: records whose clock\(rule.map { " (" + Self.escape($0.clock.description) + ")" } ?? "") is before <b>\(when(tally.clockBound))</b> (\(Self.escape(policy.timeZone.identifier)))</p>\n"
            if case .anonymise(let fields, _)? = rule?.action {
                out +=
                    "<p>Fields changed: "
                    + Self.escape(
                        fields.filter { $0.strategy != .keep }.map { "\($0.column.value) (\($0.strategy.name))" }
                            .joined(separator: ", ")) + "</p>\n"
            }
            let done = tally.flagged + tally.anonymised + tally.purged
            let subject: [(String, Int)] = tally.subjectRecords.map { [("records of the subject", $0)] } ?? []
            let figures: [(String, Int)] =
                subject + [
                    ("rows in the table", tally.tableRows), ("past the cutoff", tally.pastCutoff),
                    (planned ? "due" : "done", planned ? tally.due : done), ("exempt", tally.exemptTotal),
                    ("already done", tally.alreadyDone),
                ] + (planned ? [] : [("stale", tally.stale), ("gone", tally.gone)])
                + (tally.takenTotal > 0 ? [("taken by an earlier rule", tally.takenTotal)] : [])
                + (tally.becameDue.map { [("became due through this run", $0)] } ?? [])
            out +=
                "<table class=\"figures\">"
                + figures.map { "<tr><th>\($0.0)</th><td class=\"n\">\($0.1)</td></tr>" }.joined() + "</table>\n"
            if !tally.exempt.isEmpty {
                out +=
                    "<p>Kept: "
                    + tally.exempt.sorted { $0.key < $1.key }.map { reason, count in
                        let rules =
                            reason == ExemptionReason.keptByRule.rawValue
                            ? " (" + Self.escape(tally.keptByRuleSummary) + ")" : ""
                        return "\(count) by \(Self.reason(reason))\(rules)"
                    }.joined(separator: "; ") + "</p>\n"
            }
            let children = tally.childRowsPurged.sorted { $0.key < $1.key }.map {
                "\($0.value) in \(Self.escape($0.key))"
            }
            if !children.isEmpty {
                out +=
                    "<p>Child rows \(planned ? "that would be deleted" : "deleted"): \(children.joined(separator: ", "))</p>\n"
            }
            let anonymisedChildren = tally.childRowsAnonymised.sorted { $0.key < $1.key }.map {
                "\($0.value) in \(Self.escape($0.key))"
            }
            if !anonymisedChildren.isEmpty {
                out +=
                    "<p>Child rows \(planned ? "that would be anonymised" : "anonymised"): \(anonymisedChildren.joined(separator: ", "))</p>\n"
            }
            if let counted = tally.countedSummary {
                out += "<p>Kept as statistics (counted per period, then erased): \(Self.escape(counted))</p>\n"
            }
            if let taken = tally.takenSummary {
                out +=
                    "<p>Of the due records, \(Self.escape(taken)): \(planned ? "that rule would delete them first" : "that rule deleted them first") and counts them.</p>\n"
            }
            if !tally.review.isEmpty {
                let columns = Array(tally.review[0].columns.keys).sorted()
                out +=
                    "<table class=\"review\"><tr><th>key</th><th>decision</th>"
                    + columns.map { "<th>\(Self.escape($0))</th>" }.joined() + "</tr>"
                for line in tally.review {
                    out +=
                        "<tr><td>\(Self.escape(line.key.description))</td><td>\(Self.escape(line.decision))</td>"
                        + columns.map { "<td>\(Self.escape(line.columns[$0]?.description ?? ""))</td>" }.joined()
                        + "</tr>"
                }
                out += "</table>\n"
            }
            if let f = forecast?.rules.first(where: { $0.rule == tally.rule }), let forecast {
                out += Self.chart(f, labels: forecast.monthLabels)
            }
            out += "</section>\n"
        }
        out += """
            <h2>Terms</h2><dl>
            <dt>past the cutoff</dt><dd>records whose clock is before the cutoff: their time is up, unless something keeps them.</dd>
            <dt>due</dt><dd>past the cutoff and kept by nothing: the run changes them.</dd>
            <dt>exempt</dt><dd>past the cutoff but kept: by a legal hold, the person's consent, a related record that must still be kept, another rule that keeps a row the change would delete (kept by rule), or a reference from a table the purge does not declare.</dd>
            <dt>already done</dt><dd>flagged or anonymised by this rule on an earlier run; not done again.</dd>
            <dt>stale</dt><dd>planned, but no longer due when its batch ran (a new date, a hold): left alone.</dd>
            <dt>gone</dt><dd>planned, but deleted by someone else before its batch ran.</dd>
            <dt>became due through this run</dt><dd>records this run's own changes made due (a user whose last ticket it deleted): not in the plan that ran, so the next run acts on them.</dd>
            <dt>taken by an earlier rule</dt><dd>due, but an earlier rule of the same run deletes the record first (as a row of its own records' children, or as its own): counted under that rule, not planned again.</dd>
            </dl>
            """
        return out + "</body></html>\n"
    }

    /// "305 records deleted, 381 anonymised; 12 kept because of a legal hold…"
    public func summarySentence(planned: Bool) -> String {
        // A record another rule takes is that rule's row (child or owned): counted once, in `tables`.
        let purged = rules.reduce(0) {
            $0
                + (planned
                    ? ($1.action == "purge" ? $1.due - $1.takenTotal : 0) : $1.action == "archive" ? 0 : $1.purged)
        }
        let archived = rules.reduce(0) {
            $0 + ($1.action == "archive" ? (planned ? $1.due - $1.takenTotal : $1.purged) : 0)
        }
        let anonymised = rules.reduce(0) {
            $0 + (planned ? ($1.action == "anonymise" ? $1.due - $1.takenTotal : 0) : $1.anonymised)
        }
        let flagged = rules.reduce(0) { $0 + (planned ? ($1.action == "flag" ? $1.due : 0) : $1.flagged) }
        var kept: [String: Int] = [:]
        // Records, not rule actions: a record two rules keep for the same reason counts once.
        for tally in rules { for (reason, n) in tally.exemptRecords ?? tally.exempt { kept[reason, default: 0] += n } }
        kept = kept.filter { $0.value > 0 }
        let verb = planned ? "would be " : ""
        var text = "\(purged) record(s) \(verb)deleted, \(anonymised) \(verb)anonymised, \(flagged) \(verb)flagged"
        if archived > 0 || rules.contains(where: { $0.action == "archive" }) {
            text += ", \(archived) \(verb)moved to the archive"
        }
        if !kept.isEmpty {
            text +=
                "; "
                + kept.sorted { $0.key < $1.key }.map { "\($0.value) kept because of \(Self.reason($0.key))" }.joined(
                    separator: ", ")
        }
        let rows = (tables ?? [:]).values.reduce(0) { $0 + $1.deleted }
        if rows > 0 {
            text +=
                "; \(rows) row(s) \(verb)deleted in \((tables ?? [:]).values.filter { $0.deleted > 0 }.count) table(s), records and their child rows"
        }
        text += planned ? ". Nothing was changed." : "."
        if totalBecameDue > 0 {
            text += " \(totalBecameDue) record(s) became due through this run's changes; the next run acts on them."
        }
        return text
    }

    static func reason(_ code: String) -> String {
        switch code {
        case "legal_hold": return "a legal hold"
        case "consent": return "the person's consent"
        case "related_record": return "a related record that must still be kept"
        case "kept_by_rule": return "another rule that keeps it or a row its deletion would take"
        case "referenced_by_undeclared_table": return "a reference from another table"
        default: return code.replacingOccurrences(of: "_", with: " ")
        }
    }

    /// A bar per month, with its count written above it, on axes: records (0 and the peak) up
    /// the left, the months along the bottom.
    static func chart(_ forecast: Forecast.RuleForecast, labels: [String]) -> String {
        let peak = max(forecast.months.max() ?? 0, 1)
        let width = 40
        let height = 120
        let left = 45
        var svg =
            "<figure class=\"forecast\" id=\"forecast-\(escape(forecast.rule))\" data-total=\"\(forecast.months.reduce(0, +))\">"
        svg += "<figcaption>Forecast: records becoming due per month</figcaption>"
        svg +=
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(left + width * forecast.months.count + 10)\" height=\"\(height + 55)\" role=\"img\">"
        // The axes, a tick at the peak, and what each one counts.
        svg += "<line x1=\"\(left)\" y1=\"15\" x2=\"\(left)\" y2=\"\(height + 15)\" stroke=\"#333\"/>"
        svg +=
            "<line x1=\"\(left)\" y1=\"\(height + 15)\" x2=\"\(left + width * forecast.months.count + 5)\" y2=\"\(height + 15)\" stroke=\"#333\"/>"
        svg += "<text x=\"\(left - 4)\" y=\"\(height + 18)\" text-anchor=\"end\" class=\"axis\">0</text>"
        svg += "<text x=\"\(left - 4)\" y=\"18\" text-anchor=\"end\" class=\"axis\">\(peak)</text>"
        svg += "<text x=\"\(left - 4)\" y=\"\(height / 2 + 15)\" text-anchor=\"end\" class=\"axis\">records</text>"
        svg +=
            "<text x=\"\(left + width * forecast.months.count / 2)\" y=\"\(height + 50)\" text-anchor=\"middle\" class=\"axis\">month the records become due</text>"
        for (i, count) in forecast.months.enumerated() {
            let h = count * height / peak
            let x = left + i * width
            svg +=
                "<rect x=\"\(x + 5)\" y=\"\(height + 15 - h)\" width=\"\(width - 10)\" height=\"\(h)\" fill=\"#4a7\"/>"
            svg +=
                "<text x=\"\(x + width / 2)\" y=\"\(height + 12 - h)\" text-anchor=\"middle\" class=\"count\">\(count)</text>"
            svg +=
                "<text x=\"\(x + width / 2)\" y=\"\(height + 30)\" text-anchor=\"middle\">\(i < labels.count ? escape(labels[i]) : "")</text>"
        }
        svg += "</svg>"
        let note = forecast.note
        if !note.isEmpty { svg += "<p class=\"forecast-note\">\(escape(note))</p>" }
        return svg + "</figure>\n"
    }

    static func escape(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
    }
}
