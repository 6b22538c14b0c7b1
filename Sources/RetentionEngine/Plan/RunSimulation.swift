import RetentionCore
import RetentionStore

/// Follows, row by row, what a run's batches will delete in the tables where counting each rule's
/// rows on its own would miscount — so that a dry run says exactly what the run does:
///
/// - a table two rules reach (one deletes a row as a child, another as its record or its own
///   child; one deletes what another anonymises or flags): the row is counted once, under the rule whose
///   batch comes first, and a later rule's record already taken is reported as taken by that rule
///   (`RuleTally.takenBy`), not planned again;
/// - owned rows (`owns`), which go only once nothing points at them any more: the pointing rows
///   the run deletes are known only by following the run batch by batch, in the run's order.
///
/// Only those tables are followed (`identity`); every other child table is counted by
/// `ChildCounter`, one statement per page. Memory grows with the rows deleted from followed
/// tables (their keys), not with the records planned.
struct RunSimulation {
    /// The tables followed, each with the columns that name a row (its subject's key, else its
    /// primary key or a unique index of NOT NULL columns). A table without any cannot be followed:
    /// its rows are counted per rule, and owned rows pointed at from it are not counted.
    let identity: [String: [String]]
    /// Per followed table, the rows the rules followed so far delete, and the rule that takes each.
    private var deleted: [String: DeletedRows] = [:]

    var isEmpty: Bool { identity.isEmpty }

    /// Follows nothing: each rule is counted on its own.
    static let none = RunSimulation(identity: [:])

    private init(identity: [String: [String]]) { self.identity = identity }

    init(resolved: ResolvedPolicy) {
        let policy = resolved.policy
        var deleting: [String: Set<String>] = [:]
        var changing: [String: Set<String>] = [:]
        var needed: Set<String> = []
        for resolvedRule in resolved.rules {
            let (rule, table, shape) = (resolvedRule.rule, resolvedRule.table, resolvedRule.shape)
            switch rule.action {
            // A flag acts on its records too: one a purge deleted first is taken, not gone.
            case .flag, .anonymise: changing[table, default: []].insert(rule.id)
            case .purge: deleting[table, default: []].insert(rule.id)
            }
            for (path, purged) in Self.paths(rule, shape) {
                let end = path[path.count - 1]
                if purged {
                    deleting[end.table, default: []].insert(rule.id)
                } else {
                    changing[end.table, default: []].insert(rule.id)
                }
                guard end.owned else { continue }
                needed.insert(end.table)
                needed.insert(path[path.count - 2].table)
                for reference in end.stillReferencedBy { needed.insert(reference.table) }
            }
        }
        for (table, rules) in deleting where rules.count > 1 || !(changing[table] ?? []).subtracting(rules).isEmpty {
            needed.insert(table)
        }
        var identity: [String: [String]] = [:]
        for table in needed {
            let key =
                policy.subjects.first { $0.table.value == table }.map { $0.key.map(\.value) } ?? resolved.schema.table(
                    table)?.rowIdentity ?? []
            if !key.isEmpty { identity[table] = key }
        }
        self.identity = identity
    }

    /// The paths whose rows a rule deletes (`true`) or anonymises with its records, parents first.
    static func paths(_ rule: RetentionRule, _ shape: RuleShape) -> [(path: [ChildLink], purged: Bool)] {
        switch rule.action {
        case .flag: return []
        case .purge: return shape.childPaths.map { ($0, true) }
        case .anonymise:
            return shape.childWork.map { work in
                switch work {
                case .purge(let path): return (path, true)
                case .anonymise(let path, _, _, _): return (path, false)
                }
            }
        }
    }

    /// Whether `path`'s rows are counted here rather than by `ChildCounter`: owned rows, and rows
    /// of a followed table.
    func follows(_ path: [ChildLink]) -> Bool {
        let end = path[path.count - 1]
        return end.owned || identity[end.table] != nil
    }

    /// Whether a batch of `rule` changes anything followed: its records' table, or a path.
    func concerns(_ rule: RetentionRule, shape: RuleShape, table: String) -> Bool {
        identity[table] != nil || Self.paths(rule, shape).contains { follows($0.path) }
    }

    /// Of `keys` (records of `table`), those a rule followed before took, with that rule.
    func taken(table: String, keys: [RecordKey]) -> [RecordKey: String] {
        guard let rows = deleted[table], !rows.isEmpty else { return [:] }
        var taken: [RecordKey: String] = [:]
        for key in keys { if let rule = rows.rule(key) { taken[key] = rule } }
        return taken
    }

