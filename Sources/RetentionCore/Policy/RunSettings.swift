import Foundation

/// Where and how a policy is enforced: the policy file's deployment keys (`database`, `archive`,
/// `state_dir`, `audit.key_file`, `reports`, `batch_size`, `schedule`), which the command line,
/// systemd (`$STATE_DIRECTORY`, credentials) and the demo may replace.
///
/// Kept apart from `Policy`, which says what is kept and for how long: none of these decides a
/// record's fate, so a plan, a policy's review (`diff`, the run's policy-change guard) and the
/// register read the policy alone, and a flag never changes the policy it runs.
public struct RunSettings: Sendable, Equatable {
    /// The governed database.
    public var database: DatabaseLocation
    /// The intermediate archive (`archive:`): a separate database of the same kind that
    /// `action: archive` moves records into and `phase: archive` rules govern. Nil: no archive.
    public var archive: DatabaseLocation?
    /// Where the audit chain head, the lock, plans and (by default) the reports and key live.
    public var stateDirectory: String
    public var keyFile: String
    public var reportsDirectory: String
    /// How long run reports are kept (they may hold record keys): older ones are deleted when a
    /// new one is written. `reports.keep`, 400 days unless the policy says otherwise.
    public var reportsKeep: RetentionDuration = RunSettings.defaultReportsKeep
    /// Whether reports carry a forecast (`reports.forecast`, true unless the policy says otherwise):
    /// one statement per rule over the coming year's records, which a very large table may not want
    /// on every run.
    public var reportsForecast = true
    /// Records per batch, one transaction each (`batch_size`, `--batch-size`).
    public var batchSize = RunSettings.defaultBatchSize
    /// When `retentiond serve` runs; `Schedule.default` unless the policy says otherwise.
    public var schedule: Schedule = .default

    public init(database: DatabaseLocation, stateDirectory: String, keyFile: String, reportsDirectory: String) {
        self.database = database
        self.stateDirectory = stateDirectory
        self.keyFile = keyFile
        self.reportsDirectory = reportsDirectory
    }

    public static let defaultReportsKeep = try! RetentionDuration(parsing: "400d")
    /// `batch_size` when the policy gives none, and the most it accepts. Measured
    /// (docs/operations.md, "Batch size"): 5000 is 1.1–1.3x the speed of 2000 for a lock of
    /// about 0.15–0.3 s per batch.
    public static let defaultBatchSize = 5000
    public static let batchSizes = 1...5000
    /// Below it, a run costs more than twice the default's time on SQLite (measured:
    /// docs/operations.md, "Batch size"): `check` warns.
    public static let costlyBatchSize = 300

    /// What a batch size below `costlyBatchSize` costs, after its name (`batch_size 100 …`,
    /// `--batch-size 100 …`), and what to do about it: the same words for the policy's key and
    /// the command line's option.
    public static func costlyBatchSizeWarning(_ n: Int) -> (cost: String, hint: String) {
        (
            "commits every \(n) records: at 100,000 records a run took 2.3 times as long at 250, and 3.3 times at 100, as at the default \(defaultBatchSize) on SQLite (1.6 times at 500; PostgreSQL is less sensitive: 1.35 times at 500)",
            "keep it only if an application writing to the same database cannot wait a tenth of a second for a batch's lock"
        )
    }

    /// Where one phase is enforced: the application's database as it is, or the archive — its
    /// own database, state (`state_dir/archive`: trail head, erasure ledger, lock) and reports
    /// (`reports.dir/archive`), the same audit key. Without an archive, the settings as they are.
    public func enforced(in phase: Phase) -> RunSettings {
        guard phase == .archive, let archive else { return self }
        var settings = self
        settings.database = archive
        settings.stateDirectory = URL(fileURLWithPath: stateDirectory).appendingPathComponent("archive").path
        settings.reportsDirectory = URL(fileURLWithPath: reportsDirectory).appendingPathComponent("archive").path
        return settings
    }
}
