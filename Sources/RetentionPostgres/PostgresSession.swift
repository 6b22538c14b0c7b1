import Foundation
import Logging
import NIOCore
import PostgresNIO
import RetentionCore
import RetentionStore
import Synchronization

extension SQLDialect {
    /// PostgreSQL: `$n` placeholders; a key's canonical text built from the column's type.
    public static let postgres = SQLDialect(
        numberedPlaceholders: true,
        flagIsSet: { column in "(\(column) IS NOT NULL AND (\(column))::text NOT IN ('0', 'false', 'f', 'no', 'n', ''))"
        },
        canonicalKey: { columns in
            let parts = columns.map { c in
                "CASE WHEN pg_typeof(\(c))::text IN ('smallint', 'integer', 'bigint') THEN (\(c))::text "
                    + "ELSE '\"' || replace(replace((\(c))::text, '\\', '\\\\'), '\"', '\\\"') || '\"' END"
            }
            return "('[' || " + parts.joined(separator: " || ',' || ") + " || ']')"
        },
        keyValueKind: { declaredType in
            switch declaredType.lowercased() {
            case "smallint", "integer", "bigint": return .integer
            case "text", "character varying", "character", "varchar", "char", "bpchar": return .text
            default: return .other
            }
        },
        textOf: { column in "(\(column))::text" },
        // READ COMMITTED: lock the batch's subject rows, so the re-check and the change see the same data.
        lockRows: " FOR UPDATE OF s",
        matchesThroughArrays: true,
        probeEachRow: " OFFSET 0",
        numberAsText: { column in "(\(column))::text" },
        // Every type's text form is what its input function reads back: COPY writes the copy.
        copyOut: { column, _ in "CAST(\(column) AS text)" }
    )
}

/// One read or one transaction on a PostgreSQL connection. Runs on the store's own queue, never
/// on an event loop or the cooperative pool, so waiting on a future is safe here.
struct PostgresSession: WritingSession, SQLExecuting {
    let link: PostgresLink
    var connection: PostgresConnection { link.connection }
    let logger: Logger
    let location: String
    /// How long a batch's statements wait for a lock another session holds (`limitLockWaits`).
    var lockWait: Duration = defaultLockWait

    var dialect: SQLDialect { .postgres }

    private func run(_ sql: String, _ bindings: [SQLValue]) throws -> PostgresQueryResult {
        var binds = PostgresBindings(capacity: bindings.count)
        for value in bindings {
            switch value {
            case .null: binds.appendNull()
            case .integer(let i): binds.append(i)
            case .real(let d): binds.append(d)
            case .text(let s): binds.append(s)
            case .blob(let d): binds.append(ByteBuffer(bytes: d))
            }
        }
        // A query sent on a connection the server has just dropped may never complete: the link
        // fails the query in flight the moment its connection closes.
        return try waiting { outcome in
            connection.query(PostgresQuery(unsafeSQL: sql, binds: binds), logger: logger).whenComplete {
                outcome.set($0)
            }
        }
    }

    /// Starts one exchange with the server (`start` completes the outcome) and waits for it.
    private func waiting<Value: Sendable>(_ start: (Outcome<Value>) -> Void) throws -> Value {
        let outcome = Outcome<Value>()
        guard link.track(outcome) else {
            throw DatabaseUnavailable(location: location, reason: "the connection to the server was lost")
        }
        defer { link.untrack() }
        start(outcome)
        do {
            return try outcome.wait().get()
        } catch is PostgresLink.Closed {
            throw DatabaseUnavailable(location: location, reason: "the connection to the server was lost")
        } catch {
            throw Self.translate(error, location: location, lockWait: lockWait)
        }
    }

