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
            return columnTest(column, of: alias, test)
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
        let samePartition = entry.partition.map { "\(column: $0, of: candidate) = \(column: $0, of: alias)" as SQL }
        let (order, key) = (entry.order, entry.key)
        let earlier: SQL =
            "(\(column: order, of: candidate) < \(column: order, of: alias) OR (\(column: order, of: candidate) = \(column: order, of: alias) AND \(column: key, of: candidate) < \(column: key, of: alias)))"
        let before: SQL =
            "SELECT \(column: key, of: candidate) FROM \(ident: entry.table) AS \(alias: candidate) WHERE \((samePartition + [earlier]).joined(separator: " AND ")) ORDER BY \(column: order, of: candidate) DESC, \(column: key, of: candidate) DESC LIMIT 1"
        let inSet = entry.conditions.map { " AND \(condition($0, on: previous, level: level + 1))" as SQL }.joined(
            separator: "")
        return
            "NOT EXISTS (SELECT 1 FROM \(ident: entry.table) AS \(alias: previous) WHERE \(column: key, of: previous) = (\(before))\(inSet))"
    }

    /// The test on the column `name` of the row `alias`.
    func columnTest(_ name: String, of alias: String, _ test: RowCondition.Test) -> SQL {
        let column: SQL = "\(column: name, of: alias)"
        // What the dialect's expressions take.
        let qualified = SQL.qualified(alias, name)
        switch test {
        case .filter(.equals(.null)), .filter(.isNull(true)), .filter(.exists(false)): return "\(column) IS NULL"
        case .filter(.notEquals(.null)), .filter(.isNull(false)), .filter(.exists(true)):
            return "\(column) IS NOT NULL"
        case .filter(.equals(let v)): return equalsExactly(qualified, [v])
        case .filter(.notEquals(let v)): return "(\(column) IS NULL OR \(exact(qualified, v)) <> \(v))"
        case .filter(.oneOf(let values)): return equalsExactly(qualified, values)
        case .laterThan(let value, let cast):
            return "(\(column) IS NOT NULL AND \(column) > \(dialect.bound(value, as: cast)))"
        case .flagSet: return "\(raw: dialect.flagIsSet(qualified))"
        }
    }

    /// The column as compared with a text value: exactly, whatever the column's collation.
    private func exact(_ column: String, _ value: SQLValue) -> SQL {
        "\(raw: Self.isText(value) ? dialect.exactly(column) : column)"
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
                let subject: SQL = subjectTable.map { "\(ident: $0) AS \(alias: alias), " } ?? ""
                from = "FROM \(subject)\(ident: step.table) AS \(alias: current)"
                conditions.append(join)
            } else {
                from += " JOIN \(ident: step.table) AS \(alias: current) ON \(join)"
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
        return
            "SELECT \(columns: columns, of: last) \(rows) AND \(keyIn("p", keyColumns, [key]))\(tests) ORDER BY \(columns: columns, of: last) LIMIT \(.integer(Int64(limit)))"
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
    ) -> SQL {
        guard parentAsText else {
            return Self.match(alias, columns, otherAlias, otherColumns, caseInsensitive: caseInsensitive)
        }
        return zip(columns, otherColumns).map {
            "\(column: $0, of: alias) = \(raw: dialect.numberAsText(SQL.qualified(otherAlias, $1)))" as SQL
        }
        .joined(separator: " AND ")
    }

    /// `a.x = b.y AND …`, or with `caseInsensitive` `LOWER(a.x) = LOWER(b.y) AND …`; one tuple
    /// comparison when exact, as the child joins have always been written.
    static func match(
        _ alias: String, _ columns: [String], _ otherAlias: String, _ otherColumns: [String], caseInsensitive: Bool
    ) -> SQL {
        guard caseInsensitive else { return "\(row: columns, of: alias) = \(row: otherColumns, of: otherAlias)" }
        return zip(columns, otherColumns).map {
            "LOWER(\(column: $0, of: alias)) = LOWER(\(column: $1, of: otherAlias))" as SQL
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
        // The column of row `a` holds a date (what the dialect renders).
        func holds(_ a: String) -> SQL {
            plain
                ? "\(column: column.name, of: a) IS NOT NULL"
                : "\(raw: dialect.holdsDate(SQL.qualified(a, column.name)))"
        }
        guard !column.path.isEmpty else {
            let c: SQL = "\(column: column.name, of: alias)"
            guard !plain else { return ("\(c) IS NULL", "\(c) IS NOT NULL", "\(c) < \(value)") }
            return ("NOT \(holds(alias))", holds(alias), "(\(holds(alias)) AND \(c) < \(value))")
        }
        let present = exists(column.path, from: alias, level: level) { [holds($0)] }
        let past: SQL =
            column.earliest
            ? exists(column.path, from: alias, level: level) { last in
                let before: SQL = "\(column: column.name, of: last) < \(value)"
                return plain ? [before] : [holds(last), before]
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
        let aggregate: SQL = column.earliest ? "MIN" : "MAX"
        return "(SELECT \(aggregate)(\(column: column.name, of: last)) \(rows))"
    }
}
