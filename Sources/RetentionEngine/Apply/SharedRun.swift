import Foundation
import RetentionCore
import RetentionStore

/// The plan of a shared run, as workers read it back from the database.
struct SharedPlan: Codable, Sendable {
    var header: PlanDocument.Header
    var trailer: PlanDocument.Trailer
}

extension Enforcer {
    /// `retentiond run --worker` (PostgreSQL): several processes share one run's batches.
    ///
    /// The process that takes the run lock plans, checks the safety limits on the whole plan, opens
    /// the run and queues the plan, batch by batch; the others wait for that run — for as long as the
    /// lock's holder works, with no fixed limit: when it releases the lock without opening a run
    /// (a plain `run`, or a planner that finished), the waiting worker takes the lock and plans —
    /// and join it as soon as it opens, claiming batches while the queue is still being filled.
    /// All of them claim batches until the queue is empty and filled; the planner then waits for
    /// the batches still in flight, writes `run-completed` and closes the run. Each worker reports
    /// what it did; the planner's report also carries the plan's figures.
    public func runAsWorker(now: Date, allowMore: Bool, stop: StopRequest = StopRequest()) async throws -> RunReport {
        guard let queue = store as? any WorkQueueStore else {
            throw EnforcementError.workersNeedASharedDatabase()
        }
        guard key != nil else { throw EnforcementError.noAuditKeyLoaded() }
        // A batch's copy into the archive and its pending state are settled by the process that
        // made them; a worker's start would complete another's batch still under way.
        guard policy.archivingRules.isEmpty else {
            throw EnforcementError.workersCannotArchive()
        }
        try await refuseUnindexedScans()
        let started = Date()
        let policyHash = policy.hash
        var lock: (any RunLockHandle)?
        var found: (id: String, plan: Data, filling: Bool)?
        var waiting = false
        while lock == nil && found == nil {
            if stop.isRequested {
                throw EnforcementError.stoppedWhileWaitingToJoin()
            }
            do {
                lock = try await store.acquireRunLock()
            } catch RunLocked.held {
                found = try await queue.readQueue { try $0.openRun(policyHash: policyHash) }
                if found == nil {
                    if !waiting {
                        logger.notice("waiting for the run that holds the lock to open a shared run, or to finish")
                    }
                    waiting = true
                    try await Task.sleep(for: .milliseconds(200))
                }
            }
        }
        if let lock {
            return try await lock.holding {
                try await workShared(
                    lock: lock, found: nil, queue: queue, now: now, allowMore: allowMore, stop: stop, started: started)
            }
        }
        return try await workShared(
            lock: nil, found: found, queue: queue, now: now, allowMore: allowMore, stop: stop, started: started)
    }

