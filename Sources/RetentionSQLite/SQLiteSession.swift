import Foundation
import GRDB
import GRDBSQLite
import RetentionCore
import RetentionStore

/// One read or one transaction on a SQLite database.
struct SQLiteSession: WritingSession {
    let db: Database

    var dialect: SQLDialect { .sqlite }

    /// Read through SQLite's own calls (GRDB's `Row`s and `DatabaseValue`s per value cost more
    /// than the reading); values convert as GRDB converts them.
    func rows(_ sql: String, _ bindings: [SQLValue]) throws -> [[SQLValue]] {
        let statement = try db.makeStatement(sql: sql)
        // The statement finalizes its handle when released: it lives until the rows are read.
        defer { withExtendedLifetime(statement) {} }
        let handle = statement.sqliteStatement
        try bind(bindings, to: handle, sql: sql)
        let columns = sqlite3_column_count(handle)
        var rows: [[SQLValue]] = []
        while true {
            let code = sqlite3_step(handle)
            if code == SQLITE_DONE { return rows }
            try check(code, expected: SQLITE_ROW, sql: sql)
            rows.append((0..<columns).map { Self.value(handle, column: $0) })
        }
    }

    /// One statement, bound and stepped through SQLite's own calls like `rows` (a batch's deletes
    /// carry thousands of keys: GRDB's arguments for them cost more than binding them).
    func execute(_ sql: String, _ bindings: [SQLValue]) throws -> Int {
        let statement = try db.makeStatement(sql: sql)
        defer { withExtendedLifetime(statement) {} }
        let handle = statement.sqliteStatement
        try bind(bindings, to: handle, sql: sql)
        var code = sqlite3_step(handle)
        while code == SQLITE_ROW { code = sqlite3_step(handle) }
        try check(code, expected: SQLITE_DONE, sql: sql)
        return Int(sqlite3_changes(db.sqliteConnection))
    }

    /// One prepared single-row INSERT, bound and stepped per row: in-process SQLite has no round
    /// trips to save, and assembling a statement of thousands of values (or GRDB's arguments for
    /// each row) cost more than the inserts.
    func insert(into table: String, columns: [String], rows: [[SQLValue]]) throws {
        guard !rows.isEmpty else { return }
        let sql =
            "INSERT INTO \(SQL.quote(table)) (\(columns.map(SQL.quote).joined(separator: ", "))) VALUES (\(columns.map { _ in "?" }.joined(separator: ", ")))"
        let statement = try db.cachedStatement(sql: sql)
        let handle = statement.sqliteStatement
        defer {
            sqlite3_reset(handle)
            withExtendedLifetime(statement) {}
        }
        for row in rows {
            try bind(row, to: handle, sql: sql)
            try check(sqlite3_step(handle), expected: SQLITE_DONE, sql: sql)
        }
    }

    // MARK: Schema

    /// The schema through GRDB's introspection. Its cache is dropped first: the application shares
    /// the file and may have changed the schema since this connection last looked.
    /// The schema, read through SQLite's table-valued pragma functions with each table's name
    /// bound as a value: no name is ever written into a statement, so a table or index called
    /// `a"b`, `select` or `sp ace` is read like any other (GRDB's helpers quote names without
    /// doubling an embedded quote).
    func schema() throws -> SchemaSnapshot {
        let names = try String.fetchAll(
            db, sql: "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")
        // Hidden columns (1) belong to virtual tables; generated columns (2, 3) are columns like any other.
        var tables = try names.map { name -> TableInfo in
            let columns = try Row.fetchAll(
                db, sql: "SELECT name, type, \"notnull\", pk FROM pragma_table_xinfo(?) WHERE hidden <> 1 ORDER BY cid",
                arguments: [name])
            // A table without a declared key has only SQLite's hidden rowid: no key a policy can name.
            let primaryKey = columns.filter { ($0[3] as Int) > 0 }.sorted { ($0[3] as Int) < ($1[3] as Int) }.map {
                $0[0] as String
            }
            return TableInfo(
                name: name,
                columns: columns.map { ColumnInfo(name: $0[0], declaredType: $0[1], notNull: $0[2]) },
                primaryKey: primaryKey,
                foreignKeys: try foreignKeys(on: name),
                indexes: try indexes(on: name) + lowerIndexes(on: name))
        }
        // A foreign key that names no column references its table's primary key (the rowid without one).
        let keys = Dictionary(
            tables.map { ($0.name, $0.primaryKey.isEmpty ? ["rowid"] : $0.primaryKey) }, uniquingKeysWith: { a, _ in a }
        )
        for t in tables.indices {
            tables[t].foreignKeys = tables[t].foreignKeys.map { fk in
                var fk = fk
                if fk.referencedColumns.contains("") {
                    fk.referencedColumns = keys[fk.referencedTable] ?? fk.referencedColumns
                }
                return fk
            }
        }
        return SchemaSnapshot(tables: tables)
    }

