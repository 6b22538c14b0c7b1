import Foundation
import TestSupport
import Testing

/// The demo CRM loaded, not run, into a fresh database of the suite's server; its folder (key,
/// reports) goes with it.
final class PostgresDemo {
    let server: PostgresServer
    let database: String
    let url: String
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("retentiond-pgdemo-\(UUID().uuidString)")
    let now = "2026-11-23T10:00:00Z"

    init(seed: Int) async throws {
        server = try await PostgresServer.start()
        database = try await server.createDatabase()
        url = server.url(database: database)
        let created = try await BinaryRunner.run([
            "demo", "--seed", String(seed), "--dir", dir.path, "--postgres", url, "--no-run", "--now", now,
        ])
        #expect(created.status == 0, "\(created.stderr)")
    }

    deinit { try? FileManager.default.removeItem(at: dir) }

    /// The options that point a command at the demo's policy and database, as `role` when given.
    func options(as role: String? = nil) -> [String] {
        let url = role.map { self.url.replacingOccurrences(of: "postgres@", with: "\($0)@") } ?? url
        return [
            "--config", "etc/retentiond/retentiond.yaml", "--state-dir", dir.path, "--database-url", url, "--now", now,
        ]
    }
}

/// The binary against a real PostgreSQL server: the demo, and two runs started at once.
@Suite(.tags(.slow), .timeLimit(.minutes(30))) struct PostgresCommandLineTests {
    func freshDatabase() async throws -> String {
        let server = try await PostgresServer.start()
        return server.url(database: try await server.createDatabase())
    }

    @Test func theDemoRunsOnPostgreSQL() async throws {
        let url = try await freshDatabase()
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent(
            "retentiond-pgdemo-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        let result = try await BinaryRunner.run([
            "demo", "--seed", "11", "--dir", dir.path, "--postgres", url, "--now", "2026-11-23T10:00:00Z",
        ])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("verified intact"))
        #expect(result.stdout.contains("complete"))
        // Loading twice into the same database is refused rather than mixed.
        let again = try await BinaryRunner.run(["demo", "--seed", "11", "--dir", dir.path, "--postgres", url])
        #expect(again.status == 64, "a mistake in the request, not in retentiond")
        #expect(again.stderr.contains("already has a third_parties table"))
        #expect(
            FileManager.default.fileExists(atPath: dir.appendingPathComponent("audit-head.json").path),
            "the refused demo left the earlier one's head")
        #expect(
            try await BinaryRunner.run([
                "audit", "verify", "--config", "etc/retentiond/retentiond.yaml", "--state-dir", dir.path,
                "--database-url", url,
            ]).status == 0)
    }

    @Test func twoRunsStartedAtOnceOneActsTheOtherReportsTheLock() async throws {
        let demo = try await PostgresDemo(seed: 3)
        let common = demo.options()
        #expect(try await BinaryRunner.run(["check"] + common).status == 0)
        #expect(try await BinaryRunner.run(["plan"] + common).status == 2)

        // The application keeps every row of the demo's tables locked: the run that takes the run
        // lock waits in its first batch, as long as it takes, while the other meets that lock.
        let tables = try await demo.server.psql(
            demo.database,
            "SELECT string_agg(quote_ident(tablename), ' ') FROM pg_tables WHERE schemaname = 'public'"
                + " AND tablename NOT LIKE 'retentiond%'")
        let (release, application) = try await demo.server.store(demo.database).transactionKeptOpen { session in
            for table in tables.split(separator: " ") { _ = try session.rows("SELECT 1 FROM \(table) FOR UPDATE", []) }
        }
        let runs = try (0..<2).map {
            try BinaryRunner.start(["run", "--lock-wait", "1h", "--actor", "runner-\($0)"] + common)
        }
        while runs.allSatisfy(\.process.isRunning) { try await Task.sleep(for: .milliseconds(10)) }
        let (first, second) = runs[0].process.isRunning ? (runs[1], runs[0]) : (runs[0], runs[1])
        let refused = try await first.result()
        release.signal()
        try await application.value
        let acted = try await second.result()
        #expect(refused.status == 5, "\(refused.stderr)")
        #expect(refused.stderr.contains("another retentiond run holds the advisory lock"), "\(refused.stderr)")
        #expect(acted.status == 0, "\(acted.stderr)")
        #expect(
            try await demo.server.psql(
                demo.database,
                "SELECT count(DISTINCT actor) FROM retentiond_audit WHERE action IN ('purge', 'anonymise')")
                == "1", "one run acted")

        let verify = try await BinaryRunner.run(["audit", "verify"] + common.dropLast(2))
        #expect(verify.status == 0, "\(verify.stderr)")
    }

    /// A reviewing role: `check --for-planning` lists what it may not read, the tool's tables once
    /// a run created them included; `plan` refused says to run `check`; the grants printed suffice.
    @Test func checkListsTheGrantsAReviewingRoleNeedsThenPlanWorks() async throws {
        let demo = try await PostgresDemo(seed: 7)
        let role = "reviewer_\(UInt32.random(in: 0...UInt32.max))"
        let tables = try await demo.server.psql(
            demo.database, "SELECT string_agg(quote_ident(tablename), ', ') FROM pg_tables WHERE schemaname = 'public'")
        try await demo.server.psql(demo.database, "CREATE ROLE \(role) LOGIN; GRANT SELECT ON \(tables) TO \(role)")
        let owner = demo.options()
        let reviewer = demo.options(as: role)
        #expect(
            try await BinaryRunner.run(["check", "--for-planning"] + reviewer).status == 0,
            "nothing to read of the tool's yet")
        let toEnforce = try await BinaryRunner.run(["check"] + reviewer)
        #expect(toEnforce.status == 3)
        #expect(
            toEnforce.stderr.contains("may not CREATE in schema `public`, to create retentiond's own tables"),
            "\(toEnforce.stderr)")
        #expect(toEnforce.stderr.contains("GRANT CREATE ON SCHEMA \"public\" TO \"\(role)\";"), "\(toEnforce.stderr)")

        let run = try await BinaryRunner.run(["run"] + owner)
        #expect(run.status == 0, "\(run.stderr)")
        let check = try await BinaryRunner.run(["check", "--for-planning"] + reviewer)
        #expect(check.status == 3)
        #expect(
            check.stderr.contains(
                "error: role `\(role)` may not SELECT `retentiond_holds`, which retentiond's own tables need"),
            "\(check.stderr)")
        let grants = check.stderr.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }.filter {
            $0.hasPrefix("GRANT ")
        }
        #expect(grants.count == 4, "\(check.stderr)")
        let refused = try await BinaryRunner.run(["plan"] + reviewer)
        #expect(refused.status == 1)
        #expect(
            refused.stderr.contains("permission denied")
                && refused.stderr.contains("`retentiond check` lists every privilege"), "\(refused.stderr)")

        try await demo.server.psql(demo.database, grants.joined(separator: " "))
        #expect(try await BinaryRunner.run(["check", "--for-planning"] + reviewer).status == 0)
        let plan = try await BinaryRunner.run(["plan"] + reviewer)
        #expect([0, 2].contains(plan.status) && plan.stdout.contains("nothing was changed"), "\(plan.stderr)")
        // Enforcing needs more: `check` without --for-planning lists it.
        let enforcing = try await BinaryRunner.run(["check"] + reviewer)
        #expect(enforcing.status == 3)
        #expect(
            enforcing.stderr.contains("may not INSERT `retentiond_audit`, which retentiond's own tables need"),
            "\(enforcing.stderr)")
        #expect(enforcing.stderr.contains("GRANT USAGE ON SEQUENCE \"retentiond_holds_id_seq\""), "\(enforcing.stderr)")
        #expect(!enforcing.stderr.contains("CREATE in schema"), "the tables exist: CREATE is no longer needed")
    }

    /// A dry run counts child rows on two sessions of its own; a role the server lets open only
    /// one session gets the same plan, counted on that session, and a notice that says so.
    @Test func aPlanCountsChildRowsOnItsOwnSessionWhenNoOtherMayOpen() async throws {
        let demo = try await PostgresDemo(seed: 5)
        let role = "single_\(UInt32.random(in: 0...UInt32.max))"
        let tables = try await demo.server.psql(
            demo.database, "SELECT string_agg(quote_ident(tablename), ', ') FROM pg_tables WHERE schemaname = 'public'")
        try await demo.server.psql(
            demo.database, "CREATE ROLE \(role) LOGIN CONNECTION LIMIT 1; GRANT SELECT ON \(tables) TO \(role)")
        func childLines(_ output: String) -> [Substring] {
            output.split(separator: "\n").filter { $0.contains("child rows") }
        }

        let full = try await BinaryRunner.run(["plan"] + demo.options())
        #expect(full.status == 2, "\(full.stderr)")
        #expect(!childLines(full.stdout).isEmpty, "the demo's purges take child rows: \(full.stdout)")
        #expect(!full.stderr.contains("counted on the plan's own connection"), "\(full.stderr)")
        let single = try await BinaryRunner.run(["plan"] + demo.options(as: role))
        #expect(single.status == 2, "\(single.stderr)")
        #expect(childLines(single.stdout) == childLines(full.stdout), "\(single.stdout)")
        #expect(
            single.stderr.contains("child rows are counted on the plan's own connection: another could not be opened"),
            "\(single.stderr)")
    }

    /// `check` warns about tables PostgreSQL never analyzed; `run` analyzes them itself, so it
    /// says so and leaves them out of the warnings it counts (`check` would list none of them after).
    @Test func aRunAnalyzesTablesWithoutStatisticsInsteadOfCountingThemAsWarnings() async throws {
        let demo = try await PostgresDemo(seed: 5)
        let common = demo.options()
        func warnings() async throws -> [String] {
            let check = try await BinaryRunner.run(["check"] + common)
            #expect(check.status == 0, "\(check.stderr)")
            return check.stderr.split(separator: "\n").filter { $0.contains("warning:") }.map(String.init)
        }
        let analyzed = try await warnings()
        #expect(!analyzed.contains { $0.contains("no statistics") })

        // As after a restore: the demo's tables lose their statistics (the suite's role is a superuser).
        try await demo.server.psql(
            demo.database,
            "DELETE FROM pg_statistic WHERE starelid IN (SELECT oid FROM pg_class WHERE relnamespace = current_schema()::regnamespace)"
        )
        let unanalyzed = try await warnings()
        #expect(unanalyzed.count > analyzed.count)
        #expect(unanalyzed.filter { !$0.contains("no statistics") } == analyzed)

        let run = try await BinaryRunner.run(["run"] + common)
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stderr.contains("analyzed before planning"))
        #expect(
            analyzed.isEmpty
                ? !run.stderr.contains("warning(s)")
                : run.stderr.contains("the policy has \(analyzed.count) warning(s)"), "\(run.stderr)")
        #expect(try await warnings() == analyzed)
    }
}

