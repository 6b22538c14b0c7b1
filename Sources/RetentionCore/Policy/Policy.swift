import Foundation

/// A validated retention policy: what to keep, for how long, and what to do when time is up.
/// Where and how it runs (database, state directory, key, batch size, schedule) is `RunSettings`.
///
/// Only `PolicyParser` builds one, and only from a document without errors; the schema checks
/// (`SchemaValidator`) run on it before any planning.
public struct Policy: Sendable {
    /// Path of the policy file as given, for diagnostics.
    public var path: String
    /// SHA-256 of the policy file's bytes: plans and audit entries name the policy by it.
    public var hash: String
    public var timeZone: TimeZone
    /// The zone naive dates (ISO text without a zone, SQL `date` and `timestamp`) are stored in:
    /// `storage_time_zone`, the policy's `time_zone` unless it says otherwise (Znuny stores UTC).
    public var storageTimeZone: TimeZone?
    /// First day of the fiscal year (month, day); 1 January unless the policy says otherwise.
    public var fiscalYearStart: MonthDay
    public var defaultSafety: SafetyLimits
    /// Storage formats declared for date columns, by `table.column`; others are introspected.
    public var dateFormats: [String: DateStorage]
    public var subjects: [Subject]
    /// Tables in which the application keeps legal holds of its own, honoured like retentiond's.
    public var applicationHolds: [ApplicationHolds] = []
    /// How long the erasure ledger keeps an entry (`ledger.keep`): as long as the oldest backup
    /// that can still be restored. Nil (the default): every entry is kept.
    public var ledgerKeep: RetentionDuration?
    /// The table the rules' `statistics` are written to (`statistics.table`), in the governed database.
    public var statisticsTable = Policy.defaultStatisticsTable
    public static let defaultStatisticsTable = "retentiond_statistics"
    /// The rules that keep statistics of what they erase.
    public var statisticsRules: [RetentionRule] { rules.filter { $0.statistics != nil } }
    /// The phase whose rules this policy holds (`enforced(in:)`): the whole policy file is `.active`
    /// with both phases' rules until split.
    public private(set) var phase: Phase = .active

    public var rules: [RetentionRule] { subjects.flatMap(\.rules) }

    /// The rules that move records into the archive.
    public var archivingRules: [RetentionRule] { rules.filter(\.archives) }

    /// The policy one database enforces: the rules of the active phase (the application's
    /// database), or those of `phase: archive` (the archive; `RunSettings.enforced(in:)` says
    /// where it is). Subjects without a rule in that phase are left out (they govern nothing
    /// there); so are the application's own holds, whose tables are not archived.
    public func enforced(in phase: Phase) -> Policy {
        var policy = self
        policy.phase = phase
        policy.subjects = subjects.compactMap { subject in
            var subject = subject
            subject.rules = subject.rules.filter { $0.phase == phase }
            return subject.rules.isEmpty ? nil : subject
        }
        if phase == .archive {
            // Relations declared for the whole table (`relations:`) that the archive's rules do not
            // use would name tables the archive does not have.
            policy.subjects = policy.subjects.map { $0.keepingUsedRelations() }
            policy.applicationHolds = []
        }
        return policy
    }

    public func subject(for rule: RetentionRule) -> Subject {
        subjects.first { $0.id == rule.subjectID }!
    }

    public var calendar: Calendar {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = timeZone
        return calendar
    }

    /// The calendar stored dates are read and cutoffs rendered in (cutoffs are computed in `calendar`).
    public var storageCalendar: Calendar {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = storageTimeZone ?? timeZone
        return calendar
    }
}