    /// The table's foreign keys, each with its columns in order (a referenced column left empty
    /// when the key names none: the referenced table's primary key, resolved by `schema`).
    private func foreignKeys(on table: String) throws -> [RetentionStore.ForeignKey] {
        var byID: [(id: Int, referenced: String, from: [String], to: [String])] = []
        for row in try Row.fetchAll(
            db, sql: "SELECT id, \"table\", \"from\", \"to\" FROM pragma_foreign_key_list(?) ORDER BY id, seq",
            arguments: [table])
        {
            let id: Int = row[0]
            if byID.last?.id != id { byID.append((id, row[1], [], [])) }
            byID[byID.count - 1].from.append(row[2])
            byID[byID.count - 1].to.append(row[3] as String? ?? "")
        }
        return byID.map {
            RetentionStore.ForeignKey(
                table: table, columns: $0.from, referencedTable: $0.referenced, referencedColumns: $0.to)
        }
    }

    /// The table's indexes on plain columns (an index with an expression key is left out here;
    /// `lowerIndexes` reads those led by LOWER(column)).
    private func indexes(on table: String) throws -> [RetentionStore.IndexInfo] {
        try Row.fetchAll(db, sql: "SELECT name, \"unique\" FROM pragma_index_list(?) ORDER BY seq", arguments: [table])
            .compactMap { row in
                let name: String = row[0]
                let columns = try Row.fetchAll(
                    db, sql: "SELECT name FROM pragma_index_info(?) ORDER BY seqno", arguments: [name]
                ).map { $0[0] as String? }
                guard !columns.isEmpty, !columns.contains(nil) else { return nil }
                return RetentionStore.IndexInfo(name: name, columns: columns.compactMap { $0 }, unique: row[1])
            }
    }

    /// The indexes on `table` whose first key is `LOWER(column)`, from their `CREATE INDEX` text.
    private func lowerIndexes(on table: String) throws -> [RetentionStore.IndexInfo] {
        try Row.fetchAll(
            db, sql: "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = ? AND sql IS NOT NULL",
            arguments: [table]
        )
        .compactMap { row -> RetentionStore.IndexInfo? in
            guard let name: String = row["name"], let sql: String = row["sql"],
                let on = sql.range(of: " ON ", options: .caseInsensitive),
                let open = sql[on.upperBound...].firstIndex(of: "(")
            else { return nil }
            // The first key: up to the first comma or closing parenthesis at depth 0.
            var depth = 0
            var end = sql.endIndex
            for index in sql[sql.index(after: open)...].indices {
                let c = sql[index]
                if c == "(" {
                    depth += 1
                } else if c == ")" {
                    if depth == 0 {
                        end = index
                        break
                    }
                    depth -= 1
                } else if c == ",", depth == 0 {
                    end = index
                    break
                }
            }
            guard let column = IndexInfo.lowerKey(String(sql[sql.index(after: open)..<end])) else { return nil }
            return RetentionStore.IndexInfo(
                name: name, columns: [IndexInfo.lower(column)], unique: sql.uppercased().hasPrefix("CREATE UNIQUE"))
        }
    }

    // MARK: The tool's own tables

    /// A SQLite writing transaction (BEGIN IMMEDIATE) already excludes every other writer.
    func lockAuditChain() throws {}

    /// A SQLite writing transaction (BEGIN IMMEDIATE) already excludes every other writer.
    func lockHolds(exclusive: Bool) throws {}

    /// A SQLite writing transaction (BEGIN IMMEDIATE) already excludes every other writer.
    func tryLockHoldsExclusively() throws -> Bool { true }

    /// The connection's busy timeout is the store's lock wait already (`SQLiteStore.init`).
    func limitLockWaits() throws {}

    func toolTables() throws -> ToolTables {
        let names = Set(
            try String.fetchAll(
                db,
                sql:
                    "SELECT name FROM sqlite_master WHERE type = 'table' AND name IN ('retentiond_audit', 'retentiond_holds')"
            ))
        return ToolTables(audit: names.contains("retentiond_audit"), holds: names.contains("retentiond_holds"))
    }

    func tableExists(_ name: String) throws -> Bool {
        try Int.fetchOne(
            db, sql: "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?", arguments: [name]) == 1
    }

