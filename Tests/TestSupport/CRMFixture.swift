import Crypto
import Foundation
import Logging
import RetentionCore
import RetentionDemo
import RetentionEngine
import RetentionMariaDB
import RetentionPostgres
import RetentionSQLite
import RetentionStore

/// The databases the engine's tests run against.
public enum Backend: String, CaseIterable, CustomStringConvertible, Sendable {
    case sqlite, postgres, mariadb
    public var description: String { rawValue }
}

/// The one test CRM: people (prospects and clients), notes with attachments, orders — in a real
/// database of either backend (a SQLite file, or a database of the suite's own PostgreSQL 15),
/// with a policy over it and the engine on top. Raw SQL for setup and assertions goes through the
/// store's own session, so a check reads what the store wrote.
public final class CRMFixture: @unchecked Sendable {
    public let backend: Backend
    public let dir: URL
    public private(set) var databaseSection: String
    /// The `archive:` line that replaces a whole policy's (an example's), when it has one.
    public private(set) var archiveSection: String?
    public var policyPath: String { dir.appendingPathComponent("policy.yaml").path }
    /// The SQLite file (SQLite only).
    public var dbPath: String { dir.appendingPathComponent("crm.sqlite").path }
    /// As `--state-dir`: replaces the policy's state_dir.
    public var stateDirectoryOverride: String?
    /// As `--database-url`: replaces the policy's database (its hash stays the file's).
    public var databaseOverride: DatabaseLocation?

    public static let schema = [
        "CREATE TABLE people (id INTEGER PRIMARY KEY, kind TEXT NOT NULL, name TEXT NOT NULL, email TEXT UNIQUE, phone TEXT, born TEXT, last_seen TEXT, collected TEXT NOT NULL, keep_until TEXT, opted INTEGER NOT NULL DEFAULT 0)",
        "CREATE INDEX people_last_seen ON people(last_seen)",
        "CREATE INDEX people_collected ON people(collected)",
        "CREATE TABLE notes (id INTEGER PRIMARY KEY, person_id INTEGER NOT NULL REFERENCES people(id), body TEXT)",
        "CREATE TABLE attachments (id INTEGER PRIMARY KEY, note_id INTEGER NOT NULL REFERENCES notes(id), content TEXT)",
        "CREATE TABLE orders (id INTEGER PRIMARY KEY, person_id INTEGER REFERENCES people(id), ordered_on TEXT NOT NULL)",
        "CREATE INDEX orders_ordered_on ON orders(ordered_on)",
    ]

    /// Five prospects and two clients around a "now" of 2026-06-01.
    public static let data = [
        "INSERT INTO people VALUES (1, 'prospect', 'Alice Martin', 'alice.martin@example.fr', '+33 6 11 22 33 44', '1980-04-02', '2020-01-01', '2019-06-01', NULL, 0)",
        "INSERT INTO people VALUES (2, 'prospect', 'Bruno Petit', 'bruno.petit@example.fr', '+33 6 55 66 77 88', '1975-09-30', NULL, '2019-05-05', NULL, 0)",
        "INSERT INTO people VALUES (3, 'prospect', 'Chloé Durand', 'chloe.durand@example.fr', NULL, NULL, '2025-12-01', '2018-01-01', NULL, 0)",
        "INSERT INTO people VALUES (4, 'prospect', 'David Roux', 'david.roux@example.fr', NULL, NULL, '2020-02-02', '2019-01-01', '2027-01-01', 0)",
        "INSERT INTO people VALUES (5, 'prospect', 'Emma Blanc', 'emma.blanc@example.fr', NULL, NULL, '2020-03-03', '2019-01-01', NULL, 0)",
        "INSERT INTO people VALUES (6, 'client', 'Fabien Morel', 'fabien.morel@example.fr', NULL, '1990-01-15', '2020-01-01', '2015-01-01', NULL, 1)",
        "INSERT INTO people VALUES (7, 'client', 'Gaëlle Simon', 'gaelle.simon@example.fr', NULL, NULL, '2026-05-01', '2016-01-01', NULL, 0)",
        "INSERT INTO notes VALUES (10, 1, 'called Alice about the offer'), (11, 1, 'Alice asked for a quote'), (12, 2, 'Bruno met at the fair'), (13, 3, 'Chloé wants a demo')",
        "INSERT INTO attachments VALUES (100, 10, 'quote-alice.pdf'), (101, 13, 'demo-chloe.pdf')",
        "INSERT INTO orders VALUES (1000, 5, '2024-01-01'), (1001, 6, '2019-03-01')",
    ]

