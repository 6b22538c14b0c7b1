import Foundation
import RetentionCore

/// Conditions through relations: every form is a column test or an `EXISTS` over the related rows
/// joined on the relation's columns, so an index on those columns serves each probe and no
/// statement scans a related table once per record.
///
/// Aliases: the rows of a path reached at nesting level `L` are `r<L>_0`, `r<L>_1`, …; a condition
/// inside them nests at `L + 1`, so aliases never collide whatever the depth.
extension SQLBuilder {
    /// `condition` on the row `alias`.
    public func condition(_ condition: RowCondition, on alias: String, level: Int = 0) -> SQL {
        switch condition {
        case .column(let column, let test):
            return columnTest(SQL.qualified(alias, column), test)
        case .related(let path, let conditions, let exists):
            let probe = self.exists(path, from: alias, level: level) { last in
                conditions.map { self.condition($0, on: last, level: level + 1) }
            }
            return exists ? probe : "NOT \(probe)"
        case .recentClock(let clock, let keepUndated):
            let notPast: SQL = "NOT \(clockIsPast(alias, clock, level: level))"
            return keepUndated ? notPast : "(\(clockPresent(alias, clock, level: level)) AND \(notPast))"
        case .entersSet(let entry):
            return entersSet(entry, alias: alias, level: level)
        }
    }

    /// The row `alias` is an entry into the set: the row just before it (same partition, by order
    /// then key) does not meet the set's conditions. The previous row is found by one ordered probe
    /// (an index on the partition columns serves it) and tested by its key.
    private func entersSet(_ entry: RowEntry, alias: String, level: Int) -> SQL {
        let previous = "e\(level)"
        let candidate = "e\(level)p"
        let samePartition = entry.partition.map { "\(SQL.qualified(candidate, $0)) = \(SQL.qualified(alias, $0))" }
        let (order, key) = (entry.order, entry.key)
        let earlier =
            "(\(SQL.qualified(candidate, order)) < \(SQL.qualified(alias, order)) OR (\(SQL.qualified(candidate, order)) = \(SQL.qualified(alias, order)) AND \(SQL.qualified(candidate, key)) < \(SQL.qualified(alias, key))))"
        let before: SQL =
            "SELECT \(column: key, of: candidate) FROM \(ident: entry.table) AS \(raw: candidate) WHERE \(raw: (samePartition + [earlier]).joined(separator: " AND ")) ORDER BY \(column: order, of: candidate) DESC, \(column: key, of: candidate) DESC LIMIT 1"
        let inSet = entry.conditions.map { " AND \(condition($0, on: previous, level: level + 1))" as SQL }.joined(
            separator: "")
        return
            "NOT EXISTS (SELECT 1 FROM \(ident: entry.table) AS \(raw: previous) WHERE \(column: key, of: previous) = (\(before))\(inSet))"
    }

    func columnTest(_ column: String, _ test: RowCondition.Test) -> SQL {
        switch test {
        case .filter(.equals(.null)), .filter(.isNull(true)), .filter(.exists(false)): return "\(raw: column) IS NULL"
        case .filter(.notEquals(.null)), .filter(.isNull(false)), .filter(.exists(true)):
            return "\(raw: column) IS NOT NULL"
        case .filter(.equals(let v)): return equalsExactly(column, [v])
        case .filter(.notEquals(let v)): return "(\(raw: column) IS NULL OR \(raw: exact(column, v)) <> \(v))"
        case .filter(.oneOf(let values)): return equalsExactly(column, values)
        case .laterThan(let value, let cast):
            return "(\(raw: column) IS NOT NULL AND \(raw: column) > \(dialect.bound(value, as: cast)))"
        case .flagSet: return SQL(stringLiteral: dialect.flagIsSet(column))
        }
    }

    /// The column as compared with a text value: exactly, whatever the column's collation.
    private func exact(_ column: String, _ value: SQLValue) -> String {
        Self.isText(value) ? dialect.exactly(column) : column
    }

    /// `column = value` (or `IN (values)`), text compared exactly. Where the dialect compares
    /// exactly through an expression (MariaDB's collations), the column is first compared as is —
    /// what is exactly equal is equal under any collation —, so that an index on it still finds
    /// the rows (a discriminator leading a composite index: `(elementtype, fk_element)`).
    private func equalsExactly(_ column: String, _ values: [SQLValue]) -> SQL {
        let test: (String) -> SQL = { compared in
            values.count == 1 ? "\(raw: compared) = \(values[0])" : "\(raw: compared) IN (\(SQL.list(values)))"
        }
        let exactly = dialect.exactly(column)
        guard values.contains(where: Self.isText), exactly != column else { return test(column) }
        return "(\(test(column)) AND \(test(exactly)))"
    }

