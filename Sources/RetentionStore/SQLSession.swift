import Foundation
import RetentionCore

/// What a backend must provide to read with the shared SQL: running a query with bound values.
/// The SQL is built by `SQLBuilder` in the backend's dialect. (A read runs in a transaction the
/// database itself keeps read-only: SQLITE_OPEN_READONLY, READ ONLY transactions.)
public protocol SQLReading {
    var dialect: SQLDialect { get }
    /// Runs a query and returns its rows, values in select order.
    func rows(_ sql: String, _ bindings: [SQLValue]) throws -> [[SQLValue]]
    /// Whether the table exists (the tool's own tables; unquoted names).
    func tableExists(_ name: String) throws -> Bool
}

/// What a backend must provide to write with the shared SQL, on top of reading.
public protocol SQLExecuting: SQLReading {
    /// Runs a statement and returns the number of rows it changed.
    func execute(_ sql: String, _ bindings: [SQLValue]) throws -> Int
    /// Inserts `rows` (values in `columns` order) into `table`, the way the database takes many
    /// rows fastest (SQLite: one prepared statement stepped per row; PostgreSQL: one statement with
    /// an array per column). A value goes through its column's type as a literal of it would.
    func insert(into table: String, columns: [String], rows: [[SQLValue]]) throws
}

/// The reads every database shares, written once (the writes: `extension WritingSession` below).
extension StoreSession {
    public var builder: SQLBuilder { SQLBuilder(dialect: dialect) }

    public func sample(table: String, column: String, limit: Int) throws -> [SQLValue] {
        try rows(
            "SELECT \(ident: column) FROM \(ident: table) WHERE \(ident: column) IS NOT NULL LIMIT \(.integer(Int64(limit)))"
        ).map { $0[0] }
    }

    /// How many rows of a native date column hold a value that is no date (MariaDB's
    /// `0000-00-00`, read as missing); 0 where the database has no such values.
    public func zeroDates(table: String, column: String) throws -> Int {
        let holds = dialect.holdsDate(SQL.quote(column))
        guard holds != "\(SQL.quote(column)) IS NOT NULL" else { return 0 }
        let sql: SQL = "SELECT count(*) FROM \(ident: table) WHERE \(ident: column) IS NOT NULL AND NOT \(raw: holds)"
        guard case .integer(let n) = try rows(sql).first?.first else { return 0 }
        return Int(n)
    }

    /// For a key the database does not enforce (`key_uniqueness: checked`): how many of its values
    /// name more than one row, and how many rows have no value (a NULL in a key column).
    public func ambiguousKeys(table: String, keyColumns: [String]) throws -> AmbiguousKeys {
        let present = keyColumns.map { "\(ident: $0) IS NOT NULL" as SQL }.joined(separator: " AND ")
        let duplicated: SQL =
            "SELECT count(*) FROM (SELECT 1 AS one FROM \(ident: table) WHERE \(present) GROUP BY \(idents: keyColumns) HAVING count(*) > 1) AS d"
        let missing: SQL = "SELECT count(*) FROM \(ident: table) WHERE NOT (\(present))"
        func count(_ sql: SQL) throws -> Int {
            guard case .integer(let n) = try rows(sql).first?.first else { return 0 }
            return Int(n)
        }
        return AmbiguousKeys(duplicated: try count(duplicated), missing: try count(missing))
    }

    /// The rows of `table` that meet every condition of `filter` (a subject's records).
    public func rowCount(table: String, filter: [RowCondition]) throws -> Int {
        guard !filter.isEmpty else { return try rowCount(table: table) }
        let conditions = filter.map { builder.condition($0, on: "p") }.joined(separator: " AND ")
        guard
            case .integer(let n) = try rows("SELECT count(*) FROM \(ident: table) AS p WHERE \(conditions)").first?
                .first
        else { return 0 }
        return Int(n)
    }

    public func rowCount(table: String) throws -> Int {
        let sql: SQL = "SELECT count(*) FROM \(ident: table)"
        guard case .integer(let n) = try rows(sql).first?.first else { return 0 }
        return Int(n)
    }

    /// The rule's candidates in key order after `after`, at most `limit`: the plan's pages.
    public func candidates(_ query: RuleQuery, after: RecordKey?, limit: Int) throws -> [CandidateRow] {
        try rows(builder.candidates(query, after: after, keys: nil, limit: limit)).map {
            SQLBuilder.decodeCandidate($0, query: query)
        }
    }

    /// The candidates among `keys`; `lockingRows` (inside a batch's transaction) locks them until it ends.
    public func candidates(_ query: RuleQuery, keys: [RecordKey], lockingRows: Bool) throws -> [CandidateRow] {
        guard !keys.isEmpty else { return [] }
        if lockingRows && dialect.locksKeysFirst {
            // Exactly the batch's rows, through the key's index, in key order; the re-check then
            // reads them as committed, and no one else can change them until this transaction ends.
            _ = try rows(
                "SELECT \(columns: query.keyColumns, of: "s") FROM \(ident: query.table) AS s WHERE \(builder.keyIn("s", query.keyColumns, keys)) ORDER BY \(columns: query.keyColumns, of: "s") FOR UPDATE"
            )
        }
        let sql =
            builder.candidates(query, after: nil, keys: keys, limit: nil)
            + (lockingRows ? "\(raw: dialect.lockRows)" : "")
        return try rows(sql).map { SQLBuilder.decodeCandidate($0, query: query, keys: true) }
    }

