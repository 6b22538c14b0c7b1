import Foundation
import RetentionCore

/// Builds the statements a rule runs, as `SQL` fragments that read as the SQL they build.
///
/// Identifiers come only from the introspected schema (the validator refuses any other) and are
/// quoted; values are bound, never written into the text.
public struct SQLBuilder: Sendable {
    public let dialect: SQLDialect

    public init(dialect: SQLDialect) { self.dialect = dialect }

    /// `key IN (?, ?)` or `(k1, k2) IN (VALUES (?, ?), (?, ?))` (MariaDB: without `VALUES`).
    public func keyIn(_ alias: String, _ columns: [String], _ keys: [RecordKey]) -> SQL {
        if columns.count == 1 {
            return "\(column: columns[0], of: alias) IN (\(SQL.list(keys.map { $0.values[0] })))"
        }
        let rows = keys.map { key -> SQL in "(\(SQL.list(key.values)))" }.joined(separator: ", ")
        let values: SQL = dialect.listsRowsAsValues ? "VALUES " : ""
        return "\(row: columns, of: alias) IN (\(values)\(rows))"
    }

    /// `key > after` (a row value for several columns): the page after `after` in key order.
    public func keyAfter(_ alias: String, _ columns: [String], _ after: RecordKey) -> SQL {
        columns.count == 1
            ? "\(column: columns[0], of: alias) > \(after.values[0])"
            : "\(row: columns, of: alias) > (\(SQL.list(after.values)))"
    }

    /// A bound value compared with `column`, read as the column's type where it is a native date.
    func bound(_ value: SQLValue, for column: DateColumn) -> SQL { dialect.bound(value, as: column.storage.sqlCast) }

    /// The FROM/WHERE of a subquery over the rows of the path's last table that belong to the
    /// subject row `subjectAlias`, as alias `c<depth>`: a chain of joins, each on a child's foreign
    /// key (and discriminator), so every step is an index probe from the row before it (never a
    /// scan of a child table per parent, as nested `IN (SELECT …)` let PostgreSQL plan).
    public func childRows(_ path: [ChildLink], subjectAlias: String) -> SQL {
        let (from, conditions) = childJoins(path, below: subjectAlias)
        return "FROM \(from) WHERE \(conditions.joined(separator: " AND "))"
    }

    /// `childJoins` with the first table tied to the subject row `subjectAlias` by its link.
    func childJoins(_ path: [ChildLink], below subjectAlias: String) -> (from: SQL, conditions: [SQL]) {
        let first = path[0]
        return childJoins(
            path,
            first: join(
                "c0", first.foreignKey, subjectAlias, first.referenced, caseInsensitive: first.caseInsensitive,
                parentAsText: first.parentAsText))
    }

    /// The joins down `path` from its first table (`c0`, which `first` ties to the subject rows) to
    /// its last (`c0 JOIN c1 ON … JOIN c2 ON …`, for a FROM clause), and the conditions that go with them.
    func childJoins(_ path: [ChildLink], first: SQL) -> (from: SQL, conditions: [SQL]) {
        var from: SQL = "\(ident: path[0].table) AS c0"
        var conditions: [SQL] = [first]
        for (depth, link) in path.enumerated() {
            let alias = "c\(depth)"
            if depth > 0 {
                let on = join(
                    alias, link.foreignKey, "c\(depth - 1)", link.referenced, caseInsensitive: link.caseInsensitive,
                    parentAsText: link.parentAsText)
                from += " JOIN \(ident: link.table) AS \(alias: alias) ON \(on)"
            }
            conditions += link.conditions.map { condition($0, on: alias, level: depth + 1) }
        }
        return (from, conditions)
    }

    /// `CASE WHEN a OR b THEN 1 ELSE 0 END`, or `0` when there is nothing to test.
    static func flag(_ tests: [SQL]) -> SQL {
        tests.isEmpty ? "0" : "CASE WHEN \(tests.joined(separator: " OR ")) THEN 1 ELSE 0 END"
    }

