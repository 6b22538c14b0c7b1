import Foundation

/// One phase of a subject's retention: when the clock plus the duration has passed, do the action.
public struct RetentionRule: Sendable {
    public var id: String
    public var subjectID: String
    public var location: SourceLocation
    /// The register entry this rule enforces, and its legal basis, quoted in reports.
    public var register: String
    public var legalBasis: String
    public var clock: RetentionClock
    public var after: RetentionDuration
    public var action: RuleAction
    public var exemptions: Exemptions
    public var safety: SafetyLimits
    /// Rules whose keeping every row this rule deletes (its records, their children, owned rows)
    /// is declared to override (docs/policy.md, "Precedence").
    public var overrides: [Name] = []
    /// What the rule keeps of the records it erases, as counts and sums (docs/policy.md, "Statistics").
    public var statistics: RuleStatistics?
}
