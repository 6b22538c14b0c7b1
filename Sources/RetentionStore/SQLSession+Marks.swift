import Foundation
import RetentionCore

/// The done marks (`retentiond_done`) in SQL: which records a rule already anonymised or flagged.
extension StoreSession {
    /// Whether `retentiond_done` exists (derived data, outside `ToolTables`: a database enforced by
    /// an older version has a trail but no marks yet).
    public func doneTableExists() throws -> Bool { try tableExists("retentiond_done") }

    /// The row that says a rule's marks are complete; no canonical key is `*` (they start with `[`).
    static var completeMark: SQLValue { .text("*") }

    /// Those of `rules` whose marks in `retentiond_done` are complete (every record they flagged
    /// or anonymised is marked), so their queries may leave marked records out.
    public func rulesWithCompleteMarks(among rules: [String]) throws -> Set<String> {
        guard !rules.isEmpty, try doneTableExists() else { return [] }
        // By rule: the key's first column (a scan of every mark otherwise).
        let sql: SQL =
            "SELECT rule_id FROM retentiond_done WHERE rule_id IN (\(SQL.list(rules.map { .text($0) }))) AND record_key = \(Self.completeMark)"
        return Set(try rows(sql).compactMap { $0[0].textValue })
    }

    /// How many records `rule` has marked as done.
    public func doneCount(ruleID: String) throws -> Int {
        guard try doneTableExists(),
            case .integer(let n)? = try rows(
                "SELECT count(*) FROM retentiond_done WHERE rule_id = \(.text(ruleID)) AND record_key <> \(Self.completeMark)"
            ).first?.first
        else { return 0 }
        return Int(n)
    }

    /// The records of `table` that `rule` marked (and that still exist), by key order after
    /// `after`: each row is the key columns' values then `columns`' values.
    public func markedRecords(
        ruleID: String, table: String, keyColumns: [String], columns: [String], after: RecordKey?, limit: Int
    ) throws -> [[SQLValue]] {
        guard try doneTableExists() else { return [] }
        let s = "s"
        var sql: SQL =
            "SELECT \(columns: keyColumns + columns, of: s) FROM \(ident: table) AS s WHERE \(builder.doneMark(rule: ruleID, keyColumns: keyColumns.map { SQL.qualified(s, $0) }))"
        if let after { sql += " AND \(builder.keyAfter(s, keyColumns, after))" }
        sql +=
            " ORDER BY \(columns: keyColumns, of: s) LIMIT \(.integer(Int64(limit)))"
        return try rows(sql)
    }

    /// The keys (`keyColumns`' values) of `table`'s rows in key order after `after`, at most `limit`:
    /// every record of a table, page by page (the erasure ledger's replay matches references).
    public func keys(table: String, keyColumns: [String], after: RecordKey?, limit: Int) throws -> [RecordKey] {
        var sql: SQL = "SELECT \(columns: keyColumns, of: "k") FROM \(ident: table) AS k"
        if let after { sql += " WHERE \(builder.keyAfter("k", keyColumns, after))" }
        sql += " ORDER BY \(columns: keyColumns, of: "k") LIMIT \(.integer(Int64(limit)))"
        return try rows(sql).map(RecordKey.init)
    }

}

extension WritingSession {
    /// Marks records as done by a flag or anonymise rule (in the batch that changed them).
    public func markDone(ruleID: String, table: String, keyColumns: [String], keys: [RecordKey]) throws {
        guard !keys.isEmpty else { return }
        try execute(builder.markDone(rule: ruleID, table: table, keyColumns: keyColumns, keys: keys))
    }

    /// Removes `rules`' marks on records about to be purged.
    public func unmarkDone(ruleIDs: [String], table: String, keyColumns: [String], keys: [RecordKey]) throws {
        guard !keys.isEmpty, !ruleIDs.isEmpty else { return }
        try execute(builder.unmarkDone(rules: ruleIDs, table: table, keyColumns: keyColumns, keys: keys))
    }

    /// Drops every mark (after a restore the trail, not the marks, says what was done).
    public func clearDoneMarks() throws {
        if try doneTableExists() { try execute("DELETE FROM retentiond_done") }
    }

    /// Records that `rule`'s marks are complete from now on.
    public func completeMarks(ruleID: String) throws {
        try execute(
            "INSERT INTO retentiond_done (rule_id, record_key) VALUES (\(.text(ruleID)), \(Self.completeMark))\(raw: dialect.ignoringDuplicates)"
        )
    }
}
