import Foundation
import RetentionCore

/// A database retentiond reads: what `check`, `plan`, `audit verify` and dry runs get, so that
/// nothing they do can change it (the model is GRDB's `DatabaseReader` / `DatabaseWriter`).
///
/// Work happens in sessions. Session methods are synchronous so a batch cannot interleave with
/// other work on the connection.
public protocol RecordReader: Sendable {
    /// A name for the database in reports and plans (path or URL without credentials).
    var location: String { get }
    /// One read-only transaction: changes nothing, sees one consistent state.
    func read<T: Sendable>(_ body: @escaping @Sendable (any StoreSession) throws -> T) async throws -> T
    /// Cuts short the statement this reader's connection is running, from outside it: the
    /// statement fails at once, and its read with it. Nothing happens when none is running. What a
    /// stop requested while planning needs, when one statement can take minutes.
    func interrupt() async
}

/// A database retentiond governs: it reads, and it writes in transactions (one per batch: the data
/// change and its audit entries commit together or not at all). Both backends implement it; the
/// engine sees nothing else.
public protocol RecordStore: RecordReader {
    func transaction<T: Sendable>(_ body: @escaping @Sendable (any WritingSession) throws -> T) async throws -> T
    /// After purges: make sure deleted values do not linger in database files (checkpoint, etc.).
    func scrubFreedSpace() async throws
    /// Runs `body`, which commits transactions one after another (a run's batches). SQLite keeps
    /// its rollback journal from one to the next instead of creating and deleting it each time,
    /// then deletes it, whatever `body` did: the journal holds the pages as they were before the
    /// last batches, values included. Other stores just run `body`.
    func inSuccession<T: Sendable>(_ body: () async throws -> T) async throws -> T
    /// Takes the single-run lock for this database, or throws `RunLocked.held` at once. The lock
    /// is held until the returned handle is released.
    func acquireRunLock() async throws -> any RunLockHandle
}

/// A store opened read-only, seen only through what reading can do: the type has no `transaction`.
public struct ReadOnlyStore: RecordReader {
    private let base: any RecordReader
    /// `base` must have been opened read-only (SQLITE_OPEN_READONLY, READ ONLY transactions).
    public init(opened base: any RecordReader) { self.base = base }
    public var location: String { base.location }
    public func read<T: Sendable>(_ body: @escaping @Sendable (any StoreSession) throws -> T) async throws -> T {
        try await base.read(body)
    }
    public func interrupt() async { await base.interrupt() }
}

/// What a database must provide for a read: running queries (`SQLReading`) and the few
/// things each database answers its own way. Every other operation — candidates, holds, the
/// trail, marks, children, statistics, the archive — is plain SQL, written once in extensions of
/// this protocol (`SQLSession*.swift`, `ArchiveSQL.swift`, `StatisticsSQL.swift`) from
/// `SQLBuilder`'s statements in the session's dialect. A backend implements these eight
/// requirements; the engine calls the extensions. Nothing here changes the database.
public protocol StoreSession: SQLReading {
    /// The tables, columns, keys, indexes and foreign keys the connection can see.
    func schema() throws -> SchemaSnapshot
    /// Which of the tool's own tables exist: all of them, none, or (after tampering) some.
    func toolTables() throws -> ToolTables
    /// Which of `needs` the session's role lacks.
    func privileges(_ needs: [PrivilegeNeed]) throws -> PrivilegeReport
    /// Of `tables`, those that hold rows but have no planner statistics (PostgreSQL: never
    /// analyzed); SQLite plans without them.
    func tablesWithoutStatistics(among tables: [String]) throws -> [String]
    /// The accounts (roles, users) that may read any of `tables`, as far as the connecting one can
    /// see, and whether each may do anything (a superuser): who can read an archive. Empty on
    /// SQLite, whose access is the file's.
    func readers(of tables: [String]) throws -> [TableReader]
}

