import Foundation

/// The counts for one rule in one run: what was due, kept, done, and skipped.
public struct RuleTally: Codable, Sendable, Hashable {
    public var rule: String
    public var subject: String
    public var table: String
    public var action: String
    public var register: String
    public var legalBasis: String
    public var cutoff: Date
    public var clockBound: Date
    /// Rows of the table (for the percentage safety limit).
    public var tableRows: Int = 0
    /// Records of the subject: the rows of the table its filter selects (all of them without a
    /// filter). Nil in reports written before it was counted.
    public var subjectRecords: Int?
    /// Records past the cutoff, before exemptions.
    public var pastCutoff: Int = 0
    /// Records the rule acts on (planned, or done in an enforcing run).
    public var due: Int = 0
    public var exempt: [String: Int] = [:]
    /// Of the exempt records, per reason, those no earlier rule on the same table counted as
    /// exempt for that reason: summed over the rules, each record kept once (the reports'
    /// headline). Nil when the rule is alone on its table (then it is `exempt`), and in reports
    /// of older versions.
    public var exemptRecords: [String: Int]?
    /// Of the records exempt as `kept_by_rule`, how many each rule kept (a record kept by two
    /// rules counts under both). Nil in reports written before precedence was reported.
    public var keptByRule: [String: Int]?
    /// Records this rule already flagged or anonymised in an earlier run.
    public var alreadyDone: Int = 0
    public var flagged: Int = 0
    public var anonymised: Int = 0
    public var purged: Int = 0
    public var childRowsPurged: [String: Int] = [:]
    /// Child rows an anonymise rule anonymised with their parents, per table.
    public var childRowsAnonymised: [String: Int] = [:]
    /// Planned records that still exist but were no longer due when re-checked (changed, held since):
    /// skipped, never forced.
    public var stale: Int = 0
    /// Planned records that no longer exist when applied: deleted by someone else (never by this run).
    public var gone: Int = 0
    /// Of the due records, those an earlier rule of the same run deletes (as its child or owned
    /// rows, or as its own records), per rule: counted there, not planned again here. Nil in
    /// reports written before it was counted.
    public var takenBy: [String: Int]?
    /// After a complete run: records of this rule that the run's own changes made due (a user
    /// whose last ticket it purged), left for the next run. Nil when not measured (a dry run, a
    /// rule no changed table decides, a report of an older version).
    public var becameDue: Int?
    /// Of the records the run erased, those counted into the rule's statistics, per period of its
    /// clock (`statistics`; docs/policy.md, "Statistics"). Nil for a rule without statistics, a
    /// dry run, and reports of older versions.
    public var counted: [String: Int]?
    /// Records listed for review (only when the subject has review columns), capped.
    public var review: [ReviewLine] = []
    public var reviewTruncated: Bool = false

    /// Whether the rule deletes its records from the database it governs: a purge, or an archive
    /// (the records are then in the archive; `purged` counts them).
    public var deletes: Bool { action == "purge" || action == "archive" }

    /// "60 records: 2023-01 10, 2023-02 9, …" (the first periods, then how many more).
    public var countedSummary: String? {
        guard let counted, !counted.isEmpty else { return nil }
        let periods = counted.sorted { $0.key < $1.key }
        let shown = periods.prefix(12).map { "\($0.key) \($0.value)" }.joined(separator: ", ")
        return "\(counted.values.reduce(0, +)) record(s): \(shown)"
            + (periods.count > 12 ? ", and \(periods.count - 12) more period(s)" : "")
    }

    public init(rule: RetentionRule, subject: Subject, cutoff: Cutoff) {
        self.rule = rule.id
        self.subject = subject.id
        self.table = subject.table.value
        self.action = rule.actionName
        self.register = rule.register
        self.legalBasis = rule.legalBasis
        self.cutoff = cutoff.moment
        self.clockBound = cutoff.clockBound
    }

    public var exemptTotal: Int { exempt.values.reduce(0, +) }

    /// Due records an earlier rule of the run takes.
    public var takenTotal: Int { (takenBy ?? [:]).values.reduce(0, +) }

    /// "250 taken by rule prospect-purge", or nil when no record was.
    public var takenSummary: String? {
        guard let takenBy, !takenBy.isEmpty else { return nil }
        return takenBy.sorted { $0.key < $1.key }.map { "\($0.value) taken by rule \($0.key)" }.joined(separator: ", ")
    }

    /// Counts a due record that an earlier rule of the run takes.
    public mutating func countTaken(by rule: String) {
        var taken = takenBy ?? [:]
        taken[rule, default: 0] += 1
        takenBy = taken
    }

    /// "19 consent, 2 kept_by_rule (accounting: 2)", or "0": the exemptions for a table cell.
    public var exemptSummary: String {
        guard !exempt.isEmpty else { return "0" }
        return exempt.sorted { $0.key < $1.key }.map { reason, count in
            reason == ExemptionReason.keptByRule.rawValue
                ? "\(count) \(reason) (\(keptByRuleSummary))" : "\(count) \(reason)"
        }.joined(separator: ", ")
    }

    /// "accounting: 2, contracts: 1": the rules that kept records, most first.
    public var keptByRuleSummary: String {
        (keptByRule ?? [:]).sorted { ($1.value, $0.key) < ($0.value, $1.key) }.map { "\($0.key): \($0.value)" }.joined(
            separator: ", ")
    }

    public mutating func count(_ reason: ExemptionReason) { exempt[reason.rawValue, default: 0] += 1 }

    /// Counts a record exempt because `rules` keep it (or a row its deletion would take).
    public mutating func countKept(by rules: [String]) {
        count(.keptByRule)
        var kept = keptByRule ?? [:]
        for rule in rules { kept[rule, default: 0] += 1 }
        keptByRule = kept
    }
}

/// A record shown to reviewers: its key and the review columns the policy allows, nothing more.
public struct ReviewLine: Codable, Sendable, Hashable {
    public var key: RecordKey
    public var decision: String
    public var columns: [String: SQLValue]

    public init(key: RecordKey, decision: String, columns: [String: SQLValue]) {
        self.key = key
        self.decision = decision
        self.columns = columns
    }
}
