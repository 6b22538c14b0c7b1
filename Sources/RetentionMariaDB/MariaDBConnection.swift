import CMariaDB
import Foundation
import RetentionCore
import RetentionStore
import Synchronization

/// One connection to a MariaDB (or MySQL) server through MariaDB Connector/C. Every statement with
/// values is a server-side prepared statement with bound parameters; values are never written into
/// SQL text. Not thread-safe: the store uses each connection from its own serial queue.
final class MariaDBConnection: @unchecked Sendable {
    /// Connector/C's global state, set up once before any connection (its documentation asks for
    /// it before threads use the library).
    private static let library: Void = { _ = mysql_server_init(0, nil, nil) }()

    private let handle: UnsafeMutablePointer<MYSQL>
    /// The server's id for this connection (`CONNECTION_ID()`): whose the run lock is. Set once
    /// when the connection opens, on the store's queue; read from any task (`interrupt()` names it
    /// in `KILL QUERY`): atomic, like `isLost`.
    var id: Int64 { serverID.load(ordering: .acquiring) }
    private let serverID = Atomic<Int64>(0)
    /// Set once the server or the network dropped the connection: the store opens a new one. Set
    /// on the connection's queue, read from any task deciding whether to reconnect: atomic.
    var isLost: Bool { lost.load(ordering: .acquiring) }
    private let lost = Atomic<Bool>(false)
    /// The node this connection reached when the server is a node of a Galera cluster
    /// (`wsrep_on`): its name and its UUID in the group (`wsrep_gcomm_uuid`, new at each start).
    private(set) var clusterNode: String?

    /// A failure the server or the library reported: its error number, SQLSTATE and message.
    struct Failure: Error, CustomStringConvertible {
        var code: UInt32
        var state: String
        var message: String
        var description: String { "\(message) (MariaDB error \(code), SQLSTATE \(state))" }
        /// The server is gone or unreachable (CR_SERVER_GONE_ERROR, CR_SERVER_LOST, …, 2000-2999 are the client's).
        var connectionLost: Bool { [2002, 2003, 2005, 2006, 2013, 2026, 2055, 1927, 1053].contains(code) }
    }

    /// Opens and sets up the session: UTF-8 (utf8mb4), UTC for TIMESTAMP columns, ANSI quoting,
    /// `||` and standard string literals (the SQL the other databases speak), strict mode, READ COMMITTED as on PostgreSQL, and
    /// no autocommit — so a statement after an implicit commit (DDL) still runs in a transaction.
    init(_ location: MariaDBLocation, password: String?) throws {
        _ = Self.library
        guard let handle = mysql_init(nil) else { throw Failure(code: 0, state: "HY000", message: "out of memory") }
        self.handle = handle
        var timeout: UInt32 = 10
        mysql_options(handle, MYSQL_OPT_CONNECT_TIMEOUT, &timeout)
        mysql_options(handle, MYSQL_SET_CHARSET_NAME, "utf8mb4")
        var off: my_bool = 0
        mysql_options(handle, MYSQL_OPT_LOCAL_INFILE, &off)
        if location.socket == nil {
            var on: my_bool = 1
            switch location.tls {
            case .disable: break
            case .prefer: break
            case .require: mysql_options(handle, MYSQL_OPT_SSL_ENFORCE, &on)
            case .verifyFull:
                mysql_options(handle, MYSQL_OPT_SSL_ENFORCE, &on)
                mysql_options(handle, MYSQL_OPT_SSL_VERIFY_SERVER_CERT, &on)
            }
        }
        let flags = UInt(CLIENT_FOUND_ROWS)
        guard
            mysql_real_connect(
                handle, location.socket == nil ? location.host : nil, location.user, password, location.database,
                UInt32(location.port), location.socket, flags) != nil
        else {
            throw Self.failure(of: handle)  // deinit closes the handle
        }
        serverID.store(Int64(mysql_thread_id(handle)), ordering: .releasing)
        try execute(
            "SET SESSION sql_mode = 'ANSI,NO_BACKSLASH_ESCAPES,STRICT_ALL_TABLES,NO_ZERO_IN_DATE,NO_ZERO_DATE,ERROR_FOR_DIVISION_BY_ZERO,NO_ENGINE_SUBSTITUTION'"
        )
        try execute("SET SESSION time_zone = '+00:00'")
        try execute("SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED")
        try execute("SET SESSION autocommit = 0")
        // MariaDB turns an IN list of 1,000 values or more into a subquery over a VALUES table,
        // which it then cannot compare a row of several key columns with (error 1235): off.
        do { try execute("SET SESSION in_predicate_conversion_threshold = 0") } catch let failure as Failure
            where failure.code == 1193
        {}  // MySQL: no such variable
        // Nor may it rewrite an `EXISTS` as `IN` (which fails the same way with a correlated row):
        // each `EXISTS` stays the index probe per row it is written as, as PostgreSQL's `OFFSET 0` keeps it.
        do { try execute("SET SESSION optimizer_switch = 'exists_to_in=off'") } catch let failure as Failure
            where failure.code == 1231
        {}
        if try execute("SHOW VARIABLES LIKE 'wsrep_on'").rows.first?.last?.textValue == "ON" {
            let name = try execute("SELECT @@wsrep_node_name").rows.first?.first?.textValue ?? "?"
            let uuid = try execute("SHOW STATUS LIKE 'wsrep_gcomm_uuid'").rows.first?.last?.textValue ?? "?"
            clusterNode = "\(name) (\(uuid))"
        }
    }

