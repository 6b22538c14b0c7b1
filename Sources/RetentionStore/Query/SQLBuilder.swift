import Foundation
import RetentionCore

/// Where the SQL the two databases speak differs.
public struct SQLDialect: Sendable {
    /// `?` for SQLite, `$1, $2, …` for PostgreSQL.
    public var numberedPlaceholders: Bool
    /// SQL text that is true when a consent flag column is set.
    public var flagIsSet: @Sendable (_ column: String) -> String
    /// SQL text giving a row's key in `RecordKey.canonical` form, to match stored legal holds.
    public var canonicalKey: @Sendable (_ qualifiedColumns: [String]) -> String
    /// How values of a column with this declared type are typed in keys.
    public var keyValueKind: @Sendable (_ declaredType: String) -> KeyValueKind
    /// SQL text giving a column's value as text, to compare a `KeyValueKind.other` key with what was typed.
    public var textOf: @Sendable (_ qualifiedColumn: String) -> String
    /// Appended to a candidates query to lock the subject rows it returns until the transaction
    /// ends (empty where the transaction already excludes every other writer).
    public var lockRows: String

    public init(numberedPlaceholders: Bool, flagIsSet: @escaping @Sendable (String) -> String,
                canonicalKey: @escaping @Sendable ([String]) -> String,
                keyValueKind: @escaping @Sendable (String) -> KeyValueKind,
                textOf: @escaping @Sendable (String) -> String, lockRows: String) {
        self.numberedPlaceholders = numberedPlaceholders
        self.flagIsSet = flagIsSet
        self.canonicalKey = canonicalKey
        self.keyValueKind = keyValueKind
        self.textOf = textOf
        self.lockRows = lockRows
    }
}

/// Builds the statements a rule runs, as `SQL` fragments that read as the SQL they build.
///
/// Identifiers come only from the introspected schema (the validator refuses any other) and are
/// quoted; values are bound, never written into the text.
public struct SQLBuilder: Sendable {
    public let dialect: SQLDialect

    public init(dialect: SQLDialect) { self.dialect = dialect }

    /// `(a, b)` or `a`: a row value for one or several columns (identifiers only).
    public static func tuple(_ alias: String, _ columns: [String]) -> String {
        let cols = columns.map { SQL.qualified(alias, $0) }
        return cols.count == 1 ? cols[0] : "(" + cols.joined(separator: ", ") + ")"
    }

    /// `key IN (?, ?)` or `(k1, k2) IN (VALUES (?, ?), (?, ?))`.
    public func keyIn(_ alias: String, _ columns: [String], _ keys: [RecordKey]) -> SQL {
        if columns.count == 1 {
            return "\(column: columns[0], of: alias) IN (\(SQL.list(keys.map { $0.values[0] })))"
        }
        let rows = keys.map { key -> SQL in "(\(SQL.list(key.values)))" }.joined(separator: ", ")
        return "\(raw: Self.tuple(alias, columns)) IN (VALUES \(rows))"
    }

    /// `key > after` (a row value for several columns): the page after `after` in key order.
    public func keyAfter(_ alias: String, _ columns: [String], _ after: RecordKey) -> SQL {
        columns.count == 1 ? "\(column: columns[0], of: alias) > \(after.values[0])"
            : "\(raw: Self.tuple(alias, columns)) > (\(SQL.list(after.values)))"
    }