    /// What keeps a record of the row `s`, as 0/1 columns: consent, a related record, a reference
    /// from an undeclared table, a legal hold (on the row or on a row a purge would take), then
    /// one per `q.keepers`: that subject keeps the record itself, or a row its deletion would take.
    func keepingFacts(_ q: RuleQuery, childHolds: Bool = true, keepers: Bool? = nil) -> [SQL] {
        let s = "s"
        var facts: [SQL] = [
            Self.flag(q.consent.map { condition($0, on: s) }), Self.flag(q.related.map { condition($0, on: s) }),
        ]
        facts.append(
            Self.flag(
                q.undeclaredReferences.map { fk in
                    "EXISTS (SELECT 1 FROM \(ident: fk.table) AS u WHERE \(row: fk.columns, of: "u") = \(row: fk.referencedColumns, of: s))"
                }))
        // A hold names a row by its table's primary key, whatever key the subject declares.
        var held: [SQL] = []
        func any(_ tests: [SQL]) -> SQL { tests.count == 1 ? tests[0] : "(\(tests.joined(separator: " OR ")))" }
        let subjectHolds = holds(q, table: q.table, keyColumns: q.holdKeyColumns.map { SQL.qualified(s, $0) })
        if !subjectHolds.isEmpty { held.append(any(subjectHolds)) }
        for path in childHolds ? q.childPaths : [] {
            guard let last = path.last else { continue }
            let alias = "c\(path.count - 1)"
            let linkHolds = holds(q, table: last.table, keyColumns: last.primaryKey.map { SQL.qualified(alias, $0) })
            guard !linkHolds.isEmpty else { continue }
            held.append("EXISTS (SELECT 1 \(childRows(path, subjectAlias: s)) AND \(any(linkHolds)))")
        }
        facts.append(Self.flag(held))
        // Owned rows another subject keeps stay behind (`deleteOwned`); they do not keep the record.
        for keeper in keepers ?? childHolds ? q.keepers : [] {
            var kept: [SQL] = q.subjectKeptBy.contains(keeper.subject) ? [keeps(keeper, on: s, level: 1)] : []
            for path in q.childPaths
            where !path[path.count - 1].owned && path[path.count - 1].keptBy.contains(keeper.subject) {
                kept.append(
                    "EXISTS (SELECT 1 \(childRows(path, subjectAlias: s)) AND \(keeps(keeper, on: "c\(path.count - 1)", level: path.count + 1)))"
                )
            }
            facts.append(Self.flag(kept))
        }
        return facts
    }

    /// `keepingFacts` as one column, fact n (0/1) weighing 2ⁿ, those that test nothing left out:
    /// every candidate a plan or a batch reads is one value to decode instead of four or more, on
    /// most rules a constant 0 (`decodeCandidate` reads the bits back).
    static func factMask(_ facts: [SQL]) -> SQL {
        let weighed = facts.enumerated().filter { $0.element.description != "0" }.map {
            "\($0.element) * \(literal: 1 << $0.offset)" as SQL
        }
        return weighed.isEmpty ? "0" : weighed.joined(separator: " + ")
    }

    /// The query that lists due candidates of a rule with every fact the planner needs.
    /// `after` pages by key; `keys` restricts to given records (re-checking a plan). A re-check
    /// reads the rule's mark as a column (`CandidateRow.markedDone`) rather than testing it in the
    /// condition: PostgreSQL would otherwise weigh the mark's probes against reading the clock's
    /// index over the rule's whole past (BitmapAnd), a cost that grows with every batch done.
    public func candidates(_ q: RuleQuery, after: RecordKey?, keys: [RecordKey]?, limit: Int?) -> SQL {
        let s = "s"
        let markSelected = keys != nil && q.excludeDone
        var select: [SQL] = q.keyColumns.map { "\(column: $0, of: s)" } + q.clock.columns.map { clockValue($0, on: s) }
        select.append(Self.factMask(keepingFacts(q)))
        select += (q.fieldColumns + q.reviewColumns + q.statisticsColumns).map { "\(column: $0, of: s)" }
        if markSelected {
            select.append(Self.flag([doneMark(rule: q.ruleID, keyColumns: q.keyColumns.map { SQL.qualified(s, $0) })]))
        }

        var conditions = q.filter.map { condition($0, on: s) }
        if !q.dueNow { conditions.append(clockIsPast(s, q.clock)) }
        if let after {
            conditions.append(keyAfter(s, q.keyColumns, after))
        }
        if let keys { conditions.append(keyIn(s, q.keyColumns, keys)) }
        if q.excludeDone && !markSelected {
            conditions.append("NOT \(doneMark(rule: q.ruleID, keyColumns: q.keyColumns.map { SQL.qualified(s, $0) }))")
        }

        var sql: SQL =
            "SELECT \(select.joined(separator: ", ")) FROM \(ident: q.table) AS s WHERE \(conditions.joined(separator: " AND ")) ORDER BY \(columns: q.keyColumns, of: s)"
        if let limit { sql += " LIMIT \(.integer(Int64(limit)))" }
        return sql
    }

