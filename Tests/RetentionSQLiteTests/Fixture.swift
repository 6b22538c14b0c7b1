import Crypto
import Foundation
import GRDB
import Logging
import RetentionCore
import RetentionEngine
import RetentionSQLite
import RetentionStore

/// A real SQLite file and a policy in a temporary directory, and the engine over them.
final class Fixture: @unchecked Sendable {
    let dir: URL
    var dbPath: String { dir.appendingPathComponent("crm.sqlite").path }
    var policyPath: String { dir.appendingPathComponent("policy.yaml").path }
    /// As `--state-dir`: replaces the policy's state_dir.
    var stateDirectoryOverride: String?

    /// A small CRM: people (prospects and clients), notes with attachments, orders.
    static let schema = """
        CREATE TABLE people (
            id INTEGER PRIMARY KEY,
            kind TEXT NOT NULL,
            name TEXT NOT NULL,
            email TEXT UNIQUE,
            phone TEXT,
            born TEXT,
            last_seen TEXT,
            collected TEXT NOT NULL,
            keep_until TEXT,
            opted INTEGER NOT NULL DEFAULT 0
        );
        CREATE INDEX people_last_seen ON people(last_seen);
        CREATE INDEX people_collected ON people(collected);
        CREATE TABLE notes (id INTEGER PRIMARY KEY, person_id INTEGER NOT NULL REFERENCES people(id), body TEXT);
        CREATE TABLE attachments (id INTEGER PRIMARY KEY, note_id INTEGER NOT NULL REFERENCES notes(id), content TEXT);
        CREATE TABLE orders (id INTEGER PRIMARY KEY, person_id INTEGER REFERENCES people(id), ordered_on TEXT NOT NULL);
        CREATE INDEX orders_ordered_on ON orders(ordered_on);
        """

    /// Five prospects and two clients around a "now" of 2026-06-01.
    static let data = """
        INSERT INTO people VALUES (1, 'prospect', 'Alice Martin', 'alice.martin@example.fr', '+33 6 11 22 33 44', '1980-04-02', '2020-01-01', '2019-06-01', NULL, 0);
        INSERT INTO people VALUES (2, 'prospect', 'Bruno Petit', 'bruno.petit@example.fr', '+33 6 55 66 77 88', '1975-09-30', NULL, '2019-05-05', NULL, 0);
        INSERT INTO people VALUES (3, 'prospect', 'Chloé Durand', 'chloe.durand@example.fr', NULL, NULL, '2025-12-01', '2018-01-01', NULL, 0);
        INSERT INTO people VALUES (4, 'prospect', 'David Roux', 'david.roux@example.fr', NULL, NULL, '2020-02-02', '2019-01-01', '2027-01-01', 0);
        INSERT INTO people VALUES (5, 'prospect', 'Emma Blanc', 'emma.blanc@example.fr', NULL, NULL, '2020-03-03', '2019-01-01', NULL, 0);
        INSERT INTO people VALUES (6, 'client', 'Fabien Morel', 'fabien.morel@example.fr', NULL, '1990-01-15', '2020-01-01', '2015-01-01', NULL, 1);
        INSERT INTO people VALUES (7, 'client', 'Gaëlle Simon', 'gaelle.simon@example.fr', NULL, NULL, '2026-05-01', '2016-01-01', NULL, 0);
        INSERT INTO notes VALUES (10, 1, 'called Alice about the offer');
        INSERT INTO notes VALUES (11, 1, 'Alice asked for a quote');
        INSERT INTO notes VALUES (12, 2, 'Bruno met at the fair');
        INSERT INTO notes VALUES (13, 3, 'Chloé wants a demo');
        INSERT INTO attachments VALUES (100, 10, 'quote-alice.pdf');
        INSERT INTO attachments VALUES (101, 13, 'demo-chloe.pdf');
        INSERT INTO orders VALUES (1000, 5, '2024-01-01');
        INSERT INTO orders VALUES (1001, 6, '2019-03-01');
        """

    static let now = ISO8601DateFormatter().date(from: "2026-06-01T00:00:00Z")!

