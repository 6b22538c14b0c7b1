import RetentionCore
import RetentionStore
import Synchronization

/// Counts, for a dry run, the child rows a rule's due records would take with them (terraform's
/// "N to destroy"), one page of due records at a time: one statement per child table and page,
/// over every path of the rule that ends in it (`StoreSession.childRowCount`).
///
/// Given connections of their own (`PlanningPass.counters`), a page's statements run on them while
/// the pass reads the next pages, each on the connection with the fewest statements not yet done
/// (paths cost unlike amounts: a grandchild table's count probes every child row), at most
/// `pagesAhead` pages behind the pass (so the keys held stay bounded). Without, each page is
/// counted on the pass's own connection before the next is read.
struct ChildCounter {
    /// The paths to count, grouped by the table they end in.
    let groups: [[[ChildLink]]]
    let table: String
    let keyColumns: [String]
    private let connections: [any RecordReader]
    private let pagesAhead: Int
    /// Rows per group, summed over the pages counted so far.
    private(set) var totals: [Int]
    private var pending: [(group: Int, task: Task<Int, any Error>)] = []
    /// Per connection, the statements given to it and not yet done.
    private let unfinished: Unfinished

    init(groups: [[[ChildLink]]], table: String, keyColumns: [String], reader: any RecordReader, counters: [any RecordReader]) {
        self.groups = groups
        self.table = table
        self.keyColumns = keyColumns
        connections = counters.isEmpty ? [reader] : counters
        pagesAhead = counters.isEmpty ? 0 : 4
        totals = Array(repeating: 0, count: groups.count)
        unfinished = Unfinished(connections: connections.count)
    }

    /// Counts the child rows of the records `keys` (one page's due records).
    mutating func count(_ keys: [RecordKey]) async throws {
        guard !keys.isEmpty, !groups.isEmpty else { return }
        for (index, paths) in groups.enumerated() {
            let connection = unfinished.take()
            let (reader, table, keyColumns, unfinished) = (connections[connection], table, keyColumns, unfinished)
            pending.append((index, Task {
                defer { unfinished.done(connection) }
                return try await reader.read { try $0.childRowCount(paths, table: table, keyColumns: keyColumns, keys: keys) }
            }))
        }
        while pending.count > groups.count * pagesAhead { try await settleOldest() }
    }

    /// Waits for every count still running.
    mutating func finish() async throws {
        while !pending.isEmpty { try await settleOldest() }
    }

    /// Stops waiting for the counts still running (the pass failed or was stopped).
    func cancel() {
        for job in pending { job.task.cancel() }
    }

    private mutating func settleOldest() async throws {
        let job = pending.removeFirst()
        totals[job.group] += try await job.task.value
    }

    /// The statements each connection has been given and not finished.
    private final class Unfinished: Sendable {
        private let counts: Mutex<[Int]>
        init(connections: Int) { counts = Mutex(Array(repeating: 0, count: connections)) }
        /// The connection with the fewest, counted as given one more.
        func take() -> Int {
            counts.withLock { counts in
                let least = counts.indices.min { counts[$0] < counts[$1] } ?? 0
                counts[least] += 1
                return least
            }
        }
        func done(_ connection: Int) { counts.withLock { $0[connection] -= 1 } }
    }
}
