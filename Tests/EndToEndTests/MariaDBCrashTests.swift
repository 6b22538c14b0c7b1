import Foundation
import RetentionCore
import TestSupport
import Testing

/// `CrashTests` on MariaDB: an enforcing run killed outright (SIGKILL) at random points (half of
/// them among its batches, once a number of records drawn at random has committed) never leaves a
/// record half-changed, a change without its audit entry or an entry without its change; the chain
/// verifies, and a re-run reaches exactly the state an uninterrupted run reaches.
@Suite(.tags(.slow), .timeLimit(.minutes(30))) struct MariaDBCrashTests {
    /// The same data as `CrashTests.makeDatabase`, in MariaDB's terms.
    static let schema = """
        SET sql_mode = 'ANSI,STRICT_ALL_TABLES';
        CREATE TABLE contacts (id INTEGER PRIMARY KEY, email VARCHAR(100), phone VARCHAR(40), last_seen VARCHAR(10) NOT NULL, KEY contacts_last_seen (last_seen));
        CREATE TABLE tickets (id INTEGER PRIMARY KEY, subject VARCHAR(100), closed_at VARCHAR(10) NOT NULL, queue VARCHAR(20) NOT NULL, minutes INTEGER,
            KEY tickets_closed_at (closed_at));
        CREATE TABLE messages (id INTEGER PRIMARY KEY, ticket_id INTEGER NOT NULL REFERENCES tickets(id), body VARCHAR(100), KEY messages_ticket (ticket_id));
        INSERT INTO contacts WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 600)
            SELECT i, 'c' || i || '@example.fr', '+33 6 00 00 ' || i, CASE WHEN i % 2 = 0 THEN '2019-01-01' ELSE '2026-01-01' END FROM n;
        INSERT INTO tickets WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 600)
            SELECT i, 'ticket ' || i, CASE WHEN i % 3 = 0 THEN '2026-01-01' ELSE '2020-' || LPAD(i % 12 + 1, 2, '0') || '-15' END,
                CASE WHEN i % 7 = 0 THEN 'legal' ELSE 'support' || (i % 2) END, i % 50 FROM n;
        INSERT INTO messages WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 1800)
            SELECT i, (i - 1) DIV 3 + 1, 'message ' || i FROM n
        """

    struct State: Equatable {
        var contacts: String
        var tickets: String
        var messages: String
        var statistics: String
    }

    static func state(_ server: MariaDBServer, _ database: String) async throws -> State {
        State(
            contacts: try await server.sql(
                database, "SELECT id, email, coalesce(phone, 'NULL') FROM contacts ORDER BY id"),
            tickets: try await server.sql(database, "SELECT id FROM tickets ORDER BY id"),
            messages: try await server.sql(database, "SELECT id FROM messages ORDER BY id"),
            statistics: try await server.sql(
                database,
                "SELECT count(*) FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name = 'retentiond_statistics'"
            ) == "1"
                ? try await server.sql(
                    database,
                    "SELECT CONCAT_WS(' ', period, group_values, records, sums, period_open) FROM retentiond_statistics ORDER BY period, group_values"
                ) : "")
    }

    /// A workspace (policy, audit key) over a fresh database loaded with the data.
    static func workspace(_ server: MariaDBServer, at dir: URL, key: URL) async throws -> String {
        let database = try await server.createDatabase()
        try await server.sql(database, schema)
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let policy = CrashTests.policy.replacingOccurrences(
            of: "database: { sqlite: crm.sqlite }",
            with:
                "database: { mariadb: { host: 127.0.0.1, port: \(server.port), database: \(database), user: root, tls: disable } }"
        )
        try policy.write(to: dir.appendingPathComponent("policy.yaml"), atomically: true, encoding: .utf8)
        try FileManager.default.copyItem(at: key, to: dir.appendingPathComponent("audit.key"))
        return database
    }

    /// Waits until the run in `process` has committed at least `records` records (the trail holds
    /// as many entries of changes), asking the database through a connection of the test's own;
    /// false if the run exited first.
    static func committed(
        _ records: Int, _ server: MariaDBServer, _ database: String, by process: Process
    ) async throws -> Bool {
        let reader = try await server.reader(database)
        while process.isRunning {
            if try await reader.auditedChanges() >= records { return true }
            try await Task.sleep(for: .milliseconds(5))
        }
        return false
    }

    @Test func killedRunsLeaveOnlyWholeAuditedChangesAndReRunsFinishTheSame() async throws {
        let server = try await MariaDBServer.start()
        let root = FileManager.default.temporaryDirectory.appendingPathComponent(
            "retentiond-mariadbcrash-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: root) }
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
        let keyFile = root.appendingPathComponent("audit.key")
        let key = try AuditKey.load(path: keyFile.path, createIfMissing: true).key
        let chain = AuditChain(key: key)

        // The uninterrupted run: the final state every killed run must reach again, how long a run
        // lasts here (so the even trials' kills land anywhere in it), and how many records its
        // batches change (so the odd trials' kills land among them, after a number of records
        // drawn at random: counted as they commit, not timed, whatever the machine's load).
        let reference = root.appendingPathComponent("reference")
        let referenceDatabase = try await Self.workspace(server, at: reference, key: keyFile)
        let started = Date()
        let whole = try await BinaryRunner.run(["run", "--config", "policy.yaml"] + CrashTests.now, in: reference)
        let duration = Date().timeIntervalSince(started)
        let records = try await server.reader(referenceDatabase).auditedChanges()
        try #require(whole.status == 0 && records > 1, "\(whole.stderr)")
        let expected = try await Self.state(server, referenceDatabase)

        var generator = SystemRandomNumberGenerator()
        var killedMidway = 0
        for trial in 0..<6 {
            let dir = root.appendingPathComponent("trial-\(trial)")
            let database = try await Self.workspace(server, at: dir, key: keyFile)
            let process = BinaryRunner.process(["run", "--config", "policy.yaml"] + CrashTests.now, in: dir)
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
            try process.run()
            // Even trials: anywhere in the run (starting, planning, batches, the end). Odd trials:
            // among the batches, once some of the records have committed.
            if trial % 2 == 0 {
                try await process.exited(orAfter: Double.random(in: 0...duration, using: &generator))
            } else {
                _ = try await Self.committed(
                    Int.random(in: 1..<records, using: &generator), server, database, by: process)
            }
            kill(process.processIdentifier, SIGKILL)
            try await process.exited()

            // Whatever was committed is whole and audited, and nothing else is.
            let trail =
                try await server.sql(
                    database,
                    "SELECT count(*) FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name = 'retentiond_audit'"
                ) == "1"
            func lines(_ sql: String) async throws -> [String] {
                try await server.sql(database, sql).split(separator: "\n").map(String.init)
            }
            let anonymised = Set(
                trail ? try await lines("SELECT subject_ref FROM retentiond_audit WHERE action = 'anonymise'") : [])
            let purged = Set(
                trail ? try await lines("SELECT subject_ref FROM retentiond_audit WHERE action = 'purge'") : [])
            var changed = Set<String>()
            for row in try await lines("SELECT id, email, coalesce(phone, 'NULL') FROM contacts") {
                let fields = row.split(separator: "\t").map(String.init)
                let isPseudonym = fields[1].hasPrefix("p-")
                #expect(isPseudonym == (fields[2] == "NULL"), "trial \(trial): contact \(fields[0]) is half-changed")
                if isPseudonym {
                    changed.insert(chain.reference(table: "contacts", key: RecordKey([.integer(Int64(fields[0])!)])))
                }
            }
            #expect(
                changed == anonymised,
                "trial \(trial): every anonymised contact has its entry, and no entry lacks its change")
            let tickets = Set(try await lines("SELECT id FROM tickets").compactMap { Int64($0) })
            let gone = Set(Int64(1)...600).subtracting(tickets).map {
                chain.reference(table: "tickets", key: RecordKey([.integer($0)]))
            }
            #expect(
                Set(gone) == purged,
                "trial \(trial): every purged ticket has its entry, and no entry lacks its deletion")
            #expect(
                try await server.sql(
                    database, "SELECT count(*) FROM messages WHERE ticket_id NOT IN (SELECT id FROM tickets)") == "0")
            if try await server.sql(
                database,
                "SELECT count(*) FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name = 'retentiond_statistics'"
            ) == "1" {
                #expect(
                    try await server.sql(database, "SELECT coalesce(sum(records), 0) FROM retentiond_statistics")
                        == String(purged.count),
                    "trial \(trial): every purged ticket is counted in the statistics once, and nothing else is")
            }
            if !anonymised.isEmpty || !purged.isEmpty, expected != (try await Self.state(server, database)) {
                killedMidway += 1
            }

            let verify = try await BinaryRunner.run(["audit", "verify", "--config", "policy.yaml"], in: dir)
            #expect(verify.status == 0, "trial \(trial): \(verify.stderr)")
            let rerun = try await BinaryRunner.run(
                ["run", "--config", "policy.yaml", "--now", "2026-06-01T00:10:00Z"], in: dir)
            #expect(rerun.status == 0, "trial \(trial): \(rerun.stderr)")
            #expect(
                try await Self.state(server, database) == expected,
                "trial \(trial): the re-run reaches the uninterrupted run's state")
            #expect(try await BinaryRunner.run(["audit", "verify", "--config", "policy.yaml"], in: dir).status == 0)
        }
        print("MariaDB crash test: \(killedMidway) of 6 kills landed between the first and the last batch")
    }
}
