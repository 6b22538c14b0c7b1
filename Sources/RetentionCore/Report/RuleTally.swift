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
    /// Records past the cutoff, before exemptions.
    public var pastCutoff: Int = 0
    /// Records the rule acts on (planned, or done in an enforcing run).
    public var due: Int = 0
    public var exempt: [String: Int] = [:]
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
    /// Planned records that no longer exist when applied (deleted by an earlier rule of the same run, or by someone else).
    public var gone: Int = 0
    /// Records listed for review (only when the subject has review columns), capped.
    public var review: [ReviewLine] = []
    public var reviewTruncated: Bool = false

    public init(rule: RetentionRule, subject: Subject, cutoff: Cutoff) {
        self.rule = rule.id
        self.subject = subject.id
        self.table = subject.table.value
        self.action = rule.action.name
        self.register = rule.register
        self.legalBasis = rule.legalBasis
        self.cutoff = cutoff.moment
        self.clockBound = cutoff.clockBound
    }

    public var exemptTotal: Int { exempt.values.reduce(0, +) }

    public mutating func count(_ reason: ExemptionReason) { exempt[reason.rawValue, default: 0] += 1 }
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
