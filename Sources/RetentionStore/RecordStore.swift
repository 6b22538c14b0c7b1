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

/// What one read can do: look, never change.
public protocol StoreSession {
    func schema() throws -> SchemaSnapshot
    func sample(table: String, column: String, limit: Int) throws -> [SQLValue]
    func rowCount(table: String) throws -> Int
    /// The rows of `table` that meet every condition of `filter` (a subject's records).
    func rowCount(table: String, filter: [RowCondition]) throws -> Int
    func candidates(_ query: RuleQuery, after: RecordKey?, limit: Int) throws -> [CandidateRow]
    /// The candidates among `keys`; `lockingRows` (inside a batch's transaction) locks them until it ends.
    func candidates(_ query: RuleQuery, keys: [RecordKey], lockingRows: Bool) throws -> [CandidateRow]
    /// For each boundary, how many records not yet due will have passed it (`SQLBuilder.forecast`),
    /// and of those how many something would keep then (given `keptAt`, the query at each boundary).
    func forecast(_ query: RuleQuery, boundaries: [ClockPredicate], keptAt: [RuleQuery]) throws -> (
        passed: [Int], kept: [Int]
    )
    /// How many records of the rule have no clock value yet (`SQLBuilder.forecastUndated`).
    func forecastUndated(_ query: RuleQuery) throws -> Int
    /// One record's standing under a rule (`SQLBuilder.standing`), nil when it does not exist.
    func standing(_ query: RuleQuery, key: RecordKey, marksKept: Bool) throws -> [SQLValue]?
    /// `columns` of the rows reached from the record `key` of `table` through `path` that meet
    /// `conditions` (the rows a `related` exemption finds), at most `limit`.
    func relatedRecords(
        _ path: [RelationStep], table: String, keyColumns: [String], key: RecordKey, conditions: [RowCondition],
        columns: [String], limit: Int
    ) throws -> [[SQLValue]]
    /// The keys (`keyColumns`' values) of `table`'s rows in key order after `after`, at most `limit`:
    /// every record of a table, page by page (the erasure ledger's replay matches references).
    func keys(table: String, keyColumns: [String], after: RecordKey?, limit: Int) throws -> [RecordKey]
    /// Of these keys, those whose record still exists.
    func existingKeys(table: String, keyColumns: [String], keys: [RecordKey]) throws -> Set<RecordKey>
    /// Which of the tool's own tables exist: all of them, none, or (after tampering) some.
    func toolTables() throws -> ToolTables
    /// Whether `retentiond_done` exists (derived data, outside `ToolTables`: a database enforced by
    /// an older version has a trail but no marks yet).
    func doneTableExists() throws -> Bool

    /// Of these references, those `rule` already acted on with `action` (flag or anonymise).
    func auditedReferences(ruleID: String, action: AuditAction, references: [String]) throws -> Set<String>
    /// Whether `rule` ever acted with `action` (one probe of the audit index).
    func hasAuditEntries(ruleID: String, action: AuditAction) throws -> Bool
    func auditHead() throws -> AuditHead
    /// Entries with `seq > after`, ascending, at most `limit`, narrowed by `filter`.
    func auditEntries(after: Int64, limit: Int, filter: AuditFilter) throws -> [AuditEntry]
    func auditEntry(seq: Int64) throws -> AuditEntry?
    /// How many of the trail's entries with a reference, up to the last one filed, have no filing
    /// of their own in `retentiond_audit_refs`, and how many of its rows file no entry; zeros
    /// without that table.
    func auditRefsMismatch() throws -> (missing: Int, extra: Int)
    /// `now` of the newest completed enforcing run, if any.
    func lastCompletedRunTime() throws -> Date?
    /// The sequence number of the newest `audit-key-rotated` entry, if the key was ever rotated.
    func lastKeyRotation() throws -> Int64?
    /// Whether an entry that recorded the head (`run-completed`, `audit-reanchored`,
    /// `audit-key-rotated`) names the head file `identity` (`head_file` in its detail).
    func trailNamesHeadFile(_ identity: String) throws -> Bool

    /// How key values of a column with this declared type are typed.
    var keyValueKind: @Sendable (_ declaredType: String) -> KeyValueKind { get }
    /// The canonical key texts (`RecordKey.canonical` of `keyColumns`, computed by the database as
    /// hold matching does) of the rows of `table` whose columns equal what an operator typed; at most two.
    func canonicalKeys(table: String, keyColumns: [String], matching lookup: [KeyLookup]) throws -> [String]
    /// Every `hold-add`, `hold-release` and `audit-key-rotated` entry of the trail, oldest first
    /// (a rotation restates every hold after it, under the new key).
    func holdAuditEntries() throws -> [AuditEntry]
    func holds(includeReleased: Bool) throws -> [LegalHold]
    /// The tables with a retentiond hold in force at `time` (none before the tool's tables exist).
    func heldTables(at time: Date) throws -> Set<String>

