import Foundation
import Logging
import RetentionCore
import RetentionStore

/// Applies planned records in batches under the run lock: the only place data changes. `run`,
/// `apply` and the workers of a shared run all go through it — batches, the isolation of a record
/// the database refuses, and the `run-completed` entry that closes a run.
struct Applier: Sendable {
    let resolved: ResolvedPolicy
    let settings: RunSettings
    let store: any RecordStore
    let key: AuditKey
    let actor: String
    let runID: String
    let logger: Logger
    var pacing = Pacing()
    var progress = ProgressOutput.log
    var headLogLevel = Logger.Level.notice
    var headInterval = HeadRecorder.defaultInterval
    /// The archive the policy's archive rules move records into (nil when it has none).
    var archive: ArchiveTarget?

    var policy: Policy { resolved.policy }
    var chain: AuditChain { AuditChain(key: key) }
    var anchor: AuditAnchor { AuditAnchor(store: store, stateDirectory: settings.stateDirectory) }
    var ledger: ErasureLedger { ErasureLedger(stateDirectory: settings.stateDirectory, key: key) }

    /// Brings the erasure ledger up to the trail: before a run changes anything (it refuses then
    /// when a restore undid erasures the ledger records and they were not re-applied), and after.
    func syncLedger() async throws {
        try await ledger.sync(from: store, keep: policy.ledgerKeep, now: Date(), calendar: policy.calendar)
    }

    /// Brings the erasure ledger up to the trail before a run's batches, then copies each batch's
    /// entries as it commits (`LedgerFollower`); `syncLedgerAfterChanges(following:)` seals them.
    func followLedger() async throws -> LedgerFollower {
        try await LedgerFollower.start(
            ledger, store: store, keep: policy.ledgerKeep, now: Date(), calendar: policy.calendar, logger: logger)
    }

    /// After the changes: a ledger that cannot be written is logged, not a failed run (the changes
    /// are committed and audited; the next run copies them into the ledger before changing anything).
    /// `follower`: the ledger followed the batches, and only seals what they added.
    func syncLedgerAfterChanges(following follower: LedgerFollower? = nil) async {
        do {
            if let follower {
                try await follower.finish(keep: policy.ledgerKeep, now: Date(), calendar: policy.calendar)
            } else {
                try await syncLedger()
            }
        } catch {
            logger.error(
                "the erasure ledger could not be brought up to date; the next run copies what it misses from the trail",
                metadata: [
                    "ledger": "\(ledger.path)", "error": "\(error)",
                ])
        }
    }

    /// A plan file, checked before anything changes: whole (it has its trailer), made from this
    /// policy, for this database and its current schema.
    func checkedPlan(at path: String) throws -> (header: PlanDocument.Header, trailer: PlanDocument.Trailer) {
        let scan = try PlanReader(path: path)
        guard case .header(let header)? = try scan.next(), header.format == PlanDocument.format else {
            throw EnforcementError.notAPlan(path: path)
        }
        var trailer: PlanDocument.Trailer?
        while let line = try scan.next() {
            if case .trailer(let t) = line { trailer = t }
        }
        guard let trailer, trailer.complete else {
            throw EnforcementError.planCutShort(path: path)
        }
        return try checked(header, trailer)
    }

    /// The plan this process just wrote (`writer`), closed: its header and trailer as written, checked
    /// like a saved plan's but without reading the file through again.
    func checkedPlan(writtenBy writer: PlanWriter) throws -> (
        header: PlanDocument.Header, trailer: PlanDocument.Trailer
    ) {
        guard let header = writer.header, let trailer = writer.trailer, trailer.complete else {
            throw EnforcementError.planCutShort(path: writer.path)
        }
        return try checked(header, trailer)
    }

    /// Refuses a plan made from another policy or for another database or schema.
    private func checked(_ header: PlanDocument.Header, _ trailer: PlanDocument.Trailer) throws -> (
        header: PlanDocument.Header, trailer: PlanDocument.Trailer
    ) {
        var trailer = trailer
        // Child rows a dry run predicted give way to those the batches actually change.
        for i in trailer.rules.indices {
            trailer.rules[i].childRowsPurged = [:]
            trailer.rules[i].childRowsAnonymised = [:]
        }
        guard header.policyHash == policy.hash else {
            throw EnforcementError.planOfAnotherPolicy(planHash: header.policyHash, policyHash: policy.hash)
        }
        guard header.database == store.location, header.schemaFingerprint == resolved.schema.fingerprint else {
            throw EnforcementError.planOfAnotherDatabase(database: header.database)
        }
        return (header, trailer)
    }

