import Foundation
import Logging
import RetentionCore
import RetentionStore

/// Enforces a validated policy on one writable store: what `run`, `apply`, `serve` and the
/// workers call. It composes the stages, each one type in one place:
///
/// - `PlanningPass` (Plan/) decides every due record and writes the plan — the dry run is the same code;
/// - `Applier` (Apply/) applies a plan batch by batch under the run lock, isolates refused records
///   and closes the run with its `run-completed` entry;
/// - `AuditWriter` (Audit/) is the one way entries reach the trail;
/// - `RunContext` assembles the report.
///
/// `run` writes its plan to the state directory and applies it exactly as `apply` applies a plan an
/// operator saved and reviewed.
public struct Enforcer: Sendable {
    public let resolved: ResolvedPolicy
    /// Where the policy runs and how: the state directory, the key file, the batch size…
    public let settings: RunSettings
    public let store: any RecordStore
    /// The key behind references and the chain; nil only before a database's first enforcing run
    /// has created one (`plan` then works without it).
    public let key: AuditKey?
    /// Who acts, for the audit trail (`retentiond` and the Unix user, or an operator's name).
    public let actor: String
    public let logger: Logger
    /// Pauses between batches and a maximum duration for applying (`--sleep`, `--max-duration`).
    public var pacing = Pacing()
    /// Where a run's progress goes: log lines (the journal) or one redrawn line on a terminal.
    public var progress = ProgressOutput.log
    /// The level of the `audit head recorded` line: `notice` keeps a copy of each head in the
    /// journal (under systemd); in a terminal the command line lowers it to `info`.
    public var headLogLevel = Logger.Level.notice
    /// How often, at most, the trail's head is recorded in the state directory while batches
    /// commit (always after the last one, and when a run stops or fails): `HeadRecorder`.
    public var headInterval = HeadRecorder.defaultInterval
    /// The digest (or its first 12 hex digits) of a policy whose change the operator reviewed and
    /// accepts (`run --accept-policy-change`): see `PolicyChangeGuard`.
    public var acceptedPolicyChange: String?
    /// Enforce even while a large table is scanned for every record (`--allow-unindexed`).
    public var allowUnindexed = false
    /// The archive database that `action: archive` moves records into (`RunSettings.archive`), opened
    /// by the command line when the policy has such rules.
    public var archive: ArchiveTarget?

    public var policy: Policy { resolved.policy }
    var anchor: AuditAnchor { AuditAnchor(store: store, stateDirectory: settings.stateDirectory) }
    var context: RunContext { RunContext(policy: policy, database: store.location) }
    /// The planning pass on this store.
    public var planning: PlanningPass {
        PlanningPass(resolved: resolved, settings: settings, reader: store, key: key, logger: logger)
    }

    public init(
        resolved: ResolvedPolicy, settings: RunSettings, store: any RecordStore, key: AuditKey?, actor: String,
        logger: Logger
    ) {
        self.resolved = resolved
        self.settings = settings
        self.store = store
        self.key = key
        self.actor = actor
        self.logger = logger
    }