    /// Of these keys, those whose record still exists.
    public func existingKeys(table: String, keyColumns: [String], keys: [RecordKey]) throws -> Set<RecordKey> {
        guard !keys.isEmpty else { return [] }
        return Set(
            try rows(
                "SELECT \(columns: keyColumns, of: "p") FROM \(ident: table) AS p WHERE \(builder.keyIn("p", keyColumns, keys))"
            )
            .map(RecordKey.init))
    }

    /// For each boundary, how many records not yet due will have passed it (`SQLBuilder.forecast`),
    /// and of those how many something would keep then (given `keptAt`, the query at each boundary).
    public func forecast(_ query: RuleQuery, boundaries: [ClockPredicate], keptAt: [RuleQuery]) throws -> (
        passed: [Int], kept: [Int]
    ) {
        guard !boundaries.isEmpty else { return ([], []) }
        // Counted by first boundary passed; a boundary's total is every count up to it.
        var first = [Int](repeating: 0, count: boundaries.count)
        var kept = first
        for row in try rows(builder.forecast(query, boundaries: boundaries, keptAt: keptAt)) {
            guard row.count == 3, case .integer(let bucket) = row[0], first.indices.contains(Int(bucket)),
                case .integer(let n) = row[2]
            else { continue }
            first[Int(bucket)] += Int(n)
            if case .integer(let k) = row[1], k != 0 { kept[Int(bucket)] += Int(n) }
        }
        func running(_ counts: [Int]) -> [Int] {
            var total = 0
            return counts.map {
                total += $0
                return total
            }
        }
        return (running(first), running(kept))
    }

    /// How many records of the rule have no clock value yet (`SQLBuilder.forecastUndated`).
    public func forecastUndated(_ query: RuleQuery) throws -> Int {
        guard case .integer(let n)? = try rows(builder.forecastUndated(query)).first?.first else { return 0 }
        return Int(n)
    }

    /// One record's standing under a rule (`SQLBuilder.standing`), nil when it does not exist.
    public func standing(_ query: RuleQuery, key: RecordKey, marksKept: Bool) throws -> [SQLValue]? {
        try rows(builder.standing(query, key: key, marksKept: marksKept)).first
    }

    /// `columns` of the rows reached from the record `key` of `table` through `path` that meet
    /// `conditions` (the rows a `related` exemption finds), at most `limit`.
    public func relatedRecords(
        _ path: [RelationStep], table: String, keyColumns: [String], key: RecordKey, conditions: [RowCondition],
        columns: [String], limit: Int
    ) throws -> [[SQLValue]] {
        try rows(
            builder.relatedRecords(
                path, subjectTable: table, keyColumns: keyColumns, key: key, conditions: conditions, columns: columns,
                limit: limit))
    }

    /// How many rows of one child table belong to the records `keys` of `table` through any of
    /// `paths` (every path ending in that table): each row once, however many paths reach it.
    public func childRowCount(_ paths: [[ChildLink]], table: String, keyColumns: [String], keys: [RecordKey]) throws
        -> Int
    {
        guard !keys.isEmpty, !paths.isEmpty else { return 0 }
        guard
            case .integer(let count) = try rows(
                builder.countChildren(paths, subjectTable: table, keyColumns: keyColumns, keys: keys)
            ).first?.first
        else { return 0 }
        return Int(count)
    }

    /// `columns` of the rows at the end of `path` that belong to the records `keys`, ordered by `order`.
    public func childRecords(
        _ path: [ChildLink], table: String, keyColumns: [String], keys: [RecordKey], columns: [String], order: [String]
    ) throws -> [[SQLValue]] {
        guard !keys.isEmpty else { return [] }
        return try rows(
            builder.selectChildren(
                path, subjectTable: table, keyColumns: keyColumns, keys: keys, columns: columns, order: order))
    }

    /// For each of the records `keys` of `table`, its child rows per group of paths (the paths
    /// ending in one table), each row once (`SQLBuilder.childRowsPerRecord`).
    public func childRowsPerRecord(_ groups: [[[ChildLink]]], table: String, keyColumns: [String], keys: [RecordKey])
        throws -> [RecordKey: [Int]]
    {
        guard !keys.isEmpty, !groups.isEmpty else { return [:] }
        var counts: [RecordKey: [Int]] = [:]
        for row in try rows(builder.childRowsPerRecord(groups, subjectTable: table, keyColumns: keyColumns, keys: keys))
        {
            counts[RecordKey(Array(row[..<keyColumns.count]))] = row[keyColumns.count...].map {
                if case .integer(let n) = $0 { Int(n) } else { 0 }
            }
        }
        return counts
    }

