import Foundation
import RetentionCore
import RetentionStore

extension SQLDialect {
    /// MariaDB, in the session set up by `MariaDBConnection` (ANSI quotes and `||`, standard string
    /// literals): `?` placeholders like SQLite's, and the places its SQL still differs.
    public static let mariadb = SQLDialect(
        numberedPlaceholders: false,
        flagIsSet: { column in
            "(\(column) IS NOT NULL AND CAST(\(column) AS CHAR) NOT IN ('0', 'false', 'f', 'no', 'n', ''))"
        },
        // No `typeof`: a value's JSON type tells an integer column's values from text ones. The
        // result is compared byte for byte (`utf8mb4_bin`), whatever the columns' collations.
        canonicalKey: { columns in
            let parts = columns.map { c in
                "CASE JSON_TYPE(JSON_EXTRACT(JSON_ARRAY(\(c)), '$[0]')) WHEN 'INTEGER' THEN CAST(\(c) AS CHAR) WHEN 'NULL' THEN 'null' "
                    + "ELSE '\"' || replace(replace(CAST(\(c) AS CHAR), '\\', '\\\\'), '\"', '\\\"') || '\"' END"
            }
            return "(CONVERT('[' || " + parts.joined(separator: " || ',' || ")
                + " || ']' USING utf8mb4) COLLATE utf8mb4_bin)"
        },
        keyValueKind: { declaredType in
            switch declaredType.lowercased() {
            case "tinyint", "smallint", "mediumint", "int", "integer", "bigint": return .integer
            case "char", "varchar", "tinytext", "text", "mediumtext", "longtext": return .text
            default: return .other
            }
        },
        textOf: { column in "(CONVERT(\(column) USING utf8mb4) COLLATE utf8mb4_bin)" },
        // READ COMMITTED: a batch locks its subject rows by key first (`locksKeysFirst`).
        lockRows: "",
        castValue: { value, type in
            type == "timestamptz" ? "STR_TO_DATE(\(value), '%Y-%m-%dT%H:%i:%sZ')" : "CAST(\(value) AS DATETIME)"
        },
        exactly: { column in "CAST(CONVERT(\(column) USING utf8mb4) AS BINARY)" },
        ignoringDuplicates: " ON DUPLICATE KEY UPDATE rule_id = rule_id",
        deletesNameTheirAlias: true,
        updatesByJoin: true,
        listsRowsAsValues: false,
        // A zero date (`0000-00-00`) is earlier than 0001-01-01, the first real date.
        holdsDate: { column in "(\(column) IS NOT NULL AND \(column) >= '0001-01-01')" },
        locksKeysFirst: true,
        numberAsText: { column in "CAST(\(column) AS CHAR)" },
        // Exact numbers, floats and dates as the server writes them (a DECIMAL read as a double
        // would lose digits, a zero date would read as NULL); everything else as it is, bytes as bytes.
        copyOut: { column, type in
            switch type.lowercased() {
            case "decimal", "numeric", "float", "double", "real", "date", "datetime", "timestamp", "time", "year":
                return "CAST(\(column) AS CHAR)"
            default: return column
            }
        }
    )
}

/// A consistent-snapshot read reached a table whose definition changed after the snapshot began
/// (another session's DDL: the first worker creating the work queue): the read is run again.
struct SnapshotOutdated: Error, CustomStringConvertible {
    var failure: MariaDBConnection.Failure
    var description: String { "\(failure)" }
}

/// One read or one transaction on a MariaDB connection, on the store's own queue.
struct MariaDBSession: WritingSession {
    let connection: MariaDBConnection
    let location: String
    /// How long a batch's statements wait for a row lock another session holds (`limitLockWaits`).
    var lockWait: Duration = defaultLockWait

    var dialect: SQLDialect { .mariadb }

    func rows(_ sql: String, _ bindings: [SQLValue]) throws -> [[SQLValue]] {
        do { return try connection.run(sql, bindings).rows } catch { throw translate(error) }
    }