/// `serve` on PostgreSQL: a lost connection costs one run, not every run after it.
@Suite(.tags(.slow), .timeLimit(.minutes(30))) struct PostgresServiceTests {
    @Test func serveReconnectsAfterTheServerDropsItsConnection() async throws {
        let server = try await PostgresServer.start()
        let database = try await server.createDatabase()
        try await server.psql(
            database,
            """
            CREATE TABLE contacts (id INTEGER PRIMARY KEY, email TEXT, phone TEXT, last_seen TEXT NOT NULL);
            CREATE INDEX contacts_last_seen ON contacts(last_seen);
            INSERT INTO contacts VALUES (1, 'old@example.fr', NULL, '2019-01-01');
            """)
        let w = try Workspace(
            policyBody: Workspace.policy(
                schedule: "{ every: 1s, run_at_start: true }",
                database:
                    "{ postgres: { host: 127.0.0.1, port: \(server.port), database: \(database), user: postgres, tls: disable } }"
            ))
        let notify = try NotifySocket()
        let service = try ServiceProcess(arguments: ["--config", w.policy], in: w.dir, notify: notify)
        defer { service.signal(SIGTERM) }
        let first = try #require(
            try await service.notification { $0.contains("complete: 1 changed") }, "\(service.stderr)")
        // STATUS=last run <id> complete: …; the next completed run has another id.
        let firstRun = try #require(first.split(separator: " ").drop { $0 != "run" }.dropFirst().first.map(String.init))

        // Between two scheduled runs, the server drops every connection of the service.
        _ = try await server.psql(
            database,
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        _ = try await server.psql(database, "INSERT INTO contacts VALUES (2, 'older@example.fr', NULL, '2018-01-01')")
        #expect(
            try await service.notification { $0.contains("complete: 1 changed") && !$0.contains(firstRun) } != nil,
            "a later run purges the new record: \(service.stderr)")
        #expect(try await server.psql(database, "SELECT count(*) FROM contacts") == "0")
        service.signal(SIGTERM)
        #expect(try await service.exitStatus() == 0)
    }
}