    /// True when the clock is past its bound; NULL-safe (always true or false, never NULL), so it can be negated.
    public func clockIsPast(_ alias: String, _ clock: ClockPredicate) -> SQL {
        let cols = clock.columns.map { SQL.qualified(alias, $0.name) }
        func past(_ i: Int) -> SQL { "\(raw: cols[i]) < \(clock.bounds[i])\(raw: Self.cast(clock.columns[i]))" }
        switch clock.combination {
        case .firstPresent:
            let alternatives = cols.indices.map { i -> SQL in
                let earlierNull = cols[..<i].map { SQL(stringLiteral: "\($0) IS NULL") }
                return "(\((earlierNull + ["\(raw: cols[i]) IS NOT NULL", past(i)]).joined(separator: " AND ")))"
            }
            return "(\(alternatives.joined(separator: " OR ")))"
        case .latest:
            let anyPresent = SQL(stringLiteral: "(" + cols.map { "\($0) IS NOT NULL" }.joined(separator: " OR ") + ")")
            let eachPast = cols.indices.map { i -> SQL in "(\(raw: cols[i]) IS NULL OR \(past(i)))" }
            return "(\(([anyPresent] + eachPast).joined(separator: " AND ")))"
        }
    }

    static func cast(_ column: DateColumn) -> String { column.storage.sqlCast.map { "::\($0)" } ?? "" }

    public func filter(_ alias: String, _ conditions: [FilterCondition]) -> [SQL] {
        conditions.map { condition in
            let col = SQL.qualified(alias, condition.column.value)
            switch condition.test {
            case .equals(.null), .isNull(true): return "\(raw: col) IS NULL"
            case .notEquals(.null), .isNull(false): return "\(raw: col) IS NOT NULL"
            case .equals(let v): return "\(raw: col) = \(v)"
            case .notEquals(let v): return "(\(raw: col) IS NULL OR \(raw: col) <> \(v))"
            case .oneOf(let values): return "\(raw: col) IN (\(SQL.list(values)))"
            }
        }
    }

    /// The FROM/WHERE text of a subquery over the rows of the path's last table that belong to the
    /// subject row `subjectAlias`, as alias `c<depth>`: a chain of joins, each on a child's foreign
    /// key, so every step is an index probe from the row before it (never a scan of a child table
    /// per parent, as nested `IN (SELECT …)` let PostgreSQL plan).
    public static func childRows(_ path: [ChildLink], subjectAlias: String) -> String {
        var from = "FROM \(SQL.quote(path[0].table)) AS c0"
        for (depth, link) in path.enumerated().dropFirst() {
            from += " JOIN \(SQL.quote(link.table)) AS c\(depth) ON \(tuple("c\(depth)", link.foreignKey)) = \(tuple("c\(depth - 1)", link.referenced))"
        }
        return from + " WHERE \(tuple("c0", path[0].foreignKey)) = \(tuple(subjectAlias, path[0].referenced))"
    }

    /// `CASE WHEN a OR b THEN 1 ELSE 0 END`, or `0` when there is nothing to test.
    static func flag(_ tests: [SQL]) -> SQL {
        tests.isEmpty ? "0" : "CASE WHEN \(tests.joined(separator: " OR ")) THEN 1 ELSE 0 END"
    }