    private static func isText(_ value: SQLValue) -> Bool {
        if case .text = value { return true }
        return false
    }

    /// `FROM … WHERE …` over the rows reached from `alias` through `path`, and the alias of the last
    /// step. `subjectTable`: `alias` is that table's row, listed first in the `FROM` (a statement of
    /// its own rather than a subquery of one over that table).
    func relatedRows(_ path: [RelationStep], from alias: String, level: Int, subjectTable: String? = nil) -> (
        rows: SQL, last: String
    ) {
        var from: SQL = ""
        var conditions: [SQL] = []
        var previous = alias
        for (i, step) in path.enumerated() {
            let current = "r\(level)_\(i)"
            let join = self.join(
                current, step.on.map(\.column), previous, step.on.map(\.parentColumn),
                caseInsensitive: step.caseInsensitive,
                parentAsText: step.parentAsText)
            if i == 0 {
                let subject: SQL = subjectTable.map { "\(ident: $0) AS \(raw: alias), " } ?? ""
                from = "FROM \(subject)\(ident: step.table) AS \(raw: current)"
                conditions.append(SQL(stringLiteral: join))
            } else {
                from += " JOIN \(ident: step.table) AS \(raw: current) ON \(raw: join)"
            }
            conditions += step.conditions.map { condition($0, on: current, level: level + 1) }
            previous = current
        }
        return (from + " WHERE \(conditions.joined(separator: " AND "))", previous)
    }

    /// `columns` of the rows reached from the subject row `key` through `path` that meet
    /// `conditions`, in the order of `columns`, at most `limit` (what `explain` names as keeping a record).
    public func relatedRecords(
        _ path: [RelationStep], subjectTable: String, keyColumns: [String], key: RecordKey,
        conditions: [RowCondition], columns: [String], limit: Int
    ) -> SQL {
        let (rows, last) = relatedRows(path, from: "p", level: 0, subjectTable: subjectTable)
        let tests = conditions.map { " AND \(condition($0, on: last, level: 1))" as SQL }.joined(separator: "")
        let list = columns.map { SQL.qualified(last, $0) }.joined(separator: ", ")
        return
            "SELECT \(raw: list) \(rows) AND \(keyIn("p", keyColumns, [key]))\(tests) ORDER BY \(raw: list) LIMIT \(.integer(Int64(limit)))"
    }

    /// `EXISTS` a row reached through `path` that also meets `extra` (tests on the last step's alias).
    ///
    /// Where an index serves the first step, the test is kept one probe per record (PostgreSQL's
    /// `OFFSET 0`): otherwise PostgreSQL may turn an `EXISTS` in a condition into a join, and, when
    /// its estimates are off (tables never analyzed, or a relation's `where` it cannot judge), plan
    /// it as a nested loop over a scan of the related table — on the Dolibarr example at 80,000
    /// third parties, a forecast took 3.2 s that way against 0.09 s by probes. Without such an index
    /// (`check` warns), the planner keeps its choice: a hash join then beats a scan per record.
    func exists(_ path: [RelationStep], from alias: String, level: Int, where extra: (String) -> [SQL] = { _ in [] })
        -> SQL
    {
        let (rows, last) = relatedRows(path, from: alias, level: level)
        let more = extra(last)
        let probe = path.first?.indexed == true ? dialect.probeEachRow : ""
        return "EXISTS (SELECT 1 \(rows)\(more.isEmpty ? "" : " AND " + more.joined(separator: " AND "))\(raw: probe))"
    }

    /// `match`, or for a link declared `as: text`, `a.x = CAST(b.y AS TEXT) AND …`: the starting
    /// row's (`otherAlias`) numbers read as text, so that an index on the text column `a.x` serves.
    func join(
        _ alias: String, _ columns: [String], _ otherAlias: String, _ otherColumns: [String], caseInsensitive: Bool,
        parentAsText: Bool
    ) -> String {
        guard parentAsText else {
            return Self.match(alias, columns, otherAlias, otherColumns, caseInsensitive: caseInsensitive)
        }
        return zip(columns, otherColumns).map {
            "\(SQL.qualified(alias, $0)) = \(dialect.numberAsText(SQL.qualified(otherAlias, $1)))"
        }
        .joined(separator: " AND ")
    }