    /// `columns` of the owned rows `keys` (values of `link.foreignKey`) that none of `keepers`
    /// keeps: those `deleteOwned` would delete once nothing points at them.
    public func ownedRows(_ link: ChildLink, keys: [RecordKey], keepers: [RowKeeper], columns: [String]) throws
        -> [[SQLValue]]
    {
        guard !keys.isEmpty else { return [] }
        return try rows(builder.selectOwned(link, keys: keys, keepers: keepers, columns: columns))
    }

    /// `columns` of the rows of `reference.table` whose `reference.columns` hold one of `values`.
    public func referencingRows(_ reference: ForeignKey, values: [RecordKey], columns: [String]) throws -> [[SQLValue]]
    {
        guard !values.isEmpty else { return [] }
        return try rows(
            "SELECT \(columns: columns, of: "r") FROM \(ident: reference.table) AS r WHERE \(builder.keyIn("r", reference.columns, values))"
        )
    }
}

extension SQLExecuting where Self: Sendable {
    /// Runs `body` in a transaction on `queue`, the serial queue of the session's connection:
    /// `begin`'s statements, `body`, `COMMIT`. When any of them throws: `ROLLBACK`, and the error
    /// rethrown; a `ROLLBACK` that fails too (the transaction went with its connection, and the
    /// server rolls it back) goes to `rollbackFailed`, to be logged.
    public func transaction<T: Sendable>(
        on queue: DispatchQueue, begin: [String], rollbackFailed: @escaping @Sendable (any Error) -> Void,
        _ body: @escaping @Sendable (Self) throws -> T
    ) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            queue.async {
                do {
                    for statement in begin { _ = try execute(statement, []) }
                    let result = try body(self)
                    _ = try execute("COMMIT", [])
                    continuation.resume(returning: result)
                } catch {
                    do {
                        _ = try execute("ROLLBACK", [])
                    } catch {
                        rollbackFailed(error)
                    }
                    continuation.resume(throwing: error)
                }
            }
        }
    }
}

extension WritingSession {
    public func anonymise(
        table: String, keyColumns: [String], fields: [String], rows updates: [(RecordKey, [SQLValue])]
    ) throws -> Int {
        guard !updates.isEmpty, !fields.isEmpty else { return 0 }
        return try execute(builder.anonymise(table: table, keyColumns: keyColumns, fields: fields, rows: updates))
    }

    /// Deletes child rows (deepest first) then the records; returns rows deleted per child table and records deleted.
    /// Owned rows that one of `keepers` keeps stay (see `RowKeeper`).
    public func purge(
        table: String, keyColumns: [String], keys: [RecordKey], childPaths: [[ChildLink]], keepers: [RowKeeper]
    ) throws -> (records: Int, children: [String: Int]) {
        guard !keys.isEmpty else { return (0, [:]) }
        let children = try deleteChildren(
            table: table, keyColumns: keyColumns, keys: keys, childPaths: childPaths, keepers: keepers)
        return (try execute(builder.deleteRows(table: table, keyColumns: keyColumns, keys: keys)), children)
    }

    /// Deletes the child rows of the records `keys` along `childPaths` (deepest first), leaving the records.
    public func deleteChildren(
        table: String, keyColumns: [String], keys: [RecordKey], childPaths: [[ChildLink]], keepers: [RowKeeper]
    ) throws -> [String: Int] {
        guard !keys.isEmpty else { return [:] }
        var children: [String: Int] = [:]
        // Owned rows are found before the rows pointing at them go, and deleted after them.
        var owned: [(link: ChildLink, keys: [RecordKey])] = []
        for path in childPaths where path[path.count - 1].owned {
            let link = path[path.count - 1]
            let pointers = try rows(
                builder.selectChildren(
                    Array(path.dropLast()), subjectTable: table, keyColumns: keyColumns, keys: keys,
                    columns: link.referenced, order: link.referenced))
            owned.append((link, Array(Set(pointers.filter { !$0.contains(.null) }.map(RecordKey.init)))))
        }
        // Paths list parents before their children: deleted in reverse, deepest first.
        for path in childPaths.reversed() where !path[path.count - 1].owned {
            let last = path[path.count - 1]
            // A level of a tree (its table reached again): the rows are read first, then deleted by
            // key — MariaDB deletes from no table that the statement's own subquery reads (error 1093).
            if path.dropLast().contains(where: { $0.table == last.table }), !last.primaryKey.isEmpty {
                let found = try rows(
                    builder.selectChildren(
                        path, subjectTable: table, keyColumns: keyColumns, keys: keys,
                        columns: last.primaryKey, order: last.primaryKey)
                ).map(RecordKey.init)
                if !found.isEmpty {
                    children[last.table, default: 0] += try execute(
                        builder.deleteRows(table: last.table, keyColumns: last.primaryKey, keys: found))
                }
                continue
            }
            children[last.table, default: 0] += try execute(
                builder.deleteChildren(path, subjectTable: table, keyColumns: keyColumns, keys: keys))
        }
        for (link, ownedKeys) in owned where !ownedKeys.isEmpty {
            children[link.table, default: 0] += try execute(
                builder.deleteOwned(link, keys: ownedKeys, keepers: keepers))
        }
        return children
    }
}