    /// Prepared `INSERT`s kept for their next run, most recently used last: one run again (a
    /// batch's audit rows, 500 at a time) is parsed and described by the server once. Only
    /// inserts: a kept statement that reads, run in a later snapshot after another session's DDL,
    /// failed with "Table definition has changed" (1412).
    private var prepared: [(sql: String, statement: UnsafeMutablePointer<MYSQL_STMT>)] = []
    private static let preparedKept = 16

    deinit {
        for entry in prepared { mysql_stmt_close(entry.statement) }
        mysql_close(handle)
    }

    /// The prepared statement for `sql`: kept from an earlier run, or prepared now (and kept,
    /// the least recently used one closed beyond `preparedKept`).
    private func statement(for sql: String) throws -> UnsafeMutablePointer<MYSQL_STMT> {
        if let i = prepared.firstIndex(where: { $0.sql == sql }) {
            let entry = prepared.remove(at: i)
            prepared.append(entry)
            return entry.statement
        }
        guard let statement = mysql_stmt_init(handle) else { throw Self.failure(of: handle) }
        guard mysql_stmt_prepare(statement, sql, UInt(sql.utf8.count)) == 0 else {
            let failure = failure(of: statement)
            mysql_stmt_close(statement)
            throw failure
        }
        prepared.append((sql, statement))
        if prepared.count > Self.preparedKept { mysql_stmt_close(prepared.removeFirst().statement) }
        return statement
    }

    /// Closes a kept statement after a failure: its state is not known.
    private func discard(_ statement: UnsafeMutablePointer<MYSQL_STMT>) {
        prepared.removeAll { $0.statement == statement }
        mysql_stmt_close(statement)
    }

    private static func failure(of handle: UnsafeMutablePointer<MYSQL>) -> Failure {
        Failure(
            code: mysql_errno(handle), state: String(cString: mysql_sqlstate(handle)),
            message: String(cString: mysql_error(handle)))
    }

    private func failure(of statement: UnsafeMutablePointer<MYSQL_STMT>) -> Failure {
        let failure = Failure(
            code: mysql_stmt_errno(statement), state: String(cString: mysql_stmt_sqlstate(statement)),
            message: String(cString: mysql_stmt_error(statement)))
        if failure.connectionLost { lost.store(true, ordering: .releasing) }
        return failure
    }