    /// The shared run, once this worker holds the lock (it plans, or resumes a run left open) or
    /// found a run to join.
    private func workShared(
        lock: (any RunLockHandle)?, found: (id: String, plan: Data, filling: Bool)?, queue: any WorkQueueStore,
        now: Date, allowMore: Bool, stop: StopRequest, started: Date
    ) async throws -> RunReport {
        let policyHash = policy.hash
        let runID: String
        let plan: SharedPlan
        if lock != nil {
            try await anchor.check()
            await analyzeTablesWithoutStatistics()
            try await queue.queueTransaction { session in
                try session.prepareToolTables()
                if !policy.statisticsRules.isEmpty { try session.prepareStatisticsTable(policy.statisticsTable) }
                try session.prepareWorkQueue()
            }
            try await applier(runID: "marks").completeMarks()
            try await applier(runID: "ledger").syncLedger()
            // A run an older version opened queues records in a form this one cannot claim: what
            // its workers did stays done, the rest is planned again.
            try await queue.queueTransaction { try $0.closeRunsOfOtherQueueFormats() }
            var open = try await queue.readQueue { try $0.openRun(policyHash: policyHash) }
            if let stale = open, stale.filling {
                // Its planner let the lock go before enqueuing the whole plan: it stopped. What its
                // joiners did stays done; the rest is planned again.
                logger.notice(
                    "closing a shared run whose planner stopped while filling its queue; planning again",
                    metadata: ["run": "\(stale.id)"])
                try await queue.queueTransaction { try $0.closeRun(id: stale.id) }
                open = nil
            }
            if let open {
                runID = open.id
                plan = try PlanDocument.decoder().decode(SharedPlan.self, from: open.plan)
                logger.notice("resuming an open worker run", metadata: ["run": "\(runID)"])
            } else {
                try await refuseIfClockWentBack(now: now)
                let accepted = try await PolicyChangeGuard(enforcer: self).check(
                    now: now, accepted: acceptedPolicyChange)
                runID = RunID.make(at: Date())
                let planPath = settings.stateDirectory + "/plans/\(runID).plan"
                defer { unlink(planPath) }
                plan = try await planAndOpen(
                    runID: runID, now: now, allowMore: allowMore, queue: queue, planPath: planPath,
                    policyChange: accepted)
                try await fill(runID: runID, from: planPath, queue: queue)
            }
        } else if let found {
            runID = found.id
            plan = try PlanDocument.decoder().decode(SharedPlan.self, from: found.plan)
        } else {
            throw EnforcementError.workerWithNothingToJoin()
        }

        // Work through the queue. A joiner's report counts only what it did.
        var tallies = plan.trailer.rules
        if lock == nil {
            for i in tallies.indices {
                tallies[i].pastCutoff = 0
                tallies[i].due = 0
                tallies[i].exempt = [:]
                tallies[i].keptByRule = nil
                tallies[i].alreadyDone = 0
                tallies[i].review = []
            }
        }
        let applier = try applier(runID: runID)
        var outcome = Applier.Outcome(tallies: tallies)
        var head = HeadRecorder(anchor: applier.anchor, interval: applier.headInterval)
        do {
            let works = try applier.batchWorks(planNow: plan.header.now)
            let deadline = pacing.deadline(from: .now)
            var batches = 0
            // A joiner may find the queue empty while the planner is still filling it.
            var filling = lock == nil
            while true {
                if stop.isRequested { throw StopRequest.Stopped() }
                // Every run makes progress: the first batch always starts; the pause comes before the check.
                if batches > 0 {
                    if let pause = pacing.pause { try await Task.sleep(for: pause) }
                    if let deadline, ContinuousClock.now >= deadline { throw Pacing.TimeLimitReached() }
                }
                batches += 1
                // A batch rolled back by a deadlock goes back to the queue with its claim, and is claimed again.
                let claimed = try await ConflictRetry.run(logger: logger) {
                    try await queue.queueTransaction { session -> (String, BatchOutcome)? in
                        guard let batch = try session.claim(runID: runID) else { return nil }
                        guard let work = works[batch.rule] else {
                            throw EnforcementError.sharedRunNamesUnknownRule(batch.rule)
                        }
                        return (batch.rule, try work.apply(in: session, keys: batch.keys, lock: lock))
                    }
                }
                guard let (rule, batch) = claimed else {
                    if !filling { break }
                    // Claim again even once filled: the last entries came before the flag.
                    filling = try await stillFilling(runID: runID, queue: queue)
                    continue
                }
                if let index = outcome.tallies.firstIndex(where: { $0.rule == rule }),
                    let action = works[rule]?.rule.action
                {
                    outcome.tallies[index].record(batch, action: action)
                }
                try head.committed(batch.position)
            }
            try head.flush()
            if lock != nil {
                // The planner closes the run once every claimed batch has committed.
                while try await queue.readQueue({ try $0.remaining(runID: runID) }) > 0 {
                    if stop.isRequested { throw StopRequest.Stopped() }
                    try await Task.sleep(for: .milliseconds(100))
                }
                try await applier.recordCompletion(
                    wallClock: now, planNow: plan.header.now, mode: "workers", tallies: nil, failures: [],
                    closing: queue)
            }
        } catch {
            head.flushAfter(error, logger: logger)
            outcome.stopped(
                by: error, logger: logger, runID: runID,
                resumeHint: error is StopRequest.Stopped
                    ? "the shared run stays open for the other workers and the next run"
                    : "the next worker run finishes the work")
        }
        await applier.syncLedgerAfterChanges()
        let message =
            outcome.message.map { "worker: \($0)" }
            ?? (lock == nil ? "worker joined the shared run" : "planned and worked the shared run")
        return context.report(
            runID: runID, mode: .run, status: outcome.status, message: message, now: plan.header.now,
            startedAt: started, rules: outcome.tallies, failure: outcome.failure)
    }

