import Foundation

/// A validated retention policy: what to keep, for how long, and what to do when time is up.
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
    public var database: DatabaseLocation
    /// Where the audit chain head, the lock and (by default) the reports and key live.
    public var stateDirectory: String
    public var keyFile: String
    public var reportsDirectory: String
    public var batchSize: Int
    /// `batch_size` when the policy gives none, and the most it accepts. Measured
    /// (docs/operations.md, "Batch size"): 5000 is 1.1–1.3x the speed of 2000 for a lock of
    /// about 0.15–0.3 s per batch.
    public static let defaultBatchSize = 5000
    public static let batchSizes = 1...5000
    /// Below it, a run costs more than twice the default's time on SQLite (measured:
    /// docs/operations.md, "Batch size"): `check` warns.
    public static let costlyBatchSize = 300
    public var defaultSafety: SafetyLimits
    /// Storage formats declared for date columns, by `table.column`; others are introspected.
    public var dateFormats: [String: DateStorage]
    public var subjects: [Subject]
    /// When `retentiond serve` runs; `Schedule.default` unless the policy says otherwise.
    public var schedule: Schedule = .default
    /// How long run reports are kept (they may hold record keys): older ones are deleted when a
    /// new one is written. `reports.keep`, 400 days unless the policy says otherwise.
    public var reportsKeep: RetentionDuration = Policy.defaultReportsKeep
    /// Tables in which the application keeps legal holds of its own, honoured like retentiond's.
    public var applicationHolds: [ApplicationHolds] = []
    public static let defaultReportsKeep = try! RetentionDuration(parsing: "400d")
    /// How long the erasure ledger keeps an entry (`ledger.keep`): as long as the oldest backup
    /// that can still be restored. Nil (the default): every entry is kept.
    public var ledgerKeep: RetentionDuration?
    /// The table the rules' `statistics` are written to (`statistics.table`), in the governed database.
    public var statisticsTable = Policy.defaultStatisticsTable
    public static let defaultStatisticsTable = "retentiond_statistics"
    /// The rules that keep statistics of what they erase.
    public var statisticsRules: [RetentionRule] { rules.filter { $0.statistics != nil } }
    /// Whether reports carry a forecast (`reports.forecast`, true unless the policy says otherwise):
    /// one statement per rule over the coming year's records, which a very large table may not want
    /// on every run.
    public var reportsForecast = true
    /// The intermediate archive (`archive:`): a separate database of the same kind that
    /// `action: archive` moves records into and `phase: archive` rules govern. Nil: no archive.
    public var archive: DatabaseLocation?
    /// The phase whose rules this policy holds (`enforced(in:)`): the whole policy file is `.active`
    /// with both phases' rules until split.
    public private(set) var phase: Phase = .active

    public var rules: [RetentionRule] { subjects.flatMap(\.rules) }

    /// The rules that move records into the archive.
    public var archivingRules: [RetentionRule] { rules.filter(\.archives) }

    /// The policy one database enforces: the application's database with the rules of the active
    /// phase, or the archive with the rules of `phase: archive` — its own database, state
    /// (`state_dir/archive`: trail head, erasure ledger, lock) and reports (`reports.dir/archive`),
    /// the same audit key. Subjects without a rule in that phase are left out (they govern nothing
    /// there); so are the application's own holds, whose tables are not archived.
    public func enforced(in phase: Phase) -> Policy {
        var policy = self
        policy.phase = phase
        policy.subjects = subjects.compactMap { subject in
            var subject = subject
            subject.rules = subject.rules.filter { $0.phase == phase }
            return subject.rules.isEmpty ? nil : subject
        }
        if phase == .archive, let archive {
            // Relations declared for the whole table (`relations:`) that the archive's rules do not
            // use would name tables the archive does not have.
            policy.subjects = policy.subjects.map { $0.keepingUsedRelations() }
            policy.database = archive
            policy.stateDirectory = URL(fileURLWithPath: stateDirectory).appendingPathComponent("archive").path
            policy.reportsDirectory = URL(fileURLWithPath: reportsDirectory).appendingPathComponent("archive").path
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
