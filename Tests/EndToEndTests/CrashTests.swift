import Foundation
import GRDB
import RetentionCore
import Testing

/// An enforcing run killed outright (SIGKILL) at random points never leaves a record half-changed,
/// a change without its audit entry or an entry without its change; the chain verifies, and a
/// re-run reaches exactly the state an uninterrupted run reaches — statistics included: every
/// purged ticket counted once, whatever was killed.
@Suite(.tags(.slow), .timeLimit(.minutes(30))) struct CrashTests {
    static let policy = """
        version: 1
        time_zone: Europe/Paris
        state_dir: .
        database: { sqlite: crm.sqlite }
        batch_size: 3
        safety: { max_percent: 100 }
        subjects:
          contacts:
            table: contacts
            key: id
            rules:
              - id: contact-anonymise
                register: "Prospection"
                legal_basis: "legitimate interest"
                clock: last_seen
                after: 3y
                action: anonymise
                fields:
                  email: { pseudonym: { prefix: "p-" } }
                  phone: null
          tickets:
            table: tickets
            key: id
            rules:
              - id: ticket-purge
                register: "Support"
                legal_basis: "legitimate interest, 2 years"
                clock: closed_at
                after: 2y
                action: purge
                children:
                  - { table: messages, foreign_key: ticket_id }
                statistics: { period: month, by: [queue], sum: [minutes], min_group: 3 }
        """

    /// A database where about half of the contacts and tickets are due.
    static func makeDatabase(at path: String) throws {
        let queue = try DatabaseQueue(path: path)
        try queue.write { db in
            try db.execute(
                sql: """
                    CREATE TABLE contacts (id INTEGER PRIMARY KEY, email TEXT, phone TEXT, last_seen TEXT NOT NULL);
                    CREATE INDEX contacts_last_seen ON contacts(last_seen);
                    CREATE TABLE tickets (id INTEGER PRIMARY KEY, subject TEXT, closed_at TEXT NOT NULL, queue TEXT NOT NULL, minutes INTEGER);
                    CREATE INDEX tickets_closed_at ON tickets(closed_at);
                    CREATE TABLE messages (id INTEGER PRIMARY KEY, ticket_id INTEGER NOT NULL REFERENCES tickets(id), body TEXT);
                    CREATE INDEX messages_ticket ON messages(ticket_id);
                    WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 600)
                    INSERT INTO contacts SELECT i, 'c' || i || '@example.fr', '+33 6 00 00 ' || i, CASE WHEN i % 2 = 0 THEN '2019-01-01' ELSE '2026-01-01' END FROM n;
                    WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 600)
                    INSERT INTO tickets SELECT i, 'ticket ' || i, CASE WHEN i % 3 = 0 THEN '2026-01-01' ELSE printf('2020-%02d-15', i % 12 + 1) END,
                        CASE WHEN i % 7 = 0 THEN 'legal' ELSE 'support' || (i % 2) END, i % 50 FROM n;
                    WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 1800)
                    INSERT INTO messages SELECT i, (i - 1) / 3 + 1, 'message ' || i FROM n;
                    """)
        }
        try queue.close()
    }

    struct State: Equatable {
        var contacts: [[String?]]
        var tickets: [Int64]
        var messages: [Int64]
        var statistics: [String]
    }

    /// The statistics table's rows, one line each, in order.
    static let statisticsRows =
        "SELECT period || ' ' || group_values || ' ' || records || ' ' || sums || ' ' || period_open FROM retentiond_statistics ORDER BY period, group_values"

    static func state(of path: String) throws -> State {
        let queue = try DatabaseQueue(path: path)
        defer { try? queue.close() }
        return try queue.read { db in
            State(
                contacts: try Row.fetchAll(db, sql: "SELECT id, email, phone FROM contacts ORDER BY id").map {
                    [String($0["id"] as Int64), $0["email"], $0["phone"]]
                },
                tickets: try Int64.fetchAll(db, sql: "SELECT id FROM tickets ORDER BY id"),
                messages: try Int64.fetchAll(db, sql: "SELECT id FROM messages ORDER BY id"),
                statistics: try db.tableExists("retentiond_statistics")
                    ? try String.fetchAll(db, sql: statisticsRows) : [])
        }
    }

    /// A copy of the prepared workspace (database, policy, audit key) to run in.
    static func copy(_ from: URL, to: URL) throws {
        try FileManager.default.createDirectory(at: to, withIntermediateDirectories: true)
        for file in ["crm.sqlite", "policy.yaml", "audit.key"] {
            try FileManager.default.copyItem(at: from.appendingPathComponent(file), to: to.appendingPathComponent(file))
        }
    }

    static let now = ["--now", "2026-06-01T00:00:00Z"]

    /// The trail entries the erasure ledger in `dir` copies, in its order.
    static func ledgerEntries(in dir: URL) throws -> [Int64] {
        try String(contentsOf: dir.appendingPathComponent("erasure-ledger.jsonl"), encoding: .utf8).split(
            separator: "\n"
        ).compactMap { line in
            guard let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                object["kind"] as? String == "entry"
            else { return nil }
            return (object["seq"] as? NSNumber)?.int64Value
        }
    }

    @Test func killedRunsLeaveOnlyWholeAuditedChangesAndReRunsFinishTheSame() async throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent(
            "retentiond-crash-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: root) }
        let pristine = root.appendingPathComponent("pristine")
        try FileManager.default.createDirectory(at: pristine, withIntermediateDirectories: true)
        try Self.makeDatabase(at: pristine.appendingPathComponent("crm.sqlite").path)
        try Self.policy.write(to: pristine.appendingPathComponent("policy.yaml"), atomically: true, encoding: .utf8)
        _ = try AuditKey.load(path: pristine.appendingPathComponent("audit.key").path, createIfMissing: true)

        // The uninterrupted run: the final state every killed run must reach again, and how long a
        // run lasts here, so the kills land anywhere in it whatever the machine's speed.
        let reference = root.appendingPathComponent("reference")
        try Self.copy(pristine, to: reference)
        let started = Date()
        let whole = try await BinaryRunner.run(["run", "--config", "policy.yaml"] + Self.now, in: reference)
        let duration = Date().timeIntervalSince(started)
        #expect(whole.status == 0, "\(whole.stderr)")
        let expected = try Self.state(of: reference.appendingPathComponent("crm.sqlite").path)
        let key = try AuditKey.load(path: pristine.appendingPathComponent("audit.key").path, createIfMissing: false).key
        let chain = AuditChain(key: key)

        var generator = SystemRandomNumberGenerator()
        var killedMidway = 0
        for trial in 0..<8 {
            let dir = root.appendingPathComponent("trial-\(trial)")
            try Self.copy(pristine, to: dir)
            let process = BinaryRunner.process(["run", "--config", "policy.yaml"] + Self.now, in: dir)
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
            try process.run()
            try await process.exited(orAfter: Double.random(in: 0...duration, using: &generator))
            kill(process.processIdentifier, SIGKILL)
            try await process.exited()
            let database = dir.appendingPathComponent("crm.sqlite").path

            // Whatever was committed is whole and audited, and nothing else is.
            let queue = try DatabaseQueue(path: database)
            let (contacts, tickets, orphans, anonymised, purged, counted) = try queue.read { db in
                let trail =
                    try Int.fetchOne(db, sql: "SELECT count(*) FROM sqlite_master WHERE name = 'retentiond_audit'") == 1
                let statistics = try db.tableExists("retentiond_statistics")
                return (
                    try Row.fetchAll(db, sql: "SELECT id, email, phone FROM contacts"),
                    Set(try Int64.fetchAll(db, sql: "SELECT id FROM tickets")),
                    try Int.fetchOne(
                        db, sql: "SELECT count(*) FROM messages WHERE ticket_id NOT IN (SELECT id FROM tickets)") ?? -1,
                    Set(
                        trail
                            ? try String.fetchAll(
                                db, sql: "SELECT subject_ref FROM retentiond_audit WHERE action = 'anonymise'") : []),
                    Set(
                        trail
                            ? try String.fetchAll(
                                db, sql: "SELECT subject_ref FROM retentiond_audit WHERE action = 'purge'") : []),
                    statistics
                        ? try Int.fetchOne(db, sql: "SELECT coalesce(sum(records), 0) FROM retentiond_statistics") ?? -1
                        : 0
                )
            }
            try queue.close()
            var changed = Set<String>()
            for row in contacts {
                let email: String = row["email"]
                let isPseudonym = email.hasPrefix("p-")
                #expect(
                    isPseudonym == ((row["phone"] as String?) == nil),
                    "trial \(trial): contact \(row["id"] as Int64) is half-changed")
                if isPseudonym {
                    changed.insert(chain.reference(table: "contacts", key: RecordKey([.integer(row["id"])])))
                }
            }
            #expect(
                changed == anonymised,
                "trial \(trial): every anonymised contact has its entry, and no entry lacks its change")
            let gone = Set(Int64(1)...600).subtracting(tickets).map {
                chain.reference(table: "tickets", key: RecordKey([.integer($0)]))
            }
            #expect(
                Set(gone) == purged,
                "trial \(trial): every purged ticket has its entry, and no entry lacks its deletion")
            #expect(orphans == 0, "trial \(trial): no message outlives its ticket")
            #expect(
                counted == purged.count,
                "trial \(trial): every purged ticket is counted in the statistics once, and nothing else is")
            if !anonymised.isEmpty || !purged.isEmpty, expected != (try Self.state(of: database)) { killedMidway += 1 }

            let verify = try await BinaryRunner.run(["audit", "verify", "--config", "policy.yaml"], in: dir)
            #expect(verify.status == 0, "trial \(trial): \(verify.stderr)")
            let rerun = try await BinaryRunner.run(
                ["run", "--config", "policy.yaml", "--now", "2026-06-01T00:10:00Z"], in: dir)
            #expect(rerun.status == 0, "trial \(trial): \(rerun.stderr)")
            #expect(
                try Self.state(of: database) == expected,
                "trial \(trial): the re-run reaches the uninterrupted run's state")
            #expect(try await BinaryRunner.run(["audit", "verify", "--config", "policy.yaml"], in: dir).status == 0)
            // The erasure ledger, which a run writes as its batches commit, holds every erasure of
            // the trail once, whatever the kill cut.
            let trail = try DatabaseQueue(path: database)
            let erasures = try await trail.read { db in
                try Int64.fetchAll(
                    db, sql: "SELECT seq FROM retentiond_audit WHERE action IN ('purge', 'anonymise') ORDER BY seq")
            }
            try trail.close()
            #expect(try Self.ledgerEntries(in: dir) == erasures, "trial \(trial)")
        }
        // Not an assertion on speed: the kills are spread over the whole run, so most land in it.
        print("crash test: \(killedMidway) of 8 kills landed between the first and the last batch")
    }
}