    /// The tests that a legal hold covers the row of `table` whose primary key columns are
    /// `keyColumns` (qualified): retentiond's own (once its tables exist) and the application's
    /// (rows named by a one-column primary key). None for a table without a primary key.
    func holds(_ q: RuleQuery, table: String, keyColumns: [String]) -> [SQL] {
        guard !keyColumns.isEmpty else { return [] }
        let mayBeHeld = q.toolTablesExist && (q.heldTables?.contains(table) ?? true)
        var tests: [SQL] = mayBeHeld ? [activeHold(table: table, keyColumns: keyColumns, at: q.holdTime)] : []
        if keyColumns.count == 1 {
            tests += q.applicationHolds.map { source in
                var conditions: [SQL] = [
                    "ah.\(ident: source.tableColumn) = \(.text(table))",
                    "\(raw: dialect.textOf("ah." + SQL.quote(source.keyColumn))) = \(raw: dialect.textOf(keyColumns[0]))",
                ]
                if let until = source.until {
                    conditions.append(
                        "(ah.\(ident: until.column) IS NULL OR ah.\(ident: until.column) > \(dialect.bound(until.now, as: until.cast)))"
                    )
                }
                conditions += source.conditions.map { condition($0, on: "ah", level: 1) }
                return
                    "EXISTS (SELECT 1 FROM \(ident: source.table) AS ah WHERE \(conditions.joined(separator: " AND ")))"
            }
        }
        return tests
    }

    /// One record's standing under a rule, whatever its clock: whether it is the rule's subject
    /// (the filter), its clock values, whether the clock is past the cutoff, whether the rule
    /// already acted on it (`markedDone`: its mark, when marks are kept), and the keeping facts.
    /// `decodeStanding` reads it.
    public func standing(_ q: RuleQuery, key: RecordKey, marksKept: Bool) -> SQL {
        let s = "s"
        let filter = q.filter.map { condition($0, on: s) }
        var select: [SQL] = [filter.isEmpty ? "1" : Self.flag(["(\(filter.joined(separator: " AND ")))"])]
        select += q.clock.columns.map { clockValue($0, on: s) }
        select.append(Self.flag([clockIsPast(s, q.clock)]))
        select.append(
            marksKept
                ? Self.flag([doneMark(rule: q.ruleID, keyColumns: q.keyColumns.map { SQL.qualified(s, $0) })]) : "0")
        select += keepingFacts(q)
        return
            "SELECT \(select.joined(separator: ", ")) FROM \(ident: q.table) AS s WHERE \(keyIn(s, q.keyColumns, [key]))"
    }

    /// Decodes the row of `standing(q, …)`.
    public static func decodeStanding(_ row: [SQLValue], query q: RuleQuery) -> RecordStanding {
        func flag(_ i: Int) -> Bool { row[i] == .integer(1) }
        let clocks = q.clock.columns.count
        let facts = clocks + 3
        let keepers = q.keepers.indices.filter { flag(facts + 4 + $0) }.reduce(Int64(0)) { $0 | (1 << $1) }
        return RecordStanding(
            applies: flag(0), clockValues: Array(row[1...clocks]), past: flag(clocks + 1), done: flag(clocks + 2),
            consented: flag(facts), keptByRelated: flag(facts + 1), referencedByUndeclared: flag(facts + 2),
            held: flag(facts + 3), keptByRules: keptByRules(q, mask: keepers))
    }