    /// Refuses a plan over its rules' safety limits unless the operator allowed more.
    func checkSafetyLimits(_ tallies: [RuleTally], allowMore: Bool) throws {
        let violations = SafetyCheck.violations(tallies, policy: policy)
        guard !violations.isEmpty else { return }
        guard allowMore else { throw EnforcementError.safetyLimit(violations, tallies) }
        logger.warning("safety limits overridden with --allow-more", metadata: ["violations": "\(violations.count)"])
    }

    /// Before the first batch: the trail still extends its recorded head, and the tool's tables exist.
    /// Throws (nothing changed) rather than reporting a run.
    func prepare() async throws {
        try await anchor.check()
        try await resolved.refuseAmbiguousKeys(in: store)
        // What a run writes after its first change — the chain head after each batch, then its
        // reports — must be writable before it: a run that changed records and then could not
        // record them would leave its head behind its trail.
        let unwritable = [
            StateFiles.writeProblem(directory: settings.stateDirectory, holding: "the audit chain head and plans"),
            StateFiles.writeProblem(directory: settings.reportsDirectory, holding: "reports"),
        ].compactMap { $0 }
        if !unwritable.isEmpty {
            throw EnforcementError.stateNotWritable(unwritable)
        }
        try await store.transaction { [policy] session in
            try session.prepareToolTables()
            if !policy.statisticsRules.isEmpty { try session.prepareStatisticsTable(policy.statisticsTable) }
        }
        try await completeMarks()
        if let archive, !policy.archivingRules.isEmpty {
            try await ArchiveMove.prepare(resolved, target: archive, live: store, logger: logger)
        }
    }

    /// How `rule`'s batches count what they erase; nil for a rule without statistics.
    func statisticsWork(_ rule: RetentionRule) -> StatisticsWork? {
        guard let statistics = rule.statistics else { return nil }
        return StatisticsWork(
            rule: rule.id, statistics: statistics, table: policy.statisticsTable,
            clock: resolved.rule(rule).shape.clock,
            combination: rule.clock.combination, storageCalendar: policy.storageCalendar, calendar: policy.calendar)
    }

    /// At the end of a completed run: each rule's periods that are over at `planNow` are closed
    /// (their small groups merged), one transaction per rule, the chain locked as batches lock it.
    func closeStatisticsPeriods(planNow: Date) async throws {
        for rule in policy.statisticsRules {
            guard let work = statisticsWork(rule) else { continue }
            let cutoff = try Cutoff(rule: rule, policy: policy, now: planNow)
            try await store.transaction { session in
                try session.lockAuditChain()
                try work.closePeriods(before: cutoff, in: session)
            }
        }
    }

    /// What applying a plan did, and why it stopped if it did.
    struct Outcome {
        var tallies: [RuleTally]
        var failures: [RecordFailure] = []
        var status = RunReport.Status.complete
        var message: String?
        var failure: FailureKind?
    }

    /// Applies every entry of the plan at `path`, batch by batch; a failure or a stop ends the
    /// run at a batch boundary (committed batches stay) and is reported, not thrown.
    func applyPlan(
        at path: String, header: PlanDocument.Header, tallies planned: [RuleTally], lock: any RunLockHandle,
        stop: StopRequest, ledger: LedgerFollower? = nil
    ) async -> Outcome {
        // Two variables, not one Outcome: a batch updates both through inout at once.
        var tallies = planned
        var failures: [RecordFailure] = []
        var stoppedBy: Error?
        let deadline = pacing.deadline(from: .now)
        var meter = ProgressMeter(output: progress, logger: logger, runID: runID)
        defer { meter.finish() }
        var head = HeadRecorder(anchor: anchor, interval: headInterval)
        // Each committed batch's entries are copied into the erasure ledger by a child task, in
        // order, while the next batch runs.
        let (committed, toLedger) = AsyncStream.makeStream(of: [AuditEntry].self)
        async let ledgerCopies: Void = { for await entries in committed { await ledger?.committed(entries) } }()
        do {
            let works = try batchWorks(planNow: header.now)
            let plan = PlanBatches(
                reader: try PlanReader(path: path), size: settings.batchSize,
                tables: works.mapValues(\.table), chain: chain)
            var batches = 0
            var next = try plan.next()
            while let batch = next {
                // The next batch is read (and its references hashed) while this one's transaction
                // runs, in a child task awaited below (or cancelled and awaited when this one throws).
                async let following = plan.next()
                if stop.isRequested { throw StopRequest.Stopped() }
                // Every run makes progress: the first batch always starts; the pause comes before the check.
                if batches > 0 {
                    if let pause = pacing.pause { try await Task.sleep(for: pause) }
                    if let deadline, ContinuousClock.now >= deadline { throw Pacing.TimeLimitReached() }
                }
                batches += 1
                guard let index = tallies.firstIndex(where: { $0.rule == batch.rule }), let work = works[batch.rule]
                else {
                    throw EnforcementError.planNamesUnknownRule(batch.rule)
                }
                try await applyIsolating(
                    work, keys: batch.keys[...], references: batch.references, lock: lock,
                    tally: &tallies[index], failures: &failures, head: &head, ledger: ledger == nil ? nil : toLedger)
                let t = tallies[index]
                meter.update(
                    rule: t.rule, done: t.flagged + t.anonymised + t.purged + t.stale + t.gone + t.takenTotal,
                    due: t.due)
                next = try await following
            }
            try head.flush()
        } catch {
            head.flushAfter(error, logger: logger)
            stoppedBy = error
        }
        toLedger.finish()
        await ledgerCopies
        var outcome = Outcome(tallies: tallies, failures: failures)
        if let stoppedBy {
            outcome.stopped(by: stoppedBy, logger: logger, runID: runID, resumeHint: "the next run finishes the work")
        }
        return outcome
    }

