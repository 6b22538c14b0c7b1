import Foundation
import RetentionCore

/// The per-rule table printed by plan, run and demo.
enum Summary {
    static func table(_ report: RunReport, enforcing: Bool) -> String {
        let day = DateFormatter()
        day.locale = Locale(identifier: "en_US_POSIX")
        day.dateFormat = "yyyy-MM-dd"
        day.timeZone = TimeZone(identifier: "UTC")
        var rows = [
            [
                "rule", "action", "clock before", "past cutoff", enforcing ? "done" : "due", "exempt", "already done",
                enforcing ? "stale" : "", enforcing ? "gone" : "",
            ]
        ]
        for r in report.rules {
            let done = r.flagged + r.anonymised + r.purged
            let exempt = r.exemptSummary
            rows.append([
                r.rule, r.action, day.string(from: r.clockBound), String(r.pastCutoff),
                String(enforcing ? done : r.due), exempt,
                String(r.alreadyDone), enforcing ? String(r.stale) : "", enforcing ? String(r.gone) : "",
            ])
        }
        let widths = rows[0].indices.map { i in rows.map { $0[i].count }.max() ?? 0 }
        return rows.map { row in
            row.enumerated().map { i, cell in cell.padding(toLength: widths[i], withPad: " ", startingAt: 0) }.joined(
                separator: "  "
            )
            .trimmingCharacters(in: .whitespaces)
        }.joined(separator: "\n") + children(report, enforcing: enforcing)
    }

    /// The child rows each rule deletes or anonymises with its records, per table.
    static func children(_ report: RunReport, enforcing: Bool) -> String {
        var lines: [String] = []
        for r in report.rules {
            let deleted = r.childRowsPurged.sorted { $0.key < $1.key }.map { "\($0.value) \($0.key)" }
            let anonymised = r.childRowsAnonymised.sorted { $0.key < $1.key }.map { "\($0.value) \($0.key)" }
            let deleting =
                r.action == "archive"
                ? (enforcing ? "moved to the archive" : "to move to the archive")
                : (enforcing ? "deleted" : "to delete")
            if !deleted.isEmpty {
                lines.append("\(r.rule): child rows \(deleting): \(deleted.joined(separator: ", "))")
            }
            if !anonymised.isEmpty {
                lines.append(
                    "\(r.rule): child rows \(enforcing ? "anonymised" : "to anonymise"): \(anonymised.joined(separator: ", "))"
                )
            }
            if let counted = r.counted, !counted.isEmpty {
                lines.append(
                    "\(r.rule): kept as statistics: \(counted.values.reduce(0, +)) record(s) counted in \(counted.count) period(s)"
                )
            }
            if let taken = r.takenSummary {
                lines.append(
                    "\(r.rule): of its due records, \(taken) (\(enforcing ? "deleted" : "to be deleted") there first, counted there)"
                )
            }
        }
        let became = report.rules.compactMap { r in r.becameDue.flatMap { $0 > 0 ? "\(r.rule): \($0)" : nil } }
        if !became.isEmpty {
            lines.append(
                "\(report.totalBecameDue) record(s) became due through this run's changes (\(became.joined(separator: ", "))): the next run acts on them"
            )
        }
        return lines.isEmpty ? "" : "\n\n" + lines.joined(separator: "\n")
    }
}