    /// Those of `rules` whose marks in `retentiond_done` are complete (every record they flagged
    /// or anonymised is marked), so their queries may leave marked records out.
    func rulesWithCompleteMarks(among rules: [String]) throws -> Set<String>
    /// How many records `rule` has marked as done.
    func doneCount(ruleID: String) throws -> Int
    /// The records of `table` that `rule` marked (and that still exist), by key order after
    /// `after`: each row is the key columns' values then `columns`' values.
    func markedRecords(
        ruleID: String, table: String, keyColumns: [String], columns: [String], after: RecordKey?, limit: Int
    ) throws -> [[SQLValue]]
    /// How many rows of one child table belong to the records `keys` of `table` through any of
    /// `paths` (every path ending in that table): each row once, however many paths reach it.
    func childRowCount(_ paths: [[ChildLink]], table: String, keyColumns: [String], keys: [RecordKey]) throws -> Int
    /// For each of the records `keys` of `table`, its child rows per group of paths (the paths
    /// ending in one table), each row once (`SQLBuilder.childRowsPerRecord`).
    func childRowsPerRecord(_ groups: [[[ChildLink]]], table: String, keyColumns: [String], keys: [RecordKey]) throws
        -> [RecordKey: [Int]]
    /// `columns` of the rows at the end of `path` that belong to the records `keys`, ordered by `order`.
    func childRecords(
        _ path: [ChildLink], table: String, keyColumns: [String], keys: [RecordKey], columns: [String], order: [String]
    ) throws -> [[SQLValue]]
    /// `columns` of the owned rows `keys` (values of `link.foreignKey`) that none of `keepers`
    /// keeps: those `deleteOwned` would delete once nothing points at them.
    func ownedRows(_ link: ChildLink, keys: [RecordKey], keepers: [RowKeeper], columns: [String]) throws -> [[SQLValue]]
    /// `columns` of the rows of `reference.table` whose `reference.columns` hold one of `values`.
    func referencingRows(_ reference: ForeignKey, values: [RecordKey], columns: [String]) throws -> [[SQLValue]]
    /// Which of `needs` the session's role lacks.
    func privileges(_ needs: [PrivilegeNeed]) throws -> PrivilegeReport
    /// Of `tables`, those that hold rows but have no planner statistics (PostgreSQL: never
    /// analyzed); SQLite plans without them.
    func tablesWithoutStatistics(among tables: [String]) throws -> [String]
    /// How many rows of a native date column hold a value that is no date (MariaDB's
    /// `0000-00-00`, read as missing); 0 where the database has no such values.
    func zeroDates(table: String, column: String) throws -> Int
    /// The rows of the statistics table `table` for `ruleID` (of `periods` when given; only the
    /// open ones with `openOnly`), by period and group; none while the table does not exist.
    func statisticsRows(table: String, ruleID: String, periods: [String]?, openOnly: Bool) throws -> [StatisticsRow]
    /// For a key the database does not enforce (`key_uniqueness: checked`): how many of its values
    /// name more than one row, and how many rows have no value (a NULL in a key column).
    func ambiguousKeys(table: String, keyColumns: [String]) throws -> AmbiguousKeys
    /// The rows an archive rule moves for the records `keys`: theirs and their children's, every
    /// column read as `SQLDialect.copyOut` reads it.
    func rowsToArchive(_ shape: ArchiveShape, keys: [RecordKey]) throws -> ArchivedRows
    /// The accounts (roles, users) that may read any of `tables`, as far as the connecting one can
    /// see, and whether each may do anything (a superuser): who can read an archive. Empty on
    /// SQLite, whose access is the file's.
    func readers(of tables: [String]) throws -> [TableReader]
    /// In an archive: the records copied whose live batch's end is not yet recorded (`ArchivePending`).
    func pendingArchived() throws -> [(rule: String, key: RecordKey)]
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

/// What one transaction of a writing store can do, on top of reading.
public protocol WritingSession: StoreSession {
    /// Creates the tool's own tables (audit, holds) if absent.
    func prepareToolTables() throws
    func anonymise(table: String, keyColumns: [String], fields: [String], rows: [(RecordKey, [SQLValue])]) throws -> Int
    /// Deletes child rows (deepest first) then the records; returns rows deleted per child table and records deleted.
    /// Owned rows that one of `keepers` keeps stay (see `RowKeeper`).
    func purge(table: String, keyColumns: [String], keys: [RecordKey], childPaths: [[ChildLink]], keepers: [RowKeeper])
        throws -> (records: Int, children: [String: Int])
    /// Deletes the child rows of the records `keys` along `childPaths` (deepest first), leaving the records.
    func deleteChildren(
        table: String, keyColumns: [String], keys: [RecordKey], childPaths: [[ChildLink]], keepers: [RowKeeper]
    ) throws -> [String: Int]

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
    func appendAudit(_ entries: [AuditEntry]) throws
    /// Marks records as done by a flag or anonymise rule (in the batch that changed them).
    func markDone(ruleID: String, table: String, keyColumns: [String], keys: [RecordKey]) throws
    /// Removes `rules`' marks on records about to be purged.
    func unmarkDone(ruleIDs: [String], table: String, keyColumns: [String], keys: [RecordKey]) throws
    /// Records that `rule`'s marks are complete from now on.
    func completeMarks(ruleID: String) throws
    /// Drops every mark (after a restore the trail, not the marks, says what was done).
    func clearDoneMarks() throws
    /// Files every entry of the trail again, as one segment (after a restore: `audit reanchor`).
    func refileAuditRefs() throws
    /// Creates the statistics table `name` if absent (a policy whose rules keep statistics).
    func prepareStatisticsTable(_ name: String) throws
    /// Replaces the rows `removing` and `writing` name (by rule, period and group) with `writing`.
    func writeStatistics(table: String, removing: [StatisticsRow], writing: [StatisticsRow]) throws
    /// In an archive: creates the archived tables that are missing, and the pending list.
    func prepareArchive(_ tables: [ArchiveTable]) throws
    /// In an archive: writes a batch's copies, replacing earlier ones, and lists them as pending.
    func storeArchived(_ copies: ArchivedRows, shape: ArchiveShape, keys: [RecordKey], unmarking: [String]) throws
    /// In an archive: removes the copies of `removing` and ends the pending state of `keys`.
    func settleArchived(shape: ArchiveShape, keys: [RecordKey], removing: [RecordKey]) throws
    /// Inserts a hold; call `lockHolds(exclusive: true)` first in the same transaction.
    func insertHold(_ hold: LegalHold) throws -> Int64
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