    /// Parses nothing: checks an already parsed policy against the store's live schema.
    /// `advising` (`check`): also read what only advice needs — tables PostgreSQL has no
    /// statistics on (an enforcing command analyzes them itself and says so), and zero dates in
    /// the date columns the policy reads (counted over whole tables).
    public static func validate(_ written: Policy, store: any RecordReader, advising: Bool = true) async throws -> (
        ResolvedPolicy?, [Diagnostic]
    ) {
        // Names are resolved to the database's spelling first (`resolvingNames`): everything
        // downstream, and the resolved policy, uses those.
        let (policy, schema, renamedNote, samples, zeroDates, ambiguous) = try await store.read {
            session
                -> (Policy, SchemaSnapshot, Diagnostic?, [String: [SQLValue]], [String: Int], [String: AmbiguousKeys])
            in
            let live = try session.schema()
            let (policy, renamedNote) = live.resolvingNames(of: written)
            let columns = SchemaValidator.dateColumns(of: policy)
            let schema = live.declaringKeys(of: policy)
            var ambiguous: [String: AmbiguousKeys] = [:]
            for (table, key) in schema.checkedKeys {
                ambiguous[table] = try session.ambiguousKeys(table: table, keyColumns: key)
            }
            let present = columns.filter { schema.table($0.table)?.column($0.column) != nil }
            // A table the role may not read is not sampled: `check` lists the SELECT it needs.
            let unreadable = Set(
                try session.privileges(Set(present.map(\.table)).map { PrivilegeNeed(table: $0, kind: .select) })
                    .missing.map(\.table))
            var samples: [String: [SQLValue]] = [:]
            var zeroDates: [String: Int] = [:]
            for (table, column) in present where !unreadable.contains(table) {
                samples["\(table).\(column)"] = try session.sample(table: table, column: column, limit: 200)
                if advising, schema.table(table)?.column(column)?.nativeDateStorage != nil {
                    zeroDates["\(table).\(column)"] = try session.zeroDates(table: table, column: column)
                }
            }
            return (policy, schema, renamedNote, samples, zeroDates, ambiguous)
        }
        var validator = SchemaValidator(
            policy: policy, schema: schema, database: store.location, samples: samples, ambiguousKeys: ambiguous)
        let (all, resolved) = validator.validate()
        // A child or relation shared through a YAML anchor is checked once per subject that uses it: said once.
        var said = Set<String>()
        let diagnostics = ([renamedNote].compactMap { $0 } + all).filter { said.insert($0.description).inserted }
        guard let resolved else { return (nil, diagnostics) }
        guard advising else { return (resolved, diagnostics) }
        let missing = try await store.read { [tables = resolved.tablesRead] in
            try $0.tablesWithoutStatistics(among: tables)
        }
        return (
            resolved,
            diagnostics + statisticsWarnings(resolved, missing: missing)
                + zeroDateWarnings(policy, schema: schema, counts: zeroDates)
        )
    }

    /// A dry run on this store (see `PlanningPass.dryRun`).
    public func plan(now: Date, mode: RunReport.Mode, planPath: String?, detail: ((DetailLine) -> Void)? = nil)
        async throws -> RunReport
    {
        try await planning.dryRun(now: now, mode: mode, planPath: planPath, detail: detail)
    }

    func applier(runID: String) throws -> Applier {
        guard let key else { throw EnforcementError.noAuditKeyLoaded() }
        var applier = Applier(
            resolved: resolved, settings: settings, store: store, key: key, actor: actor, runID: runID, logger: logger,
            pacing: pacing)
        applier.progress = progress
        applier.headLogLevel = headLogLevel
        applier.headInterval = headInterval
        applier.archive = archive
        return applier
    }

    /// Plans and applies in one go, under the run lock: what the timer runs.
    /// `stop` is asked before each batch: when it says yes, the run ends at that batch boundary.
    public func run(now: Date, allowMore: Bool, stop: StopRequest = StopRequest()) async throws -> RunReport {
        try await refuseUnindexedScans()
        return try await store.withRunLock { lock in
            try await holdingArchive {
                try await refuseIfClockWentBack(now: now)
                await analyzeTablesWithoutStatistics()
                let accepted = try await PolicyChangeGuard(enforcer: self).check(
                    now: now, accepted: acceptedPolicyChange)
                let runID = RunID.make(at: Date())
                let planPath = settings.stateDirectory + "/plans/\(runID).plan"
                defer { unlink(planPath) }
                let writer = try PlanWriter(path: planPath)
                do {
                    _ = try await planning.tallies(now: now, planID: runID, writer: writer, detail: nil, stop: stop)
                } catch is StopRequest.Stopped {
                    logger.notice("run stopped while planning; nothing was changed", metadata: ["run": "\(runID)"])
                    let stopped = Date()
                    return context.report(
                        runID: runID, mode: .run, status: .incomplete,
                        message: "stopped on request while planning; nothing was changed",
                        now: now, startedAt: stopped, finishedAt: stopped, rules: [])
                }
                return try await applyLocked(
                    planPath: planPath, writtenBy: writer, runID: runID, mode: .run, wallClock: now,
                    allowMore: allowMore,
                    lock: lock, stop: stop, policyChange: .checked(accepted))
            }
        }
    }

