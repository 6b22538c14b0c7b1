import Foundation
import RetentionCore

extension QueuedBatch {
    /// The runs' queue format this version writes and claims: one row per batch
    /// (`retentiond_batches`). Format 1, one row per record (`retentiond_work`), was an older
    /// version's on PostgreSQL; its runs are closed, not joined (`closeRunsOfOtherQueueFormats`).
    public static let queueFormat: Int64 = 2
}

/// The shared run's queue, the same statements on PostgreSQL and MariaDB. Each store creates the
/// two tables in its own types (`prepareWorkQueue`), says whether they can be read yet
/// (`queueReadable`), and refreshes their statistics if its planner needs them (`analyzeQueue`).
extension WorkQueueReading {
    /// The open run for this policy, if any, and whether its planner is still filling its queue.
    public func openRun(policyHash: String) throws -> (id: String, plan: Data, filling: Bool)? {
        guard try queueReadable(),
            let row = try rows(
                """
                SELECT run_id, plan, filling FROM retentiond_runs WHERE policy_hash = \(.text(policyHash)) \
                AND queue_format = \(.integer(QueuedBatch.queueFormat)) ORDER BY opened_at LIMIT 1
                """
            ).first,
            let id = row[0].textValue, let plan = row[1].textValue
        else { return nil }
        return (id, Data(plan.utf8), row[2] == .integer(1))
    }

    /// Whether the run is still being filled; nil once it is closed.
    public func runFilling(id: String) throws -> Bool? {
        guard try queueReadable(),
            let row = try rows("SELECT filling FROM retentiond_runs WHERE run_id = \(.text(id))").first
        else { return nil }
        return row[0] == .integer(1)
    }

    /// Batches not yet committed as done, including those other workers hold right now.
    public func remaining(runID: String) throws -> Int {
        guard
            case .integer(let n) = try rows("SELECT count(*) FROM retentiond_batches WHERE run_id = \(.text(runID))")
                .first?.first
        else { return 0 }
        return Int(n)
    }
}

extension WorkQueueSession {
    /// Makes a run visible to workers, who may join it at once: it is `filling` until
    /// `finishFilling`. `plan` is the plan's header and trailer (JSON).
    public func openRun(id: String, policyHash: String, plan: Data) throws {
        try execute(
            """
            INSERT INTO retentiond_runs (run_id, policy_hash, plan, filling, queue_format) VALUES (\(.text(id)), \
            \(.text(policyHash)), \(.text(String(decoding: plan, as: UTF8.self))), true, \
            \(.integer(QueuedBatch.queueFormat)))
            """)
    }

    /// Queues batches, in claim order: each the keys of one rule's records.
    public func enqueue(runID: String, batches: [QueuedBatch]) throws {
        guard !batches.isEmpty else { return }
        let encoder = JSONEncoder()
        try insert(
            into: "retentiond_batches", columns: ["run_id", "seq", "rule_id", "record_keys"],
            rows: batches.map { batch in
                [
                    .text(runID), .integer(batch.seq), .text(batch.rule),
                    .text(String(decoding: try encoder.encode(batch.keys), as: UTF8.self)),
                ]
            })
    }

    /// Says that every batch of the run is queued: a worker that finds the queue empty then leaves.
    public func finishFilling(id: String) throws {
        try analyzeQueue()
        try execute("UPDATE retentiond_runs SET filling = false WHERE run_id = \(.text(id))")
    }

    public func claim(runID: String) throws -> QueuedBatch? { try claimEarliestBatch(runID: runID) }

    /// The earliest batch no other worker holds, locked (`SKIP LOCKED`), then deleted in this
    /// transaction: a rollback puts it back.
    public func claimEarliestBatch(runID: String) throws -> QueuedBatch? {
        guard
            let row = try rows(
                """
                SELECT seq, rule_id, record_keys FROM retentiond_batches WHERE run_id = \(.text(runID)) \
                ORDER BY seq LIMIT 1 FOR UPDATE SKIP LOCKED
                """
            ).first,
            case .integer(let seq) = row[0], let rule = row[1].textValue, let keys = row[2].textValue
        else { return nil }
        try execute("DELETE FROM retentiond_batches WHERE run_id = \(.text(runID)) AND seq = \(.integer(seq))")
        return QueuedBatch(
            seq: seq, rule: rule, keys: try JSONDecoder().decode([RecordKey].self, from: Data(keys.utf8)))
    }

    /// Removes the run and whatever of its queue is left.
    public func closeRun(id: String) throws {
        try execute("DELETE FROM retentiond_batches WHERE run_id = \(.text(id))")
        try execute("DELETE FROM retentiond_runs WHERE run_id = \(.text(id))")
    }

    /// Closes the open runs whose queue an older version wrote (one row per record), which this
    /// version's workers cannot claim: called under the run lock, before planning.
    public func closeRunsOfOtherQueueFormats() throws {
        guard try tableExists("retentiond_runs") else { return }
        let others: SQL =
            "SELECT run_id FROM retentiond_runs WHERE queue_format <> \(.integer(QueuedBatch.queueFormat))"
        if try tableExists("retentiond_work") { try execute("DELETE FROM retentiond_work WHERE run_id IN (\(others))") }
        try execute("DELETE FROM retentiond_batches WHERE run_id IN (\(others))")
        try execute("DELETE FROM retentiond_runs WHERE queue_format <> \(.integer(QueuedBatch.queueFormat))")
    }
}
