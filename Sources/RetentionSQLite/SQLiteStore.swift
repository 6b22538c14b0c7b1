import Foundation
import GRDB
import RetentionCore
import RetentionStore

/// The embedded default: a SQLite file, through GRDB on the system libsqlite3.
///
/// `SQLiteStore.reader(path:)` (for `check`, `plan`, `audit verify`) opens the file with
/// SQLITE_OPEN_READONLY and is typed as a `RecordReader`, so a dry run cannot change a byte. A
/// writing store turns on `secure_delete`, so deleted and overwritten values are zeroed in the file
/// rather than left in free pages.
public final class SQLiteStore: RecordStore {
    public let path: String
    private let readOnly: Bool
    private let queue: DatabaseQueue
    /// How long a transaction waits for the database's lock (the connection's busy timeout).
    private let lockWait: Duration

    public var location: String { "sqlite:\(path)" }

    /// The database file with every symbolic link resolved: the run lock sits beside it, so two
    /// runs reaching one file by different paths still exclude each other.
    public let resolvedPath: String

    /// Opens the file for reading and writing. A missing file is refused (a typo in
    /// `database.sqlite` must not create an empty database). `lockWait`: how long a transaction
    /// waits for the database's lock while another connection holds it (its busy timeout).
    public convenience init(path: String, lockWait: Duration = defaultLockWait) throws {
        try self.init(path: path, readOnly: false, lockWait: lockWait)
    }

    /// Opens the file read-only.
    public static func reader(path: String) throws -> ReadOnlyStore {
        ReadOnlyStore(opened: try SQLiteStore(path: path, readOnly: true))
    }

    private init(path: String, readOnly: Bool, lockWait: Duration = defaultLockWait) throws {
        self.path = path
        self.readOnly = readOnly
        self.lockWait = lockWait
        var info = stat()
        guard stat(path, &info) == 0 else {
            throw DatabaseUnavailable.sqliteFileUnreadable(path: path, errno: errno)
        }
        // Opening a FIFO or a device would block or read garbage: only a regular file is a database.
        guard info.st_mode & S_IFMT == S_IFREG else {
            throw DatabaseUnavailable.sqliteNotAFile(path: path)
        }
        guard let resolved = realpath(path, nil) else {
            throw DatabaseUnavailable(
                location: "sqlite:\(path)", reason: "cannot resolve the path: \(String(cString: strerror(errno)))")
        }
        resolvedPath = String(cString: resolved)
        free(resolved)
        var config = Configuration()
        config.readonly = readOnly
        config.foreignKeysEnabled = true
        config.busyMode = .timeout(Double(lockWait.milliseconds) / 1000)
        config.label = "retentiond"
        config.prepareDatabase { db in
            if !db.configuration.readonly {
                try db.execute(sql: "PRAGMA secure_delete = ON")
            }
        }
        do {
            queue = try Self.open(path: path, configuration: config)
        } catch let error as DatabaseError where readOnly && error.resultCode.primaryResultCode == .SQLITE_READONLY {
            // A crash mid-commit left a hot journal (or a WAL without its index) that only a writer
            // may recover: SQLite's own recovery, which restores the last committed state, is the
            // one write a read-only command makes. Then the file is opened read-only as asked.
            do {
                var writer = config
                writer.readonly = false
                try Self.open(path: path, configuration: writer).close()
                queue = try Self.open(path: path, configuration: config)
            } catch let error as DatabaseError {
                throw DatabaseUnavailable.sqliteNeedsRecovery(
                    path: path, detail: error.message ?? "\(error.resultCode)")
            }
        } catch let error as DatabaseError {
            throw DatabaseUnavailable(location: "sqlite:\(path)", reason: error.message ?? "\(error.resultCode)")
        }
    }

    /// Opens the file and reads its schema once: opening is lazy in SQLite, so a file that is not a
    /// database (or needs recovery) fails here rather than in the middle of a command.
    private static func open(path: String, configuration: Configuration) throws -> DatabaseQueue {
        let queue = try DatabaseQueue(path: path, configuration: configuration)
        try queue.read { db in _ = try Int.fetchOne(db, sql: "SELECT count(*) FROM sqlite_master") }
        return queue
    }

    public func read<T: Sendable>(_ body: @escaping @Sendable (any StoreSession) throws -> T) async throws -> T {
        try await translatingErrors { try await queue.read { db in try body(SQLiteSession(db: db)) } }
    }

    /// `sqlite3_interrupt`: the statement under way fails with SQLITE_INTERRUPT.
    public func interrupt() async { queue.interrupt() }

    /// GRDB's errors carry the SQL text; operators get the SQLite message and code, and the
    /// conditions that mean "the database is not usable now" become `DatabaseUnavailable`.
    private func translatingErrors<T>(_ body: () async throws -> T) async throws -> T {
        do {
            return try await body()
        } catch let error as DatabaseError {
            let message =
                "SQLite error \(error.resultCode.primaryResultCode.rawValue): \(error.message ?? "\(error.resultCode)")"
            switch error.resultCode.primaryResultCode {
            case .SQLITE_BUSY:
                throw DatabaseUnavailable.lockWaitExceeded(location: location, wait: lockWait, detail: message)
            case .SQLITE_READONLY, .SQLITE_PERM:
                throw DatabaseUnavailable(location: location, reason: message + "; " + SQLiteAccess.writeAccessHint)
            case .SQLITE_LOCKED, .SQLITE_CANTOPEN, .SQLITE_IOERR, .SQLITE_CORRUPT, .SQLITE_NOTADB, .SQLITE_FULL,
                .SQLITE_AUTH:
                throw DatabaseUnavailable(location: location, reason: message)
            default:
                throw StoreFailure(message)
            }
        }
    }

