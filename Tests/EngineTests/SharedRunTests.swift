import Foundation
import RetentionCore
import RetentionStore
import TestSupport
import Testing

@testable import RetentionEngine

/// `run --worker` on PostgreSQL: workers join a shared run as soon as it opens, while its planner
/// is still filling the queue — and a run whose planner stopped mid-fill is never taken for done.
/// The planner's steps are driven by hand here, so each state is reached for certain, not by timing.
@Suite(.timeLimit(.minutes(30))) struct SharedRunTests {
    static let total = 40

    /// A planner's first steps: the run lock (in `lock`: the planner is alive while it is held),
    /// the queue's tables, the whole plan checked and the run opened — still empty. Returns the
    /// run and the plan's batches (of the policy's 5 records) in plan order.
    func openedRun(_ f: CRMFixture, lock: inout (any RunLockHandle)?) async throws
        -> (queue: any WorkQueueStore, runID: String, batches: [QueuedBatch])
    {
        let planner = try await f.enforcer()
        let queue = try #require(planner.store as? any WorkQueueStore)
        lock = try await planner.store.acquireRunLock()
        try await queue.queueTransaction { session in
            try session.prepareToolTables()
            try session.prepareWorkQueue()
        }
        let runID = RunID.make(at: Date())
        let planPath = f.dir.appendingPathComponent("shared.plan").path
        let plan = try await planner.planAndOpen(
            runID: runID, now: CRMFixture.now, allowMore: false, queue: queue, planPath: planPath)
        #expect(plan.trailer.rules[0].due == Self.total)
        var batches: [QueuedBatch] = []
        let planned = PlanBatches(reader: try PlanReader(path: planPath), size: 5)
        while let batch = try planned.next() {
            batches.append(QueuedBatch(seq: Int64(batches.count + 1), rule: batch.rule, keys: batch.keys))
        }
        #expect(batches.count == Self.total / 5 && batches.allSatisfy { $0.keys.count == 5 })
        #expect(try await queue.readQueue { try $0.runFilling(id: runID) } == true)
        return (queue, runID, batches)
    }

    func left(_ f: CRMFixture) async throws -> Int { try await f.count("SELECT count(*) FROM contacts") }

    /// Starts a worker that joins the open run; `finished` is set when it returns.
    func joiner(_ f: CRMFixture, finished: Finished) -> Task<RunReport, Error> {
        Task {
            defer { finished.set() }
            return try await f.enforcer().runAsWorker(now: CRMFixture.now, allowMore: false)
        }
    }

    /// Waits (on the database) until the joiner has purged down to `count` records, or has returned.
    func waitUntil(_ f: CRMFixture, left count: Int, or finished: Finished) async throws {
        while try await left(f) > count, !finished.isSet { try await Task.sleep(for: .milliseconds(20)) }
    }

    @Test(arguments: [Backend.postgres, .mariadb]) func aWorkerJoinsARunWhileItsQueueIsStillBeingFilled(
        _ backend: Backend
    ) async throws {
        let f = try await CRMFixture(
            backend, schema: CRMPolicies.contacts(Self.total), policy: CRMPolicies.contactPurge, batchSize: 5)
        var lock: (any RunLockHandle)?
        let (queue, runID, batches) = try await openedRun(f, lock: &lock)
        let first = Array(batches[..<3])
        let rest = Array(batches[3...])
        try await queue.queueTransaction { try $0.enqueue(runID: runID, batches: first) }

        let finished = Finished()
        let joiner = joiner(f, finished: finished)
        // The joiner empties what is queued so far, then waits for the rest instead of leaving.
        try await waitUntil(f, left: Self.total - 15, or: finished)
        #expect(!finished.isSet, "the joiner waits while the run is filling")
        #expect(try await queue.readQueue { try $0.remaining(runID: runID) } == 0)
        try await queue.queueTransaction { session in
            try session.enqueue(runID: runID, batches: rest)
            try session.finishFilling(id: runID)
        }
        let report = try await joiner.value
        #expect(report.status == .complete, "\(report.message ?? "")")
        #expect(report.rules[0].purged == Self.total, "the joiner did the whole queue, before and after the fill ended")
        #expect(try await left(f) == 0)
        let purges = try await f.audit(action: "purge")
        #expect(
            purges.count == Self.total && Set(purges.map(\.subjectRef)).count == Self.total,
            "each record purged once, audited once")
        #expect(try await f.count("SELECT count(*) FROM retentiond_runs") == 1, "closing the run is the planner's")
        #expect(try await f.trail().verify().isValid)
        withExtendedLifetime(lock) {}
    }

    @Test(arguments: [Backend.postgres, .mariadb]) func aRunWhosePlannerStoppedMidFillIsClosedAndPlannedAgain(
        _ backend: Backend
    ) async throws {
        let f = try await CRMFixture(
            backend, schema: CRMPolicies.contacts(Self.total), policy: CRMPolicies.contactPurge, batchSize: 5)
        var lock: (any RunLockHandle)?
        let (queue, runID, batches) = try await openedRun(f, lock: &lock)
        let first = Array(batches[..<2])
        try await queue.queueTransaction { try $0.enqueue(runID: runID, batches: first) }
        #expect(lock != nil)
        lock = nil
        // The planner is gone (its lock with it): the next worker takes the lock, finds the run
        // half filled, and does not resume it as if it were whole.
        let report = try await f.enforcer().runAsWorker(now: CRMFixture.now, allowMore: false)
        #expect(report.status == .complete, "\(report.message ?? "")")
        #expect(report.rules[0].purged == Self.total)
        #expect(try await left(f) == 0)
        #expect(try await f.count("SELECT count(*) FROM retentiond_runs") == 0)
        #expect(try await f.count("SELECT count(*) FROM retentiond_batches") == 0)
        #expect(try await f.audit(action: "purge").count == Self.total)
        #expect(try await f.audit(action: "run-completed").count == 1)
        #expect(try await f.trail().verify().isValid)
    }

    @Test(arguments: [Backend.postgres, .mariadb]) func aJoinerWaitingOnAFillWhosePlannerStoppedClosesTheRunAndStops(
        _ backend: Backend
    ) async throws {
        let f = try await CRMFixture(
            backend, schema: CRMPolicies.contacts(Self.total), policy: CRMPolicies.contactPurge, batchSize: 5)
        var lock: (any RunLockHandle)?
        let (queue, runID, batches) = try await openedRun(f, lock: &lock)
        let first = Array(batches[..<2])
        try await queue.queueTransaction { try $0.enqueue(runID: runID, batches: first) }
        let finished = Finished()
        let joiner = joiner(f, finished: finished)
        try await waitUntil(f, left: Self.total - 10, or: finished)
        #expect(!finished.isSet, "the joiner waits while the run is filling")
        #expect(lock != nil)
        lock = nil  // the planner stops: its lock goes with its connection
        let report = try await joiner.value
        #expect(report.status == .incomplete)
        #expect(report.message?.contains("stopped before enqueuing its whole plan") == true, "\(report.message ?? "")")
        #expect(report.rules[0].purged == 10, "what it did stays done")
        #expect(try await left(f) == Self.total - 10)
        #expect(try await f.count("SELECT count(*) FROM retentiond_runs") == 0, "the half-filled run is closed")
        #expect(try await f.trail().verify().isValid)
        // The next worker plans what is left.
        let next = try await f.enforcer().runAsWorker(now: CRMFixture.now, allowMore: false)
        #expect(next.rules[0].purged == Self.total - 10)
        #expect(try await left(f) == 0)
    }

    /// Two workers whose batches are each a large share of their tables: InnoDB deletes a long
    /// key list by scanning, locking the other worker's rows on its way, and breaks the deadlock by
    /// rolling one batch back. That batch is claimed and run again: both workers finish, every
    /// record and child row is deleted once, audited once and counted once in the statistics.
    @Test(arguments: [Backend.postgres, .mariadb]) func twoWorkersWhoseBatchesAreALargeShareOfTheirTablesBothFinish(
        _ backend: Backend
    ) async throws {
        let total = 8000
        let schema =
            CRMPolicies.contacts(total) + [
                "CREATE TABLE notes (id INTEGER PRIMARY KEY, contact_id INTEGER NOT NULL REFERENCES contacts(id), body TEXT)",
                "CREATE INDEX notes_contact ON notes(contact_id)",
                "INSERT INTO notes SELECT id * 2, id, 'a' FROM contacts UNION ALL SELECT id * 2 + 1, id, 'b' FROM contacts",
            ]
        let policy =
            CRMPolicies.contactPurge
            + "\n        children:\n          - { table: notes, foreign_key: contact_id }\n        statistics: { period: year }\n"
        let f = try await CRMFixture(backend, schema: schema, policy: policy, batchSize: 1000)
        // Each worker waits for the other's row locks as long as it takes: the lock wait (10 s by
        // default) is PacingTests' subject, and a loaded machine can hold a batch up longer.
        let reports = try await withThrowingTaskGroup(of: RunReport.self) { group in
            for _ in 0..<2 {
                group.addTask {
                    try await f.enforcer(lockWait: .seconds(3600)).runAsWorker(now: CRMFixture.now, allowMore: false)
                }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        for report in reports { #expect(report.status == .complete, "\(report.message ?? "")") }
        #expect(try await left(f) == 0)
        #expect(try await f.count("SELECT count(*) FROM notes") == 0)
        let purges = try await f.audit(action: "purge")
        #expect(
            purges.count == total && Set(purges.map(\.subjectRef)).count == total,
            "each record purged once, audited once")
        let children = try await f.audit(action: "purge-children")
        let rows = try children.map { entry -> Int in
            let detail = try JSONDecoder().decode([String: String].self, from: Data(entry.detail.utf8))
            return Int(detail["rows"] ?? "") ?? 0
        }
        #expect(rows.reduce(0, +) == 2 * total, "each note's deletion audited once")
        // Both workers' batches add to the one row of 2019, one transaction at a time.
        #expect(
            try await f.rows("SELECT period, group_values, records, period_open FROM retentiond_statistics").map {
                $0.map(\.description)
            }
                == [["2019", "{}", "\(total)", "0"]], "each record counted once")
        #expect(try await f.trail().verify().isValid)
    }

    /// An older version queued one row per record (`retentiond_work`, no `queue_format`): its open
    /// run is not joined, but closed under the lock, and its records planned again.
    @Test func aRunOpenedByAnOlderVersionIsClosedAndPlannedAgain() async throws {
        let f = try await CRMFixture(
            .postgres, schema: CRMPolicies.contacts(Self.total), policy: CRMPolicies.contactPurge, batchSize: 5)
        let planner = try await f.enforcer()
        try await planner.store.transaction { try $0.prepareToolTables() }
        // The older version's tables, and a run it opened and filled with the first 10 records.
        try await f.sql([
            """
            CREATE TABLE retentiond_runs (run_id TEXT PRIMARY KEY, policy_hash TEXT NOT NULL, plan TEXT NOT NULL,
                opened_at TIMESTAMPTZ NOT NULL DEFAULT now(), filling BOOLEAN NOT NULL DEFAULT false)
            """,
            "CREATE TABLE retentiond_work (run_id TEXT NOT NULL, seq BIGINT NOT NULL, rule_id TEXT NOT NULL, record_key TEXT NOT NULL, PRIMARY KEY (run_id, seq))",
            "INSERT INTO retentiond_runs (run_id, policy_hash, plan) VALUES ('old-run', '\(planner.policy.hash)', '{}')",
            "INSERT INTO retentiond_work SELECT 'old-run', n, 'contact-purge', '[' || n || ']' FROM generate_series(1, 10) AS n",
        ])
        let report = try await f.enforcer().runAsWorker(now: CRMFixture.now, allowMore: false)
        #expect(report.status == .complete, "\(report.message ?? "")")
        #expect(report.rules[0].purged == Self.total, "every record planned again and purged once")
        #expect(try await left(f) == 0)
        #expect(
            try await f.count("SELECT count(*) FROM retentiond_runs") == 0, "the older run is closed, and this one too")
        #expect(try await f.count("SELECT count(*) FROM retentiond_work") == 0)
        #expect(try await f.audit(action: "purge").count == Self.total)
        #expect(try await f.trail().verify().isValid)
    }
}
