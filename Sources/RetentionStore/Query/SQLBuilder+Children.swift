import Foundation
import RetentionCore

/// The statements over a batch's child rows: which rows belong to the batch's records, deleting
/// them (and the owned rows they point to), selecting and counting them.
extension SQLBuilder {
    /// The condition, on alias `x` of the path's last table, that a row belongs to the batch's
    /// subject rows (and meets each link's discriminator on the way down).
    ///
    /// On PostgreSQL each level is `column = ANY (ARRAY(…))`: the level above is computed once
    /// (an InitPlan) and this level found through the foreign key's index. As `IN (…)` the planner
    /// costed a hash join on a scan of the whole child table as cheaper for one statement (it is,
    /// once), and ran that scan again in every batch: a run grew with batches × table size.
    /// A first link whose foreign key references the subject's key columns (as they are, not
    /// case-insensitively) is matched against the batch's keys themselves: reading the records
    /// again to list the keys the batch already holds cost SQLite 10 % of a child delete.
    func belongsToBatch(_ path: [ChildLink], subjectTable: String, keyColumns: [String], keys: [RecordKey]) -> SQL {
        func columns(_ alias: String, _ names: [String], lower: Bool, asText: Bool = false) -> SQL {
            names.map { name -> SQL in
                lower
                    ? "LOWER(\(column: name, of: alias))"
                    : asText ? "\(raw: dialect.numberAsText(SQL.qualified(alias, name)))" : "\(column: name, of: alias)"
            }.joined(separator: ", ")
        }
        func rowValue(_ alias: String, _ names: [String], lower: Bool) -> SQL {
            names.count == 1 ? columns(alias, names, lower: lower) : "(\(columns(alias, names, lower: lower)))"
        }
        // The rows of `link` (as `alias`) whose foreign key is among the level above's: the batch's
        // keys themselves where the first link references them as they are, else a subquery.
        func belongs(_ alias: String, _ link: ChildLink, to above: SQL?) -> SQL {
            guard let above else { return keyIn(alias, link.foreignKey, keys) }
            return member(
                rowValue(alias, link.foreignKey, lower: link.caseInsensitive), of: above, columns: link.foreignKey.count
            )
        }
        let first = path[0]
        var above: SQL? =
            first.referenced == keyColumns && !first.caseInsensitive && !first.parentAsText
            ? nil
            : "SELECT \(columns("p", first.referenced, lower: first.caseInsensitive, asText: first.parentAsText)) FROM \(ident: subjectTable) AS p WHERE \(keyIn("p", keyColumns, keys))"
        for depth in path.indices.dropFirst() {
            let parent = path[depth - 1]
            let link = path[depth]
            let tests = parent.conditions.map { c -> SQL in " AND \(condition(c, on: "c", level: 1))" }.joined(
                separator: "")
            above =
                "SELECT \(columns("c", link.referenced, lower: link.caseInsensitive, asText: link.parentAsText)) FROM \(ident: parent.table) AS c"
                + " WHERE \(belongs("c", parent, to: above))\(tests)"
        }
        let last = path[path.count - 1]
        let tests = last.conditions.map { c -> SQL in " AND \(condition(c, on: "x", level: 1))" }.joined(separator: "")
        return belongs("x", last, to: above) + tests
    }

    /// `value IN (subquery)`, or `value = ANY (ARRAY(subquery))` for one column where the dialect
    /// matches through arrays.
    private func member(_ value: SQL, of subquery: SQL, columns: Int) -> SQL {
        dialect.matchesThroughArrays && columns == 1
            ? "\(value) = ANY (ARRAY(\(subquery)))" : "\(value) IN (\(subquery))"
    }

    /// `DELETE` of one child table's rows that belong to the batch's subject rows.
    public func deleteChildren(_ path: [ChildLink], subjectTable: String, keyColumns: [String], keys: [RecordKey])
        -> SQL
    {
        "\(dialect.deleteFrom(path[path.count - 1].table, as: "x")) WHERE \(belongsToBatch(path, subjectTable: subjectTable, keyColumns: keyColumns, keys: keys))"
    }

    /// `DELETE` of the owned rows `keys` (of `link.foreignKey`) that nothing points to any more,
    /// and that no subject of `keepers` governing the table (`link.keptBy`) keeps.
    public func deleteOwned(_ link: ChildLink, keys: [RecordKey], keepers: [RowKeeper]) -> SQL {
        var sql: SQL = "\(dialect.deleteFrom(link.table, as: "o")) WHERE \(keyIn("o", link.foreignKey, keys))"
        for reference in link.stillReferencedBy {
            sql +=
                " AND NOT EXISTS (SELECT 1 FROM \(ident: reference.table) AS r WHERE \(row: reference.columns, of: "r") = \(row: reference.referencedColumns, of: "o"))"
        }
        return sql + notKept(link, keepers: keepers)
    }

    /// `columns` of the owned rows `keys` that no keeper keeps, whatever still points at them (a
    /// dry run works out what still does: `RunSimulation`).
    public func selectOwned(_ link: ChildLink, keys: [RecordKey], keepers: [RowKeeper], columns: [String]) -> SQL {
        "SELECT \(columns: columns, of: "o") FROM \(ident: link.table) AS o WHERE \(keyIn("o", link.foreignKey, keys))"
            + notKept(link, keepers: keepers)
    }