/// An account that may read a table.
public struct TableReader: Sendable, Hashable, Codable {
    public var name: String
    /// A superuser (PostgreSQL), or an account with a global SELECT (MariaDB): it reads every table.
    public var everything: Bool
    public init(name: String, everything: Bool) {
        self.name = name
        self.everything = everything
    }
}

/// What makes a key unusable to name records: values on several rows, rows without a value.
public struct AmbiguousKeys: Sendable, Equatable {
    public var duplicated: Int
    public var missing: Int
    public init(duplicated: Int, missing: Int) {
        self.duplicated = duplicated
        self.missing = missing
    }
    public var isEmpty: Bool { duplicated == 0 && missing == 0 }

    /// "3 key values name more than one row, and 2 rows have no key value".
    public func describe(_ table: String, _ key: [String]) -> String {
        let columns = key.map { "`\(table).\($0)`" }.joined(separator: ", ")
        var parts: [String] = []
        if duplicated > 0 { parts.append("\(duplicated) value(s) of \(columns) name more than one row") }
        if missing > 0 { parts.append("\(missing) row(s) have no value in \(columns)") }
        return parts.joined(separator: ", and ")
    }
}

/// What a database must provide for one writing transaction, on top of reading: running
/// statements (`SQLExecuting`), its own tables' DDL, its locks, its statistics. The writes
/// themselves (purges, the trail's entries, marks, statistics rows, archive copies) are extensions
/// of this protocol, written once. Three requirements have such a shared implementation and are
/// requirements only so that a database can replace it: `anonymise`, `insertHold`, `releaseHold`
/// (MariaDB has no `RETURNING`, and keeps `ON UPDATE` columns unchanged; PostgreSQL casts values
/// to their column's type).
public protocol WritingSession: StoreSession, SQLExecuting {
    /// Creates the tool's own tables (audit, holds) if absent.
    func prepareToolTables() throws
    /// Creates the statistics table `name` if absent (a policy whose rules keep statistics).
    func prepareStatisticsTable(_ name: String) throws
    /// Serialises appends to the audit chain until the transaction ends (several writers at once
    /// must each extend the head the previous one committed). Call before `auditHead()`.
    func lockAuditChain() throws
    /// Keeps the legal holds in force as they are until the transaction ends: `exclusive: false`
    /// for a batch, which then decides on the holds it reads and changes its rows knowing no new
    /// hold can commit before it does; `exclusive: true` to place a hold, which waits for the
    /// batches in flight and keeps new ones waiting. Call before the first statement that reads
    /// holds. (SQLite's BEGIN IMMEDIATE already keeps every other writer out.)
    func lockHolds(exclusive: Bool) throws
    /// `lockHolds(exclusive: true)` if no batch holds the lock now; false, without waiting, when
    /// one does (SQLite: always true — its writing transaction already has the database alone).
    func tryLockHoldsExclusively() throws -> Bool
    /// From here to the end of the transaction, a statement that waits for a lock another session
    /// holds (a row the application is changing) gives up after the store's lock wait, and the
    /// transaction fails as `DatabaseUnavailable`: a batch never waits without end. (SQLite's
    /// connection already waits that long, and no longer, for the database's lock.)
    func limitLockWaits() throws
    /// Gathers planner statistics on `tables` (PostgreSQL's `ANALYZE`; nothing on SQLite).
    func analyze(tables: [String]) throws

    /// Sets `fields` of each record to its new values; returns the rows changed.
    func anonymise(table: String, keyColumns: [String], fields: [String], rows: [(RecordKey, [SQLValue])]) throws -> Int
    /// Inserts a hold and returns its id; call `lockHolds(exclusive: true)` first in the same transaction.
    func insertHold(_ hold: LegalHold) throws -> Int64
    /// Releases the hold `id` if it is in force, and returns it as released; nil when it is not.
    func releaseHold(id: Int64, by: String, at: Date) throws -> LegalHold?
}

/// Which of the tool's own tables a database has. They are created together and never dropped by
/// the tool, so a database with some but not all of them has been tampered with.
public struct ToolTables: Sendable, Equatable {
    public var audit: Bool
    public var holds: Bool