/// `run` stopped by systemd on PostgreSQL: whole batches, and its report.
@Suite(.tags(.slow), .timeLimit(.minutes(30))) struct PostgresRunStopTests {
    @Test func sigtermStopsARunAtABatchBoundary() async throws {
        let server = try await PostgresServer.start()
        let database = try await server.createDatabase()
        let total = 6_000
        try await server.psql(
            database,
            """
            CREATE TABLE contacts (id INTEGER PRIMARY KEY, email TEXT, phone TEXT, last_seen TEXT NOT NULL);
            CREATE INDEX contacts_last_seen ON contacts(last_seen);
            INSERT INTO contacts SELECT i, 'c' || i || '@example.fr', NULL, '2019-01-01' FROM generate_series(1, \(total)) AS i;
            """)
        let w = try Workspace(
            policyBody: Workspace.policy(
                batchSize: 2,
                database:
                    "{ postgres: { host: 127.0.0.1, port: \(server.port), database: \(database), user: postgres, tls: disable } }"
            ))
        let process = BinaryRunner.process(["run", "--config", w.policy, "--now", "2026-06-01T00:00:00Z"], in: w.dir)
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        func purged() async -> Int {
            Int(
                (try? await server.psql(database, "SELECT count(*) FROM retentiond_audit WHERE action = 'purge'")) ?? ""
            ) ?? 0
        }
        while process.isRunning, await purged() == 0 { try await Task.sleep(for: .milliseconds(10)) }
        kill(process.processIdentifier, SIGTERM)
        try await process.exited()
        #expect(process.terminationStatus == 143)
        let remaining = Int(try await server.psql(database, "SELECT count(*) FROM contacts")) ?? -1
        #expect(remaining > 0 && remaining < total, "stopped in the middle (\(remaining) left)")
        let purgedCount = await purged()
        #expect(purgedCount == total - remaining && purgedCount % 2 == 0, "only whole batches, each audited")
        let next = try await w.run(["run", "--now", "2026-06-01T00:01:00Z", "--batch-size", "1000"])
        #expect(next.status == 0, "\(next.stderr)")
        #expect(try await server.psql(database, "SELECT count(*) FROM contacts") == "0")
        #expect(try await w.run(["audit", "verify"]).status == 0)
    }
}