    public static let now = ISO8601DateFormatter().date(from: "2026-06-01T00:00:00Z")!

    /// `schema` and `data` run in order in one transaction (a schema of its own comes without the
    /// CRM's data); `policy` is the policy's body after the common header (version, time zone,
    /// state directory, database, no percentage limit, and `batch_size` when given) — or
    /// `wholePolicy`, a complete policy (see `write(wholePolicy:)`). `mariadbSchema`, when given,
    /// replaces `schema` on MariaDB and runs as it is (a product's own MySQL DDL).
    public init(
        _ backend: Backend, schema: [String] = CRMFixture.schema, mariadbSchema: [String]? = nil, data: [String]? = nil,
        policy: String = "", wholePolicy: String? = nil, batchSize: Int? = nil
    ) async throws {
        self.backend = backend
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("retentiond-test-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        switch backend {
        case .sqlite:
            _ = FileManager.default.createFile(atPath: dir.appendingPathComponent("crm.sqlite").path, contents: Data())
            databaseSection = "database: { sqlite: crm.sqlite }"
        case .postgres:
            let server = try await PostgresServer.start()
            let name = try await server.createDatabase()
            databaseSection =
                "database: { postgres: { host: 127.0.0.1, port: \(server.port), database: \(name), user: postgres, tls: disable } }"
        case .mariadb:
            let server = try await MariaDBServer.start()
            let name = try await server.createDatabase()
            databaseSection =
                "database: { mariadb: { host: 127.0.0.1, port: \(server.port), database: \(name), user: root, tls: disable } }"
        }
        if let wholePolicy {
            // An example's archive is made beside the fixture's database, of its kind.
            if wholePolicy.split(separator: "\n").contains(where: { $0.hasPrefix("archive:") }) {
                archiveSection = try await newArchiveSection()
            }
            try write(wholePolicy: wholePolicy)
        } else {
            try write(policy: policy, batchSize: batchSize)
        }
        let data = data ?? (schema == CRMFixture.schema ? CRMFixture.data : [])
        if backend == .mariadb, let mariadbSchema {
            try await sql(mariadbSchema, asWritten: true)
            try await sql(data)
        } else {
            try await sql(schema + data)
        }
    }

    /// The same fixture seen in another phase (the archive's database, state and rules), sharing
    /// its directory: only the original removes it.
    public func copy(phase: Phase) -> CRMFixture { CRMFixture(sharing: self, phase: phase) }

    private init(sharing other: CRMFixture, phase: Phase) {
        backend = other.backend
        dir = other.dir
        databaseSection = other.databaseSection
        archiveSection = other.archiveSection
        stateDirectoryOverride = other.stateDirectoryOverride
        databaseOverride = other.databaseOverride
        self.phase = phase
        owner = other
    }

    /// The fixture whose directory this one shares (a copy in another phase), kept alive with it.
    private var owner: CRMFixture?

    deinit { if owner == nil { try? FileManager.default.removeItem(at: dir) } }

    /// Points the policy at the same database by another name: a symlink (SQLite) or another
    /// host name for the same server (PostgreSQL). Call `write(policy:)` after.
    public func reachDatabaseByAnotherPath() throws {
        switch backend {
        case .sqlite:
            try FileManager.default.createSymbolicLink(
                atPath: dir.appendingPathComponent("link.sqlite").path, withDestinationPath: dbPath)
            databaseSection = "database: { sqlite: link.sqlite }"
        case .postgres:
            databaseSection = databaseSection.replacingOccurrences(of: "host: 127.0.0.1", with: "host: localhost")
        case .mariadb:
            // The server's Unix socket instead of TCP.
            let server = try MariaDBServer.shared.get()
            databaseSection = databaseSection.replacingOccurrences(
                of: "host: 127.0.0.1, port: \(server.port)", with: "socket: \(server.socket)")
        }
    }

    /// Points the policy at the same PostgreSQL database through `pooler`. Call `write(policy:)` after.
    public func reachThrough(_ pooler: PgBouncer) throws {
        let server = try PostgresServer.shared.get()
        databaseSection = databaseSection.replacingOccurrences(of: "port: \(server.port)", with: "port: \(pooler.port)")
    }

    public func write(policy body: String, batchSize: Int? = nil) throws {
        try
            ("""
        version: 1
        time_zone: Europe/Paris
        state_dir: \(dir.path)
        \(databaseSection)
        safety: { max_percent: 100 }

        """ + (batchSize.map { "batch_size: \($0)\n" } ?? "") + body).write(
            toFile: policyPath, atomically: true, encoding: .utf8)
    }