    public init(audit: Bool, holds: Bool) {
        self.audit = audit
        self.holds = holds
    }

    public var complete: Bool { audit && holds }
    /// Any of them: the database has (or had) an audit trail.
    public var any: Bool { audit || holds }
    public var missing: [String] {
        (audit ? [] : ["retentiond_audit"]) + (holds ? [] : ["retentiond_holds"])
    }
}

/// Narrows `audit show`.
public struct AuditFilter: Sendable {
    public var runID: String?
    public var ruleID: String?
    public var subjectRef: String?
    public init(runID: String? = nil, ruleID: String? = nil, subjectRef: String? = nil) {
        self.runID = runID
        self.ruleID = ruleID
        self.subjectRef = subjectRef
    }
}

/// A legal hold: while active, no rule changes or deletes the record (or purges it through a parent).
public struct LegalHold: Sendable, Codable, Hashable {
    public var id: Int64
    public var table: String
    public var key: RecordKey
    public var reason: String
    public var placedBy: String
    public var placedAt: Date
    public var until: Date?
    public var releasedBy: String?
    public var releasedAt: Date?

    public init(
        id: Int64 = 0, table: String, key: RecordKey, reason: String, placedBy: String, placedAt: Date,
        until: Date? = nil, releasedBy: String? = nil, releasedAt: Date? = nil
    ) {
        self.id = id
        self.table = table
        self.key = key
        self.reason = reason
        self.placedBy = placedBy
        self.placedAt = placedAt
        self.until = until
        self.releasedBy = releasedBy
        self.releasedAt = releasedAt
    }

    public func isActive(at date: Date) -> Bool { releasedAt == nil && (until.map { $0 > date } ?? true) }
}

/// How long a writing transaction waits for a lock another session holds before it gives up,
/// unless the store is opened with another (`retentiond run --lock-wait`).
public let defaultLockWait: Duration = .seconds(10)

extension Duration {
    /// Whole milliseconds, as `--lock-wait` takes them and PostgreSQL's `lock_timeout` reads them.
    public var milliseconds: Int64 { components.seconds * 1000 + components.attoseconds / 1_000_000_000_000_000 }

    /// `10s`, `1500ms`: a lock wait in a message.
    public var lockWaitText: String { milliseconds % 1000 == 0 ? "\(milliseconds / 1000)s" : "\(milliseconds)ms" }
}

/// The password a server connection logs in with, whichever store opens it: the one a
/// command-line URL gave, else a password file (or systemd's `db-password` credential in
/// `credentialsDirectory`), else an environment variable; nil for none. `location` names the
/// database in the error when the file or variable cannot be read.
public func serverPassword(
    given: String?, file: String?, environment: String?, credentialsDirectory: String?, location: String
) throws -> String? {
    if let given { return given }
    var file = file
    if file == nil, let credentials = credentialsDirectory,
        FileManager.default.fileExists(atPath: credentials + "/db-password")
    {
        file = credentials + "/db-password"
    }
    if let file {
        guard let data = FileManager.default.contents(atPath: file), let text = String(data: data, encoding: .utf8)
        else {
            throw DatabaseUnavailable(location: location, reason: "cannot read the password file \(file)")
        }
        return text.trimmingCharacters(in: .newlines)
    }
    if let variable = environment {
        guard let value = ProcessInfo.processInfo.environment[variable] else {
            throw DatabaseUnavailable(
                location: location, reason: "the environment variable \(variable) (password_env) is not set")
        }
        return value
    }
    return nil
}

extension StoreSession {
    /// True when all the tool's own tables exist (a never-enforced database has none).
    public func toolTablesExist() throws -> Bool { try toolTables().complete }
}

extension WritingSession {
    /// The chain head to append after, with other appends held off until this transaction ends.
    public func lockedAuditHead() throws -> AuditHead {
        try lockAuditChain()
        return try auditHead()
    }
}