    /// Runs a statement without values through the text protocol (transaction control, DDL,
    /// session settings): the rows it returns, and how many rows it changed.
    @discardableResult
    func execute(_ sql: String) throws -> (rows: [[SQLValue]], changed: Int) {
        guard mysql_real_query(handle, sql, UInt(sql.utf8.count)) == 0 else {
            let failure = Self.failure(of: handle)
            if failure.connectionLost { lost.store(true, ordering: .releasing) }
            throw failure
        }
        guard let result = mysql_store_result(handle) else {
            guard mysql_field_count(handle) == 0 else { throw Self.failure(of: handle) }
            return ([], Int(mysql_affected_rows(handle)))
        }
        defer { mysql_free_result(result) }
        let count = Int(mysql_num_fields(result))
        let fields = Array(UnsafeBufferPointer(start: mysql_fetch_fields(result), count: count))
        var rows: [[SQLValue]] = []
        while let row = mysql_fetch_row(result) {
            guard let lengths = mysql_fetch_lengths(result) else { break }
            rows.append(
                (0..<count).map { i in
                    guard let cell = row[i] else { return .null }
                    return Self.value(UnsafeRawBufferPointer(start: cell, count: Int(lengths[i])), field: fields[i])
                })
        }
        return (rows, 0)
    }

    /// Runs one statement with `?` placeholders and its values bound, as a prepared statement.
    func run(_ sql: String, _ bindings: [SQLValue]) throws -> (rows: [[SQLValue]], changed: Int) {
        guard !bindings.isEmpty else { return try execute(sql) }
        guard sql.hasPrefix("INSERT ") else {
            guard let statement = mysql_stmt_init(handle) else { throw Self.failure(of: handle) }
            defer { mysql_stmt_close(statement) }
            guard mysql_stmt_prepare(statement, sql, UInt(sql.utf8.count)) == 0 else { throw failure(of: statement) }
            return try run(statement, bindings)
        }
        let statement = try statement(for: sql)
        do {
            let result = try run(statement, bindings)
            mysql_stmt_free_result(statement)
            return result
        } catch {
            discard(statement)
            throw error
        }
    }

    private func run(_ statement: UnsafeMutablePointer<MYSQL_STMT>, _ bindings: [SQLValue]) throws -> (
        rows: [[SQLValue]], changed: Int
    ) {

        // The values stay allocated until the statement has run.
        var storage: [UnsafeMutableRawPointer] = []
        defer { storage.forEach { $0.deallocate() } }
        var lengths = [UInt](repeating: 0, count: bindings.count)
        var binds = [MYSQL_BIND](repeating: MYSQL_BIND(), count: bindings.count)
        try lengths.withUnsafeMutableBufferPointer { lengths in
            for (i, value) in bindings.enumerated() {
                func bytes(_ data: some Collection<UInt8>, _ type: enum_field_types) {
                    let buffer = UnsafeMutableRawPointer.allocate(byteCount: max(data.count, 1), alignment: 1)
                    buffer.copyMemory(from: Array(data), byteCount: data.count)
                    storage.append(buffer)
                    lengths[i] = UInt(data.count)
                    binds[i].buffer = buffer
                    binds[i].buffer_length = UInt(data.count)
                    binds[i].length = lengths.baseAddress! + i
                    binds[i].buffer_type = type
                }
                switch value {
                case .null:
                    binds[i].buffer_type = MYSQL_TYPE_NULL
                case .integer(let n):
                    let buffer = UnsafeMutableRawPointer.allocate(byteCount: 8, alignment: 8)
                    buffer.storeBytes(of: n, as: Int64.self)
                    storage.append(buffer)
                    binds[i].buffer = buffer
                    binds[i].buffer_type = MYSQL_TYPE_LONGLONG
                case .real(let d):
                    let buffer = UnsafeMutableRawPointer.allocate(byteCount: 8, alignment: 8)
                    buffer.storeBytes(of: d, as: Double.self)
                    storage.append(buffer)
                    binds[i].buffer = buffer
                    binds[i].buffer_type = MYSQL_TYPE_DOUBLE
                case .text(let s): bytes(Array(s.utf8), MYSQL_TYPE_STRING)
                case .blob(let d): bytes(d, MYSQL_TYPE_BLOB)
                }
            }
            guard mysql_stmt_bind_param(statement, &binds) == 0 else { throw failure(of: statement) }
            guard mysql_stmt_execute(statement) == 0 else { throw failure(of: statement) }
        }
        guard let metadata = mysql_stmt_result_metadata(statement) else {
            return ([], Int(mysql_stmt_affected_rows(statement)))
        }
        defer { mysql_free_result(metadata) }
        // Buffers sized to the longest value of each column, known once the rows are stored.
        var on: my_bool = 1
        mysql_stmt_attr_set(statement, STMT_ATTR_UPDATE_MAX_LENGTH, &on)
        guard mysql_stmt_store_result(statement) == 0 else { throw failure(of: statement) }
        let count = Int(mysql_num_fields(metadata))
        let fields = Array(UnsafeBufferPointer(start: mysql_fetch_fields(metadata), count: count))
        var results = [MYSQL_BIND](repeating: MYSQL_BIND(), count: count)
        var resultLengths = [UInt](repeating: 0, count: count)
        var nulls = [my_bool](repeating: 0, count: count)
        var buffers: [UnsafeMutableRawPointer] = []
        defer { buffers.forEach { $0.deallocate() } }
        var rows: [[SQLValue]] = []
        try resultLengths.withUnsafeMutableBufferPointer { resultLengths in
            try nulls.withUnsafeMutableBufferPointer { nulls in
                for i in 0..<count {
                    let size = Int(fields[i].max_length) + 1
                    let buffer = UnsafeMutableRawPointer.allocate(byteCount: size, alignment: 8)
                    buffers.append(buffer)
                    results[i].buffer = buffer
                    results[i].buffer_length = UInt(size)
                    results[i].buffer_type = MYSQL_TYPE_STRING
                    results[i].length = resultLengths.baseAddress! + i
                    results[i].is_null = nulls.baseAddress! + i
                }
                guard mysql_stmt_bind_result(statement, &results) == 0 else { throw failure(of: statement) }
                rows.reserveCapacity(Int(mysql_stmt_num_rows(statement)))
                while true {
                    let status = mysql_stmt_fetch(statement)
                    if status == MYSQL_NO_DATA { break }
                    guard status == 0 || status == MYSQL_DATA_TRUNCATED else { throw failure(of: statement) }
                    rows.append(
                        (0..<count).map { i in
                            nulls[i] != 0
                                ? .null
                                : Self.value(
                                    UnsafeRawBufferPointer(start: buffers[i], count: Int(resultLengths[i])),
                                    field: fields[i])
                        })
                }
            }
        }
        return (rows, Int(mysql_stmt_affected_rows(statement)))
    }