    /// `COPY … FROM STDIN` in text format: the server reads rows of tab-separated text instead of
    /// parsing and binding a statement of thousands of parameters (the audit rows of a batch).
    func insert(into table: String, columns: [String], rows: [[SQLValue]]) throws {
        guard !rows.isEmpty else { return }
        var text: [UInt8] = []
        text.reserveCapacity(rows.count * 400)
        for row in rows {
            for (i, value) in row.enumerated() {
                if i > 0 { text.append(0x09) }
                Self.copyText(value, into: &text)
            }
            text.append(0x0A)
        }
        let data = ByteBuffer(bytes: text)
        let connection = self.connection
        let logger = self.logger
        _ = try waiting { (outcome: Outcome<Bool>) in
            Task {
                do {
                    try await connection.copyFrom(table: table, columns: columns, logger: logger) { writer in
                        try await writer.write(data)
                    }
                    outcome.set(.success(true))
                } catch {
                    outcome.set(.failure(error))
                }
            }
        }
    }

    /// One value in COPY's text format: `\N` for NULL; backslash, newline, carriage return and tab
    /// escaped; bytes as `bytea` hex.
    static func copyText(_ value: SQLValue, into out: inout [UInt8]) {
        switch value {
        case .null: out += [UInt8(ascii: "\\"), UInt8(ascii: "N")]
        case .integer(let n): out += Array(String(n).utf8)
        case .real(let d): out += Array("\(d)".utf8)
        case .blob(let bytes): out += Array("\\\\x".utf8) + Array(bytes.hexEncoded.utf8)
        case .text(var s):
            s.withUTF8 { bytes in
                var clean = 0
                for i in bytes.indices {
                    let escaped: UInt8
                    switch bytes[i] {
                    case UInt8(ascii: "\\"): escaped = UInt8(ascii: "\\")
                    case 0x0A: escaped = UInt8(ascii: "n")
                    case 0x0D: escaped = UInt8(ascii: "r")
                    case 0x09: escaped = UInt8(ascii: "t")
                    default: continue
                    }
                    out.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[clean..<i]))
                    out += [UInt8(ascii: "\\"), escaped]
                    clean = i + 1
                }
                out.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[clean...]))
            }
        }
    }

    func rows(_ sql: String, _ bindings: [SQLValue]) throws -> [[SQLValue]] {
        try run(sql, bindings).rows.map { row in try row.map(Self.value) }
    }

    func execute(_ sql: String, _ bindings: [SQLValue]) throws -> Int {
        try run(sql, bindings).metadata.rows ?? 0
    }

    /// PostgresNIO's errors can carry the query; operators get the server's message and SQLSTATE only,
    /// and a lost connection becomes `DatabaseUnavailable`.
    static func translate(_ error: Error, location: String, lockWait: Duration = defaultLockWait) -> Error {
        guard let psql = error as? PSQLError else { return error }
        let lost: Set<PSQLError.Code> = [
            .serverClosedConnection, .clientClosedConnection, .connectionError, .uncleanShutdown, .queryCancelled,
        ]
        let state = psql.serverInfo?[.sqlState] ?? ""
        // lock_not_available: the batch's `lock_timeout` (retentiond never locks with NOWAIT).
        if state == "55P03" {
            return DatabaseUnavailable(location: location, reason: lockWaitExceeded(lockWait, detail: describe(psql)))
        }
        // deadlock_detected, serialization_failure: the transaction was rolled back, and may run again.
        if state == "40P01" || state == "40001" {
            return DatabaseUnavailable(location: location, reason: describe(psql), conflict: true)
        }
        if lost.contains(psql.code) || state.hasPrefix("08") || state.hasPrefix("57P") {
            return DatabaseUnavailable(location: location, reason: describe(psql))
        }
        // insufficient_privilege: `check` lists everything the role lacks at once.
        if state == "42501" {
            return StoreFailure(
                describe(psql)
                    + "; `retentiond check` lists every privilege the role lacks, with the GRANT statements to run (docs/postgresql.md, \"Privileges\")"
            )
        }
        return StoreFailure(describe(psql))
    }

    static let utc: Calendar = {
        var c = Calendar(identifier: .gregorian)
        c.timeZone = TimeZone(identifier: "UTC")!
        return c
    }()

    /// Native dates come back as ISO-8601 text: `timestamp` and `date` as the wall-clock values they
    /// hold (PostgresNIO decodes them as if UTC), `timestamptz` as an instant in UTC.
    static func value(_ cell: PostgresCell) throws -> SQLValue {
        guard cell.bytes != nil else { return .null }
        switch cell.dataType {
        case .int2, .int4, .int8: return .integer(try cell.decode(Int64.self))
        case .bool: return .integer(try cell.decode(Bool.self) ? 1 : 0)
        case .float4, .float8: return .real(try cell.decode(Double.self))
        case .numeric: return .real(NSDecimalNumber(decimal: try cell.decode(Decimal.self)).doubleValue)
        case .date:
            return DateCodec.render(try cell.decode(Date.self), storage: .iso8601, layout: .date, calendar: utc)
        case .timestamp:
            return DateCodec.render(
                try cell.decode(Date.self), storage: .iso8601, layout: .local(separator: " "), calendar: utc)
        case .timestamptz:
            return DateCodec.render(
                try cell.decode(Date.self), storage: .iso8601, layout: .utc(separator: "T"), calendar: utc)
        case .bytea: return .blob(Data(try cell.decode(ByteBuffer.self).readableBytesView))
        default:
            if let text = try? cell.decode(String.self) { return .text(text) }
            return .text(cell.bytes.map { String(buffer: $0) } ?? "")
        }
    }

    // MARK: Schema

    func schema() throws -> SchemaSnapshot {
        // The search path leaves out every schema the role may not use: without USAGE on the one
        // holding the tables, there is no current schema, and every table would seem missing.
        let current = try rows("SELECT current_schema()::text, current_user::text, current_setting('search_path')", [])
            .first
        guard current?[0].textValue != nil else {
            let role = current?[1].textValue ?? "?"
            let path = current?[2].textValue ?? "?"
            throw StoreFailure(
                "role `\(role)` may use no schema of its search_path (\(path)), so it sees no table: grant it USAGE on the schema holding the tables, as their owner (`GRANT USAGE ON SCHEMA public TO \(SQL.quote(role))`), then run `retentiond check` for the rest"
            )
        }
        let tableNames = try rows(
            """
            SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p') ORDER BY c.relname
            """, []
        ).compactMap { $0[0].textValue }
        var columns: [String: [ColumnInfo]] = [:]
        // From the catalog, which every role may read: information_schema.columns hides the columns
        // of a table the role holds no privilege on, and `check` would report them missing instead of
        // listing the GRANT it needs. The type is named as information_schema's `data_type` names it.
        for row in try rows(
            """
            SELECT c.relname::text, a.attname::text,
                   CASE WHEN b.typelem <> 0 AND b.typlen = -1 THEN 'ARRAY'
                        WHEN bn.nspname = 'pg_catalog' THEN format_type(b.oid, NULL)
                        ELSE 'USER-DEFINED' END,
                   CASE WHEN a.attnotnull OR (t.typtype = 'd' AND t.typnotnull) THEN 'NO' ELSE 'YES' END,
                   CASE WHEN bn.nspname = 'pg_catalog' THEN format_type(b.oid, CASE WHEN t.typtype = 'd' THEN t.typtypmod ELSE a.atttypmod END)
                        ELSE 'text' END
            FROM pg_attribute AS a
            JOIN pg_class AS c ON c.oid = a.attrelid
            JOIN pg_namespace AS n ON n.oid = c.relnamespace
            JOIN pg_type AS t ON t.oid = a.atttypid
            JOIN pg_type AS b ON b.oid = CASE WHEN t.typtype = 'd' THEN t.typbasetype ELSE t.oid END
            JOIN pg_namespace AS bn ON bn.oid = b.typnamespace
            WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p') AND a.attnum > 0 AND NOT a.attisdropped
            ORDER BY c.relname, a.attnum
            """, [])
        {
            let type = row[2].textValue ?? ""
            let native: DateStorage? =
                switch type {
                case "date": .date
                case "timestamp without time zone": .timestamp
                case "timestamp with time zone": .timestamptz
                default: nil
                }
            var column = ColumnInfo(
                name: row[1].textValue ?? "", declaredType: type, notNull: row[3].textValue == "NO",
                nativeDateStorage: native)
            // A type of the application's own (an enum, a composite) is archived as its text form.
            column.fullType = row[4].textValue
            columns[row[0].textValue ?? "", default: []].append(column)
        }
        var indexes: [String: [String: (unique: Bool, primary: Bool, columns: [String])]] = [:]
        for row in try rows(
            """
            SELECT t.relname::text, i.relname::text, ix.indisunique, ix.indisprimary, a.attname::text,
                   CASE WHEN k.attnum = 0 THEN pg_get_indexdef(ix.indexrelid, k.ord::int, true) END
            FROM pg_index ix
            JOIN pg_class t ON t.oid = ix.indrelid
            JOIN pg_class i ON i.oid = ix.indexrelid
            JOIN pg_namespace n ON n.oid = t.relnamespace
            CROSS JOIN LATERAL unnest(ix.indkey) WITH ORDINALITY AS k(attnum, ord)
            LEFT JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.attnum AND k.attnum > 0
            WHERE n.nspname = current_schema()
            ORDER BY t.relname, i.relname, k.ord
            """, [])
        {
            let table = row[0].textValue ?? ""
            let index = row[1].textValue ?? ""
            var entry = indexes[table, default: [:]][index] ?? (row[2] == .integer(1), row[3] == .integer(1), [])
            // An expression key (attnum 0): only LOWER(column) is kept; the index's later keys are
            // then left out as well, since a key that is not kept ends what the index is known to serve.
            if let column = row[4].textValue {
                entry.columns.append(column)
            } else if let key = row[5].textValue.flatMap(IndexInfo.lowerKey), entry.columns.isEmpty {
                entry.columns.append(IndexInfo.lower(key))
            } else {
                entry.columns.append("")
            }
            indexes[table, default: [:]][index] = entry
        }
        var foreignKeys: [String: [String: (referenced: String, from: [String], to: [String])]] = [:]
        for row in try rows(
            """
            SELECT con.conname::text, t.relname::text, rt.relname::text, a.attname::text, ra.attname::text
            FROM pg_constraint con
            JOIN pg_class t ON t.oid = con.conrelid
            JOIN pg_class rt ON rt.oid = con.confrelid
            JOIN pg_namespace n ON n.oid = t.relnamespace
            CROSS JOIN LATERAL unnest(con.conkey, con.confkey) WITH ORDINALITY AS k(attnum, rattnum, ord)
            JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.attnum
            JOIN pg_attribute ra ON ra.attrelid = rt.oid AND ra.attnum = k.rattnum
            WHERE con.contype = 'f' AND n.nspname = current_schema()
            ORDER BY con.conname, k.ord
            """, [])
        {
            let name = row[0].textValue ?? ""
            let table = row[1].textValue ?? ""
            var entry = foreignKeys[table, default: [:]][name] ?? (row[2].textValue ?? "", [], [])
            entry.from.append(row[3].textValue ?? "")
            entry.to.append(row[4].textValue ?? "")
            foreignKeys[table, default: [:]][name] = entry
        }
        return SchemaSnapshot(
            tables: tableNames.map { name in
                let tableIndexes = indexes[name] ?? [:]
                return TableInfo(
                    name: name, columns: columns[name] ?? [],
                    primaryKey: tableIndexes.values.first { $0.primary }?.columns ?? [],
                    foreignKeys: (foreignKeys[name] ?? [:]).sorted { $0.key < $1.key }.map {
                        RetentionStore.ForeignKey(
                            table: name, columns: $0.value.from, referencedTable: $0.value.referenced,
                            referencedColumns: $0.value.to)
                    },
                    indexes: tableIndexes.sorted { $0.key < $1.key }.map {
                        IndexInfo(name: $0.key, columns: $0.value.columns, unique: $0.value.unique)
                    })
            })
    }

    // MARK: Changes

    /// Values travel as text or integers; each is cast back to its column's type.
    func anonymise(table: String, keyColumns: [String], fields: [String], rows updates: [(RecordKey, [SQLValue])])
        throws -> Int
    {
        guard !updates.isEmpty, !fields.isEmpty else { return 0 }
        let typeQuery: SQL =
            "SELECT a.attname::text, format_type(a.atttypid, a.atttypmod) FROM pg_attribute a WHERE a.attrelid = to_regclass(\(.text(SQL.quote(table)))) AND a.attnum > 0"
        let types = Dictionary(
            try rows(typeQuery).map { ($0[0].textValue ?? "", $0[1].textValue ?? "text") },
            uniquingKeysWith: { a, _ in a })
        return try execute(
            builder.anonymise(
                table: table, keyColumns: keyColumns, fields: fields, rows: updates,
                casts: fields.map { types[$0] ?? "text" }))
    }

    // MARK: The tool's own tables

    func lockAuditChain() throws {
        _ = try execute("SELECT pg_advisory_xact_lock(hashtext('retentiond:audit-chain'))", [])
    }

    /// READ COMMITTED lets another session commit between two statements, so batches (shared)
    /// and hold placements (exclusive) meet on an advisory lock held until their commit.
    func lockHolds(exclusive: Bool) throws {
        let function = exclusive ? "pg_advisory_xact_lock" : "pg_advisory_xact_lock_shared"
        _ = try execute("SELECT \(function)(hashtext('retentiond:holds'))", [])
    }

    func tryLockHoldsExclusively() throws -> Bool {
        try rows("SELECT pg_try_advisory_xact_lock(hashtext('retentiond:holds'))", []).first?.first == .integer(1)
    }

    /// `lock_timeout` for the rest of the transaction; a statement that reaches it fails with
    /// SQLSTATE 55P03, which `translate` turns into `DatabaseUnavailable`.
    func limitLockWaits() throws {
        _ = try execute("SET LOCAL lock_timeout = \(max(lockWait.milliseconds, 1))", [])
    }

    func toolTables() throws -> ToolTables {
        let row = try rows(
            "SELECT to_regclass('retentiond_audit') IS NOT NULL, to_regclass('retentiond_holds') IS NOT NULL", []
        ).first
        return ToolTables(audit: row?[0] == .integer(1), holds: row?[1] == .integer(1))
    }

    func tableExists(_ name: String) throws -> Bool {
        try rows("SELECT to_regclass($1) IS NOT NULL", [.text(name)]).first?.first == .integer(1)
    }

}