    /// Applies `keys` as one batch (one transaction: re-check, change, audit). When the database
    /// refuses the batch (a constraint, a trigger), each half is applied again, down to single
    /// records, so one record cannot stop the run: it is recorded as failed and the rest goes on.
    /// A batch whose every record fails is not a record's problem (a missing grant, a broken
    /// table): the run stops there, naming the rule.
    func applyIsolating(
        _ work: BatchWork, keys: ArraySlice<RecordKey>, references: [RecordKey: String] = [:], lock: any RunLockHandle,
        tally: inout RuleTally, failures: inout [RecordFailure], head: inout HeadRecorder,
        ledger: AsyncStream<[AuditEntry]>.Continuation? = nil
    ) async throws {
        let before = failures.count
        do {
            let outcome = try await applyBatch(work, keys: Array(keys), references: references, lock: lock)
            tally.record(outcome, action: work.rule.action)
            try head.committed(outcome.position)
            ledger?.yield(outcome.entries)
            return
        } catch let refused as StoreFailure {
            if keys.count == 1, let key = keys.first {
                let reference = references[key] ?? work.chain.reference(table: work.table, key: key)
                failures.append(RecordFailure(rule: work.rule.id, reference: reference, reason: refused.message))
                logger.error(
                    "record refused by the database; the run goes on",
                    metadata: [
                        "rule": "\(work.rule.id)", "reference": "\(reference)", "error": "\(refused.message)",
                    ])
                return
            }
            let middle = keys.startIndex + keys.count / 2
            try await applyIsolating(
                work, keys: keys[..<middle], references: references, lock: lock, tally: &tally, failures: &failures,
                head: &head, ledger: ledger)
            try await applyIsolating(
                work, keys: keys[middle...], references: references, lock: lock, tally: &tally, failures: &failures,
                head: &head, ledger: ledger)
            if failures.count - before == keys.count {
                throw StoreFailure.everyRecordRefused(rule: work.rule.id, table: work.table, failure: refused)
            }
        }
    }

    /// One batch of `work`: its transaction (re-check, change, audit), run again when the database
    /// broke a deadlock. An archive rule's batch is copied into the archive first (committed there),
    /// and the copies of the records the live batch did not delete are removed after it, whatever
    /// happened (`ArchiveMove`).
    func applyBatch(
        _ work: BatchWork, keys batch: [RecordKey], references: [RecordKey: String] = [:],
        lock: (any RunLockHandle)?
    ) async throws -> BatchOutcome {
        let copies = try await work.archive?.copy(batch, from: store)
        let outcome: BatchOutcome
        do {
            outcome = try await ConflictRetry.run(logger: logger) {
                try await store.transaction {
                    try work.apply(in: $0, keys: batch, references: references, lock: lock, copies: copies)
                }
            }
        } catch {
            // Whether the live batch committed is asked of the live database itself (a lost
            // connection may hide a commit): only the copies of records still there are removed.
            // When it cannot say, the records stay pending and the next run completes them.
            if let archive = work.archive,
                let still = try? await store.read({ [shape = archive.shape] in
                    try $0.existingKeys(table: shape.table, keyColumns: shape.keyColumns, keys: batch)
                })
            {
                try? await archive.settle(batch, removing: Array(still))
            }
            throw error
        }
        if let archive = work.archive {
            let moved = Set(outcome.actedKeys)
            try await archive.settle(batch, removing: batch.filter { !moved.contains($0) })
        }
        return outcome
    }

