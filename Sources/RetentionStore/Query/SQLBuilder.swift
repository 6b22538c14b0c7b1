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

/// Builds SQL text from checked identifiers and collects the values to bind.
///
/// Identifiers come only from the introspected schema (the validator refuses any other) and are
/// quoted; values are never written into the text.
public struct SQLBuilder {
    public let dialect: SQLDialect
    public private(set) var bindings: [SQLValue] = []

    public init(dialect: SQLDialect) { self.dialect = dialect }

    public static func quote(_ identifier: String) -> String {
        "\"" + identifier.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }

    public static func qualified(_ alias: String, _ column: String) -> String { "\(alias).\(quote(column))" }

    public mutating func bind(_ value: SQLValue) -> String {
        bindings.append(value)
        return dialect.numberedPlaceholders ? "$\(bindings.count)" : "?"
    }

    /// `(a, b)` or `a`: a row value for one or several columns.
    public static func tuple(_ alias: String, _ columns: [String]) -> String {
        let cols = columns.map { qualified(alias, $0) }
        return cols.count == 1 ? cols[0] : "(" + cols.joined(separator: ", ") + ")"
    }

    /// `key IN (?, ?)` or `(k1, k2) IN (VALUES (?, ?), (?, ?))`.
    public mutating func keyIn(_ alias: String, _ columns: [String], _ keys: [RecordKey]) -> String {
        if columns.count == 1 {
            return Self.qualified(alias, columns[0]) + " IN (" + keys.map { bind($0.values[0]) }.joined(separator: ", ") + ")"
        }
        let rows = keys.map { key in "(" + key.values.map { bind($0) }.joined(separator: ", ") + ")" }
        return Self.tuple(alias, columns) + " IN (VALUES " + rows.joined(separator: ", ") + ")"
    }

    /// True when the clock is past its bound; NULL-safe (always true or false, never NULL), so it can be negated.
    public mutating func clockIsPast(_ alias: String, _ clock: ClockPredicate) -> String {
        let cols = clock.columns.map { Self.qualified(alias, $0.name) }
        switch clock.combination {
        case .firstPresent:
            var alternatives: [String] = []
            for (i, col) in cols.enumerated() {
                let earlierNull = cols[..<i].map { "\($0) IS NULL" }
                let test = earlierNull + ["\(col) IS NOT NULL", "\(col) < \(bind(clock.bounds[i]))\(Self.cast(clock.columns[i]))"]
                alternatives.append("(" + test.joined(separator: " AND ") + ")")
            }
            return "(" + alternatives.joined(separator: " OR ") + ")"
        case .latest:
            let anyPresent = "(" + cols.map { "\($0) IS NOT NULL" }.joined(separator: " OR ") + ")"
            let eachPast = cols.enumerated().map { i, col in "(\(col) IS NULL OR \(col) < \(bind(clock.bounds[i]))\(Self.cast(clock.columns[i])))" }
            return "(" + ([anyPresent] + eachPast).joined(separator: " AND ") + ")"
        }
    }

    static func cast(_ column: DateColumn) -> String { column.storage.sqlCast.map { "::\($0)" } ?? "" }

    public mutating func filter(_ alias: String, _ conditions: [FilterCondition]) -> [String] {
        conditions.map { condition in
            let col = Self.qualified(alias, condition.column.value)
            switch condition.test {
            case .equals(.null), .isNull(true): return "\(col) IS NULL"
            case .notEquals(.null), .isNull(false): return "\(col) IS NOT NULL"
            case .equals(let v): return "\(col) = \(bind(v))"
            case .notEquals(let v): return "(\(col) IS NULL OR \(col) <> \(bind(v)))"
            case .oneOf(let values): return "\(col) IN (" + values.map { bind($0) }.joined(separator: ", ") + ")"
            }
        }
    }

    /// The FROM/WHERE text of a subquery over the rows of the path's last table that belong to the
    /// subject row `subjectAlias`, as alias `c<depth>`: a chain of joins, each on a child's foreign
    /// key, so every step is an index probe from the row before it (never a scan of a child table
    /// per parent, as nested `IN (SELECT …)` let PostgreSQL plan).
    public static func childRows(_ path: [ChildLink], subjectAlias: String) -> String {
        var from = "FROM \(quote(path[0].table)) AS c0"
        for (depth, link) in path.enumerated().dropFirst() {
            from += " JOIN \(quote(link.table)) AS c\(depth) ON \(tuple("c\(depth)", link.foreignKey)) = \(tuple("c\(depth - 1)", link.referenced))"
        }
        return from + " WHERE \(tuple("c0", path[0].foreignKey)) = \(tuple(subjectAlias, path[0].referenced))"
    }