    /// Writes a complete policy (an example shipped in etc/examples/) pointed at this fixture's
    /// database and state directory: its `state_dir:` and `database:` lines are replaced.
    public func write(wholePolicy text: String) throws {
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map { line -> String in
            if line.hasPrefix("database:") { return databaseSection }
            if line.hasPrefix("state_dir:") { return "state_dir: \(dir.path)" }
            if line.hasPrefix("archive:"), let archiveSection { return archiveSection }
            return String(line)
        }
        try lines.joined(separator: "\n").write(toFile: policyPath, atomically: true, encoding: .utf8)
    }

    /// The text of a file of the package (an example policy), found from this source file.
    public static func packageFile(_ relativePath: String, from source: String = #filePath) throws -> String {
        var dir = URL(fileURLWithPath: source).deletingLastPathComponent()
        while !FileManager.default.fileExists(atPath: dir.appendingPathComponent("Package.swift").path) {
            dir.deleteLastPathComponent()
        }
        return try String(contentsOf: dir.appendingPathComponent(relativePath), encoding: .utf8)
    }

    // MARK: The engine over it

    /// The phase the fixture's engine, store and SQL work on: the application's database, or the
    /// archive (as `--archive` does).
    public var phase: Phase = .active

    /// The policy of `phase` (the whole file's rules of that phase).
    public func policy() throws -> Policy { try wholePolicy().enforced(in: phase) }

    /// Where the policy of `phase` runs: its database, state directory, key file…
    public func settings() throws -> RunSettings { try parsed().settings.enforced(in: phase) }

    public func wholePolicy() throws -> Policy { try parsed().policy }

    private func parsed() throws -> PolicyParser.Parsed {
        var parsed = try PolicyParser(path: policyPath, stateDirectoryOverride: stateDirectoryOverride).parseFile()
        if let databaseOverride { parsed.settings.database = databaseOverride }
        return parsed
    }

    /// An `archive:` line naming a new, empty database of the fixture's kind: a file beside the
    /// database, or a database of the same server.
    public func newArchiveSection() async throws -> String {
        switch backend {
        case .sqlite: return "archive: { sqlite: archive.sqlite }"
        case .postgres:
            let server = try await PostgresServer.start()
            return
                "archive: { postgres: { host: 127.0.0.1, port: \(server.port), database: \(try await server.createDatabase()), user: postgres, tls: disable } }"
        case .mariadb:
            let server = try await MariaDBServer.start()
            return
                "archive: { mariadb: { host: 127.0.0.1, port: \(server.port), database: \(try await server.createDatabase()), user: root, tls: disable } }"
        }
    }

    /// `lockWait`: how long its batches wait for a lock another session holds (`--lock-wait`).
    public func store(lockWait: Duration = defaultLockWait) async throws -> any RecordStore {
        try await Self.store(of: try settings().database, lockWait: lockWait)
    }

    static func store(of database: DatabaseLocation, lockWait: Duration = defaultLockWait) async throws
        -> any RecordStore
    {
        switch database {
        case .sqlite(let path): return try SQLiteStore(path: path, lockWait: lockWait)
        case .postgres(let location): return try await PostgresStore(settings: location, lockWait: lockWait)
        case .mariadb(let location): return try await MariaDBStore(settings: location, lockWait: lockWait)
        }
    }

    public func reader() async throws -> any RecordReader {
        switch try settings().database {
        case .sqlite(let path): return try SQLiteStore.reader(path: path)
        case .postgres(let location): return try await PostgresStore.reader(settings: location)
        case .mariadb(let location): return try await MariaDBStore.reader(settings: location)
        }
    }

    public func validate() async throws -> (ResolvedPolicy?, [Diagnostic]) {
        try await Enforcer.validate(try policy(), store: try await reader())
    }

    private func resolved(on store: any RecordReader) async throws -> ResolvedPolicy {
        let (resolved, diagnostics) = try await Enforcer.validate(try policy(), store: store)
        guard let resolved else { throw PolicyInvalid(diagnostics) }
        return resolved
    }