    /// Plans to `planPath`, checks the safety limits on the whole plan, then opens the run, still
    /// empty: workers join it while `fill` queues its batches.
    /// `policyChange`: a change of policy the operator accepted (`PolicyChangeGuard`), recorded
    /// once the safety limits let the run go ahead, with the policy's copy.
    func planAndOpen(
        runID: String, now: Date, allowMore: Bool, queue: any WorkQueueStore, planPath: String,
        policyChange: PolicyChangeGuard.Accepted? = nil
    ) async throws -> SharedPlan {
        let writer = try PlanWriter(path: planPath)
        _ = try await planning.tallies(now: now, planID: runID, writer: writer, detail: nil)
        let applier = try applier(runID: runID)
        let (header, trailer) = try applier.checkedPlan(writtenBy: writer)
        try applier.checkSafetyLimits(trailer.rules, allowMore: allowMore)
        try await PolicyChangeGuard(enforcer: self).record(
            policyChange, runID: runID, in: store, chain: applier.chain, anchor: applier.anchor)
        let shared = SharedPlan(header: header, trailer: trailer)
        let data = try PlanDocument.encoder().encode(shared)
        let policyHash = policy.hash
        try await queue.queueTransaction { try $0.openRun(id: runID, policyHash: policyHash, plan: data) }
        return shared
    }

    /// Queues the plan at `planPath` in batches of the policy's `batch_size` (one rule's records
    /// each), about `fillChunk` records per transaction, each chunk claimable once committed; then
    /// marks the run filled.
    func fill(runID: String, from planPath: String, queue: any WorkQueueStore) async throws {
        let plan = PlanBatches(reader: try PlanReader(path: planPath), size: settings.batchSize)
        var chunk: [QueuedBatch] = []
        var records = 0
        var seq: Int64 = 0
        func flush() async throws {
            let batches = chunk
            let first = batches.first?.seq == 1
            chunk.removeAll(keepingCapacity: true)
            records = 0
            try await queue.queueTransaction { session in
                try session.enqueue(runID: runID, batches: batches)
                if first { try session.analyzeQueue() }
            }
        }
        while let batch = try plan.next() {
            seq += 1
            chunk.append(QueuedBatch(seq: seq, rule: batch.rule, keys: batch.keys))
            records += batch.keys.count
            if records >= Self.fillChunk { try await flush() }
        }
        try await flush()
        try await queue.queueTransaction { try $0.finishFilling(id: runID) }
    }

    /// Records queued per transaction: large enough that filling costs little next to the
    /// batches, small enough that joiners start within a moment of the run opening.
    static let fillChunk = 10_000

    /// Called by a joiner that found the queue empty: whether the run is still being filled (after
    /// a short pause, to claim again). A run left filling by a planner that no longer holds the
    /// lock will never be filled: this worker closes it and stops.
    private func stillFilling(runID: String, queue: any WorkQueueStore) async throws -> Bool {
        guard try await queue.readQueue({ try $0.runFilling(id: runID) }) == true else { return false }
        let closed: Bool
        do {
            closed = try await store.withRunLock { _ in
                // The planner may have finished the run between the two reads.
                guard try await queue.readQueue({ try $0.runFilling(id: runID) }) == true else { return false }
                try await queue.queueTransaction { try $0.closeRun(id: runID) }
                return true
            }
        } catch RunLocked.held {
            try await Task.sleep(for: .milliseconds(100))
            return true
        }
        guard closed else { return false }
        throw EnforcementError.plannerStoppedFilling(runID: runID)
    }
}
