/// What a store knows about one record that matched a rule's due predicate, gathered in one query.
///
/// The store reports facts; `Planner` decides. Personal values appear here only for fields that
/// an anonymisation must transform and for the columns the policy marks for review.
public struct Candidate: Sendable {
    public var key: RecordKey
    /// The stored values of the clock's columns, in the clock's order.
    public var clockValues: [SQLValue]
    /// A consent column says the person agreed to longer retention.
    public var consented: Bool
    /// A related record that must still be kept exists (see `RelatedKeep`).
    public var keptByRelated: Bool
    /// For purges: rows in tables that reference this record but are not declared as children.
    public var referencedByUndeclared: Bool
    /// The rules that keep the record itself or a row its deletion would take (a child, or the
    /// record under another subject sharing its table): "keeping wins" (docs/policy.md, "Precedence").
    public var keptByRules: [String] = []
    /// Current values of the anonymised fields, in the rule's field order.
    public var fieldValues: [SQLValue]
    /// Values of the subject's review columns.
    public var reviewValues: [SQLValue]
    /// Values of the rule's statistics columns (`RuleStatistics.columns`), read where a batch erases.
    public var statisticsValues: [SQLValue] = []

    public init(
        key: RecordKey, clockValues: [SQLValue] = [], consented: Bool = false, keptByRelated: Bool = false,
        referencedByUndeclared: Bool = false, fieldValues: [SQLValue] = [], reviewValues: [SQLValue] = []
    ) {
        self.key = key
        self.clockValues = clockValues
        self.consented = consented
        self.keptByRelated = keptByRelated
        self.referencedByUndeclared = referencedByUndeclared
        self.fieldValues = fieldValues
        self.reviewValues = reviewValues
    }
}

/// Why a due record is kept.
public enum ExemptionReason: String, Sendable, Hashable, Codable, CaseIterable, Comparable {
    case legalHold = "legal_hold"
    case consent
    case relatedRecord = "related_record"
    /// Another rule keeps a row the deletion would take (`Candidate.keptByRules` names it).
    case keptByRule = "kept_by_rule"
    case referenced = "referenced_by_undeclared_table"

    public static func < (lhs: ExemptionReason, rhs: ExemptionReason) -> Bool { lhs.rawValue < rhs.rawValue }
}

/// What the planner decided for one candidate.
public enum Decision: Sendable, Hashable {
    /// Apply the rule's action.
    case act
    /// Due, but kept, for this reason.
    case exempt(ExemptionReason)
    /// This rule already flagged or anonymised it in an earlier run; nothing new to do.
    case alreadyDone
}