extension PostgresSession: WorkQueueSession {
    /// The runs' queue format this version writes and claims: one row per batch
    /// (`retentiond_batches`). Format 1, one row per record (`retentiond_work`), was an older
    /// version's; its runs are closed, not joined (`closeRunsOfOtherQueueFormats`).
    static let queueFormat: Int64 = 2

    func prepareWorkQueue() throws {
        _ = try execute("SELECT pg_advisory_xact_lock(hashtext('retentiond:ddl'))", [])
        _ = try execute(
            Self.tableIfMissing(
                "retentiond_runs",
                "run_id TEXT PRIMARY KEY, policy_hash TEXT NOT NULL, plan TEXT NOT NULL, opened_at TIMESTAMPTZ NOT NULL DEFAULT now(), filling BOOLEAN NOT NULL DEFAULT false, queue_format INTEGER NOT NULL DEFAULT 1"
            ), [])
        _ = try execute(
            Self.tableIfMissing(
                "retentiond_batches",
                "run_id TEXT NOT NULL, seq BIGINT NOT NULL, rule_id TEXT NOT NULL, record_keys TEXT NOT NULL, PRIMARY KEY (run_id, seq)"
            ), [])
        // Made by older versions, whose runs opened only once filled, queued one row per record
        // (ALTER needs the table's owner: only when a column is missing).
        for (column, definition) in [
            ("filling", "BOOLEAN NOT NULL DEFAULT false"), ("queue_format", "INTEGER NOT NULL DEFAULT 1"),
        ] {
            if try !columnExists(column, of: "retentiond_runs") {
                _ = try execute("ALTER TABLE retentiond_runs ADD COLUMN \(column) \(definition)", [])
            }
        }
    }