    /// What one batch of `rule` does in the followed tables: its records `keys` (none of them
    /// taken), in the order the batch works — rows anonymised, then rows deleted (the pointers to
    /// owned rows read first), owned rows, the records. Returns the child and owned rows deleted
    /// and changed per table, along the paths `follows` accepts.
    mutating func follow(
        _ rule: RetentionRule, shape: RuleShape, keepers: [RowKeeper], table: String, keyColumns: [String],
        keys: [RecordKey], reader: any RecordReader
    ) async throws -> (deleted: [String: Int], changed: [String: Int]) {
        var counted: (deleted: [String: Int], changed: [String: Int]) = ([:], [:])
        guard !keys.isEmpty else { return counted }
        let paths = Self.paths(rule, shape).filter { follows($0.path) }
        func select(_ path: [ChildLink], columns: [String]) async throws -> [[SQLValue]] {
            try await reader.read {
                try $0.childRecords(
                    path, table: table, keyColumns: keyColumns, keys: keys, columns: columns, order: columns)
            }
        }
        for (path, purged) in paths where !purged {
            let child = path[path.count - 1].table
            guard let columns = identity[child] else { continue }
            let rows = try await select(path, columns: columns)
            counted.changed[child, default: 0] += rows.filter { deleted[child]?.contains($0[...]) != true }.count
        }
        // The rows pointing at owned rows, as the batch finds them before it deletes anything.
        var pointers: [(link: ChildLink, values: Set<RecordKey>)] = []
        for (path, purged) in paths where purged && path[path.count - 1].owned {
            let link = path[path.count - 1]
            let pointing = path[path.count - 2].table
            guard let columns = identity[pointing] else { continue }
            let rows = try await select(Array(path.dropLast()), columns: columns + link.referenced)
            let present = rows.filter { deleted[pointing]?.contains($0[..<columns.count]) != true }
            pointers.append(
                (
                    link,
                    Set(present.map { RecordKey(Array($0[columns.count...])) }.filter { !$0.values.contains(.null) })
                ))
        }
        for (path, purged) in paths where purged && !path[path.count - 1].owned {
            let child = path[path.count - 1].table
            guard let columns = identity[child] else { continue }
            for row in try await select(path, columns: columns) where take(row[...], table: child, rule: rule.id) {
                counted.deleted[child, default: 0] += 1
            }
        }
        for (link, values) in pointers where !values.isEmpty {
            guard let columns = identity[link.table] else { continue }
            counted.deleted[link.table, default: 0] += try await deleteOwned(
                link, values: Array(values), columns: columns, keepers: keepers,
                rule: rule.id, reader: reader)
        }
        if identity[table] != nil, case .purge = rule.action {
            for key in keys { _ = take(key.values[...], table: table, rule: rule.id) }
        }
        return counted
    }

    /// The owned rows `values` that no keeper keeps and that no row still points at once the rows
    /// deleted so far are gone: deleted by `rule`. Returns how many.
    private mutating func deleteOwned(
        _ link: ChildLink, values: [RecordKey], columns: [String], keepers: [RowKeeper], rule: String,
        reader: any RecordReader
    ) async throws -> Int {
        let references = link.stillReferencedBy
        let referenced = Array(Set(references.flatMap(\.referencedColumns))).sorted()
        let owned = try await reader.read {
            try $0.ownedRows(link, keys: values, keepers: keepers, columns: columns + referenced)
        }
        // For each reference, the values of the owned rows' columns that a remaining row holds.
        var stillPointed: [Set<RecordKey>] = []
        for reference in references {
            let at = reference.referencedColumns.map { columns.count + referenced.firstIndex(of: $0)! }
            let wanted = Array(Set(owned.map { row in RecordKey(at.map { row[$0] }) }))
            let rowKey = identity[reference.table]
            let rows = try await reader.read {
                try $0.referencingRows(reference, values: wanted, columns: (rowKey ?? []) + reference.columns)
            }
            let width = rowKey?.count ?? 0
            stillPointed.append(
                Set(
                    rows.filter { row in
                        width == 0 || deleted[reference.table]?.contains(row[..<width]) != true
                    }.map { RecordKey(Array($0[width...])) }))
        }
        var count = 0
        for row in owned {
            let free = zip(references, stillPointed).allSatisfy { reference, pointed in
                !pointed.contains(
                    RecordKey(reference.referencedColumns.map { row[columns.count + referenced.firstIndex(of: $0)!] }))
            }
            if free, take(row[..<columns.count], table: link.table, rule: rule) { count += 1 }
        }
        return count
    }

    /// Records the row `key` of `table` as deleted by `rule`; false when a rule already took it.
    private mutating func take(_ key: ArraySlice<SQLValue>, table: String, rule: String) -> Bool {
        deleted[table, default: DeletedRows()].insert(key, rule: rule)
    }
}

/// The rows of one table a simulated run deletes, each with the rule that takes it. A row named by
/// one integer (most keys) is kept as that integer, not as an array of values: a dry run follows
/// tens of thousands of them.
struct DeletedRows {
    private var integers: [Int64: UInt16] = [:]
    private var others: [RecordKey: UInt16] = [:]
    private var rules: [String] = []

    var isEmpty: Bool { integers.isEmpty && others.isEmpty }

    func contains(_ key: ArraySlice<SQLValue>) -> Bool { index(key) != nil }

    func rule(_ key: RecordKey) -> String? { index(key.values[...]).map { rules[Int($0)] } }

    private func index(_ key: ArraySlice<SQLValue>) -> UInt16? {
        if key.count == 1, case .integer(let i) = key[key.startIndex] { return integers[i] }
        return others[RecordKey(Array(key))]
    }

    /// False when the row was already taken.
    mutating func insert(_ key: ArraySlice<SQLValue>, rule: String) -> Bool {
        guard index(key) == nil else { return false }
        let r: UInt16
        if let i = rules.firstIndex(of: rule) {
            r = UInt16(i)
        } else {
            r = UInt16(rules.count)
            rules.append(rule)
        }
        if key.count == 1, case .integer(let i) = key[key.startIndex] {
            integers[i] = r
        } else {
            others[RecordKey(Array(key))] = r
        }
        return true
    }
}
