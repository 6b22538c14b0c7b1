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
    /// The process that takes the run lock plans, checks the safety limits, enqueues every planned
    /// record and opens the run; the others wait for that run and join it — for as long as the
    /// lock's holder works, with no fixed limit: when it releases the lock without opening a run
    /// (a plain `run`, or a planner that finished), the waiting worker takes the lock and plans.
    /// All of them claim batches until the queue is empty; the planner then waits for the batches
    /// still in flight, writes `run-completed` and closes the run. Each worker reports what it did;
    /// the planner's report also carries the plan's figures.
    public func runAsWorker(now: Date, allowMore: Bool, stop: StopRequest = StopRequest()) async throws -> RunReport {
        guard let queue = store as? any WorkQueueStore else {
            throw EnforcementError.failed("--worker needs a PostgreSQL database; on SQLite one run at a time is the only mode")
        }
        guard key != nil else { throw EnforcementError.auditKey("no audit key loaded") }
        let started = Date()
        let policyHash = policy.hash
        var lock: (any RunLockHandle)?
        var found: (id: String, plan: Data)?
        var waiting = false
        while lock == nil && found == nil {
            if stop.isRequested {
                throw EnforcementError.locked("stopped on request while waiting to join the run that holds the lock; nothing was changed")
            }
            do {
                lock = try await store.acquireRunLock()
            } catch RunLocked.held {
                found = try await queue.readQueue { try $0.openRun(policyHash: policyHash) }
                if found == nil {
                    if !waiting { logger.notice("waiting for the run that holds the lock to open a shared run, or to finish") }
                    waiting = true
                    try await Task.sleep(for: .milliseconds(200))
                }
            }
        }
        let runID: String
        let plan: SharedPlan
        if lock != nil {
            try await anchor.check()
            try await queue.queueTransaction { session in
                try session.prepareToolTables()
                try session.prepareWorkQueue()
            }
            try await applier(runID: "marks").completeMarks()
            if let open = try await queue.readQueue({ try $0.openRun(policyHash: policyHash) }) {
                runID = open.id
                plan = try PlanDocument.decoder().decode(SharedPlan.self, from: open.plan)
                logger.notice("resuming an open worker run", metadata: ["run": "\(runID)"])
            } else {
                try await refuseIfClockWentBack(now: now)
                runID = RunID.make(at: Date())
                plan = try await planAndEnqueue(runID: runID, now: now, allowMore: allowMore, queue: queue)
            }
        } else if let found {
            runID = found.id
            plan = try PlanDocument.decoder().decode(SharedPlan.self, from: found.plan)
        } else {
            throw EnforcementError.failed("a worker has neither the lock nor a run to join")
        }

        // Work through the queue. A joiner's report counts only what it did.
        var tallies = plan.trailer.rules
        if lock == nil {
            for i in tallies.indices {
                tallies[i].pastCutoff = 0
                tallies[i].due = 0
                tallies[i].exempt = [:]
                tallies[i].alreadyDone = 0
                tallies[i].review = []
            }
        }
        let applier = try applier(runID: runID)
        var outcome = Applier.Outcome(tallies: tallies)
        let heldLock = lock
        do {
            let works = try applier.batchWorks(planNow: plan.header.now)
            let batchSize = policy.batchSize
            let deadline = pacing.deadline(from: .now)
            var batches = 0
            while true {
                if stop.isRequested { throw StopRequest.Stopped() }
                // Every run makes progress: the first batch always starts; the pause comes before the check.
                if batches > 0 {
                    if let pause = pacing.pause { try await Task.sleep(for: pause) }
                    if let deadline, ContinuousClock.now >= deadline { throw Pacing.TimeLimitReached() }
                }
                batches += 1
                let claimed = try await queue.queueTransaction { session -> (String, BatchOutcome)? in
                    guard let (rule, keys) = try session.claim(runID: runID, limit: batchSize) else { return nil }
                    guard let work = works[rule] else { throw EnforcementError.refused("the shared run names rule `\(rule)`, which this policy does not have") }
                    return (rule, try work.apply(in: session, keys: keys, lock: heldLock))
                }
                guard let (rule, batch) = claimed else { break }
                if let index = outcome.tallies.firstIndex(where: { $0.rule == rule }), let action = works[rule]?.rule.action {
                    outcome.tallies[index].record(batch, action: action)
                }
                try applier.anchor.record(batch.position)
            }
            if lock != nil {
                // The planner closes the run once every claimed batch has committed.
                while try await queue.readQueue({ try $0.remaining(runID: runID) }) > 0 {
                    if stop.isRequested { throw StopRequest.Stopped() }
                    try await Task.sleep(for: .milliseconds(100))
                }
                try await applier.recordCompletion(wallClock: now, planNow: plan.header.now, mode: "workers", tallies: nil, failures: [],
                                                   closing: queue)
            }
        } catch {
            outcome.stopped(by: error, logger: logger, runID: runID,
                            resumeHint: error is StopRequest.Stopped ? "the shared run stays open for the other workers and the next run" : "the next worker run finishes the work")
        }
        withExtendedLifetime(lock) {}
        let message = outcome.message.map { "worker: \($0)" } ?? (lock == nil ? "worker joined the shared run" : "planned and worked the shared run")
        return context.report(runID: runID, mode: .run, status: outcome.status, message: message, now: plan.header.now,
                              startedAt: started, rules: outcome.tallies, failure: outcome.failure)
    }

    /// Plans to a file, checks the safety limits, then enqueues every entry and opens the run.
    private func planAndEnqueue(runID: String, now: Date, allowMore: Bool, queue: any WorkQueueStore) async throws -> SharedPlan {
        let planPath = policy.stateDirectory + "/plans/\(runID).plan"
        defer { unlink(planPath) }
        _ = try await planning.tallies(now: now, planID: runID, writer: try PlanWriter(path: planPath), detail: nil)
        let reader = try PlanReader(path: planPath)
        guard case .header(let header)? = try reader.next() else { throw EnforcementError.failed("the plan just written has no header") }
        var batch: [(seq: Int64, rule: String, key: RecordKey)] = []
        var seq: Int64 = 0
        var trailer: PlanDocument.Trailer?
        func flush() async throws {
            let entries = batch
            batch.removeAll(keepingCapacity: true)
            try await queue.queueTransaction { try $0.enqueue(runID: runID, entries: entries) }
        }
        while let line = try reader.next() {
            switch line {
            case .entry(let entry):
                seq += 1
                batch.append((seq, entry.rule, entry.key))
                if batch.count >= 1000 { try await flush() }
            case .trailer(let t):
                trailer = t
            case .header:
                break
            }
        }
        guard let trailer else { throw EnforcementError.failed("the plan just written has no trailer") }
        let violations = SafetyCheck.violations(trailer.rules, policy: policy)
        if !violations.isEmpty && !allowMore {
            try await queue.queueTransaction { try $0.closeRun(id: runID) }
            throw EnforcementError.safetyLimit(violations, trailer.rules)
        }
        try await flush()
        let shared = SharedPlan(header: header, trailer: trailer)
        let data = try PlanDocument.encoder().encode(shared)
        let policyHash = policy.hash
        try await queue.queueTransaction { try $0.openRun(id: runID, policyHash: policyHash, plan: data) }
        return shared
    }
}
