import Foundation
import RetentionCore

/// A queue of one run's planned batches that several worker processes empty together
/// (`retentiond run --worker`, PostgreSQL and MariaDB; the statements in `WorkQueueSQL.swift`). A batch is claimed by deleting its row in the batch's
/// own transaction, so each record is processed by exactly one worker, once: a failed batch rolls
/// its claim back with its changes, and the batch returns to the queue.
public protocol WorkQueueSession: WorkQueueReading, WritingSession {
    func prepareWorkQueue() throws
    /// Makes a run visible to workers, who may join it at once: it is `filling` until
    /// `finishFilling`. `plan` is the plan's header and trailer (JSON).
    func openRun(id: String, policyHash: String, plan: Data) throws
    /// Queues batches, in claim order: each the keys of one rule's records.
    func enqueue(runID: String, batches: [QueuedBatch]) throws
    /// Refreshes the queue's statistics, so claims are planned on the key's index, not a sort of the whole queue.
    func analyzeQueue() throws
    /// Says that every batch of the run is queued: a worker that finds the queue empty then leaves.
    func finishFilling(id: String) throws
    /// Takes (and removes, for this transaction) the earliest batch no other worker holds.
    func claim(runID: String) throws -> QueuedBatch?
    func closeRun(id: String) throws
    /// Closes the open runs whose queue an older version wrote (one row per record), which this
    /// version's workers cannot claim: called under the run lock, before planning.
    func closeRunsOfOtherQueueFormats() throws
}

/// One batch of a shared run's queue.
public struct QueuedBatch: Sendable, Equatable {
    /// Claim order within the run.
    public var seq: Int64
    public var rule: String
    public var keys: [RecordKey]

    public init(seq: Int64, rule: String, keys: [RecordKey]) {
        self.seq = seq
        self.rule = rule
        self.keys = keys
    }
}

/// What a read of the queue can see.
public protocol WorkQueueReading: StoreSession {
    /// Whether this database has this version's queue tables, to read (a worker may look for a
    /// run before any planner made them, or after an older version did).
    func queueReadable() throws -> Bool
    /// The open run for this policy, if any, and whether its planner is still filling its queue.
    func openRun(policyHash: String) throws -> (id: String, plan: Data, filling: Bool)?
    /// Whether the run is still being filled; nil once it is closed.
    func runFilling(id: String) throws -> Bool?
    /// Batches not yet committed as done, including those other workers hold right now.
    func remaining(runID: String) throws -> Int
}

/// A store whose sessions can also work a shared run's queue (PostgreSQL, MariaDB): the engine reaches the
/// queue through these, typed, instead of casting sessions.
public protocol WorkQueueStore: RecordStore {
    func readQueue<T: Sendable>(_ body: @escaping @Sendable (any WorkQueueReading) throws -> T) async throws -> T
    func queueTransaction<T: Sendable>(_ body: @escaping @Sendable (any WorkQueueSession) throws -> T) async throws -> T
}