    func execute(_ sql: String, _ bindings: [SQLValue]) throws -> Int {
        do { return try connection.run(sql, bindings).changed } catch { throw translate(error) }
    }

    /// Multi-row `INSERT`s, each under the server's 65,535 placeholders, of 500 rows but the last:
    /// the same statement each time, which the connection prepares once.
    func insert(into table: String, columns: [String], rows values: [[SQLValue]]) throws {
        guard let width = values.first?.count, width > 0 else { return }
        let perStatement = max(1, min(500, 60_000 / width))
        var start = 0
        while start < values.count {
            let chunk = values[start..<min(values.count, start + perStatement)]
            let rows = chunk.map { "(\(SQL.list($0)))" as SQL }.joined(separator: ", ")
            try execute(
                "INSERT INTO \(ident: table) (\(idents: columns)) VALUES \(rows)")
            start += perStatement
        }
    }

    func tableExists(_ name: String) throws -> Bool {
        try rows(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name = ?",
            [.text(name)]
        ).first?.first != .integer(0)
    }

    /// The server's failures as operators read them: a lost connection or a lock wait that ran
    /// out as `DatabaseUnavailable`, a missing privilege with where to find the GRANTs.
    func translate(_ error: Error) -> Error {
        guard let failure = error as? MariaDBConnection.Failure else { return error }
        if failure.connectionLost {
            return DatabaseUnavailable.connectionLost(location: location, detail: "\(failure)")
        }
        switch failure.code {
        // ER_LOCK_WAIT_TIMEOUT (innodb_lock_wait_timeout), ER_LOCK_DEADLOCK: the transaction is rolled back.
        case 1205:
            return DatabaseUnavailable.lockWaitExceeded(location: location, wait: lockWait, detail: "\(failure)")
        case 1213:
            return DatabaseUnavailable(
                location: location, reason: "the server broke a deadlock by rolling this transaction back (\(failure))",
                conflict: true)
        // ER_TABLE_DEF_CHANGED: a snapshot read reached a table another session created or altered since.
        case 1412: return SnapshotOutdated(failure: failure)
        // ER_TABLEACCESS_DENIED_ERROR, ER_COLUMNACCESS_DENIED_ERROR, ER_DBACCESS_DENIED_ERROR, ER_SPECIFIC_ACCESS_DENIED_ERROR.
        case 1142, 1143, 1044, 1227:
            return StoreFailure.privilegeMissing("\(failure)", account: "user", guide: "docs/mariadb.md")
        default: return StoreFailure("\(failure)")
        }
    }

    // MARK: Changes

    /// An anonymisation changes the fields the policy names and nothing else: a column MariaDB
    /// would set on every UPDATE (Dolibarr's `tms … ON UPDATE CURRENT_TIMESTAMP`) keeps its value,
    /// so that a clock the policy reads is not restarted by the policy's own change.
    func anonymise(table: String, keyColumns: [String], fields: [String], rows updates: [(RecordKey, [SQLValue])])
        throws -> Int
    {
        guard !updates.isEmpty, !fields.isEmpty else { return 0 }
        let setOnUpdate = try rows(
            """
            SELECT column_name FROM information_schema.columns WHERE table_schema = DATABASE() AND table_name = \(.text(table))
            AND LOWER(extra) LIKE '%on update%' ORDER BY ordinal_position
            """
        ).compactMap { $0.first?.textValue }
        return try execute(
            builder.anonymise(
                table: table, keyColumns: keyColumns, fields: fields, rows: updates, unchanged: setOnUpdate))
    }

    /// MariaDB has no `UPDATE … RETURNING`: the hold is read back in the same transaction.
    func releaseHold(id: Int64, by: String, at: Date) throws -> LegalHold? {
        let changed = try execute(
            "UPDATE retentiond_holds SET released_by = \(.text(by)), released_at = \(.text(SQLBuilder.holdTime(at))) WHERE id = \(.integer(id)) AND released_at IS NULL"
        )
        guard changed == 1 else { return nil }
        return try rows("SELECT \(idents: Self.holdColumns) FROM retentiond_holds WHERE id = \(.integer(id))").first
            .flatMap(Self.hold)
    }

