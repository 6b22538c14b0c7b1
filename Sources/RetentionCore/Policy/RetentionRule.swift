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
    /// `action: archive`: the records (and their declared children) are copied into the archive
    /// database, then deleted here as a purge deletes them (`action` is that purge).
    public var archives = false
    /// The database whose records the rule governs (`phase`; docs/policy.md, "Archive").
    public var phase: Phase = .active
    /// For an archive rule: rows the records point to, copied into the archive with them and left
    /// here (`copies`: a client's row behind its invoices).
    public var copies: [ArchiveCopy] = []

    /// What the trail records for each record the rule changes.
    public var auditAction: AuditAction { archives ? .archive : action.auditAction }
    /// The action as the policy names it: flag, anonymise, purge or archive.
    public var actionName: String { auditAction.rawValue }
}

/// Where a record is in its life, as the CNIL's guide names the phases: in the application's
/// database (active), or moved to the intermediate archive, read only by those who need it.
public enum Phase: String, Sendable, CaseIterable {
    case active
    case archive
}

/// A table whose rows an archived record points to (`foreign_key` of the record → `references` of
/// the table, its primary key when empty), copied into the archive with the record: the archive
/// then holds what the record needs to be read (the client named on an invoice), while the row
/// stays in the application's database for the records that still use it.
public struct ArchiveCopy: Sendable {
    public var table: Name
    public var foreignKey: [Name]
    public var references: [Name]

    public init(table: Name, foreignKey: [Name], references: [Name]) {
        self.table = table
        self.foreignKey = foreignKey
        self.references = references
    }
}
