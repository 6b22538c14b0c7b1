import Foundation
import GRDB
import RetentionCore
import TestSupport
import Testing

/// A run that moves records into the archive, killed outright (SIGKILL) at random points: no
/// record is ever in neither database, each archived copy is the record as it was, every record
/// gone from the application's database has its `archive` entry, and the next run completes what
/// was interrupted — each record then in exactly one place, as after an uninterrupted run.
@Suite(.tags(.slow), .timeLimit(.minutes(30))) struct ArchiveCrashTests {
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
            try db.execute(
                sql: """
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
            for row in try Row.fetchAll(db, sql: "SELECT id, subject, closed_at, amount FROM tickets") {
                rows.tickets[row[0]] = Array(row.databaseValues)
            }
            for row in try Row.fetchAll(db, sql: "SELECT id, ticket_id, body, attachment FROM messages") {
                rows.messages[row[0]] = Array(row.databaseValues)
            }
            rows.pending =
                try db.tableExists("retentiond_archive_pending")
                ? try Int.fetchOne(db, sql: "SELECT count(*) FROM retentiond_archive_pending") ?? -1 : 0
            return rows
        }
    }

    /// The references of the trail's `archive` entries.
    static func archiveEntries(of path: String) throws -> Set<String> {
        let queue = try DatabaseQueue(path: path)
        defer { try? queue.close() }
        return try queue.read { db in
            try db.tableExists("retentiond_audit")
                ? Set(try String.fetchAll(db, sql: "SELECT subject_ref FROM retentiond_audit WHERE action = 'archive'"))
                : []
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
        let root = FileManager.default.temporaryDirectory.appendingPathComponent(
            "retentiond-archive-crash-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: root) }
        let pristine = root.appendingPathComponent("pristine")
        try FileManager.default.createDirectory(at: pristine, withIntermediateDirectories: true)
        try Self.makeDatabase(at: pristine.appendingPathComponent("crm.sqlite").path)
        try Self.policy.write(to: pristine.appendingPathComponent("policy.yaml"), atomically: true, encoding: .utf8)
        _ = try AuditKey.load(path: pristine.appendingPathComponent("audit.key").path, createIfMissing: true)
        let original = try Self.rows(of: pristine.appendingPathComponent("crm.sqlite").path)
        let chain = AuditChain(
            key: try AuditKey.load(path: pristine.appendingPathComponent("audit.key").path, createIfMissing: false).key)

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
        #expect(
            expectedArchive.messages
                == original.messages.filter { due.contains($0.value[1].storage.value as? Int64 ?? -1) })

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
            let live = try Self.rows(of: dir.appendingPathComponent("crm.sqlite").path)
            let archive = try Self.rows(of: dir.appendingPathComponent("archive.sqlite").path)

            // Never in neither; in both only while pending; every copy is the record as it was.
            for (id, row) in original.tickets {
                #expect(
                    live.tickets[id] != nil || archive.tickets[id] != nil,
                    "trial \(trial): ticket \(id) is in neither database")
                if let copy = archive.tickets[id] {
                    #expect(copy == row, "trial \(trial): ticket \(id)'s copy differs")
                }
                if live.tickets[id] != nil, archive.tickets[id] != nil {
                    #expect(
                        archive.pending > 0, "trial \(trial): ticket \(id) is in both databases with nothing pending")
                }
            }
            for (id, row) in original.messages {
                #expect(
                    live.messages[id] != nil || archive.messages[id] != nil,
                    "trial \(trial): message \(id) is in neither database")
                if let copy = archive.messages[id] {
                    #expect(copy == row, "trial \(trial): message \(id)'s copy differs")
                }
            }
            #expect(
                !live.messages.values.contains { live.tickets[$0[1].storage.value as? Int64 ?? -1] == nil },
                "trial \(trial): a message outlives its ticket")
            // Every ticket gone from the application's database has its entry, and no entry lacks its deletion.
            let references = try Self.archiveEntries(of: dir.appendingPathComponent("crm.sqlite").path)
            let gone = Set(original.tickets.keys).subtracting(live.tickets.keys).map {
                chain.reference(table: "tickets", key: RecordKey([.integer($0)]))
            }
            #expect(Set(gone) == references, "trial \(trial)")
            if !gone.isEmpty, live != expectedLive { killedMidway += 1 }

            let rerun = try await BinaryRunner.run(
                ["run", "--config", "policy.yaml", "--now", "2026-06-01T00:10:00Z"], in: dir)
            #expect(rerun.status == 0, "trial \(trial): \(rerun.stderr)")
            #expect(
                try Self.rows(of: dir.appendingPathComponent("crm.sqlite").path) == expectedLive,
                "trial \(trial): the application's database as after an uninterrupted run")
            #expect(
                try Self.rows(of: dir.appendingPathComponent("archive.sqlite").path) == expectedArchive,
                "trial \(trial): the archive as after an uninterrupted run, nothing pending")
            // The trail says so: one `archive` entry per moved ticket, whichever run moved it.
            let moved = due.map { chain.reference(table: "tickets", key: RecordKey([.integer($0)])) }
            #expect(
                try Self.archiveEntries(of: dir.appendingPathComponent("crm.sqlite").path) == Set(moved),
                "trial \(trial)")
            #expect(try await BinaryRunner.run(["audit", "verify", "--config", "policy.yaml"], in: dir).status == 0)
        }
        print("archive crash test: \(killedMidway) of 8 kills landed between the first and the last batch")
    }
}

/// The archive as an operator meets it: `check` says where it is and who may read it, `run`
/// enforces both phases, `--archive` points any command at the archive.
@Suite(.tags(.slow), .timeLimit(.minutes(30))) struct ArchiveCommandLineTests {
    static let policy =
        ArchiveCrashTests.policy.replacingOccurrences(of: "batch_size: 3\n", with: "") + """

                  - id: ticket-end
                    phase: archive
                    register: "Support"
                    legal_basis: "legal obligation: 5 years"
                    clock: closed_at
                    after: 5y
                    action: purge
                    children:
                      - { table: messages, foreign_key: ticket_id }
            """

    /// The policy while the fixture loads its data, before the archive database is made.
    static let loading = """
        subjects:
          tickets:
            table: tickets
            key: id
            rules:
              - { id: loading, register: "Support", legal_basis: "none", clock: closed_at, after: 100y, action: flag }

        """

    @Test func checkRunAndTheArchiveFlag() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent(
            "retentiond-archive-cli-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        try ArchiveCrashTests.makeDatabase(at: dir.appendingPathComponent("crm.sqlite").path)
        try Self.policy.write(to: dir.appendingPathComponent("policy.yaml"), atomically: true, encoding: .utf8)
        let archive = dir.appendingPathComponent("archive.sqlite").path

        let before = try await BinaryRunner.run(["check", "--config", "policy.yaml"], in: dir)
        #expect(before.status == 0, "\(before.stderr)")
        #expect(
            before.stdout.contains(
                "archive rule `ticket-archive` moves from tickets into the archive and, first:\n  messages (ticket_id = tickets.id)"
            ))
        #expect(before.stdout.contains("archive: sqlite:\(archive), 1 rule(s) of its own"))
        #expect(
            before.stdout.contains(
                "not made yet: the first run that archives a record creates its tables, in a file only its owner may read (mode 600)"
            ))
        // Before the first run the archive's rules have nothing to act on: a dry run says so and previews the move.
        let dry = try await BinaryRunner.run(
            ["run", "--config", "policy.yaml", "--dry-run"] + ArchiveCrashTests.now, in: dir)
        #expect(dry.status == 2, "\(dry.stderr)")
        #expect(dry.stdout.contains("ticket-archive: child rows to move to the archive: 1200 messages"))
        #expect(dry.stderr.contains("the archive has no archived tables yet"))
        #expect(!FileManager.default.fileExists(atPath: archive), "a dry run creates nothing")

        // One run, both phases: 400 tickets move; those closed before June 2021 (5 years) end in the archive.
        let run = try await BinaryRunner.run(["run", "--config", "policy.yaml"] + ArchiveCrashTests.now, in: dir)
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stdout.contains("ticket-archive  archive  2024-06-01"))
        #expect(run.stdout.contains("ticket-end  purge   2021-06-01    400          400"))
        #expect(run.stdout.contains("/reports/archive/"))
        let attributes = try FileManager.default.attributesOfItem(atPath: archive)
        #expect((attributes[.posixPermissions] as? Int) == 0o600)
        let live = try ArchiveCrashTests.rows(of: dir.appendingPathComponent("crm.sqlite").path)
        let archived = try ArchiveCrashTests.rows(of: archive)
        #expect(live.tickets.count == 200)
        // Every 2020 ticket is past 5 years at 1 June 2026 (closed by 15 December 2020): all ended.
        #expect(archived.tickets.isEmpty && archived.messages.isEmpty)

        // `--archive`: the archive's own trail and check.
        let verify = try await BinaryRunner.run(["audit", "verify", "--config", "policy.yaml", "--archive"], in: dir)
        #expect(verify.status == 0, "\(verify.stderr)")
        #expect(verify.stdout.contains("audit trail intact"))
        let checkArchive = try await BinaryRunner.run(["check", "--config", "policy.yaml", "--archive"], in: dir)
        #expect(checkArchive.status == 0, "\(checkArchive.stderr)")
        #expect(checkArchive.stdout.contains("database sqlite:\(archive)"))

        // Readable by others: `check` warns, naming the command that restricts it.
        chmod(archive, 0o644)
        let after = try await BinaryRunner.run(["check", "--config", "policy.yaml"], in: dir)
        #expect(after.status == 0)
        #expect(
            after.stderr.contains(
                "warning: the archive \(archive) may be read by its group and every user (mode 644), not only by its owner: `chmod 600 \(archive)`"
            ))
    }

    /// On PostgreSQL and MariaDB, `check` names the accounts that may read the archive, and warns
    /// of one that may read the application's tables too.
    @Test(arguments: [Backend.postgres, .mariadb])
    func checkNamesTheApplicationsRoleWhenItMayReadTheArchive(_ backend: Backend) async throws {
        let f = try await CRMFixture(
            backend,
            schema: [
                "CREATE TABLE tickets (id INTEGER PRIMARY KEY, subject TEXT, closed_at TEXT NOT NULL)",
                "CREATE INDEX tickets_closed_at ON tickets(closed_at)",
                "INSERT INTO tickets VALUES (1, 'old', '2020-01-01'), (2, 'new', '2026-05-01')",
            ], policy: Self.loading)
        try f.write(
            policy: try await f.newArchiveSection() + """

                subjects:
                  tickets:
                    table: tickets
                    key: id
                    rules:
                      - { id: ticket-archive, register: "Support", legal_basis: "legal obligation", clock: closed_at, after: 2y, action: archive }

                """)
        let role = "app_" + UUID().uuidString.prefix(8).lowercased()
        // How each names the application's account, in its grants and in `check`'s words.
        let (create, grantee, named) =
            backend == .postgres
            ? ("CREATE ROLE \(role) LOGIN", role, role)
            : ("CREATE USER '\(role)'@'%'", "'\(role)'@'%'", "'\(role)'@'%'")
        try await f.sql([create, "GRANT SELECT ON tickets TO \(grantee)"], asWritten: true)
        let run = try await BinaryRunner.run(
            ["run", "--config", f.policyPath, "--now", "2026-06-01T00:00:00Z"], in: f.dir)
        #expect(run.status == 0, "\(run.stderr)")
        let clean = try await BinaryRunner.run(["check", "--config", f.policyPath], in: f.dir)
        #expect(clean.status == 0, "\(clean.stderr)")
        #expect(
            clean.stdout.contains(
                backend == .postgres ? "  readable by: postgres (every table)" : "'root'@'localhost' (every table)"),
            "\(clean.stdout)")
        #expect(!clean.stdout.contains(role) && !clean.stderr.contains(role))

        f.phase = .archive
        try await f.sql(["GRANT SELECT ON tickets TO \(grantee)"], asWritten: true)
        let warned = try await BinaryRunner.run(["check", "--config", f.policyPath], in: f.dir)
        #expect(warned.status == 0)
        #expect(
            warned.stdout.contains(backend == .postgres ? "  readable by: \(role), postgres (every table)" : named),
            "\(warned.stdout)")
        #expect(
            warned.stderr.contains(
                "warning: `\(named)`, which may read the application's tables, may read the archive too: revoke its SELECT on the archive's tables"
            ),
            "\(warned.stderr)")
    }

    /// explain, erase, register and hold follow records into the archive.
    @Test func explainEraseRegisterAndHoldsReachTheArchive() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent(
            "retentiond-archive-follow-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        try ArchiveCrashTests.makeDatabase(at: dir.appendingPathComponent("crm.sqlite").path)
        // The archive keeps tickets 8 years after closing: those of 2020 until 2028.
        try Self.policy.replacingOccurrences(of: "after: 5y", with: "after: 8y").write(
            to: dir.appendingPathComponent("policy.yaml"), atomically: true, encoding: .utf8)
        func run(_ arguments: [String]) async throws -> BinaryRunner.Result {
            try await BinaryRunner.run(
                arguments + ["--config", "policy.yaml", "--now", "2026-06-01T00:00:00Z"], in: dir)
        }
        // Ticket 1 (closed 2020-02-15) moves on the first run; ticket 3 (closed 2026-01-01) stays.
        #expect(try await run(["run"]).status == 0)

        let moved = try await run(["explain", "--subject", "tickets", "--key", "1"])
        #expect(moved.status == 0, "\(moved.stderr)")
        #expect(moved.stdout.contains("tickets tickets:1 — in the archive"))
        #expect(moved.stdout.contains("rule ticket-end (purge)"))
        #expect(moved.stdout.contains("not due yet: the next run after 2028-02-15 will purge it"), "\(moved.stdout)")
        let live = try await run(["explain", "--subject", "tickets", "--key", "3"])
        #expect(
            live.stdout.contains("tickets tickets:3\n")
                && live.stdout.contains("the next run after 2028-01-01 will archive it"), "\(live.stdout)")

        // An erasure request: ticket 3 moves to the archive now, where its rule's clock keeps it.
        let erase = try await run(["erase", "--subject", "tickets", "--key", "3", "--request", "DSR-9", "--by", "dpo"])
        #expect(erase.status == 0, "\(erase.stderr)")
        #expect(erase.stdout.contains("| `ticket-archive` | archive | **archived** |"), "\(erase.stdout)")
        #expect(erase.stdout.contains("in the archive (sqlite:"))
        #expect(erase.stdout.contains("| `ticket-end` | purge | **kept** |"))
        let archive = try ArchiveCrashTests.rows(of: dir.appendingPathComponent("archive.sqlite").path)
        #expect(archive.tickets[3] != nil && archive.pending == 0)
        #expect(try ArchiveCrashTests.rows(of: dir.appendingPathComponent("crm.sqlite").path).tickets[3] == nil)

        // A hold in the archive keeps an archived ticket past its time.
        let hold = try await run([
            "hold", "add", "--archive", "--table", "tickets", "--key", "1", "--reason", "audit", "--by", "dpo",
        ])
        #expect(hold.status == 0, "\(hold.stderr)")
        let late = try await BinaryRunner.run(
            ["run", "--archive", "--config", "policy.yaml", "--now", "2029-01-01T00:00:00Z"], in: dir)
        #expect(late.status == 0, "\(late.stderr)")
        let after = try ArchiveCrashTests.rows(of: dir.appendingPathComponent("archive.sqlite").path)
        #expect(
            Set(after.tickets.keys) == [1, 3], "ticket 1 held; 3 not yet due (2034); every other 2020 ticket ended")

        let register = try await run(["register"])
        #expect(register.stdout.contains("moved to the intermediate archive, with `messages`"), "\(register.stdout)")
        #expect(register.stdout.contains("in the intermediate archive: deleted, with `messages`"))
    }
}