    /// Runs `body` holding the archive's run lock too when the policy archives records: no run of
    /// the archive's own rules (`--archive`) works on it while records arrive.
    func holdingArchive<T>(_ body: () async throws -> T) async throws -> T {
        guard !policy.archivingRules.isEmpty else { return try await body() }
        guard let archive else {
            throw EnforcementError.noArchiveOpened()
        }
        return try await archive.store.withRunLock { _ in try await body() }
    }

    /// Applies a saved plan: re-checks each entry, skips stale ones, refuses a plan made elsewhere.
    public func apply(planPath: String, wallClock: Date, allowMore: Bool, stop: StopRequest = StopRequest())
        async throws -> RunReport
    {
        try await refuseUnindexedScans()
        return try await store.withRunLock { lock in
            try await holdingArchive {
                try await refuseIfClockWentBack(now: wallClock)
                await analyzeTablesWithoutStatistics()
                return try await applyLocked(
                    planPath: planPath, runID: RunID.make(at: Date()), mode: .apply, wallClock: wallClock,
                    allowMore: allowMore, lock: lock, stop: stop)
            }
        }
    }

    /// Whether this run checked the policy against the one last enforced (`run`: then it keeps its
    /// copy once it may change data, and records an accepted change); `apply` applies a plan the
    /// operator reviewed, made from this very policy.
    enum PolicyChangeCheck {
        case checked(PolicyChangeGuard.Accepted?)
        case notChecked
    }

    /// `writer`: the plan's writer when this process just made it (`run`), whose header and
    /// trailer need not be read back from the file.
    private func applyLocked(
        planPath: String, writtenBy writer: PlanWriter? = nil, runID: String, mode: RunReport.Mode, wallClock: Date,
        allowMore: Bool, lock: any RunLockHandle, stop: StopRequest, policyChange: PolicyChangeCheck = .notChecked
    ) async throws -> RunReport {
        let started = Date()
        let applier = try applier(runID: runID)
        let (header, trailer) = try writer.map(applier.checkedPlan(writtenBy:)) ?? applier.checkedPlan(at: planPath)
        try applier.checkSafetyLimits(trailer.rules, allowMore: allowMore)
        let outcome = try await store.inSuccession {
            try await applier.prepare()
            let ledger = try await applier.followLedger()
            if case .checked(let accepted) = policyChange {
                try await PolicyChangeGuard(enforcer: self).record(
                    accepted, runID: runID, in: store, chain: applier.chain, anchor: applier.anchor)
            }
            let outcome = await applier.applyPlan(
                at: planPath, header: header, tallies: trailer.rules, lock: lock, stop: stop, ledger: ledger)
            if outcome.status == .complete {
                try await applier.recordCompletion(
                    wallClock: wallClock, planNow: header.now, mode: mode.rawValue,
                    tallies: outcome.tallies, failures: outcome.failures)
            }
            await applier.syncLedgerAfterChanges(following: ledger)
            return outcome
        }
        if outcome.tallies.contains(where: { $0.purged > 0 }) { try await store.scrubFreedSpace() }
        var tallies = outcome.tallies
        if outcome.status == .complete { await countBecameDue(&tallies, now: header.now, failures: outcome.failures) }
        return context.report(
            runID: runID, mode: mode, status: outcome.status, message: outcome.message, now: header.now,
            startedAt: started, rules: tallies, failure: outcome.failure, failures: outcome.failures)
    }