    func openRun(id: String, policyHash: String, plan: Data) throws {
        try execute(
            "INSERT INTO retentiond_runs (run_id, policy_hash, plan, filling, queue_format) VALUES (\(.text(id)), \(.text(policyHash)), \(.text(String(decoding: plan, as: UTF8.self))), true, \(.integer(Self.queueFormat)))"
        )
    }

    /// Without fresh statistics, claims planned against an empty table scan and sort the whole queue.
    func analyzeQueue() throws {
        _ = try execute("ANALYZE retentiond_batches", [])
    }

    func finishFilling(id: String) throws {
        try analyzeQueue()
        try execute("UPDATE retentiond_runs SET filling = false WHERE run_id = \(.text(id))")
    }

    func openRun(policyHash: String) throws -> (id: String, plan: Data, filling: Bool)? {
        guard try rows("SELECT to_regclass('retentiond_runs') IS NOT NULL", []).first?.first == .integer(1),
            try columnExists("queue_format", of: "retentiond_runs"),
            let row = try rows(
                "SELECT run_id, plan, filling FROM retentiond_runs WHERE policy_hash = \(.text(policyHash)) AND queue_format = \(.integer(Self.queueFormat)) ORDER BY opened_at LIMIT 1"
            ).first,
            let id = row[0].textValue, let plan = row[1].textValue
        else { return nil }
        return (id, Data(plan.utf8), row[2] == .integer(1))
    }