    /// The new hold's id from `LAST_INSERT_ID()` (MySQL has no `INSERT … RETURNING`).
    func insertHold(_ hold: LegalHold) throws -> Int64 {
        let values = [
            SQLValue.text(hold.table), .text(hold.key.canonical), .text(hold.reason), .text(hold.placedBy),
            .text(SQLBuilder.holdTime(hold.placedAt)), hold.until.map { .text(SQLBuilder.holdTime($0)) } ?? .null,
        ]
        try execute(
            "INSERT INTO retentiond_holds (table_name, record_key, reason, placed_by, placed_at, until) VALUES (\(SQL.list(values)))"
        )
        guard case .integer(let id) = try rows("SELECT LAST_INSERT_ID()", []).first?.first else {
            throw StoreFailure("the new hold has no id")
        }
        return id
    }

    // MARK: Locks

    /// The tool's locks are rows of `retentiond_locks`, locked until the transaction ends
    /// (`GET_LOCK` would outlive it).
    private func lockRow(_ name: String, _ mode: SQL) throws -> Bool {
        try !rows("SELECT name FROM retentiond_locks WHERE name = \(.text(name))\(mode)").isEmpty
    }

    /// Held by retentiond's own transactions only (batches, workers', holds placed), each bounded
    /// itself: waited for without the batch's `innodb_lock_wait_timeout`, which is for the
    /// application's locks (a worker behind a sibling's slow batch would otherwise stop its run).
    /// InnoDB's deadlock detection still ends a cycle.
    func lockAuditChain() throws {
        let bound: Int64
        switch try rows("SELECT @@SESSION.innodb_lock_wait_timeout", []).first?.first {
        case .integer(let seconds): bound = seconds
        case .text(let seconds): bound = Int64(seconds) ?? 50
        default: bound = 50
        }
        _ = try execute("SET SESSION innodb_lock_wait_timeout = \(Self.longestLockWait)", [])
        do {
            _ = try lockRow("audit-chain", " FOR UPDATE")
        } catch {
            _ = try? execute("SET SESSION innodb_lock_wait_timeout = \(bound)", [])
            throw error
        }
        _ = try execute("SET SESSION innodb_lock_wait_timeout = \(bound)", [])
    }

    /// A wait without a practical end (three years), which every MariaDB accepts (10.6 and later refuse more).
    static let longestLockWait = 100_000_000

    func lockHolds(exclusive: Bool) throws {
        _ = try lockRow("holds", exclusive ? " FOR UPDATE" : " LOCK IN SHARE MODE")
    }

    func tryLockHoldsExclusively() throws -> Bool { try lockRow("holds", " FOR UPDATE SKIP LOCKED") }

    /// `innodb_lock_wait_timeout` is in whole seconds: a wait under one second waits one.
    func limitLockWaits() throws {
        let seconds = max(1, (lockWait.milliseconds + 999) / 1000)
        _ = try execute("SET SESSION innodb_lock_wait_timeout = \(seconds)", [])
    }

    func analyze(tables: [String]) throws {
        guard !tables.isEmpty else { return }
        _ = try connection.execute("ANALYZE TABLE " + tables.map(SQL.quote).joined(separator: ", "))
    }

    /// InnoDB keeps statistics of its own, sampled as tables change: none is ever missing.
    func tablesWithoutStatistics(among tables: [String]) throws -> [String] { [] }

    func toolTables() throws -> ToolTables {
        let names = Set(
            try rows(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name IN ('retentiond_audit', 'retentiond_holds')",
                []
            )
            .compactMap { $0.first?.textValue })
        return ToolTables(audit: names.contains("retentiond_audit"), holds: names.contains("retentiond_holds"))
    }
}
