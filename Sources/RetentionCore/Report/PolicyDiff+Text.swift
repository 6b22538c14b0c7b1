import Foundation

extension PolicyDiff {
    /// The rules in the order a reader needs them: those that make more records due (or do more to
    /// them), those that change otherwise, those whose wording only changes, and those unchanged.
    var sections: (moreDue: [Rule], notMoreDue: [Rule], wording: [Rule], unchanged: [Rule]) {
        (
            rules.filter(\.makesMoreDue),
            rules.filter { !$0.makesMoreDue && $0.changes.contains { $0.direction != .wording } },
            rules.filter {
                !$0.makesMoreDue && !$0.changes.isEmpty && $0.changes.allSatisfy { $0.direction == .wording }
            },
            rules.filter { $0.status == .unchanged && !$0.makesMoreDue }
        )
    }

    /// What `retentiond diff` prints: the rules that make more records due first, then those that
    /// keep more, then changes of wording, then the rules unchanged — each change old → new.
    public func text() -> String {
        var out =
            "policy change: \(old.path) (sha256 \(old.sha256.prefix(12))…) → \(new.path) (sha256 \(new.sha256.prefix(12))…)\n"
        if let database, let countedAt {
            out +=
                "records counted on \(database) at \(ISO8601DateFormatter().string(from: countedAt)), as `plan` counts them\n"
        }
        if let oldNotCounted { out += "the old policy is not counted: \(oldNotCounted)\n" }
        if old.sha256 == new.sha256 { return out + "\nthe two files are the same policy: nothing changes\n" }

        let (more, notMore, wording, unchanged) = sections
        func section(_ title: String, _ list: [Rule]) {
            guard !list.isEmpty else { return }
            out += "\n\(title):\n"
            for rule in list {
                out +=
                    "  \(rule.rule)"
                    + (rule.status == .added ? " (new rule)" : rule.status == .removed ? " (removed)" : "") + "\n"
                for change in rule.changes {
                    out +=
                        "    \(change.facet): \(change.old ?? "—") → \(change.new ?? "—")\(Self.note(change.direction))\n"
                }
                if let line = Self.counts(rule) { out += "    \(line)\n" }
            }
        }
        section("Makes more records due (or does more to them)", more)
        section("Makes no more records due", notMore)
        section("Changes wording only", wording)
        if !unchanged.isEmpty {
            out += "\nUnchanged: " + unchanged.map(\.rule).joined(separator: ", ") + "\n"
        }
        if rules.allSatisfy({ $0.changes.isEmpty }) {
            out +=
                "\nno rule differs in what the register says; the files differ elsewhere (the database, the schedule, a relation's condition…): compare them with diff(1)\n"
        }
        return out
    }

    static func note(_ direction: Direction) -> String {
        switch direction {
        case .moreDue: return "  [more due]"
        case .moreKept: return "  [more kept]"
        case .either: return "  [either way: see the counts]"
        case .wording: return ""
        }
    }

    /// "due now: 12 → 40 (+28); due within 12 months: 30 → 55 (+25)", or nil without counts.
    static func counts(_ rule: Rule) -> String? {
        func part(_ label: String, _ counts: Counts?) -> String? {
            guard let counts, counts.old != nil || counts.new != nil else { return nil }
            let delta = (counts.new ?? 0) - (counts.old ?? 0)
            let sign = delta > 0 ? " (+\(delta))" : delta < 0 ? " (\(delta))" : ""
            return "\(label): \(counts.old.map(String.init) ?? "—") → \(counts.new.map(String.init) ?? "—")\(sign)"
        }
        let parts = [part("due now", rule.dueNow), part("due within 12 months", rule.dueWithin12Months)].compactMap {
            $0
        }
        return parts.isEmpty ? nil : parts.joined(separator: "; ")
    }
}
