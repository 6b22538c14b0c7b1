import Foundation
import RetentionCore

/// A queue of one run's planned records that several worker processes empty together
/// (`retentiond run --worker`, PostgreSQL). A batch is claimed by deleting its entries in the
/// batch's own transaction, so each record is processed by exactly one worker, once: a failed
/// batch rolls its claim back with its changes, and the entries return to the queue.
public protocol WorkQueueSession: WorkQueueReading, WritingSession {
    func prepareWorkQueue() throws
    /// Makes a run visible to workers, who may join it at once: it is `filling` until
    /// `finishFilling`. `plan` is the plan's header and trailer (JSON).
    func openRun(id: String, policyHash: String, plan: Data) throws
    func enqueue(runID: String, entries: [(seq: Int64, rule: String, key: RecordKey)]) throws
    /// Refreshes the queue's statistics, so claims are planned on the key's index, not a sort of the whole queue.
    func analyzeQueue() throws
    /// Says that every entry of the run is enqueued: a worker that finds the queue empty then leaves.
    func finishFilling(id: String) throws
    /// Takes (and removes, for this transaction) up to `limit` entries of the earliest rule still queued.
    func claim(runID: String, limit: Int) throws -> (rule: String, keys: [RecordKey])?
    func closeRun(id: String) throws
}

/// What a read of the queue can see.
public protocol WorkQueueReading: StoreSession {
    /// The open run for this policy, if any, and whether its planner is still filling its queue.
    func openRun(policyHash: String) throws -> (id: String, plan: Data, filling: Bool)?
    /// Whether the run is still being filled; nil once it is closed.
    func runFilling(id: String) throws -> Bool?
    /// Entries not yet committed as done, including those other workers hold right now.
    func remaining(runID: String) throws -> Int
}

/// A store whose sessions can also work a shared run's queue (PostgreSQL): the engine reaches the
/// queue through these, typed, instead of casting sessions.
public protocol WorkQueueStore: RecordStore {
    func readQueue<T: Sendable>(_ body: @escaping @Sendable (any WorkQueueReading) throws -> T) async throws -> T
    func queueTransaction<T: Sendable>(_ body: @escaping @Sendable (any WorkQueueSession) throws -> T) async throws -> T
}
