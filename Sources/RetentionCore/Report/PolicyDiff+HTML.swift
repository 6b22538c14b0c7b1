import Foundation

extension PolicyDiff {
    /// One self-contained page for the people who sign the change off (`retentiond diff --format
    /// html`): the same sections as `text()`, each rule's changes in a table, the counts beside them.
    public func html() -> String {
        func escape(_ text: String) -> String {
            text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
                .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
        }
        var out = """
            <!DOCTYPE html>
            <html lang="en"><head><meta charset="utf-8"><title>Policy change — retentiond diff</title>
            <style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse;width:100%;margin-bottom:1em}th,td{border:1px solid #999;padding:.3em;text-align:left;vertical-align:top}th{background:#eee}.more-due{background:#fde2e1}.more-kept{background:#e3f4e1}</style>
            </head><body>
            <h1>Policy change</h1>
            <p><code>\(escape(old.path))</code> (sha256 <code>\(old.sha256.prefix(12))…</code>) → <code>\(escape(new.path))</code> (sha256 <code>\(new.sha256.prefix(12))…</code>)</p>

            """
        if let database, let countedAt {
            out +=
                "<p>Records counted on <code>\(escape(database))</code> at \(ISO8601DateFormatter().string(from: countedAt)), as <code>plan</code> counts them.</p>\n"
        }
        if let oldNotCounted { out += "<p>The old policy is not counted: \(escape(oldNotCounted))</p>\n" }
        if old.sha256 == new.sha256 {
            return out + "<p>The two files are the same policy: nothing changes.</p>\n</body></html>\n"
        }
        let (more, notMore, wording, unchanged) = sections
        func section(_ title: String, _ list: [Rule]) {
            guard !list.isEmpty else { return }
            out +=
                "<h2>\(escape(title))</h2>\n<table><tr><th>rule</th><th>what</th><th>before</th><th>after</th><th>which way</th></tr>\n"
            for rule in list {
                let name =
                    rule.rule + (rule.status == .added ? " (new rule)" : rule.status == .removed ? " (removed)" : "")
                let rows =
                    rule.changes.map { change in
                        "<td>\(escape(change.facet))</td><td>\(escape(change.old ?? "—"))</td><td>\(escape(change.new ?? "—"))</td>"
                            + "<td class=\"\(change.direction.rawValue)\">\(escape(Self.words(change.direction)))</td>"
                    } + (Self.counts(rule).map { ["<td>records</td><td colspan=\"3\">\(escape($0))</td>"] } ?? [])
                for (index, row) in rows.enumerated() {
                    out +=
                        "<tr>" + (index == 0 ? "<td rowspan=\"\(rows.count)\"><code>\(escape(name))</code></td>" : "")
                        + row + "</tr>\n"
                }
            }
            out += "</table>\n"
        }
        section("Makes more records due (or does more to them)", more)
        section("Makes no more records due", notMore)
        section("Changes wording only", wording)
        if !unchanged.isEmpty {
            out +=
                "<p>Unchanged: " + unchanged.map { "<code>\(escape($0.rule))</code>" }.joined(separator: ", ")
                + "</p>\n"
        }
        if rules.allSatisfy({ $0.changes.isEmpty }) {
            out +=
                "<p>No rule differs in what the register says; the files differ elsewhere (the database, the schedule, a relation's condition…): compare them with diff(1).</p>\n"
        }
        return out + "</body></html>\n"
    }

    static func words(_ direction: Direction) -> String {
        switch direction {
        case .moreDue: return "more due"
        case .moreKept: return "more kept"
        case .either: return "either way: see the counts"
        case .wording: return "wording"
        }
    }
}
