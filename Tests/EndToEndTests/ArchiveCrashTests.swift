import Foundation
import GRDB
import RetentionCore
import Testing

/// A run that moves records into the archive, killed outright (SIGKILL) at random points: no
/// record is ever in neither database, each archived copy is the record as it was, every record
/// gone from the application's database has its `archive` entry, and the next run completes what
/// was interrupted — each record then in exactly one place, as after an uninterrupted run.
@Suite(.tags(.slow), .timeLimit(.minutes(10))) struct ArchiveCrashTests {
    static let policy = """
        version: 1
        time_zone: Europe/Paris
        state_dir: .
        database: { sqlite: crm.sqlite }
        archive: { sqlite: archive.sqlite }
        batch_size: 3
        safety: { max_percent: 100 }
        subjects:
          tickets:
            table: tickets
            key: id
            rules:
              - id: ticket-archive
                register: "Support"
                legal_basis: "legal obligation, then archived"
                clock: closed_at
                after: 2y
                action: archive
                children:
                  - { table: messages, foreign_key: ticket_id }
        """

    /// 600 tickets, two thirds of them due, three messages each.
    static func makeDatabase(at path: String) throws {
        let queue = try DatabaseQueue(path: path)
        try queue.write { db in
            try db.execute(sql: """
                CREATE TABLE tickets (id INTEGER PRIMARY KEY, subject TEXT, closed_at TEXT NOT NULL, amount NUMERIC(10,2));
                CREATE INDEX tickets_closed_at ON tickets(closed_at);
                CREATE TABLE messages (id INTEGER PRIMARY KEY, ticket_id INTEGER NOT NULL REFERENCES tickets(id), body TEXT, attachment BLOB);
                CREATE INDEX messages_ticket ON messages(ticket_id);
                WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 600)
                INSERT INTO tickets SELECT i, 'ticket ' || i, CASE WHEN i % 3 = 0 THEN '2026-01-01' ELSE printf('2020-%02d-15', i % 12 + 1) END, i * 1.25 FROM n;
                WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 1800)
                INSERT INTO messages SELECT i, (i - 1) / 3 + 1, 'message ' || i, CASE WHEN i % 5 = 0 THEN randomblob(16) END FROM n;
                """)
        }
        try queue.close()
    }

    /// Every row of both tables, values as SQLite holds them, or none when the file does not exist.
    struct Rows: Equatable {
        var tickets: [Int64: [DatabaseValue]] = [:]
        var messages: [Int64: [DatabaseValue]] = [:]
        var pending = 0
    }

    static func rows(of path: String) throws -> Rows {
        guard FileManager.default.fileExists(atPath: path) else { return Rows() }
        let queue = try DatabaseQueue(path: path)
        defer { try? queue.close() }
        return try queue.read { db in
            guard try db.tableExists("tickets") else { return Rows() }
            var rows = Rows()
            for row in try Row.fetchAll(db, sql: "SELECT id, subject, closed_at, amount FROM tickets") { rows.tickets[row[0]] = Array(row.databaseValues) }
            for row in try Row.fetchAll(db, sql: "SELECT id, ticket_id, body, attachment FROM messages") { rows.messages[row[0]] = Array(row.databaseValues) }
            rows.pending = try db.tableExists("retentiond_archive_pending") ? try Int.fetchOne(db, sql: "SELECT count(*) FROM retentiond_archive_pending") ?? -1 : 0
            return rows
        }
    }

    /// The references of the trail's `archive` entries.
    static func archiveEntries(of path: String) throws -> Set<String> {
        let queue = try DatabaseQueue(path: path)
        defer { try? queue.close() }
        return try queue.read { db in
            try db.tableExists("retentiond_audit") ? Set(try String.fetchAll(db, sql: "SELECT subject_ref FROM retentiond_audit WHERE action = 'archive'")) : []
        }
    }

    static func copy(_ from: URL, to: URL) throws {
        try FileManager.default.createDirectory(at: to, withIntermediateDirectories: true)
        for file in ["crm.sqlite", "policy.yaml", "audit.key"] {
            try FileManager.default.copyItem(at: from.appendingPathComponent(file), to: to.appendingPathComponent(file))
        }
    }

    static let now = ["--now", "2026-06-01T00:00:00Z"]

    @Test func killedArchivingRunsNeverLoseARecordAndReRunsFinishTheSame() async throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("retentiond-archive-crash-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: root) }
        let pristine = root.appendingPathComponent("pristine")
        try FileManager.default.createDirectory(at: pristine, withIntermediateDirectories: true)
        try Self.makeDatabase(at: pristine.appendingPathComponent("crm.sqlite").path)
        try Self.policy.write(to: pristine.appendingPathComponent("policy.yaml"), atomically: true, encoding: .utf8)
        _ = try AuditKey.load(path: pristine.appendingPathComponent("audit.key").path, createIfMissing: true)
        let original = try Self.rows(of: pristine.appendingPathComponent("crm.sqlite").path)
        let chain = AuditChain(key: try AuditKey.load(path: pristine.appendingPathComponent("audit.key").path, createIfMissing: false).key)

        let reference = root.appendingPathComponent("reference")
        try Self.copy(pristine, to: reference)
        let started = Date()
        let whole = try await BinaryRunner.run(["run", "--config", "policy.yaml"] + Self.now, in: reference)
        let duration = Date().timeIntervalSince(started)
        #expect(whole.status == 0, "\(whole.stderr)")
        let expectedLive = try Self.rows(of: reference.appendingPathComponent("crm.sqlite").path)
        let expectedArchive = try Self.rows(of: reference.appendingPathComponent("archive.sqlite").path)
        // Computed from the data, not from the run: tickets closed in 2020 move, with their messages.
        let due = Set(original.tickets.filter { $0.value[2] != "2026-01-01".databaseValue }.keys)
        #expect(Set(expectedArchive.tickets.keys) == due)
        #expect(Set(expectedLive.tickets.keys) == Set(original.tickets.keys).subtracting(due))
        #expect(expectedArchive.messages == original.messages.filter { due.contains($0.value[1].storage.value as? Int64 ?? -1) })

        var generator = SystemRandomNumberGenerator()
        var killedMidway = 0
        for trial in 0..<8 {
            let dir = root.appendingPathComponent("trial-\(trial)")
            try Self.copy(pristine, to: dir)
            let process = BinaryRunner.process(["run", "--config", "policy.yaml"] + Self.now, in: dir)
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
            try process.run()
            try await Task.sleep(for: .seconds(Double.random(in: 0...duration, using: &generator)))
            kill(process.processIdentifier, SIGKILL)
            try await process.exited()
            let live = try Self.rows(of: dir.appendingPathComponent("crm.sqlite").path)
            let archive = try Self.rows(of: dir.appendingPathComponent("archive.sqlite").path)

            // Never in neither; in both only while pending; every copy is the record as it was.
            for (id, row) in original.tickets {
                #expect(live.tickets[id] != nil || archive.tickets[id] != nil, "trial \(trial): ticket \(id) is in neither database")
                if let copy = archive.tickets[id] { #expect(copy == row, "trial \(trial): ticket \(id)'s copy differs") }
                if live.tickets[id] != nil, archive.tickets[id] != nil {
                    #expect(archive.pending > 0, "trial \(trial): ticket \(id) is in both databases with nothing pending")
                }
            }
            for (id, row) in original.messages {
                #expect(live.messages[id] != nil || archive.messages[id] != nil, "trial \(trial): message \(id) is in neither database")
                if let copy = archive.messages[id] { #expect(copy == row, "trial \(trial): message \(id)'s copy differs") }
            }
            #expect(!live.messages.values.contains { live.tickets[$0[1].storage.value as? Int64 ?? -1] == nil }, "trial \(trial): a message outlives its ticket")
            // Every ticket gone from the application's database has its entry, and no entry lacks its deletion.
            let references = try Self.archiveEntries(of: dir.appendingPathComponent("crm.sqlite").path)
            let gone = Set(original.tickets.keys).subtracting(live.tickets.keys).map { chain.reference(table: "tickets", key: RecordKey([.integer($0)])) }
            #expect(Set(gone) == references, "trial \(trial)")
            if !gone.isEmpty, live != expectedLive { killedMidway += 1 }

            let rerun = try await BinaryRunner.run(["run", "--config", "policy.yaml", "--now", "2026-06-01T00:10:00Z"], in: dir)
            #expect(rerun.status == 0, "trial \(trial): \(rerun.stderr)")
            #expect(try Self.rows(of: dir.appendingPathComponent("crm.sqlite").path) == expectedLive, "trial \(trial): the application's database as after an uninterrupted run")
            #expect(try Self.rows(of: dir.appendingPathComponent("archive.sqlite").path) == expectedArchive, "trial \(trial): the archive as after an uninterrupted run, nothing pending")
            #expect(try await BinaryRunner.run(["audit", "verify", "--config", "policy.yaml"], in: dir).status == 0)
        }
        print("archive crash test: \(killedMidway) of 8 kills landed between the first and the last batch")
    }
}