    /// The engine on a writable store, with the audit key (created on first use, as a first run does).
    /// `batchSize`: records per batch instead of the policy's (`--batch-size`).
    public func enforcer(lockWait: Duration = defaultLockWait, batchSize: Int? = nil) async throws -> Enforcer {
        let store = try await store(lockWait: lockWait)
        var settings = try settings()
        if let batchSize { settings.batchSize = batchSize }
        var enforcer = Enforcer(
            resolved: try await resolved(on: store), settings: settings, store: store,
            key: try AuditKey.load(path: settings.keyFile, createIfMissing: true).key,
            actor: "test", logger: Logger(label: "test"))
        // As the command line does: the archive that archive rules move records into.
        if !enforcer.policy.archivingRules.isEmpty {
            let archive = try wholePolicy().enforced(in: .archive)
            let database = try parsed().settings.enforced(in: .archive).database
            if case .sqlite(let path) = database, !FileManager.default.fileExists(atPath: path) {
                _ = FileManager.default.createFile(atPath: path, contents: Data())
            }
            enforcer.archive = ArchiveTarget(
                store: try await Self.store(of: database, lockWait: lockWait), policy: archive)
        }
        return enforcer
    }

    /// The planning pass on a read-only store, as `plan` runs it: no key is created. `counters`:
    /// how many connections of their own count child rows (`plan` opens two).
    public func planner(counters: Int = 0) async throws -> PlanningPass {
        let reader = try await reader()
        let keyFile = try settings().keyFile
        let key =
            FileManager.default.fileExists(atPath: keyFile)
            ? try AuditKey.load(path: keyFile, createIfMissing: false).key : nil
        var others: [any RecordReader] = []
        for _ in 0..<counters { others.append(try await self.reader()) }
        return PlanningPass(
            resolved: try await resolved(on: reader), settings: try settings(), reader: reader, key: key,
            logger: Logger(label: "test"),
            counters: others)
    }

    public func run(now: Date = CRMFixture.now, allowMore: Bool = false, batchSize: Int? = nil) async throws
        -> RunReport
    {
        try await enforcer(batchSize: batchSize).run(now: now, allowMore: allowMore)
    }

    public func plan(now: Date = CRMFixture.now, out: String? = nil, counters: Int = 0) async throws -> RunReport {
        try await planner(counters: counters).dryRun(now: now, mode: .plan, planPath: out)
    }

    public var key: AuditKey {
        get throws { try AuditKey.load(path: try settings().keyFile, createIfMissing: false).key }
    }

    public func reference(_ table: String, _ id: Int64) throws -> String {
        AuditChain(key: try key).reference(table: table, key: RecordKey([.integer(id)]))
    }

    public func trail() async throws -> AuditTrail {
        AuditTrail(store: try await reader(), key: try key, stateDirectory: try settings().stateDirectory)
    }

    /// The hold registry of this fixture's database, with its audit key (created if need be).
    public func holds() async throws -> HoldRegistry {
        var registry = HoldRegistry(
            store: try await store(), key: try AuditKey.load(path: try settings().keyFile, createIfMissing: true).key,
            stateDirectory: try settings().stateDirectory)
        registry.policy = try policy()
        return registry
    }

    // MARK: Raw SQL, through the store's own session

    /// Statements in the SQL SQLite and PostgreSQL share, said in MariaDB's terms on MariaDB
    /// (`MariaDBTerms`) unless `asWritten`.
    public func sql(_ statements: [String], asWritten: Bool = false) async throws {
        let statements = backend == .mariadb && !asWritten ? statements.map(MariaDBTerms.statement) : statements
        try await executing { session in
            for statement in statements { _ = try session.execute(statement, []) }
        }
    }

    public func rows(_ sql: String) async throws -> [[SQLValue]] {
        let backend = self.backend
        return try await reader().read { session in
            try session.rows(backend == .mariadb ? MariaDBTerms.statement(sql) : sql, [])
        }
    }

    /// Runs `body` in one writing transaction with raw SQL.
    public func executing<T: Sendable>(_ body: @escaping @Sendable (any WritingSession) throws -> T) async throws -> T {
        try await store().transaction(body)
    }

    public func ids(_ table: String) async throws -> [Int64] {
        try await rows("SELECT id FROM \(table) ORDER BY id").compactMap {
            if case .integer(let i) = $0[0] { return i } else { return nil }
        }
    }

    /// The rows of `table` ordered by id, each as column name → value.
    public func records(_ table: String, _ columns: [String]) async throws -> [[String: SQLValue]] {
        try await rows("SELECT \(columns.joined(separator: ", ")) FROM \(table) ORDER BY id").map {
            Dictionary(uniqueKeysWithValues: zip(columns, $0))
        }
    }

    public static let peopleColumns = [
        "id", "kind", "name", "email", "phone", "born", "last_seen", "collected", "keep_until", "opted",
    ]