    func runFilling(id: String) throws -> Bool? {
        guard try rows("SELECT to_regclass('retentiond_runs') IS NOT NULL", []).first?.first == .integer(1),
            let row = try rows("SELECT filling FROM retentiond_runs WHERE run_id = \(.text(id))").first
        else { return nil }
        return row[0] == .integer(1)
    }

    func enqueue(runID: String, batches: [QueuedBatch]) throws {
        guard !batches.isEmpty else { return }
        let encoder = JSONEncoder()
        try insert(
            into: "retentiond_batches", columns: ["run_id", "seq", "rule_id", "record_keys"],
            rows: batches.map { batch in
                [
                    .text(runID), .integer(batch.seq), .text(batch.rule),
                    .text(String(decoding: try encoder.encode(batch.keys), as: UTF8.self)),
                ]
            })
    }

    func claim(runID: String) throws -> QueuedBatch? {
        let claimed = try rows(
            """
            DELETE FROM retentiond_batches WHERE run_id = $1 AND seq = (
                SELECT seq FROM retentiond_batches WHERE run_id = $1 ORDER BY seq LIMIT 1 FOR UPDATE SKIP LOCKED)
            RETURNING seq, rule_id, record_keys
            """, [.text(runID)])
        guard let row = claimed.first, case .integer(let seq) = row[0], let rule = row[1].textValue,
            let keys = row[2].textValue
        else { return nil }
        return QueuedBatch(
            seq: seq, rule: rule, keys: try JSONDecoder().decode([RecordKey].self, from: Data(keys.utf8)))
    }

