import Foundation
import Logging
import RetentionCore
import RetentionEngine
import RetentionPostgres
import RetentionSQLite
import RetentionStore
import TestSupport
import Testing

/// The databases every store contract test runs against.
enum Backend: String, CaseIterable, CustomTestStringConvertible, Sendable {
    case sqlite, postgres
    var testDescription: String { rawValue }
}

/// A small CRM in a real database of either backend, a policy over it, and raw SQL for assertions
/// (through the store's own session, so the check reads what the store wrote).
final class ContractFixture: @unchecked Sendable {
    let backend: Backend
    let dir: URL
    private(set) var databaseSection: String
    var policyPath: String { dir.appendingPathComponent("policy.yaml").path }

    static let schema = [
        "CREATE TABLE people (id INTEGER PRIMARY KEY, kind TEXT NOT NULL, name TEXT NOT NULL, email TEXT UNIQUE, phone TEXT, born TEXT, last_seen TEXT, collected TEXT NOT NULL, keep_until TEXT)",
        "CREATE INDEX people_last_seen ON people(last_seen)",
        "CREATE INDEX people_collected ON people(collected)",
        "CREATE TABLE notes (id INTEGER PRIMARY KEY, person_id INTEGER NOT NULL REFERENCES people(id), body TEXT)",
        "CREATE TABLE attachments (id INTEGER PRIMARY KEY, note_id INTEGER NOT NULL REFERENCES notes(id), content TEXT)",
        "CREATE TABLE orders (id INTEGER PRIMARY KEY, person_id INTEGER REFERENCES people(id), ordered_on TEXT NOT NULL)",
        "CREATE INDEX orders_ordered_on ON orders(ordered_on)",
        "INSERT INTO people VALUES (1, 'prospect', 'Alice Martin', 'alice.martin@example.fr', '+33 6 11 22 33 44', '1980-04-02', '2020-01-01', '2019-06-01', NULL)",
        "INSERT INTO people VALUES (2, 'prospect', 'Bruno Petit', 'bruno.petit@example.fr', '+33 6 55 66 77 88', '1975-09-30', NULL, '2019-05-05', NULL)",
        "INSERT INTO people VALUES (3, 'prospect', 'Chloé Durand', 'chloe.durand@example.fr', NULL, NULL, '2025-12-01', '2018-01-01', NULL)",
        "INSERT INTO people VALUES (4, 'prospect', 'David Roux', 'david.roux@example.fr', NULL, NULL, '2020-02-02', '2019-01-01', '2027-01-01')",
        "INSERT INTO people VALUES (5, 'prospect', 'Emma Blanc', 'emma.blanc@example.fr', NULL, NULL, '2020-03-03', '2019-01-01', NULL)",
        "INSERT INTO people VALUES (6, 'client', 'Fabien Morel', 'fabien.morel@example.fr', NULL, '1990-01-15', '2020-01-01', '2015-01-01', NULL)",
        "INSERT INTO notes VALUES (10, 1, 'called Alice'), (11, 1, 'Alice asked for a quote'), (12, 2, 'Bruno at the fair'), (13, 3, 'Chloé wants a demo')",
        "INSERT INTO attachments VALUES (100, 10, 'quote-alice.pdf'), (101, 13, 'demo-chloe.pdf')",
        "INSERT INTO orders VALUES (1000, 5, '2024-01-01'), (1001, 6, '2019-03-01')",
    ]

    static let now = ISO8601DateFormatter().date(from: "2026-06-01T00:00:00Z")!

    init(_ backend: Backend, schema: [String] = ContractFixture.schema, policy: String) async throws {
        self.backend = backend
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("retentiond-contract-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        switch backend {
        case .sqlite:
            _ = FileManager.default.createFile(atPath: dir.appendingPathComponent("crm.sqlite").path, contents: Data())
            databaseSection = "database: { sqlite: crm.sqlite }"
        case .postgres:
            let server = try PostgresServer.shared.get()
            let name = try server.createDatabase()
            databaseSection = "database: { postgres: { host: 127.0.0.1, port: \(server.port), database: \(name), user: postgres, tls: disable } }"
        }
        try write(policy: policy)
        try await sql(schema)
    }

    deinit { try? FileManager.default.removeItem(at: dir) }

    /// Points the policy at the same database by another name: a symlink (SQLite) or another
    /// host name for the same server (PostgreSQL). Call `write(policy:)` after.
    func reachDatabaseByAnotherPath() throws {
        switch backend {
        case .sqlite:
            try FileManager.default.createSymbolicLink(atPath: dir.appendingPathComponent("link.sqlite").path,
                                                       withDestinationPath: dir.appendingPathComponent("crm.sqlite").path)
            databaseSection = "database: { sqlite: link.sqlite }"
        case .postgres:
            databaseSection = databaseSection.replacingOccurrences(of: "host: 127.0.0.1", with: "host: localhost")
        }
    }

    func write(policy body: String) throws {
        try ("""
            version: 1
            time_zone: Europe/Paris
            state_dir: \(dir.path)
            \(databaseSection)
            safety: { max_percent: 100 }

            """ + body).write(toFile: policyPath, atomically: true, encoding: .utf8)
    }

    func policy() throws -> Policy { try PolicyParser(path: policyPath).parseFile().0 }

    func store(readOnly: Bool = false) async throws -> any RecordStore {
        switch try policy().database {
        case .sqlite(let path): return try SQLiteStore(path: path, readOnly: readOnly)
        case .postgres(let location): return try await PostgresStore(settings: location, readOnly: readOnly)
        }
    }

