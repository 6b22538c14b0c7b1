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
        // Every type's text form is what its input function reads back: `insert` writes the copy.
        copyOut: { column, _ in "CAST(\(column) AS text)" }
    )
}

/// One read or one transaction on a PostgreSQL connection. Runs on the store's own queue, never
/// on an event loop or the cooperative pool, so waiting on a future is safe here.
struct PostgresSession: WritingSession {
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
        return try send(sql, binds)
    }

    /// A query sent on a connection the server has just dropped may never complete: the link
    /// fails the query in flight the moment its connection closes.
    private func send(_ sql: String, _ binds: PostgresBindings) throws -> PostgresQueryResult {
        try waiting { outcome in
            connection.query(PostgresQuery(unsafeSQL: sql, binds: binds), logger: logger).whenComplete {
                outcome.set($0)
            }
        }
    }

    /// Starts one exchange with the server (`start` completes the outcome) and waits for it.
    private func waiting<Value: Sendable>(_ start: (Outcome<Value>) -> Void) throws -> Value {
        let outcome = Outcome<Value>()
        guard link.track(outcome) else {
            throw DatabaseUnavailable.connectionLost(location: location)
        }
        defer { link.untrack() }
        start(outcome)
        do {
            return try outcome.wait().get()
        } catch is PostgresLink.Closed {
            throw DatabaseUnavailable.connectionLost(location: location)
        } catch {
            throw Self.translate(error, location: location, lockWait: lockWait)
        }
    }

    /// Many rows in one statement of one parameter per column: each column's values travel as a
    /// `text[]` in the binary array format, and the server turns each value's text form into the
    /// column's type with the type's input function — what `COPY … FROM STDIN` in text format does,
    /// without parsing and binding a statement of thousands of parameters (a batch's audit rows).
    ///
    /// Not `COPY` itself: PostgresNIO's COPY writer stops the process (a precondition, SIGILL) when
    /// the connection closes between the server's CopyInResponse and the end of the data — a
    /// backend terminated mid-batch. A plain statement fails like any other: the batch rolls back
    /// and the run reports the lost connection.
    func insert(into table: String, columns: [String], rows: [[SQLValue]]) throws {
        guard !rows.isEmpty else { return }
        let types = try columnTypes(of: table)
        let values = columns.indices.map { "v\($0 + 1)" }
        let selected = zip(columns, values).map { column, value in
            types[column]?.insertCast.map { "CAST(u.\(value) AS \($0))" } ?? "u.\(value)"
        }
        let arrays = values.indices.map { "$\($0 + 1)::text[]" }
        let sql = """
            INSERT INTO \(SQL.quote(table)) (\(columns.map(SQL.quote).joined(separator: ", "))) \
            SELECT \(selected.joined(separator: ", ")) \
            FROM unnest(\(arrays.joined(separator: ", "))) AS u(\(values.joined(separator: ", ")))
            """
        var binds = PostgresBindings(capacity: columns.count)
        for column in columns.indices {
            binds.append(TextArray(rows.lazy.map { $0[column] }))
        }
        _ = try send(sql, binds)
    }

    /// How the catalog types each column of `table`, by name.
    func columnTypes(of table: String) throws -> [String: ColumnType] {
        let rows = try self.rows(
            """
            SELECT a.attname::text, t.typcategory::text, format_type(a.atttypid, NULL),
                   format_type(a.atttypid, a.atttypmod)
            FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid
            WHERE a.attrelid = to_regclass(quote_ident($1)) AND a.attnum > 0 AND NOT a.attisdropped
            """, [.text(table)])
        var types: [String: ColumnType] = [:]
        for row in rows {
            guard let name = row[0].textValue, let category = row[1].textValue, let type = row[2].textValue,
                let withModifier = row[3].textValue
            else { continue }
            types[name] = ColumnType(category: category, type: type, withModifier: withModifier)
        }
        return types
    }

    /// A column's type as the catalog names it.
    struct ColumnType {
        /// `pg_type.typcategory`: `S` for the string types, `N` numeric, `D` dates and times …
        var category: String
        /// Without its modifier (`character varying`, `numeric`).
        var type: String
        /// With it (`character varying(255)`, `numeric(12,2)`).
        var withModifier: String

        /// What `insert` casts a value's text to: the type without its modifier, so that the
        /// assignment to the column applies the modifier as COPY's input function would — a value
        /// too long for `varchar(n)`, `char(n)` or `bit(n)` is refused, never cut, which an explicit
        /// cast to the type with its modifier would do. Nil for the string types (text is assigned
        /// to them as it is). `bit` and `character` alone mean one bit or character in a cast, so
        /// bit strings go through `bit varying` and arrays of `character` through `bpchar[]`.
        var insertCast: String? {
            guard category != "S" else { return nil }
            switch type {
            case "bit": return "bit varying"
            case "bit[]": return "bit varying[]"
            case "character[]": return "bpchar[]"
            default: return type
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
            return DatabaseUnavailable.lockWaitExceeded(location: location, wait: lockWait, detail: describe(psql))
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
            return StoreFailure.privilegeMissing(describe(psql), account: "role", guide: "docs/postgresql.md")
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

    // MARK: Changes

    /// Values travel as text or integers; each is cast back to its column's type.
    func anonymise(table: String, keyColumns: [String], fields: [String], rows updates: [(RecordKey, [SQLValue])])
        throws -> Int
    {
        guard !updates.isEmpty, !fields.isEmpty else { return 0 }
        let types = try columnTypes(of: table)
        return try execute(
            builder.anonymise(
                table: table, keyColumns: keyColumns, fields: fields, rows: updates,
                casts: fields.map { types[$0]?.withModifier ?? "text" }))
    }
}