    /// `EXISTS` an active legal hold on the row of `table` whose primary key columns are `keyColumns`
    /// (qualified): one probe of the holds index on (table_name, record_key).
    func activeHold(table: String, keyColumns: [String], at time: Date) -> SQL {
        let now = SQLValue.text(Self.holdTime(time))
        return
            "EXISTS (SELECT 1 FROM retentiond_holds AS h WHERE h.table_name = \(.text(table)) AND h.record_key = \(raw: dialect.canonicalKey(keyColumns))"
            + " AND h.released_at IS NULL AND (h.until IS NULL OR h.until > \(now)))"
    }

    /// `EXISTS` the mark `rule` left on the record whose key columns are `keyColumns` (qualified):
    /// one probe of `retentiond_done`'s primary key, on the key as the database renders it.
    /// `probedPerRow` (PostgreSQL's `OFFSET 0`, which keeps the subquery a probe per row): for
    /// statements run page by page or batch by batch. Otherwise PostgreSQL may turn the test into
    /// an anti-join, or a hashed subplan, and — its statistics taken while the table was small —
    /// hash every mark of the rule for each page or batch (250,000 marks read to re-check 2000
    /// records, 35 ms a batch and growing). A statement that reads a whole range once (the
    /// forecast) is better left to the planner: hashing once is right there.
    public func doneMark(rule: String, keyColumns: [String], probedPerRow: Bool = true) -> SQL {
        "EXISTS (SELECT 1 FROM retentiond_done AS d WHERE d.rule_id = \(.text(rule)) AND d.record_key = \(raw: dialect.canonicalKey(keyColumns))"
            + "\(raw: probedPerRow ? dialect.probeEachRow : ""))"
    }