    init(schema: String = Fixture.schema, data: String = Fixture.data, policy: String, batchSize: Int = 500) throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("retentiond-test-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let queue = try DatabaseQueue(path: dir.appendingPathComponent("crm.sqlite").path)
        try queue.write { db in
            try db.execute(sql: schema)
            try db.execute(sql: data)
        }
        try queue.close()
        try writePolicy(policy, batchSize: batchSize)
    }

    func writePolicy(_ body: String, batchSize: Int = 500) throws {
        let text = """
            version: 1
            time_zone: Europe/Paris
            state_dir: \(dir.path)
            database: { sqlite: crm.sqlite }
            batch_size: \(batchSize)
            safety: { max_percent: 100 }

            """ + body
        try text.write(toFile: policyPath, atomically: true, encoding: .utf8)
    }

    deinit { try? FileManager.default.removeItem(at: dir) }

    // MARK: Engine

    func policy() throws -> Policy { try PolicyParser(path: policyPath, stateDirectoryOverride: stateDirectoryOverride).parseFile().0 }

    func validate() async throws -> (ResolvedPolicy?, [Diagnostic]) {
        try await Enforcer.validate(try policy(), store: try SQLiteStore(path: dbPath, readOnly: true))
    }

    func enforcer(readOnly: Bool = false) async throws -> Enforcer {
        let policy = try policy()
        let store = try SQLiteStore(path: dbPath, readOnly: readOnly)
        let (resolved, diagnostics) = try await Enforcer.validate(policy, store: store)
        guard let resolved else { throw PolicyInvalid(diagnostics) }
        let key = readOnly && !FileManager.default.fileExists(atPath: policy.keyFile)
            ? nil : try AuditKey.load(path: policy.keyFile, createIfMissing: true).key
        return Enforcer(resolved: resolved, store: store, key: key, actor: "test", logger: Logger(label: "test"))
    }

    func run(now: Date = Fixture.now, allowMore: Bool = false) async throws -> RunReport {
        try await enforcer().run(now: now, allowMore: allowMore)
    }

    func plan(now: Date = Fixture.now, out: String? = nil) async throws -> RunReport {
        try await enforcer(readOnly: true).plan(now: now, mode: .plan, planPath: out)
    }

    var key: AuditKey { get throws { try AuditKey.load(path: try policy().keyFile, createIfMissing: false).key } }

    func reference(_ table: String, _ id: Int64) throws -> String {
        AuditChain(key: try key).reference(table: table, key: RecordKey([.integer(id)]))
    }

    func trail() async throws -> AuditTrail {
        AuditTrail(store: try SQLiteStore(path: dbPath, readOnly: true), key: try key, stateDirectory: dir.path)
    }

    func holds() throws -> HoldRegistry {
        HoldRegistry(store: try SQLiteStore(path: dbPath, readOnly: false), key: try AuditKey.load(path: try policy().keyFile, createIfMissing: true).key,
                     stateDirectory: dir.path)
    }

    // MARK: Looking at the database directly

    func query(_ sql: String) throws -> [Row] {
        let queue = try DatabaseQueue(path: dbPath)
        defer { try? queue.close() }
        return try queue.read { try Row.fetchAll($0, sql: sql) }
    }

    func ids(_ table: String) throws -> [Int64] {
        try query("SELECT id FROM \(table) ORDER BY id").map { $0["id"] }
    }

    func execute(_ sql: String) throws {
        let queue = try DatabaseQueue(path: dbPath)
        defer { try? queue.close() }
        try queue.write { try $0.execute(sql: sql) }
    }

    func audit(action: String? = nil) throws -> [Row] {
        try query("SELECT * FROM retentiond_audit" + (action.map { " WHERE action = '\($0)'" } ?? "") + " ORDER BY seq")
    }

    func fileDigest() throws -> String {
        let data = try Data(contentsOf: URL(fileURLWithPath: dbPath))
        return SHA256.hash(data: data).map { String(format: "%02x", $0) }.joined()
    }

    /// Every byte of the database and its journals, to look for values that must be gone.
    func rawBytes() throws -> Data {
        var data = Data()
        for suffix in ["", "-wal", "-journal"] where FileManager.default.fileExists(atPath: dbPath + suffix) {
            data.append(try Data(contentsOf: URL(fileURLWithPath: dbPath + suffix)))
        }
        return data
    }
}

extension Date {
    static func iso(_ text: String) -> Date { ISO8601DateFormatter().date(from: text)! }
}