    /// The query that lists due candidates of a rule with every fact the planner needs.
    /// `after` pages by key; `keys` restricts to given records (re-checking a plan).
    public func candidates(_ q: RuleQuery, after: RecordKey?, keys: [RecordKey]?, limit: Int?) -> SQL {
        let s = "s"
        let subjectKey = Self.tuple(s, q.keyColumns)
        var select: [SQL] = (q.keyColumns + q.clock.columns.map(\.name)).map { "\(column: $0, of: s)" }

        var consent: [SQL] = q.consentUntil.map {
            let column = SQL.qualified(s, $0.column)
            return "(\(raw: column) IS NOT NULL AND \(raw: column) > \($0.now)\(raw: $0.cast.map { "::\($0)" } ?? ""))"
        }
        consent += q.consentFlags.map { SQL(stringLiteral: dialect.flagIsSet(SQL.qualified(s, $0))) }
        select.append(Self.flag(consent))

        select.append(Self.flag(q.related.map { r in
            let recent: SQL = r.clock.map { " AND NOT \(clockIsPast("r", $0))" } ?? ""
            return "EXISTS (SELECT 1 FROM \(ident: r.table) AS r WHERE \(raw: Self.tuple("r", r.foreignKey)) = \(raw: subjectKey)\(recent))"
        }))

        select.append(Self.flag(q.undeclaredReferences.map { fk in
            "EXISTS (SELECT 1 FROM \(ident: fk.table) AS u WHERE \(raw: Self.tuple("u", fk.columns)) = \(raw: Self.tuple(s, fk.referencedColumns)))"
        }))

        var held: [SQL] = []
        if q.toolTablesExist {
            // A hold names a row by its table's primary key, whatever key the subject declares.
            if !q.holdKeyColumns.isEmpty {
                held.append(activeHold(table: q.table, keyColumns: q.holdKeyColumns.map { SQL.qualified(s, $0) }, at: q.holdTime))
            }
            for path in q.childPaths {
                guard let last = path.last, !last.primaryKey.isEmpty else { continue }
                let alias = "c\(path.count - 1)"
                let hold = activeHold(table: last.table, keyColumns: last.primaryKey.map { SQL.qualified(alias, $0) }, at: q.holdTime)
                held.append("EXISTS (SELECT 1 \(raw: Self.childRows(path, subjectAlias: s)) AND \(hold))")
            }
        }
        select.append(Self.flag(held))
        select += (q.fieldColumns + q.reviewColumns).map { "\(column: $0, of: s)" }

        var conditions = filter(s, q.filter)
        conditions.append(clockIsPast(s, q.clock))
        if let after {
            conditions.append(keyAfter(s, q.keyColumns, after))
        }
        if let keys { conditions.append(keyIn(s, q.keyColumns, keys)) }
        if q.excludeDone { conditions.append("NOT \(doneMark(rule: q.ruleID, keyColumns: q.keyColumns.map { SQL.qualified(s, $0) }))") }

        let order = q.keyColumns.map { SQL.qualified(s, $0) }.joined(separator: ", ")
        var sql: SQL = "SELECT \(select.joined(separator: ", ")) FROM \(ident: q.table) AS s WHERE \(conditions.joined(separator: " AND ")) ORDER BY \(raw: order)"
        if let limit { sql += " LIMIT \(.integer(Int64(limit)))" }
        return sql
    }

    /// `EXISTS` an active legal hold on the row of `table` whose primary key columns are `keyColumns`
    /// (qualified): one probe of the holds index on (table_name, record_key).
    func activeHold(table: String, keyColumns: [String], at time: Date) -> SQL {
        let now = SQLValue.text(Self.holdTime(time))
        return "EXISTS (SELECT 1 FROM retentiond_holds AS h WHERE h.table_name = \(.text(table)) AND h.record_key = \(raw: dialect.canonicalKey(keyColumns))"
            + " AND h.released_at IS NULL AND (h.until IS NULL OR h.until > \(now)))"
    }

    /// `EXISTS` the mark `rule` left on the record whose key columns are `keyColumns` (qualified):
    /// one probe of `retentiond_done`'s primary key, on the key as the database renders it.
    public func doneMark(rule: String, keyColumns: [String]) -> SQL {
        "EXISTS (SELECT 1 FROM retentiond_done AS d WHERE d.rule_id = \(.text(rule)) AND d.record_key = \(raw: dialect.canonicalKey(keyColumns)))"
    }

    /// Marks the records `keys` of `table` as done by `rule`, in the same canonical form.
    public func markDone(rule: String, table: String, keyColumns: [String], keys: [RecordKey]) -> SQL {
        let key = dialect.canonicalKey(keyColumns.map { SQL.qualified("p", $0) })
        return "INSERT INTO retentiond_done (rule_id, record_key) SELECT \(.text(rule)), \(raw: key) FROM \(ident: table) AS p"
            + " WHERE \(keyIn("p", keyColumns, keys)) ON CONFLICT DO NOTHING"
    }