    /// Everything each rule's batches need, prepared once, outside any transaction.
    func batchWorks(planNow: Date) throws -> [String: BatchWork] {
        let chain = self.chain
        return Dictionary(
            uniqueKeysWithValues: try resolved.rules.map { resolvedRule in
                let (rule, subject) = (resolvedRule.rule, resolvedRule.subject)
                var work = BatchWork(
                    rule: rule, query: try resolved.query(for: rule, now: planNow, toolTablesExist: true),
                    shape: resolvedRule.shape, table: resolvedRule.table, keyColumns: subject.key.map(\.value),
                    calendar: policy.calendar, actor: actor, policyHash: policy.hash, pseudonymKey: key.pseudonymKey,
                    runID: runID, chain: chain)
                work.markingRules = markingRules.filter { resolved.rule($0).table == work.table }.map(\.id)
                work.statistics = statisticsWork(rule)
                if rule.archives {
                    guard let archive else {
                        throw EnforcementError.noArchiveOpened(for: rule.id)
                    }
                    work.archive = ArchiveMove(shape: resolved.archiveShape(of: rule), target: archive)
                }
                work.query.statisticsColumns = rule.statistics?.columns ?? []
                // `prepare` completed every marking rule's marks before the first batch.
                work.query.excludeDone = rule.action.auditAction != .purge
                return (rule.id, work)
            })
    }

    /// The rules that mark what they did (flag, anonymise): their queries leave marked records out.
    var markingRules: [RetentionRule] { policy.rules.filter { $0.action.auditAction != .purge } }

    /// Completes the marks of every marking rule that has none yet: a rule that never acted is
    /// complete at once; one that acted before marks existed (an older version) has the records
    /// its trail names marked first — once, by reading its candidates and looking each up.
    func completeMarks() async throws {
        let complete = try await store.read { [ids = markingRules.map(\.id)] in
            try $0.rulesWithCompleteMarks(among: ids)
        }
        let chain = self.chain
        for rule in markingRules where !complete.contains(rule.id) {
            let action = rule.action.auditAction
            if try await store.read({ try $0.hasAuditEntries(ruleID: rule.id, action: action) }) {
                logger.notice(
                    "marking the records rule `\(rule.id)` already processed (once: its trail predates the marks)")
                let subject = resolved.rule(rule).subject
                let table = subject.table.value
                let keyColumns = subject.key.map(\.value)
                let query = try resolved.query(for: rule, now: Date(), toolTablesExist: true)
                var after: RecordKey?
                repeat {
                    let page = after
                    after = try await store.transaction { session -> RecordKey? in
                        let rows = try session.candidates(query, after: page, limit: 2000)
                        let refs = Dictionary(
                            rows.map { (chain.reference(table: table, key: $0.candidate.key), $0.candidate.key) },
                            uniquingKeysWith: { a, _ in a })
                        let done = try session.auditedReferences(
                            ruleID: rule.id, action: action, references: Array(refs.keys))
                        try session.markDone(
                            ruleID: rule.id, table: table, keyColumns: keyColumns, keys: done.compactMap { refs[$0] })
                        return rows.count == 2000 ? rows.last?.candidate.key : nil
                    }
                } while after != nil
            }
            try await store.transaction { try $0.completeMarks(ruleID: rule.id) }
        }
    }

    /// The `run-completed` entry that closes a run: its clocks, and per rule what the run did when
    /// `tallies` are given. A shared run is closed on its queue in the same transaction.
    func recordCompletion(
        wallClock: Date, planNow: Date, mode: String, tallies: [RuleTally]?, failures: [RecordFailure],
        closing queue: (any WorkQueueStore)? = nil
    ) async throws {
        try await closeStatisticsPeriods(planNow: planNow)
        let f = ISO8601DateFormatter()
        var detail = [
            "now": f.string(from: wallClock), "plan_now": f.string(from: planNow), "mode": mode,
            "head_file": StateFiles.headFileIdentity(stateDirectory: settings.stateDirectory),
        ]
        let failed = failures.reduce(into: [String: Int]()) { $0[$1.rule, default: 0] += 1 }
        for t in tallies ?? [] {
            detail["rule:\(t.rule)"] =
                "due=\(t.due) flagged=\(t.flagged) anonymised=\(t.anonymised) purged=\(t.purged) exempt=\(t.exemptTotal) stale=\(t.stale) gone=\(t.gone)"
                + (failed[t.rule].map { " failed=\($0)" } ?? "")
        }
        let draft = AuditDraft(
            runID: runID, actor: actor, policyHash: policy.hash, action: .runCompleted, detail: detail)
        let writer = AuditWriter(chain: chain)
        let runID = self.runID
        let position: TrailPosition
        if let queue {
            position = try await queue.queueTransaction { session in
                let position = try writer.append([draft], in: session)
                try session.closeRun(id: runID)
                return position
            }
        } else {
            position = try await store.transaction { try writer.append([draft], in: $0) }
        }
        try anchor.record(position)
        logger.log(
            level: headLogLevel, "audit head recorded",
            metadata: ["head": "\(position.head.seq)", "mac": "\(position.head.mac)", "genesis": "\(position.genesis)"])
    }
}