/// Several processes sharing one run's batches.
@Suite(.tags(.slow), .timeLimit(.minutes(30))) struct WorkerTests {
    /// Twenty batches of 1,000 records, which the three share.
    @Test func threeWorkersProcessEachRecordExactlyOnce() async throws {
        let server = try await PostgresServer.start()
        let database = try await server.createDatabase()
        let total = 20_000
        try await server.psql(
            database,
            """
            CREATE TABLE contacts (id INTEGER PRIMARY KEY, email TEXT, last_seen TEXT NOT NULL);
            CREATE INDEX contacts_last_seen ON contacts(last_seen);
            INSERT INTO contacts SELECT i, 'c' || i || '@example.fr', '2019-01-01' FROM generate_series(1, \(total)) AS i;
            """)
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent(
            "retentiond-workers-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let policy = dir.appendingPathComponent("policy.yaml").path
        try Workspace.policy(
            stateDir: dir.path,
            database:
                "{ postgres: { host: 127.0.0.1, port: \(server.port), database: \(database), user: postgres, tls: disable } }"
        )
        .write(toFile: policy, atomically: true, encoding: .utf8)

        let results = try await BinaryRunner.runTogether(
            (0..<3).map {
                [
                    "run", "--worker", "--config", policy, "--actor", "worker-\($0)", "--batch-size", "1000", "--now",
                    "2026-06-01T00:00:00Z",
                ]
            }, in: dir)
        #expect(results.allSatisfy { $0.status == 0 }, "\(results.map(\.stderr))")

        #expect(try await server.psql(database, "SELECT count(*) FROM contacts") == "0")
        #expect(
            try await server.psql(database, "SELECT count(*) FROM retentiond_audit WHERE action = 'purge'")
                == String(total))
        #expect(
            try await server.psql(
                database, "SELECT count(DISTINCT subject_ref) FROM retentiond_audit WHERE action = 'purge'")
                == String(total),
            "each record was processed exactly once")
        // A worker that starts after the shared run closed plans a run of its own, which finds nothing due.
        let completed = try await server.psql(
            database, "SELECT count(*) FROM retentiond_audit WHERE action = 'run-completed'")
        #expect((Int(completed) ?? 0) >= 1, "run-completed entries: \(completed)")
        #expect(try await server.psql(database, "SELECT count(*) FROM retentiond_runs") == "0")
        let workers = try await server.psql(
            database, "SELECT count(DISTINCT actor) FROM retentiond_audit WHERE action = 'purge'")
        #expect((Int(workers) ?? 0) >= 2, "the work was shared (\(workers) workers purged)")
        let verify = try await BinaryRunner.run(["audit", "verify", "--config", policy], in: dir)
        #expect(verify.status == 0, "\(verify.stderr)")
    }
}