    /// The query that lists due candidates of a rule with every fact the planner needs.
    /// `after` pages by key; `keys` restricts to given records (re-checking a plan).
    public mutating func candidates(_ q: RuleQuery, after: RecordKey?, keys: [RecordKey]?, limit: Int?) -> String {
        let s = "s"
        var select = q.keyColumns.map { Self.qualified(s, $0) }
        select += q.clock.columns.map { Self.qualified(s, $0.name) }

        var consent: [String] = q.consentUntil.map {
            "(\(Self.qualified(s, $0.column)) IS NOT NULL AND \(Self.qualified(s, $0.column)) > \(bind($0.now))\($0.cast.map { "::\($0)" } ?? ""))"
        }
        consent += q.consentFlags.map { dialect.flagIsSet(Self.qualified(s, $0)) }
        select.append(consent.isEmpty ? "0" : "CASE WHEN " + consent.joined(separator: " OR ") + " THEN 1 ELSE 0 END")

        var related: [String] = []
        for r in q.related {
            var sub = "EXISTS (SELECT 1 FROM \(Self.quote(r.table)) AS r WHERE \(Self.tuple("r", r.foreignKey)) = \(Self.tuple(s, q.keyColumns))"
            if let clock = r.clock { sub += " AND NOT \(clockIsPast("r", clock))" }
            related.append(sub + ")")
        }
        select.append(related.isEmpty ? "0" : "CASE WHEN " + related.joined(separator: " OR ") + " THEN 1 ELSE 0 END")

        let referenced = q.undeclaredReferences.map { fk in
            "EXISTS (SELECT 1 FROM \(Self.quote(fk.table)) AS u WHERE \(Self.tuple("u", fk.columns)) = \(Self.tuple(s, fk.referencedColumns)))"
        }
        select.append(referenced.isEmpty ? "0" : "CASE WHEN " + referenced.joined(separator: " OR ") + " THEN 1 ELSE 0 END")

        var held: [String] = []
        if q.toolTablesExist {
            // A hold names a row by its table's primary key, whatever key the subject declares.
            if !q.holdKeyColumns.isEmpty {
                held.append(activeHold(table: q.table, keyColumns: q.holdKeyColumns.map { Self.qualified(s, $0) }, at: q.holdTime))
            }
            for path in q.childPaths {
                guard let last = path.last, !last.primaryKey.isEmpty else { continue }
                let alias = "c\(path.count - 1)"
                let hold = activeHold(table: last.table, keyColumns: last.primaryKey.map { Self.qualified(alias, $0) }, at: q.holdTime)
                held.append("EXISTS (SELECT 1 \(Self.childRows(path, subjectAlias: s)) AND \(hold))")
            }
        }
        select.append(held.isEmpty ? "0" : "CASE WHEN " + held.joined(separator: " OR ") + " THEN 1 ELSE 0 END")

        select += q.fieldColumns.map { Self.qualified(s, $0) }
        select += q.reviewColumns.map { Self.qualified(s, $0) }

        var conditions = filter(s, q.filter)
        conditions.append(clockIsPast(s, q.clock))
        if let after {
            if q.keyColumns.count == 1 {
                conditions.append("\(Self.qualified(s, q.keyColumns[0])) > \(bind(after.values[0]))")
            } else {
                conditions.append("\(Self.tuple(s, q.keyColumns)) > (" + after.values.map { bind($0) }.joined(separator: ", ") + ")")
            }
        }
        if let keys { conditions.append(keyIn(s, q.keyColumns, keys)) }

        var sql = "SELECT " + select.joined(separator: ", ") + " FROM \(Self.quote(q.table)) AS s WHERE " + conditions.joined(separator: " AND ")
        sql += " ORDER BY " + q.keyColumns.map { Self.qualified(s, $0) }.joined(separator: ", ")
        if let limit { sql += " LIMIT \(bind(.integer(Int64(limit))))" }
        return sql
    }

    /// `EXISTS` an active legal hold on the row of `table` whose primary key columns are `keyColumns`
    /// (qualified): one probe of the holds index on (table_name, record_key).
    mutating func activeHold(table: String, keyColumns: [String], at time: Date) -> String {
        let name = bind(.text(table))
        let key = dialect.canonicalKey(keyColumns)
        let now = bind(.text(Self.holdTime(time)))
        return "EXISTS (SELECT 1 FROM retentiond_holds AS h WHERE h.table_name = \(name) AND h.record_key = \(key)"
            + " AND h.released_at IS NULL AND (h.until IS NULL OR h.until > \(now)))"
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
    public mutating func anonymise(table: String, keyColumns: [String], fields: [String], rows: [(RecordKey, [SQLValue])],
                                   casts: [String]? = nil) -> String {
        let values = rows.map { key, newValues in
            "(" + (key.values + newValues).map { bind($0) }.joined(separator: ", ") + ")"
        }
        let k = keyColumns.count
        let sets = fields.enumerated().map { i, f in "\(Self.quote(f)) = v.column\(k + i + 1)" + (casts.map { "::\($0[i])" } ?? "") }
        let join = keyColumns.enumerated().map { i, c in "\(Self.quote(table)).\(Self.quote(c)) = v.column\(i + 1)" }
        return "UPDATE \(Self.quote(table)) SET " + sets.joined(separator: ", ")
            + " FROM (VALUES " + values.joined(separator: ", ") + ") AS v WHERE " + join.joined(separator: " AND ")
    }

    /// `DELETE` of one child table's rows that belong to the batch's subject rows.
    public mutating func deleteChildren(_ path: [ChildLink], subjectTable: String, keyColumns: [String], keys: [RecordKey]) -> String {
        var parentSelect = "SELECT \(path[0].referenced.map { Self.qualified("p", $0) }.joined(separator: ", ")) FROM \(Self.quote(subjectTable)) AS p WHERE \(keyIn("p", keyColumns, keys))"
        for depth in path.indices.dropFirst() {
            let parent = path[depth - 1]
            let link = path[depth]
            parentSelect = "SELECT \(link.referenced.map { Self.qualified("c", $0) }.joined(separator: ", ")) FROM \(Self.quote(parent.table)) AS c WHERE \(Self.tuple("c", parent.foreignKey)) IN (\(parentSelect))"
        }
        let last = path[path.count - 1]
        let fk = last.foreignKey.map(Self.quote)
        let lhs = fk.count == 1 ? fk[0] : "(" + fk.joined(separator: ", ") + ")"
        return "DELETE FROM \(Self.quote(last.table)) WHERE \(lhs) IN (\(parentSelect))"
    }

    public mutating func deleteRows(table: String, keyColumns: [String], keys: [RecordKey]) -> String {
        "DELETE FROM \(Self.quote(table)) AS p WHERE \(keyIn("p", keyColumns, keys))"
    }
}