    /// A value as the server sent it (as text, both protocols here), typed by its column: integers,
    /// reals, bytes for binary strings, text otherwise. Dates are ISO-8601 text as MariaDB writes
    /// them; a zero date (`0000-00-00`, which older applications store for "none") is NULL, never
    /// "very old".
    static func value(_ bytes: UnsafeRawBufferPointer, field: MYSQL_FIELD) -> SQLValue {
        let text = { String(decoding: bytes, as: UTF8.self) }
        switch field.type {
        case MYSQL_TYPE_TINY, MYSQL_TYPE_SHORT, MYSQL_TYPE_LONG, MYSQL_TYPE_INT24, MYSQL_TYPE_LONGLONG, MYSQL_TYPE_YEAR:
            if let n = Int64(text()) { return .integer(n) }
            return .real(Double(text()) ?? 0)  // an unsigned BIGINT above Int64's range
        case MYSQL_TYPE_FLOAT, MYSQL_TYPE_DOUBLE, MYSQL_TYPE_DECIMAL, MYSQL_TYPE_NEWDECIMAL:
            return .real(Double(text()) ?? 0)
        case MYSQL_TYPE_DATE, MYSQL_TYPE_DATETIME, MYSQL_TYPE_TIMESTAMP, MYSQL_TYPE_NEWDATE:
            let t = text()
            return t.hasPrefix("0000-00-00") ? .null : .text(t)
        case MYSQL_TYPE_BIT:
            return .integer(bytes.reduce(Int64(0)) { $0 << 8 | Int64($1) })
        default:
            // charset 63 is `binary`: BLOB, BINARY, VARBINARY.
            return field.charsetnr == 63 ? .blob(Data(bytes)) : .text(text())
        }
    }
}
