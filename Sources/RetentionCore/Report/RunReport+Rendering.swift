import Foundation

extension RunReport {
    public func json() throws -> Data {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return try encoder.encode(self)
    }

    /// The same content as `json()`, for people.
    public func markdown() -> String {
        let iso = ISO8601DateFormatter()
        let planned = mode == .plan || mode == .dryRun
        var out = """
            # retentiond \(mode.rawValue) report

            | | |
            |---|---|
            | run | \(Markdown.code(runID)) |
            | status | **\(status.rawValue)**\(message.map { " — " + Markdown.text($0) } ?? "") |
            | policy | \(Markdown.code(policyPath)) (sha256 `\(policyHash.prefix(16))…`) |
            | database | \(Markdown.code(database)) |
            | now | \(iso.string(from: now)) |
            | started | \(iso.string(from: startedAt)) |
            | duration | \(String(format: "%.3f", durationSeconds)) s |
            | summary | \(Markdown.text(summarySentence(planned: planned))) |

            ## Rows per table

            | table | \(planned ? "would be deleted" : "deleted") | \(planned ? "would be changed" : "changed") |
            |---|---:|---:|
            \((tables ?? [:]).sorted { $0.key < $1.key }.map { "| \(Markdown.code($0.key)) | \($0.value.deleted) | \($0.value.changed) |" }.joined(separator: "\n"))

            ## Rules

            | rule | subject | action | clock before | past cutoff | due | flagged | anonymised | purged | exempt | already done | stale | gone |
            |---|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|

            """
        for r in rules {
            let exempt = r.exemptSummary
            out +=
                "| \(Markdown.code(r.rule)) | \(Markdown.cell(r.subject)) (\(Markdown.code(r.table))) | \(r.action) | \(iso.string(from: r.clockBound)) | \(r.pastCutoff) | \(r.due) | \(r.flagged) | \(r.anonymised) | \(r.purged) | \(Markdown.cell(exempt)) | \(r.alreadyDone) | \(r.stale) | \(r.gone) |\n"
        }
        let failed = failedByRule
        for r in rules {
            out +=
                "\n### \(Markdown.code(r.rule))\n\n- register: \(Markdown.cell(r.register))\n- legal basis: \(Markdown.cell(r.legalBasis))\n"
            if let count = failed[r.rule] {
                out +=
                    "- **failed: \(count) record(s)** the database refused to change (a constraint or trigger); the rest of the run went on:\n"
                for failure in failures where failure.rule == r.rule {
                    out +=
                        "  - \(Markdown.code(String(failure.reference.prefix(16))))…: \(Markdown.text(failure.reason))\n"
                }
            }
            if !r.childRowsPurged.isEmpty {
                out +=
                    (planned ? "- child rows that would be deleted: " : "- child rows purged: ")
                    + r.childRowsPurged.sorted { $0.key < $1.key }.map { "\($0.value) in \(Markdown.code($0.key))" }
                    .joined(separator: ", ") + "\n"
            }
            if !r.childRowsAnonymised.isEmpty {
                out +=
                    (planned ? "- child rows that would be anonymised: " : "- child rows anonymised: ")
                    + r.childRowsAnonymised.sorted { $0.key < $1.key }.map { "\($0.value) in \(Markdown.code($0.key))" }
                    .joined(separator: ", ") + "\n"
            }
            if let counted = r.countedSummary {
                out += "- kept as statistics (counted per period, then erased): \(Markdown.text(counted))\n"
            }
            if let n = r.becameDue, n > 0 {
                out +=
                    "- **\(n) record(s) became due through this run's changes** (rows it deleted or changed decided them); the next run acts on them\n"
            }
            if let taken = r.takenSummary {
                out +=
                    "- of its due records, \(Markdown.text(taken)): \(planned ? "that rule would delete them first" : "that rule deleted them first"), and counts them\n"
            }
            if !r.review.isEmpty {
                let columns = r.review.first.map { Array($0.columns.keys).sorted() } ?? []
                out +=
                    "\n| key | decision |" + columns.map { " \(Markdown.text($0)) |" }.joined() + "\n|---|---|"
                    + columns.map { _ in "---|" }.joined() + "\n"
                for line in r.review {
                    out +=
                        "| \(Markdown.text(line.key.description)) | \(Markdown.cell(line.decision)) |"
                        + columns.map { " \(Markdown.text(line.columns[$0]?.description ?? "")) |" }.joined() + "\n"
                }
                if r.reviewTruncated { out += "\n(list truncated; the counts above are complete)\n" }
            }
        }
        return out
    }
}
