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
/// counted on the pass's own connection before the next is read. The statements run as child
/// tasks of the rule's planning (its task group): awaited before it returns, cancelled and
/// awaited when it throws.
struct ChildCounter {
    /// What one statement counted: the group of paths, and its rows.
    typealias Counted = (group: Int, rows: Int)
    typealias Statements = ThrowingTaskGroup<Counted, any Error>

    /// The paths to count, grouped by the table they end in.
    let groups: [[[ChildLink]]]
    let table: String
    let keyColumns: [String]
    private let connections: [any RecordReader]
    private let pagesAhead: Int
    /// Rows per group, summed over the pages counted so far.
    private(set) var totals: [Int]
    /// Statements given to the group and not yet settled.
    private var outstanding = 0
    /// Per connection, the statements given to it and not yet done.
    private let unfinished: Unfinished

    init(
        groups: [[[ChildLink]]], table: String, keyColumns: [String], reader: any RecordReader,
        counters: [any RecordReader]
    ) {
        self.groups = groups
        self.table = table
        self.keyColumns = keyColumns
        connections = counters.isEmpty ? [reader] : counters
        pagesAhead = counters.isEmpty ? 0 : 4
        totals = Array(repeating: 0, count: groups.count)
        unfinished = Unfinished(connections: connections.count)
    }

    /// Counts the child rows of the records `keys` (one page's due records), in `statements`.
    mutating func count(_ keys: [RecordKey], in statements: inout Statements) async throws {
        guard !keys.isEmpty, !groups.isEmpty else { return }
        for (index, paths) in groups.enumerated() {
            let connection = unfinished.take()
            let (reader, table, keyColumns, unfinished) = (connections[connection], table, keyColumns, unfinished)
            statements.addTask {
                defer { unfinished.done(connection) }
                return (
                    index,
                    try await reader.read {
                        try $0.childRowCount(paths, table: table, keyColumns: keyColumns, keys: keys)
                    }
                )
            }
            outstanding += 1
        }
        while outstanding > groups.count * pagesAhead { try await settleOne(in: &statements) }
    }

    /// Waits for every count still running.
    mutating func finish(in statements: inout Statements) async throws {
        while outstanding > 0 { try await settleOne(in: &statements) }
    }

    private mutating func settleOne(in statements: inout Statements) async throws {
        guard let counted = try await statements.next() else {
            outstanding = 0
            return
        }
        totals[counted.group] += counted.rows
        outstanding -= 1
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