    public func transaction<T: Sendable>(_ body: @escaping @Sendable (any WritingSession) throws -> T) async throws -> T
    {
        // Unreachable from outside: a read-only store is only handed out as a `ReadOnlyStore`.
        guard !readOnly else { throw StoreFailure("internal error: a write through a read-only store") }
        return try await translatingErrors {
            try await queue.writeWithoutTransaction { db in
                var result: T?
                // IMMEDIATE: take the write lock before reading, so the re-check and the change see the same data.
                try db.inTransaction(.immediate) {
                    result = try body(SQLiteSession(db: db))
                    return .commit
                }
                return result!
            }
        }
    }

    /// What keeps the current user from writing the database at `path`: the file, or its directory
    /// (the rollback journal and the run's lock file are created there). Empty when both are writable.
    public static func writeAccessProblems(path: String) -> [String] {
        guard let resolved = realpath(path, nil) else { return [] }
        let file = String(cString: resolved)
        free(resolved)
        let directory = (file as NSString).deletingLastPathComponent
        var problems: [String] = []
        if access(file, W_OK) != 0 {
            problems.append(SQLiteAccess.fileNotWritable(file))
        }
        if access(directory, W_OK) != 0 {
            problems.append(SQLiteAccess.directoryNotWritable(directory))
        }
        return problems
    }

    /// A lock file beside the database (its resolved path): whoever can change the database can take it.
    public func acquireRunLock() async throws -> any RunLockHandle {
        do {
            return try RunLock.acquire(path: resolvedPath + ".retentiond-lock")
        } catch RunLocked.failed(let message) {
            // SQLite writes its journal in the same directory: without write access there, no run could commit.
            throw DatabaseUnavailable.sqliteLockFileRefused(location: location, detail: message)
        }
    }

    /// In SQLite's default journal mode (DELETE) every commit deletes the rollback journal and the
    /// next transaction creates it again: a file allocated, synced into its directory and freed
    /// per batch. For a run's batches the connection switches to PERSIST (the journal stays, a
    /// commit zeroes its header; as safe against a crash) and back to DELETE afterwards, which
    /// deletes it: left behind, it would keep the last batches' pages as they were before, the
    /// values they removed included. A WAL database, or one the connection opens in another mode,
    /// is left as it is. Should another connection be writing at that moment, SQLite leaves the
    /// file to it: a connection in DELETE mode deletes it when it commits.
    public func inSuccession<T: Sendable>(_ body: () async throws -> T) async throws -> T {
        guard !readOnly, try await journalMode() == "delete", try await journalMode(set: "persist") == "persist" else {
            return try await body()
        }
        let result: T
        do {
            result = try await body()
        } catch {
            _ = try? await journalMode(set: "delete")
            throw error
        }
        _ = try await journalMode(set: "delete")
        return result
    }

    /// The connection's journal mode, after setting it to `mode` when given (outside any transaction).
    private func journalMode(set mode: String? = nil) async throws -> String? {
        try await translatingErrors {
            try await queue.writeWithoutTransaction { db in
                try String.fetchOne(db, sql: mode.map { "PRAGMA journal_mode = \($0)" } ?? "PRAGMA journal_mode")?
                    .lowercased()
            }
        }
    }

    public func scrubFreedSpace() async throws {
        try await queue.writeWithoutTransaction { db in
            // In WAL mode the old pages live on in the -wal file until a checkpoint copies and truncates it.
            _ = try Row.fetchAll(db, sql: "PRAGMA wal_checkpoint(TRUNCATE)")
        }
    }
}

/// Converts between GRDB's values and the core's.
extension SQLValue {
    var databaseValue: DatabaseValue {
        switch self {
        case .null: return .null
        case .integer(let i): return i.databaseValue
        case .real(let d): return d.databaseValue
        case .text(let s): return s.databaseValue
        case .blob(let d): return d.databaseValue
        }
    }

    init(_ value: DatabaseValue) {
        switch value.storage {
        case .null: self = .null
        case .int64(let i): self = .integer(i)
        case .double(let d): self = .real(d)
        case .string(let s): self = .text(s)
        case .blob(let d): self = .blob(d)
        }
    }
}

extension SQLDialect {
    /// SQLite: `?` placeholders; a key's canonical text built from the value's dynamic type.
    public static let sqlite = SQLDialect(
        numberedPlaceholders: false,
        flagIsSet: { column in "(\(column) IS NOT NULL AND \(column) NOT IN (0, '0', 'false', 'no', 'n', 'f', ''))" },
        canonicalKey: { columns in
            let parts = columns.map { c in
                "CASE typeof(\(c)) WHEN 'integer' THEN CAST(\(c) AS TEXT) WHEN 'text' THEN '\"' || replace(replace(\(c), '\\', '\\\\'), '\"', '\\\"') || '\"' ELSE 'null' END"
            }
            return "('[' || " + parts.joined(separator: " || ',' || ") + " || ']')"
        },
        // SQLite's type affinity rules (https://sqlite.org/datatype3.html, 3.1).
        keyValueKind: { declaredType in
            let t = declaredType.uppercased()
            if t.contains("INT") { return .integerOrText }
            if t.contains("CHAR") || t.contains("CLOB") || t.contains("TEXT") { return .text }
            return .other
        },
        textOf: { column in "CAST(\(column) AS TEXT)" },
        // A writing transaction is BEGIN IMMEDIATE: no other writer can change the rows meanwhile.
        lockRows: ""
    )
}