    func enforcer(readOnly: Bool = false) async throws -> Enforcer {
        let policy = try policy()
        let store = try await store(readOnly: readOnly)
        let (resolved, diagnostics) = try await Enforcer.validate(policy, store: store)
        guard let resolved else { throw PolicyInvalid(diagnostics) }
        let key = readOnly && !FileManager.default.fileExists(atPath: policy.keyFile) ? nil : try AuditKey.load(path: policy.keyFile, createIfMissing: true).key
        return Enforcer(resolved: resolved, store: store, key: key, actor: "contract", logger: Logger(label: "contract"))
    }

    func run(now: Date = ContractFixture.now, allowMore: Bool = false) async throws -> RunReport {
        try await enforcer().run(now: now, allowMore: allowMore)
    }

    var key: AuditKey { get throws { try AuditKey.load(path: try policy().keyFile, createIfMissing: false).key } }

    func reference(_ table: String, _ id: Int64) throws -> String {
        AuditChain(key: try key).reference(table: table, key: RecordKey([.integer(id)]))
    }

    // MARK: Raw SQL, through the store's own session

    func sql(_ statements: [String]) async throws {
        let store = try await store()
        try await store.transaction { session in
            for statement in statements { _ = try (session as! any SQLExecuting).execute(statement, []) }
        }
    }

    func rows(_ sql: String) async throws -> [[SQLValue]] {
        try await store(readOnly: true).read { try ($0 as! any SQLExecuting).rows(sql, []) }
    }

    func ids(_ table: String) async throws -> [Int64] {
        try await rows("SELECT id FROM \(table) ORDER BY id").compactMap { if case .integer(let i) = $0[0] { return i } else { return nil } }
    }

    func audit(action: String) async throws -> [[SQLValue]] {
        try await rows("SELECT subject_ref, fields, table_name, detail FROM retentiond_audit WHERE action = '\(action)' ORDER BY seq")
    }

    /// Every user table's rows, to show that a dry run changed nothing.
    func snapshot() async throws -> [String: [[SQLValue]]] {
        var result: [String: [[SQLValue]]] = [:]
        for table in ["people", "notes", "attachments", "orders"] {
            result[table] = try await rows("SELECT * FROM \(table) ORDER BY id")
        }
        return result
    }

    /// What an attacker with write access does first: remove the append-only protection.
    func dropAuditProtection() async throws {
        switch backend {
        case .sqlite:
            try await sql(["DROP TRIGGER retentiond_audit_append_only_update", "DROP TRIGGER retentiond_audit_append_only_delete"])
        case .postgres:
            try await sql(["DROP TRIGGER retentiond_audit_append_only ON retentiond_audit"])
        }
    }

    /// The same, for the holds table.
    func dropHoldProtection() async throws {
        switch backend {
        case .sqlite:
            try await sql(["DROP TRIGGER retentiond_holds_keep_every_hold", "DROP TRIGGER retentiond_holds_release_only"])
        case .postgres:
            try await sql(["DROP TRIGGER retentiond_holds_release_only ON retentiond_holds"])
        }
    }

    /// A trigger that refuses to update one row, to make a batch fail.
    func refuseUpdates(of id: Int) async throws {
        switch backend {
        case .sqlite:
            try await sql(["CREATE TRIGGER refuse BEFORE UPDATE ON people WHEN old.id = \(id) BEGIN SELECT RAISE(ABORT, 'refused'); END"])
        case .postgres:
            try await sql([
                "CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS $f$ BEGIN IF OLD.id = \(id) THEN RAISE EXCEPTION 'refused'; END IF; RETURN NEW; END $f$",
                "CREATE TRIGGER refuse BEFORE UPDATE ON people FOR EACH ROW EXECUTE FUNCTION refuse()",
            ])
        }
    }

    /// A trigger that silently skips the update of one row (the statement succeeds, the row stays).
    func skipUpdates(of id: Int) async throws {
        switch backend {
        case .sqlite:
            try await sql(["CREATE TRIGGER refuse BEFORE UPDATE ON people WHEN old.id = \(id) BEGIN SELECT RAISE(IGNORE); END"])
        case .postgres:
            try await sql([
                "CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS $f$ BEGIN IF OLD.id = \(id) THEN RETURN NULL; END IF; RETURN NEW; END $f$",
                "CREATE TRIGGER refuse BEFORE UPDATE ON people FOR EACH ROW EXECUTE FUNCTION refuse()",
            ])
        }
    }

    func allowUpdates() async throws {
        try await sql([backend == .sqlite ? "DROP TRIGGER refuse" : "DROP TRIGGER refuse ON people"])
    }
}

extension ContractFixture {
    /// The hold registry of this fixture's database, with its audit key (created if need be).
    func holds() async throws -> HoldRegistry {
        HoldRegistry(store: try await store(), key: try AuditKey.load(path: try policy().keyFile, createIfMissing: true).key, stateDirectory: dir.path)
    }
}

/// Expects `body` to be refused as tampering (`audit-tampered`, exit status 7), having changed nothing.
func expectTamperingRefused(sourceLocation: Testing.SourceLocation = #_sourceLocation, _ body: () async throws -> Void) async {
    do {
        try await body()
        Issue.record("not refused", sourceLocation: sourceLocation)
    } catch {
        #expect(EnforcementError.from(error).kind == .auditTampered, "\(error)", sourceLocation: sourceLocation)
    }
}