    /// Marks the records `keys` of `table` as done by `rule`, in the same canonical form.
    public func markDone(rule: String, table: String, keyColumns: [String], keys: [RecordKey]) -> SQL {
        let key = dialect.canonicalKey(keyColumns.map { SQL.qualified("p", $0) })
        return
            "INSERT INTO retentiond_done (rule_id, record_key) SELECT \(.text(rule)), \(raw: key) FROM \(ident: table) AS p"
            + " WHERE \(keyIn("p", keyColumns, keys))\(raw: dialect.ignoringDuplicates)"
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
    /// `keys`: whether the row comes from a re-check of given keys (`candidates(_:after:keys:limit:)`).
    public static func decodeCandidate(_ row: [SQLValue], query q: RuleQuery, keys: Bool = false) -> CandidateRow {
        // Runs for every row a plan reads: no array is made for a value read alone, nor for none.
        var i = 0
        func take(_ n: Int) -> [SQLValue] {
            defer { i += n }
            return n == 0 ? [] : Array(row[i..<(i + n)])
        }
        func flag() -> Bool {
            defer { i += 1 }
            if case .integer(let n) = row[i] { return n != 0 }
            return false
        }
        let key = RecordKey(take(q.keyColumns.count))
        let clock = take(q.clock.columns.count)
        // `factMask`: consent 1, a related record 2, an undeclared reference 4, a legal hold 8,
        // then keeper k 16·2ᵏ.
        var facts: Int64 = 0
        if case .integer(let n) = row[i] { facts = n }
        i += 1
        let consented = facts & 1 != 0
        let related = facts & 2 != 0
        let referenced = facts & 4 != 0
        let held = facts & 8 != 0
        let fields = take(q.fieldColumns.count)
        let review = take(q.reviewColumns.count)
        var candidate = Candidate(
            key: key, clockValues: clock, consented: consented, keptByRelated: related,
            referencedByUndeclared: referenced, fieldValues: fields, reviewValues: review)
        candidate.statisticsValues = take(q.statisticsColumns.count)
        if facts >> 4 != 0 { candidate.keptByRules = Self.keptByRules(q, mask: facts >> 4) }
        var row = CandidateRow(candidate: candidate, held: held)
        if keys && q.excludeDone { row.markedDone = flag() }
        return row
    }

    /// The rules of the keepers whose bits are set in `mask` (keeper k at bit k), each named once.
    static func keptByRules(_ q: RuleQuery, mask: Int64) -> [String] {
        var rules: [String] = []
        for (k, keeper) in q.keepers.enumerated() where mask & (1 << k) != 0 && !rules.contains(keeper.rule) {
            rules.append(keeper.rule)
        }
        return rules
    }

    /// One `UPDATE` for a whole batch: new values travel in a `VALUES` list joined on the key.
    /// A field whose new value is the same for every row (`constant`, `null`, `year` of one
    /// year…) is set once instead, and with no other field the statement needs no list at all,
    /// only the keys (PostgreSQL: 16 → 10 ms a batch of 2000). `casts` (PostgreSQL) gives each
    /// field's column type: values travel as text or integers and are cast back to the column's type.
    /// `unchanged` columns are assigned their own value, first: MariaDB then leaves a column it
    /// would set on every UPDATE (`ON UPDATE CURRENT_TIMESTAMP`) as it was.
    public func anonymise(
        table: String, keyColumns: [String], fields: [String], rows: [(RecordKey, [SQLValue])],
        casts: [String]? = nil, unchanged: [String] = []
    ) -> SQL {
        func cast(_ i: Int) -> String { casts.map { "::\($0[i])" } ?? "" }
        let first = rows.first?.1 ?? []
        let varying = fields.indices.filter { i in rows.contains { $0.1[i] != first[i] } }
        let kept = unchanged.filter { !fields.contains($0) }
        guard !varying.isEmpty else {
            let sets: [SQL] =
                kept.map { "p.\(ident: $0) = p.\(ident: $0)" }
                + fields.indices.map { i in "\(ident: fields[i]) = \(first[i])\(raw: cast(i))" }
            return
                "UPDATE \(ident: table) AS p SET \(sets.joined(separator: ", ")) WHERE \(keyIn("p", keyColumns, rows.map(\.0)))"
        }
        let k = keyColumns.count
        func newValue(_ i: Int) -> SQL {
            varying.firstIndex(of: i).map { j in "v.\(alias: "column\(k + j + 1)")" } ?? "\(first[i])"
        }
        let join = keyColumns.enumerated().map { i, c -> SQL in
            "\(ident: table).\(ident: c) = v.\(alias: "column\(i + 1)")"
        }
        .joined(separator: " AND ")
        if dialect.updatesByJoin {
            // Every column named with its table: the joined list's columns could share a name with
            // one. The list is a derived table of `SELECT`s, its columns named by the first.
            let sets: [SQL] =
                kept.map { "\(ident: table).\(ident: $0) = \(ident: table).\(ident: $0)" }
                + fields.indices.map { i in "\(ident: table).\(ident: fields[i]) = \(newValue(i))" }
            let selects = rows.enumerated().map { n, row -> SQL in
                let values = row.0.values + varying.map { row.1[$0] }
                return "SELECT "
                    + values.enumerated().map { i, v -> SQL in n == 0 ? "\(v) AS \(alias: "column\(i + 1)")" : "\(v)" }
                    .joined(separator: ", ")
            }.joined(separator: " UNION ALL ")
            return "UPDATE \(ident: table) JOIN (\(selects)) AS v ON \(join) SET \(sets.joined(separator: ", "))"
        }
        let sets: [SQL] =
            kept.map { "\(ident: $0) = \(ident: table).\(ident: $0)" }
            + fields.indices.map { i in "\(ident: fields[i]) = \(newValue(i))\(raw: cast(i))" }
        let values = rows.map { key, newValues -> SQL in "(\(SQL.list(key.values + varying.map { newValues[$0] })))" }
            .joined(separator: ", ")
        return
            "UPDATE \(ident: table) SET \(sets.joined(separator: ", ")) FROM (VALUES \(values)) AS v WHERE \(join)"
    }

    public func deleteRows(table: String, keyColumns: [String], keys: [RecordKey]) -> SQL {
        "\(dialect.deleteFrom(table, as: "p")) WHERE \(keyIn("p", keyColumns, keys))"
    }
}
