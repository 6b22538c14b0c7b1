import RetentionCore
import RetentionStore

/// The rows of a `tree` deeper than it follows, below some records (`RuleQuery.treeLimits`).
enum TreeDepth {
    struct Beyond {
        var table: String
        /// How many levels below its roots the tree follows.
        var followed: Int
        var rows: Int
    }

    /// For each tree of `query` that has rows below the deepest level it follows under `keys`'
    /// records — rows no level already reached: a chain that loops back is reached again at every
    /// level, and is not deeper for that.
    static func rowsBeyond(_ query: RuleQuery, keys: [RecordKey], in session: any StoreSession) throws -> [Beyond] {
        guard !keys.isEmpty else { return [] }
        var found: [Beyond] = []
        for path in query.treeLimits {
            let last = path[path.count - 1]
            // The path is the roots' link, then the tree's link once per level followed, and once more.
            let firstLevel =
                path.firstIndex {
                    $0.table == last.table && $0.foreignKey == last.foreignKey && $0.referenced == last.referenced
                } ?? (path.count - 1)
            var deeper = try session.childRowCount([path], table: query.table, keyColumns: query.keyColumns, keys: keys)
            if deeper > 0, !last.primaryKey.isEmpty {
                func rows(_ path: [ChildLink]) throws -> [RecordKey] {
                    try session.childRecords(
                        path, table: query.table, keyColumns: query.keyColumns, keys: keys, columns: last.primaryKey,
                        order: last.primaryKey
                    ).map(RecordKey.init)
                }
                var reached = Set<RecordKey>()
                for end in max(0, firstLevel - 1)..<(path.count - 1) {
                    reached.formUnion(try rows(Array(path[...end])))
                }
                deeper = Set(try rows(path)).subtracting(reached).count
            }
            if deeper > 0 {
                found.append(Beyond(table: last.table, followed: path.count - 1 - firstLevel, rows: deeper))
            }
        }
        return found
    }
}