    /// Removes the marks of `rules` on records about to be purged: a key the application reuses
    /// later must not inherit them.
    public func unmarkDone(rules: [String], table: String, keyColumns: [String], keys: [RecordKey]) -> SQL {
        let key = dialect.canonicalKey(keyColumns.map { SQL.qualified("p", $0) })
        return "DELETE FROM retentiond_done WHERE rule_id IN (\(SQL.list(rules.map { .text($0) })))"
            + " AND record_key IN (SELECT \(raw: key) FROM \(ident: table) AS p WHERE \(keyIn("p", keyColumns, keys)))"
    }

    /// Holds keep their `until` as UTC ISO-8601 text, so it compares as text in every database.
    public static func holdTime(_ date: Date) -> String {
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime]
        return f.string(from: date)
    }

    /// Decodes one row of `candidates(…)` given its values in select order.
    public static func decodeCandidate(_ row: [SQLValue], query q: RuleQuery) -> CandidateRow {
        var i = 0
        func take(_ n: Int) -> [SQLValue] { defer { i += n }; return Array(row[i..<(i + n)]) }
        func flag() -> Bool { let v = take(1)[0]; if case .integer(let n) = v { return n != 0 }; return false }
        let key = RecordKey(take(q.keyColumns.count))
        let clock = take(q.clock.columns.count)
        let consented = flag()
        let related = flag()
        let referenced = flag()
        let held = flag()
        let fields = take(q.fieldColumns.count)
        let review = take(q.reviewColumns.count)
        return CandidateRow(candidate: Candidate(key: key, clockValues: clock, consented: consented, keptByRelated: related,
                                                 referencedByUndeclared: referenced, fieldValues: fields, reviewValues: review),
                            held: held)
    }

    /// One `UPDATE` for a whole batch: new values travel in a `VALUES` list joined on the key.
    /// `casts` (PostgreSQL) gives each field's column type: values travel as text or integers and
    /// are cast back to the column's type.
    public func anonymise(table: String, keyColumns: [String], fields: [String], rows: [(RecordKey, [SQLValue])],
                          casts: [String]? = nil) -> SQL {
        let values = rows.map { key, newValues -> SQL in "(\(SQL.list(key.values + newValues)))" }.joined(separator: ", ")
        let k = keyColumns.count
        let sets = fields.enumerated().map { i, f in "\(SQL.quote(f)) = v.column\(k + i + 1)" + (casts.map { "::\($0[i])" } ?? "") }
        let join = keyColumns.enumerated().map { i, c in "\(SQL.quote(table)).\(SQL.quote(c)) = v.column\(i + 1)" }
        return "UPDATE \(ident: table) SET \(raw: sets.joined(separator: ", ")) FROM (VALUES \(values)) AS v WHERE \(raw: join.joined(separator: " AND "))"
    }

    /// `DELETE` of one child table's rows that belong to the batch's subject rows.
    public func deleteChildren(_ path: [ChildLink], subjectTable: String, keyColumns: [String], keys: [RecordKey]) -> SQL {
        let referenced = path[0].referenced.map { SQL.qualified("p", $0) }.joined(separator: ", ")
        var parentSelect: SQL = "SELECT \(raw: referenced) FROM \(ident: subjectTable) AS p WHERE \(keyIn("p", keyColumns, keys))"
        for depth in path.indices.dropFirst() {
            let parent = path[depth - 1]
            let link = path[depth]
            let columns = link.referenced.map { SQL.qualified("c", $0) }.joined(separator: ", ")
            parentSelect = "SELECT \(raw: columns) FROM \(ident: parent.table) AS c WHERE \(raw: Self.tuple("c", parent.foreignKey)) IN (\(parentSelect))"
        }
        let last = path[path.count - 1]
        let fk = last.foreignKey.map(SQL.quote)
        let lhs = fk.count == 1 ? fk[0] : "(" + fk.joined(separator: ", ") + ")"
        return "DELETE FROM \(ident: last.table) WHERE \(raw: lhs) IN (\(parentSelect))"
    }

    public func deleteRows(table: String, keyColumns: [String], keys: [RecordKey]) -> SQL {
        "DELETE FROM \(ident: table) AS p WHERE \(keyIn("p", keyColumns, keys))"
    }
}