    /// `a.x = b.y AND …`, or with `caseInsensitive` `LOWER(a.x) = LOWER(b.y) AND …`; one tuple
    /// comparison when exact, as the child joins have always been written.
    static func match(
        _ alias: String, _ columns: [String], _ otherAlias: String, _ otherColumns: [String], caseInsensitive: Bool
    ) -> String {
        guard caseInsensitive else { return "\(tuple(alias, columns)) = \(tuple(otherAlias, otherColumns))" }
        return zip(columns, otherColumns).map {
            "LOWER(\(SQL.qualified(alias, $0))) = LOWER(\(SQL.qualified(otherAlias, $1)))"
        }
        .joined(separator: " AND ")
    }

    // MARK: Clocks

    /// For one clock column at `bound`: SQL that is true when it has no value, when it has one,
    /// and when (having one) it is before the bound. For related rows the value is their latest
    /// (or earliest) date: "latest before the bound" is "no related date at or after it".
    func dateTests(_ column: DateColumn, bound: SQLValue, on alias: String, level: Int) -> (
        isNull: SQL, present: SQL, past: SQL
    ) {
        let value = self.bound(bound, for: column)
        // A native date column may hold a value that is no date (MariaDB's zero date): it counts as none.
        let plain = column.storage.sqlCast == nil || dialect.holdsDate("c") == "c IS NOT NULL"
        func holds(_ c: String) -> String { plain ? "\(c) IS NOT NULL" : dialect.holdsDate(c) }
        guard !column.path.isEmpty else {
            let c = SQL.qualified(alias, column.name)
            guard !plain else { return ("\(raw: c) IS NULL", "\(raw: c) IS NOT NULL", "\(raw: c) < \(value)") }
            return ("NOT \(raw: holds(c))", "\(raw: holds(c))", "(\(raw: holds(c)) AND \(raw: c) < \(value))")
        }
        let present = exists(column.path, from: alias, level: level) {
            [SQL(stringLiteral: holds(SQL.qualified($0, column.name)))]
        }
        let past: SQL =
            column.earliest
            ? exists(column.path, from: alias, level: level) { last in
                let before: SQL = "\(column: column.name, of: last) < \(value)"
                return plain ? [before] : ["\(raw: holds(SQL.qualified(last, column.name)))", before]
            }
            : "NOT \(exists(column.path, from: alias, level: level) { ["\(column: column.name, of: $0) >= \(value)"] })"
        return ("NOT \(present)", present, past)
    }

    /// True when the clock is past its bound; NULL-safe (always true or false, never NULL), so it can be negated.
    public func clockIsPast(_ alias: String, _ clock: ClockPredicate, level: Int = 0) -> SQL {
        let tests = clock.columns.indices.map {
            dateTests(clock.columns[$0], bound: clock.bounds[$0], on: alias, level: level)
        }
        switch clock.combination {
        case .firstPresent:
            let alternatives = tests.indices.map { i -> SQL in
                "(\((tests[..<i].map(\.isNull) + [tests[i].present, tests[i].past]).joined(separator: " AND ")))"
            }
            return "(\(alternatives.joined(separator: " OR ")))"
        case .latest:
            let anyPresent: SQL = "(\(tests.map(\.present).joined(separator: " OR ")))"
            let eachPast = tests.indices.map { i -> SQL in
                // The latest related date "before the bound or none" is already NULL-safe.
                let column = clock.columns[i]
                return !column.path.isEmpty && !column.earliest
                    ? tests[i].past : "(\(tests[i].isNull) OR \(tests[i].past))"
            }
            return "(\(([anyPresent] + eachPast).joined(separator: " AND ")))"
        }
    }

    /// True when the clock has a value.
    func clockPresent(_ alias: String, _ clock: ClockPredicate, level: Int) -> SQL {
        let tests = clock.columns.indices.map {
            dateTests(clock.columns[$0], bound: clock.bounds[$0], on: alias, level: level)
        }
        return "(\(tests.map(\.present).joined(separator: " OR ")))"
    }

    /// The value of one clock column for the row `alias`: the column, or the latest (earliest)
    /// of the related rows' dates.
    func clockValue(_ column: DateColumn, on alias: String) -> SQL {
        guard !column.path.isEmpty else { return "\(column: column.name, of: alias)" }
        let (rows, last) = relatedRows(column.path, from: alias, level: 0)
        return "(SELECT \(raw: column.earliest ? "MIN" : "MAX")(\(column: column.name, of: last)) \(rows))"
    }
}