    func remaining(runID: String) throws -> Int {
        guard
            case .integer(let n) = try rows("SELECT count(*) FROM retentiond_batches WHERE run_id = \(.text(runID))")
                .first?.first
        else { return 0 }
        return Int(n)
    }

    func closeRun(id: String) throws {
        try execute("DELETE FROM retentiond_batches WHERE run_id = \(.text(id))")
        try execute("DELETE FROM retentiond_runs WHERE run_id = \(.text(id))")
    }

    func closeRunsOfOtherQueueFormats() throws {
        let others: SQL = "SELECT run_id FROM retentiond_runs WHERE queue_format <> \(.integer(Self.queueFormat))"
        if try tableExists("retentiond_work") { try execute("DELETE FROM retentiond_work WHERE run_id IN (\(others))") }
        try execute("DELETE FROM retentiond_batches WHERE run_id IN (\(others))")
        try execute("DELETE FROM retentiond_runs WHERE queue_format <> \(.integer(Self.queueFormat))")
    }

    private func columnExists(_ column: String, of table: String) throws -> Bool {
        try rows(
            "SELECT count(*) FROM information_schema.columns WHERE table_name = \(.text(table)) AND column_name = \(.text(column)) AND table_schema = current_schema()"
        ).first?.first != .integer(0)
    }
}