    /// Measures, after a complete run, the records its own changes made due (`PlanningPass.becameDue`):
    /// reported, left for the next run (the plan the operator previewed is what ran). A failure to
    /// count is logged; the run stays what it was.
    private func countBecameDue(_ tallies: inout [RuleTally], now: Date, failures: [RecordFailure]) async {
        let changed = Set(RunReport.tables(tallies, planned: false).keys)
        guard !changed.isEmpty else { return }
        do {
            let failed = failures.reduce(into: [String: Int]()) { $0[$1.rule, default: 0] += 1 }
            let counts = try await planning.becameDue(now: now, changed: changed, failed: failed)
            for i in tallies.indices { if let n = counts[tallies[i].rule] { tallies[i].becameDue = n } }
            let total = counts.values.reduce(0, +)
            if total > 0 {
                logger.notice(
                    "\(total) record(s) became due through this run's changes; the next run acts on them",
                    metadata: [
                        "rules":
                            "\(counts.filter { $0.value > 0 }.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ","))"
                    ])
            }
        } catch {
            logger.warning("could not count the records this run made due: \(error)")
        }
    }

    /// Carries out a data subject's erasure request on the record of `subject` named by `keyText`
    /// (the subject's key), under the run lock (see `Applier.erase`); `dryRun` says what it would do.
    public func erase(subject: Subject, keyText: String, request: String, now: Date, dryRun: Bool) async throws
        -> ErasureReport
    {
        try await store.withRunLock { lock in
            try await holdingArchive {
                let key = try await Explainer(resolved: resolved, reader: store).recordKey(
                    subject: subject, keyText: keyText)
                let runID = RunID.make(at: Date())
                let applier = try applier(runID: runID)
                if !dryRun {
                    try await applier.prepare()
                    try await applier.syncLedger()
                }
                let steps = try await applier.erase(
                    subject, key: key, request: request, lock: lock, now: now, dryRun: dryRun)
                if !dryRun { await applier.syncLedgerAfterChanges() }
                return ErasureReport(
                    runID: runID, request: request, by: actor, subject: subject.id, table: subject.table.value,
                    key: key.description,
                    at: now, dryRun: dryRun, steps: steps)
            }
        }
    }

    /// The forecast for a report's chart (nil, logged, if it cannot be computed).
    public func reportForecast(now: Date) async -> Forecast? {
        await planning.reportForecast(now: now)
    }

    /// Tables of more rows than this, scanned once for every record, refuse an enforcing run.
    public static let unindexedScanLimit = 10_000

    /// Refuses, before the run lock and any change, to enforce while a relation or child with no
    /// index to serve it would scan a table of more than `unindexedScanLimit` rows for every record
    /// (a Znuny database of 200,000 tickets without the two indexes `check` advises had not finished
    /// planning after 300 s): the message names each `CREATE INDEX` to run. `allowUnindexed`
    /// enforces anyway; a small table is scanned without asking (the scan costs less than the probe).
    func refuseUnindexedScans() async throws {
        guard !allowUnindexed, !resolved.unindexedScans.isEmpty else { return }
        let tables = Array(Set(resolved.unindexedScans.map(\.table))).sorted()
        let rows = try await store.read { session in try tables.map { try session.rowCount(table: $0) } }
        let large = Dictionary(uniqueKeysWithValues: zip(tables, rows).filter { $0.1 > Self.unindexedScanLimit })
        let scans = resolved.unindexedScans.filter { large[$0.table] != nil }
        guard !scans.isEmpty else { return }
        let lines = scans.map {
            "\($0.location): \($0.what) scans `\($0.table)` (\(large[$0.table]!) rows) for every record; \($0.remedy)"
        }
        throw EnforcementError.unindexedScans(lines)
    }

    func refuseIfClockWentBack(now: Date) async throws {
        if let last = try await store.read({ try $0.lastCompletedRunTime() }), now < last {
            throw EnforcementError.clockWentBack(now: now, last: last)
        }
    }

    /// The report of a run refused before any change (safety limit, lock, clock, plan mismatch),
    /// with the planned figures when the safety limit stopped it; nil for other failures.
    public func refusedReport(for failure: EnforcementError, mode: RunReport.Mode, now: Date) -> RunReport? {
        guard [.safetyLimit, .refused, .locked].contains(failure.kind) else { return nil }
        var tallies: [RuleTally] = []
        if case .safetyLimit(_, let planned) = failure { tallies = planned }
        let started = Date()
        return context.report(
            runID: RunID.make(at: started), mode: mode, status: .refused, message: failure.description,
            now: now, startedAt: started, finishedAt: started, rules: tallies)
    }
}
