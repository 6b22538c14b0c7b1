import Foundation
import RetentionCore

/// A queue of one run's planned batches that several worker processes empty together
/// (`retentiond run --worker`, PostgreSQL and MariaDB; the statements in `WorkQueueSQL.swift`). A batch is claimed by deleting its row in the batch's
/// own transaction, so each record is processed by exactly one worker, once: a failed batch rolls
/// its claim back with its changes, and the batch returns to the queue.
public protocol WorkQueueSession: WorkQueueReading, WritingSession {
    /// Creates the queue's two tables (`retentiond_runs`, `retentiond_batches`) if absent.
    func prepareWorkQueue() throws
    /// Refreshes the queue's statistics, so claims are planned on the key's index, not a sort of the whole queue.
    func analyzeQueue() throws
    /// Takes (and removes, for this transaction) the earliest batch no other worker holds. Shared
    /// (`claimEarliestBatch`); a requirement so that a database can check more first (Galera: the node).
    func claim(runID: String) throws -> QueuedBatch?
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
}

/// A store whose sessions can also work a shared run's queue (PostgreSQL, MariaDB): the engine reaches the
/// queue through these, typed, instead of casting sessions.
public protocol WorkQueueStore: RecordStore {
    func readQueue<T: Sendable>(_ body: @escaping @Sendable (any WorkQueueReading) throws -> T) async throws -> T
    func queueTransaction<T: Sendable>(_ body: @escaping @Sendable (any WorkQueueSession) throws -> T) async throws -> T
}