    /// The first column of every row, as text (NULL as nil).
    public func texts(_ sql: String) async throws -> [String?] {
        try await rows(sql).map { $0[0].textValue }
    }

    public func count(_ sql: String) async throws -> Int {
        guard case .integer(let n)? = try await rows(sql).first?.first else { return -1 }
        return Int(n)
    }

    /// The audit trail's entries, oldest first, of one action or all.
    public func audit(action: String? = nil) async throws -> [AuditEntry] {
        try await reader().read { session in
            try session.auditEntries(after: 0, limit: Int.max / 2, filter: AuditFilter()).filter {
                action == nil || $0.action == action
            }
        }
    }

    /// The planner statistics PostgreSQL and MariaDB plan from, taken after a bulk load as an
    /// operator (or autovacuum, or InnoDB's own sampling, later) would; SQLite plans without them.
    public func gatherStatistics() async throws {
        switch backend {
        case .sqlite: break
        case .postgres: try await sql(["ANALYZE"])
        case .mariadb:
            try await store().transaction { session in
                try session.analyze(tables: try session.schema().tables.keys.sorted())
            }
        }
    }

    /// Every user table's rows, to show that a dry run changed nothing.
    public func snapshot() async throws -> [String: [[SQLValue]]] {
        var result: [String: [[SQLValue]]] = [:]
        for table in ["people", "notes", "attachments", "orders"] {
            result[table] = try await rows("SELECT * FROM \(table) ORDER BY id")
        }
        return result
    }

    // MARK: Backups

    /// Backs the database up as its operators would — a copy of the SQLite file (and its
    /// write-ahead log), `pg_dump`, `mariadb-dump` — into `name`.
    public func backup(_ name: String = "backup") async throws -> String {
        let path = dir.appendingPathComponent(name).path
        switch backend {
        case .sqlite:
            // No store of the test is writing: the file and its write-ahead log are consistent.
            for suffix in ["", "-wal"] where FileManager.default.fileExists(atPath: dbPath + suffix) {
                try FileManager.default.copyItem(atPath: dbPath + suffix, toPath: path + suffix)
            }
        case .postgres:
            let server = try PostgresServer.shared.get()
            let done = try await Spawn.run(
                server.binDirectory + "/pg_dump",
                [
                    "-h", "127.0.0.1", "-p", String(server.port), "-U", "postgres",
                    "-Fc", "-f", path, try databaseName(),
                ])
            guard done.succeeded else { throw Spawn.Failure(description: "pg_dump: \(done.stderr)") }
        case .mariadb:
            let server = try MariaDBServer.shared.get()
            let done = try await Spawn.run(
                "/usr/bin/mariadb-dump",
                [
                    "-h", "127.0.0.1", "-P", String(server.port), "-u", "root",
                    "--single-transaction", "--triggers", "--result-file=" + path, try databaseName(),
                ])
            guard done.succeeded else { throw Spawn.Failure(description: "mariadb-dump: \(done.stderr)") }
        }
        return path
    }

    /// Restores a backup made by `backup` over the database: the SQLite file replaced, `pg_restore
    /// --clean`, the dump read back by `mariadb`. No store of the test may be open (SQLite).
    public func restore(_ path: String) async throws {
        switch backend {
        case .sqlite:
            for suffix in ["", "-wal", "-shm"] { unlink(dbPath + suffix) }
            for suffix in ["", "-wal"] where FileManager.default.fileExists(atPath: path + suffix) {
                try FileManager.default.copyItem(atPath: path + suffix, toPath: dbPath + suffix)
            }
        case .postgres:
            let server = try PostgresServer.shared.get()
            let done = try await Spawn.run(
                server.binDirectory + "/pg_restore",
                [
                    "-h", "127.0.0.1", "-p", String(server.port), "-U", "postgres",
                    "--clean", "--if-exists", "--single-transaction", "-d", try databaseName(), path,
                ])
            guard done.succeeded else { throw Spawn.Failure(description: "pg_restore: \(done.stderr)") }
        case .mariadb:
            let server = try MariaDBServer.shared.get()
            let done = try await Spawn.run(
                "/usr/bin/mariadb",
                [
                    "-h", "127.0.0.1", "-P", String(server.port), "-u", "root", try databaseName(),
                    "-e", "source \(path)",
                ])
            guard done.succeeded else { throw Spawn.Failure(description: "mariadb: \(done.stderr)") }
        }
    }

