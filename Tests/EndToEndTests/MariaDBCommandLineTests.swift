import Foundation
import RetentionCore
import TestSupport
import Testing

/// The binary against the suite's real MariaDB server, through the policy's `database: { mariadb: … }`
/// and through `--database-url mariadb://…`.
@Suite(.tags(.slow), .timeLimit(.minutes(30))) struct MariaDBCommandLineTests {
    @Test func theCommandsEnforceThePolicyOnMariaDB() async throws {
        let f = try await CRMFixture(.mariadb, policy: CRMPolicies.prospectPurge)
        let server = try await MariaDBServer.start()
        let database = try #require(f.databaseSection.split(separator: "database: ").last?.split(separator: ",").first)
            .trimmingCharacters(in: .whitespaces)
        let common = ["--config", f.policyPath, "--now", "2026-06-01T00:00:00Z"]

        let check = try await BinaryRunner.run(["check"] + common)
        #expect(check.status == 0, "\(check.stderr)")
        #expect(
            check.stdout.contains("database mariadb://root@127.0.0.1:\(server.port)/\(database)"), "\(check.stdout)")
        #expect(try await BinaryRunner.run(["plan"] + common).status == 2)
        #expect(try await f.ids("people") == [1, 2, 3, 4, 5, 6, 7], "the dry run changed nothing")

        // The same database named on the command line, as a URL.
        let run = try await BinaryRunner.run(["run", "--database-url", server.url(database: database)] + common)
        #expect(run.status == 0, "\(run.stderr)")
        // 1 and 2 are past 3 years; 4 consented; 5 has an order; 6 and 7 are clients (as on the other databases).
        #expect(try await f.ids("people") == [3, 4, 5, 6, 7])
        #expect(try await f.ids("notes") == [13])
        #expect(try await f.ids("attachments") == [101])
        #expect(
            try await f.audit(action: "purge").map(\.subjectRef) == [
                try f.reference("people", 1), try f.reference("people", 2),
            ])
        #expect(try await BinaryRunner.run(["audit", "verify"] + common).status == 0)
        #expect(try await BinaryRunner.run(["run"] + common).stdout.contains("0 record(s) changed"))

        // A URL that names no database is a usage error, said before anything is opened.
        let bad = try await BinaryRunner.run(
            ["check", "--database-url", "mariadb://root@127.0.0.1:\(server.port)/"] + common)
        #expect(bad.status == 64, "\(bad.stderr)")
    }
}

/// `demo --mariadb`: each dataset loaded into an empty MariaDB database and run comes out as on SQLite.
@Suite(.tags(.slow), .timeLimit(.minutes(30))) struct MariaDBDemoTests {
    /// The run's summary table: its rules' counts, whatever the database.
    func summary(_ output: String) -> String {
        guard let start = output.range(of: "== run "), let end = output.range(of: "audit trail:") else { return "" }
        return output[start.lowerBound..<end.lowerBound].split(separator: "\n").dropFirst().joined(separator: "\n")
    }

    @Test(arguments: ["crm", "dolibarr", "znuny"])
    func theDemoComesOutOnMariaDBAsOnSQLite(_ dataset: String) async throws {
        let server = try await MariaDBServer.start()
        let url = server.url(database: try await server.createDatabase())
        let dirs = (0..<2).map { _ in
            FileManager.default.temporaryDirectory.appendingPathComponent("retentiond-mariadbdemo-\(UUID().uuidString)")
        }
        defer { dirs.forEach { try? FileManager.default.removeItem(at: $0) } }
        let common = ["demo", "--dataset", dataset, "--seed", "5", "--now", "2026-11-23T10:00:00Z"]
        // The Dolibarr example archives its invoices into a second database of the server.
        let archive =
            dataset == "dolibarr" ? ["--archive-url", server.url(database: try await server.createDatabase())] : []
        let onMariaDB = try await BinaryRunner.run(common + ["--dir", dirs[0].path, "--mariadb", url] + archive)
        #expect(onMariaDB.status == 0, "\(onMariaDB.stderr)")
        #expect(onMariaDB.stdout.contains("verified intact"))
        let onSQLite = try await BinaryRunner.run(common + ["--dir", dirs[1].path])
        #expect(onSQLite.status == 0, "\(onSQLite.stderr)")
        #expect(!summary(onMariaDB.stdout).isEmpty)
        #expect(summary(onMariaDB.stdout) == summary(onSQLite.stdout))
        // Loading twice into the same database is refused rather than mixed.
        let again = try await BinaryRunner.run(common + ["--dir", dirs[0].path, "--mariadb", url] + archive)
        #expect(again.status == 64, "a mistake in the request, not in retentiond")
        #expect(again.stderr.contains("already has a"))
    }

    /// On a node of a Galera cluster the demo runs as on one server (each batch also writes the
    /// cluster's lease), and the other node holds the same trail, which verifies there.
    @Test func theDemoRunsOnAGaleraNodeAndTheOtherNodeVerifiesItsTrail() async throws {
        let (first, second) = try await MariaDBServer.startGaleraCluster()
        let database = try await first.createDatabase()
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent(
            "retentiond-galerademo-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        let demo = try await BinaryRunner.run([
            "demo", "--dataset", "dolibarr", "--seed", "5", "--now", "2026-11-23T10:00:00Z",
            "--dir", dir.path, "--mariadb", first.url(database: database),
            "--archive-url", first.url(database: try await first.createDatabase()),
        ])
        #expect(demo.status == 0, "\(demo.stderr)")
        #expect(demo.stdout.contains(": complete, ") && demo.stdout.contains("verified intact"), "\(demo.stdout)")
        let verifyLine = try #require(demo.stdout.split(separator: "\n").first { $0.contains("audit verify") })
        // after `swift run retentiond`
        var arguments = Array(verifyLine.split(separator: " ").dropFirst(3).map(String.init))
        // The database on the other node; the archive as the demo named it (its quotes are the shell's).
        arguments = arguments.indices.map { i in
            i > 0 && arguments[i - 1] == "--database-url"
                ? second.url(database: database) : arguments[i].trimmingCharacters(in: CharacterSet(charactersIn: "'"))
        }
        let verify = try await BinaryRunner.run(arguments)
        #expect(verify.status == 0, "\(verify.stdout)\(verify.stderr)")
        #expect(verify.stdout.contains("intact"), "\(verify.stdout)")
        #expect(
            try await second.sql(database, "SELECT holder IS NULL FROM retentiond_run_lease") == "1",
            "the lease was given back")
    }
}