    func prepareToolTables() throws {
        let refsFiled = try tableExists("retentiond_audit_refs")
        try db.execute(
            sql: """
                CREATE TABLE IF NOT EXISTS retentiond_audit (
                    seq INTEGER PRIMARY KEY,
                    run_id TEXT NOT NULL,
                    at TEXT NOT NULL,
                    actor TEXT NOT NULL,
                    policy_hash TEXT NOT NULL,
                    rule_id TEXT NOT NULL,
                    action TEXT NOT NULL,
                    table_name TEXT NOT NULL,
                    subject_ref TEXT NOT NULL,
                    fields TEXT NOT NULL,
                    detail TEXT NOT NULL,
                    prev_mac TEXT NOT NULL,
                    mac TEXT NOT NULL
                );
                CREATE INDEX IF NOT EXISTS retentiond_audit_action_rule ON retentiond_audit(action, rule_id);
                CREATE TABLE IF NOT EXISTS retentiond_audit_refs (
                    segment INTEGER NOT NULL,
                    ref TEXT NOT NULL,
                    seq INTEGER NOT NULL,
                    PRIMARY KEY (segment, ref, seq)
                ) WITHOUT ROWID;
                DROP INDEX IF EXISTS retentiond_audit_rule_ref;
                DROP INDEX IF EXISTS retentiond_audit_ref;
                DROP INDEX IF EXISTS retentiond_audit_action;
                DROP INDEX IF EXISTS retentiond_audit_run;
                CREATE TRIGGER IF NOT EXISTS retentiond_audit_append_only_update BEFORE UPDATE ON retentiond_audit
                    BEGIN SELECT RAISE(ABORT, 'retentiond_audit is append-only'); END;
                CREATE TRIGGER IF NOT EXISTS retentiond_audit_append_only_delete BEFORE DELETE ON retentiond_audit
                    BEGIN SELECT RAISE(ABORT, 'retentiond_audit is append-only'); END;
                CREATE TABLE IF NOT EXISTS retentiond_holds (
                    id INTEGER PRIMARY KEY AUTOINCREMENT,
                    table_name TEXT NOT NULL,
                    record_key TEXT NOT NULL,
                    reason TEXT NOT NULL,
                    placed_by TEXT NOT NULL,
                    placed_at TEXT NOT NULL,
                    until TEXT,
                    released_by TEXT,
                    released_at TEXT
                );
                CREATE INDEX IF NOT EXISTS retentiond_holds_record ON retentiond_holds(table_name, record_key);
                CREATE TABLE IF NOT EXISTS retentiond_done (
                    rule_id TEXT NOT NULL,
                    record_key TEXT NOT NULL,
                    PRIMARY KEY (rule_id, record_key)
                ) WITHOUT ROWID;
                CREATE TRIGGER IF NOT EXISTS retentiond_holds_keep_every_hold BEFORE DELETE ON retentiond_holds
                    BEGIN SELECT RAISE(ABORT, 'retentiond_holds keeps every hold: release one with retentiond hold release'); END;
                CREATE TRIGGER IF NOT EXISTS retentiond_holds_release_only BEFORE UPDATE ON retentiond_holds
                    WHEN OLD.released_at IS NOT NULL OR NEW.released_at IS NULL OR NEW.released_by IS NULL
                        OR NEW.id IS NOT OLD.id OR NEW.table_name IS NOT OLD.table_name OR NEW.record_key IS NOT OLD.record_key
                        OR NEW.reason IS NOT OLD.reason OR NEW.placed_by IS NOT OLD.placed_by OR NEW.placed_at IS NOT OLD.placed_at
                        OR NEW.until IS NOT OLD.until
                    BEGIN SELECT RAISE(ABORT, 'retentiond_holds rows change only when released, once: use retentiond hold release'); END;
                """)
        // Same transaction as the table: a trail is never left with half its references filed.
        if refsFiled { try fileUnfiledAuditRefs() } else { try execute(builder.fileExistingAuditRefs) }
    }
}

extension SQLiteSession {
    func prepareStatisticsTable(_ name: String) throws {
        try db.execute(
            sql:
                "CREATE TABLE IF NOT EXISTS \(SQL.quote(name)) (\(StatisticsTable.definition(text: "TEXT", key: ("TEXT", "TEXT", "TEXT"), integer: "INTEGER"))) WITHOUT ROWID"
        )
    }
}

extension SQLiteSession {
    /// SQLite has no roles: the file's permissions decide, and a file that cannot be written
    /// fails when it is opened for a run, before anything changes.
    func privileges(_ needs: [PrivilegeNeed]) throws -> PrivilegeReport { PrivilegeReport(role: nil, missing: []) }

    /// SQLite's planner works from its indexes without statistics (no `sqlite_stat1` needed).
    func tablesWithoutStatistics(among tables: [String]) throws -> [String] { [] }

    func readers(of tables: [String]) throws -> [TableReader] { [] }

    func analyze(tables: [String]) throws {}
}