    /// The server database's name (PostgreSQL, MariaDB).
    func databaseName() throws -> String {
        guard let range = databaseSection.range(of: #"database: (\w+)"#, options: .regularExpression) else {
            throw Spawn.Failure(description: "no database name in \(databaseSection)")
        }
        return String(databaseSection[range].dropFirst("database: ".count))
    }

    // MARK: What an attacker or a broken application does

    /// What an attacker with write access does first: remove the append-only protection.
    public func dropAuditProtection() async throws {
        switch backend {
        case .sqlite:
            try await sql([
                "DROP TRIGGER retentiond_audit_append_only_update", "DROP TRIGGER retentiond_audit_append_only_delete",
            ])
        case .postgres:
            try await sql(["DROP TRIGGER retentiond_audit_append_only ON retentiond_audit"])
        case .mariadb:
            try await sql(["DROP TRIGGER retentiond_audit_no_update", "DROP TRIGGER retentiond_audit_no_delete"])
        }
    }

    /// The same, for the holds table.
    public func dropHoldProtection() async throws {
        switch backend {
        case .sqlite:
            try await sql([
                "DROP TRIGGER retentiond_holds_keep_every_hold", "DROP TRIGGER retentiond_holds_release_only",
            ])
        case .postgres:
            try await sql(["DROP TRIGGER retentiond_holds_release_only ON retentiond_holds"])
        case .mariadb:
            try await sql(["DROP TRIGGER retentiond_holds_release_only", "DROP TRIGGER retentiond_holds_no_delete"])
        }
    }

    /// A trigger that refuses to update one row, to make a batch fail.
    public func refuseUpdates(of id: Int) async throws {
        switch backend {
        case .sqlite:
            try await sql([
                "CREATE TRIGGER refuse BEFORE UPDATE ON people WHEN old.id = \(id) BEGIN SELECT RAISE(ABORT, 'refused'); END"
            ])
        case .postgres:
            try await sql([
                "CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS $f$ BEGIN IF OLD.id = \(id) THEN RAISE EXCEPTION 'refused'; END IF; RETURN NEW; END $f$",
                "CREATE TRIGGER refuse BEFORE UPDATE ON people FOR EACH ROW EXECUTE FUNCTION refuse()",
            ])
        case .mariadb:
            try await sql([
                "CREATE TRIGGER refuse BEFORE UPDATE ON people FOR EACH ROW IF OLD.id = \(id) THEN SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'refused'; END IF"
            ])
        }
    }

    /// A trigger that silently skips the update of one row (the statement succeeds, the row stays).
    public func skipUpdates(of id: Int) async throws {
        switch backend {
        case .sqlite:
            try await sql([
                "CREATE TRIGGER refuse BEFORE UPDATE ON people WHEN old.id = \(id) BEGIN SELECT RAISE(IGNORE); END"
            ])
        case .postgres:
            try await sql([
                "CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS $f$ BEGIN IF OLD.id = \(id) THEN RETURN NULL; END IF; RETURN NEW; END $f$",
                "CREATE TRIGGER refuse BEFORE UPDATE ON people FOR EACH ROW EXECUTE FUNCTION refuse()",
            ])
        case .mariadb:
            // No trigger skips a row on MariaDB: this one puts every value back.
            let columns = CRMFixture.peopleColumns.filter { $0 != "id" }.map { "SET NEW.\($0) = OLD.\($0);" }.joined(
                separator: " ")
            try await sql([
                "CREATE TRIGGER refuse BEFORE UPDATE ON people FOR EACH ROW IF OLD.id = \(id) THEN \(columns) END IF"
            ])
        }
    }

    public func allowUpdates() async throws {
        try await sql([backend == .postgres ? "DROP TRIGGER refuse ON people" : "DROP TRIGGER refuse"])
    }

    // MARK: SQLite's file

    /// The SQLite file's SHA-256, to show that a dry run left it byte-identical.
    public func fileDigest() throws -> String {
        SHA256.hash(data: try Data(contentsOf: URL(fileURLWithPath: dbPath))).hexEncoded
    }

    /// Every byte of the SQLite database and its journals, to look for values that must be gone.
    public func rawBytes() throws -> Data {
        var data = Data()
        for suffix in ["", "-wal", "-journal"] where FileManager.default.fileExists(atPath: dbPath + suffix) {
            data.append(try Data(contentsOf: URL(fileURLWithPath: dbPath + suffix)))
        }
        return data
    }
}

extension Date {
    public static func iso(_ text: String) -> Date { ISO8601DateFormatter().date(from: text)! }
}