/// `serve` on MariaDB, as on PostgreSQL: a lost connection costs one run, not every run after it;
/// then the DPO's commands against the same database, `flagged` included.
@Suite(.tags(.slow), .timeLimit(.minutes(30))) struct MariaDBServiceTests {
    @Test func serveReconnectsAndTheDPOsCommandsWorkOnMariaDB() async throws {
        let server = try await MariaDBServer.start()
        let database = try await server.createDatabase()
        try await server.sql(
            database,
            """
            CREATE TABLE contacts (id INTEGER PRIMARY KEY, email VARCHAR(100), phone VARCHAR(40), last_seen VARCHAR(10) NOT NULL);
            CREATE INDEX contacts_last_seen ON contacts(last_seen);
            INSERT INTO contacts VALUES (1, 'old@example.fr', NULL, '2019-01-01'), (3, 'recent@example.fr', NULL, '2026-11-01'), (4, 'asked@example.fr', NULL, '2026-10-01');
            """)
        let w = try Workspace(
            policyBody: Workspace.policy(
                schedule: "{ every: 1s, run_at_start: true }",
                database:
                    "{ mariadb: { host: 127.0.0.1, port: \(server.port), database: \(database), user: root, tls: disable } }"
            ))
        let notify = try NotifySocket()
        let service = try ServiceProcess(arguments: ["--config", w.policy], in: w.dir, notify: notify)
        defer { service.signal(SIGTERM) }
        let first = try #require(
            try await service.notification { $0.contains("complete: 1 changed") }, "\(service.stderr)")
        let firstRun = try #require(first.split(separator: " ").drop { $0 != "run" }.dropFirst().first.map(String.init))

        // Between two scheduled runs, the server drops every connection of the service (its lock's too).
        for id in try await server.sql(
            "mysql", "SELECT id FROM information_schema.processlist WHERE db = '\(database)'"
        ).split(separator: "\n") {
            _ = try? await server.sql("mysql", "KILL \(id)")
        }
        try await server.sql(database, "INSERT INTO contacts VALUES (2, 'older@example.fr', NULL, '2018-01-01')")
        #expect(
            try await service.notification { $0.contains("complete: 1 changed") && !$0.contains(firstRun) } != nil,
            "a later run purges the new record: \(service.stderr)")
        #expect(try await server.sql(database, "SELECT GROUP_CONCAT(id ORDER BY id) FROM contacts") == "3,4")
        service.signal(SIGTERM)
        #expect(try await service.exitStatus() == 0)

        // What a DPO runs, on the same database.
        let explain = try await w.run(["explain", "--subject", "contacts", "--key", "3"])
        #expect(explain.status == 0 && explain.stdout.contains("contact-purge"), "\(explain.stdout)\(explain.stderr)")
        let forecast = try await w.run(["forecast", "--format", "json"])
        #expect(forecast.status == 0, "\(forecast.stderr)")
        let register = try await w.run(["register"])
        #expect(register.status == 0 && register.stdout.contains("Prospection"), "\(register.stderr)")
        let hold = try await w.run([
            "hold", "add", "--subject", "contacts", "--key", "3", "--reason", "litigation", "--by", "dpo",
        ])
        #expect(hold.status == 0, "\(hold.stderr)")
        #expect(try await w.run(["hold", "list"]).stdout.contains("litigation"))
        let erase = try await w.run(["erase", "--subject", "contacts", "--key", "4", "--request", "R-4", "--by", "dpo"])
        #expect(erase.status == 0, "\(erase.stdout)\(erase.stderr)")
        #expect(
            try await server.sql(database, "SELECT GROUP_CONCAT(id ORDER BY id) FROM contacts") == "3",
            "the erased record went; the held one stayed")
        let show = try await w.run(["audit", "show", "--rule", "contact-purge"])
        #expect(show.status == 0, "\(show.stderr)")
        #expect(try await w.run(["audit", "verify"]).status == 0)

        // A flag rule's records, listed with their review columns for the people who act on them.
        try await server.sql(database, "INSERT INTO contacts VALUES (5, 'flag@example.fr', NULL, '2020-01-01')")
        try FlaggedCommandLineTests.policy.replacingOccurrences(
            of: "database: { sqlite: crm.sqlite }",
            with:
                "database: { mariadb: { host: 127.0.0.1, port: \(server.port), database: \(database), user: root, tls: disable } }"
        )
        .write(toFile: w.policy, atomically: true, encoding: .utf8)
        let flagRun = try await w.run(["run", "--now", "2027-01-01T00:00:00Z"])
        #expect(flagRun.status == 0, "\(flagRun.stdout)\(flagRun.stderr)")
        let flagged = try await w.run(["flagged", "--rule", "contact-warning"])
        #expect(flagged.stdout == "id\temail\n5\tflag@example.fr\n", "\(flagged.stdout)\(flagged.stderr)")
    }
}