    /// ` AND NOT …` for each subject of `keepers` governing the owned table (`link.keptBy`), on alias `o`.
    private func notKept(_ link: ChildLink, keepers: [RowKeeper]) -> SQL {
        var sql: SQL = ""
        for keeper in keepers where link.keptBy.contains(keeper.subject) {
            sql += " AND NOT \(keeps(keeper, on: "o", level: 1))"
        }
        return sql
    }

    /// How many rows of the path's last table belong to the subject rows `keys`, in one statement.
    /// On SQLite, where every link has an index (`ChildLink.indexed`), the joins of `childRows`
    /// from the keys, each step an index probe (a quarter less than `IN (SELECT …)` per level).
    /// Otherwise the nested subqueries a batch deletes with: a database answers them with one scan
    /// of a table that has no index for its link, and PostgreSQL keeps its `= ANY (ARRAY(…))`
    /// levels index probes, where it would hash-join a page of thousands of keys with a scan of a
    /// child table of a few hundred thousand rows (50–110 ms a page instead of 7).
    public func countChildren(_ path: [ChildLink], subjectTable: String, keyColumns: [String], keys: [RecordKey]) -> SQL
    {
        guard path.allSatisfy(\.indexed), !dialect.matchesThroughArrays else {
            return
                "SELECT count(*) FROM \(ident: path[path.count - 1].table) AS x WHERE \(belongsToBatch(path, subjectTable: subjectTable, keyColumns: keyColumns, keys: keys))"
        }
        let first = path[0]
        if first.referenced == keyColumns && !first.caseInsensitive && !first.parentAsText {
            let (from, conditions) = childJoins(path, first: keyIn("c0", first.foreignKey, keys))
            return "SELECT count(*) FROM \(from) WHERE \(conditions.joined(separator: " AND "))"
        }
        let (from, conditions) = childJoins(path, below: "s")
        return
            "SELECT count(*) FROM \(ident: subjectTable) AS s, \(from) WHERE \(([keyIn("s", keyColumns, keys)] + conditions).joined(separator: " AND "))"
    }

    /// How many rows of one child table belong to the subject rows `keys` through any of `paths`
    /// (every path ending in that table, as a table reached by two declarations is): each row is
    /// counted once — the paths' conditions on the same row, joined by OR — as the deletes, one
    /// per path, delete it once.
    public func countChildren(_ paths: [[ChildLink]], subjectTable: String, keyColumns: [String], keys: [RecordKey])
        -> SQL
    {
        guard paths.count > 1 else {
            return countChildren(paths[0], subjectTable: subjectTable, keyColumns: keyColumns, keys: keys)
        }
        let reached = paths.map {
            "(\(belongsToBatch($0, subjectTable: subjectTable, keyColumns: keyColumns, keys: keys)))" as SQL
        }
        return
            "SELECT count(*) FROM \(ident: paths[0][paths[0].count - 1].table) AS x WHERE \(reached.joined(separator: " OR "))"
    }

    /// Per record of `keys`: its key columns, then for each group of paths (the paths ending in one
    /// child table) how many of that table's rows belong to it — each row once, however many of the
    /// group's paths reach it, where the table has a primary key to tell them apart (without one,
    /// the paths' counts are added). One correlated count per record and group, along the links'
    /// indexes: for a page of an export (`plan --format csv`), not for the totals.
    public func childRowsPerRecord(
        _ groups: [[[ChildLink]]], subjectTable: String, keyColumns: [String], keys: [RecordKey]
    ) -> SQL {
        let counts = groups.map { paths -> SQL in
            let last = paths[0][paths[0].count - 1]
            guard paths.count > 1, !last.primaryKey.isEmpty else {
                return paths.map { "(SELECT count(*) \(childRows($0, subjectAlias: "s")))" as SQL }.joined(
                    separator: " + ")
            }
            let reached = paths.map { path -> SQL in
                "EXISTS (SELECT 1 \(childRows(path, subjectAlias: "s")) AND \(row: last.primaryKey, of: "c\(path.count - 1)") = \(row: last.primaryKey, of: "x"))"
            }
            return "(SELECT count(*) FROM \(ident: last.table) AS x WHERE \(reached.joined(separator: " OR ")))"
        }
        return
            "SELECT \(columns: keyColumns, of: "s"), \(counts.joined(separator: ", ")) FROM \(ident: subjectTable) AS s WHERE \(keyIn("s", keyColumns, keys))"
    }

    /// `columns` of one child table's rows that belong to the batch's subject rows, in `order`.
    public func selectChildren(
        _ path: [ChildLink], subjectTable: String, keyColumns: [String], keys: [RecordKey], columns: [String],
        order: [String]
    ) -> SQL {
        return
            "SELECT \(columns: columns, of: "x") FROM \(ident: path[path.count - 1].table) AS x WHERE \(belongsToBatch(path, subjectTable: subjectTable, keyColumns: keyColumns, keys: keys)) ORDER BY \(columns: order, of: "x")"
    }

}
