import Foundation
import Testing

/// The built binary: exit statuses, messages and files, as an operator meets them.
@Suite(.tags(.slow), .timeLimit(.minutes(30))) struct CommandLineTests {
    let now = ["--now", "2026-06-01T00:00:00Z"]

    @Test func theDemoCreatesADatabaseRunsTheShippedPolicyAndVerifiesItsTrail() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("retentiond-demo-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        let first = try await BinaryRunner.run([
            "demo", "--seed", "7", "--dir", dir.path, "--now", "2026-11-23T10:00:00Z",
        ])
        #expect(first.status == 0, "\(first.stderr)")
        #expect(first.stdout.contains("verified intact"))
        #expect(first.stdout.contains("legal hold 1 placed on third_parties:"))
        for file in ["crm.sqlite", "audit.key", "audit-head.json", "reports"] {
            #expect(FileManager.default.fileExists(atPath: dir.appendingPathComponent(file).path), "\(file) missing")
        }
        // Same seed, same time: the same data and the same outcome.
        let second = try await BinaryRunner.run([
            "demo", "--seed", "7", "--dir", dir.path, "--now", "2026-11-23T10:00:00Z",
        ])
        func table(_ text: String) -> String {
            text.split(separator: "\n").filter {
                !$0.contains("run ") && !$0.contains("report") && !$0.contains("reports/")
            }.joined(separator: "\n")
        }
        #expect(second.status == 0)
        #expect(table(first.stdout) == table(second.stdout))
    }

    @Test func checkPointsAtEachProblemAndExitsThree() async throws {
        let w = try Workspace(
            policyBody: """
                version: 1
                time_zone: Europe/Paris
                state_dir: .
                database: { sqlite: crm.sqlite }
                subjects:
                  contacts:
                    table: contacts
                    key: id
                    rules:
                      - id: contact-purge
                        register: "Prospection"
                        legal_basis: "legitimate interest"
                        clock: last_sen
                        after: 3 decades
                        action: purge
                        childrn: auto
                """)
        let result = try await w.run(["check"])
        #expect(result.status == 3)
        #expect(
            result.stderr.contains(
                "\(w.policy):14:16: error: rule `contact-purge`.after: unknown duration unit `decades`"))
        #expect(
            result.stderr.contains(
                "\(w.policy):16:9: error: unknown key `childrn` in rule `contact-purge`; did you mean `children`?"))
        #expect(result.stderr.contains("policy invalid"))
        #expect(result.stdout.isEmpty)

        try String(contentsOfFile: w.policy, encoding: .utf8).replacingOccurrences(of: "3 decades", with: "3y")
            .replacingOccurrences(of: "        childrn: auto\n", with: "").replacingOccurrences(
                of: "childrn: auto", with: ""
            )
            .write(toFile: w.policy, atomically: true, encoding: .utf8)
        let schema = try await w.run(["check"])
        #expect(schema.status == 3)
        #expect(
            schema.stderr.contains(
                "\(w.policy):13:16: error: table `contacts` has no column `last_sen`; did you mean `last_seen`?"))
    }

    @Test func aMissingDatabaseExitsSix() async throws {
        let w = try Workspace()
        try FileManager.default.removeItem(atPath: w.database)
        for command in [["check"], ["plan"], ["run"]] {
            let result = try await w.run(command)
            #expect(result.status == 6, "\(command)")
            #expect(result.stderr.contains("is unavailable: no such file"))
        }
    }

    /// `--batch-size` below what costs twice the default's time is said as the policy's
    /// `batch_size` is, and the run goes on.
    @Test func aCostlyBatchSizeOnTheCommandLineIsWarnedAbout() async throws {
        let w = try Workspace()
        let costly = try await w.run(["run", "--batch-size", "1"] + now)
        #expect(costly.status == 0, "\(costly.stderr)")
        #expect(
            costly.stderr.contains(
                "retentiond: warning: --batch-size 1 commits every 1 records: at 100,000 records a run took 2.3 times as long at 250"
            ), "\(costly.stderr)")
        #expect(try w.count("SELECT count(*) FROM contacts") == 1)
        let purged = try w.count("SELECT count(*) FROM retentiond_audit WHERE action = 'purge'")
        #expect(purged == 2, "both due contacts purged and audited")

        let enough = try await w.run(["plan", "--batch-size", "300"] + now)
        #expect(!enough.stderr.contains("--batch-size"), "\(enough.stderr)")
    }

    @Test func planExitsTwoWhenChangesArePlannedAndRunEnforcesThem() async throws {
        let w = try Workspace()
        let plan = try await w.run(["plan", "--detail", "--batch-size", "1"] + now)
        #expect(plan.status == 2)
        #expect(
            plan.stdout.hasPrefix("rule\tkey\tclock\tdecision\ncontact-purge\t1\t2019-01-01\tdue"), "\(plan.stdout)")
        #expect(
            plan.stderr.contains("2 record(s) due; nothing was changed."), "the summary goes beside the detail lines")
        #expect(try w.count("SELECT count(*) FROM contacts") == 3)

        let dry = try await w.run(["run", "--dry-run"] + now)
        #expect(dry.status == 2)
        #expect(try w.count("SELECT count(*) FROM contacts") == 3)

        let run = try await w.run(["run"] + now)
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stdout.contains("complete, 2 record(s) changed"))
        // Its first word is what it read and changed.
        #expect(run.stderr.hasPrefix("retentiond: policy \(w.policy) (sha256 "), "\(run.stderr)")
        #expect(
            run.stderr.split(separator: "\n").first?.hasSuffix("database sqlite:\(w.database)") == true, "\(run.stderr)"
        )
        #expect(try w.count("SELECT count(*) FROM contacts") == 1)

        let again = try await w.run(["run", "--now", "2026-06-02T00:00:00Z"])
        #expect(again.status == 0)
        #expect(again.stdout.contains("complete, 0 record(s) changed"))
        #expect(try await w.run(["plan", "--now", "2026-06-02T00:00:00Z"]).status == 0)

        let reports = try FileManager.default.contentsOfDirectory(atPath: w.dir.appendingPathComponent("reports").path)
        #expect(reports.filter { $0.hasSuffix(".json") }.count == 5)
        #expect(reports.filter { $0.hasSuffix(".md") }.count == 5)
    }

    @Test func aSavedPlanIsAppliedAndAPlanFromAnotherPolicyIsRefused() async throws {
        let w = try Workspace()
        let planPath = w.dir.appendingPathComponent("review.plan").path
        #expect(try await w.run(["plan", "--out", planPath] + now).status == 2)
        let mode = try FileManager.default.attributesOfItem(atPath: planPath)[.posixPermissions] as? Int
        #expect(mode == 0o600)

        let original = try String(contentsOfFile: w.policy, encoding: .utf8)
        try (original + "\n# changed\n").write(toFile: w.policy, atomically: true, encoding: .utf8)
        let refused = try await w.run(["apply", planPath] + now)
        #expect(refused.status == 8)
        #expect(refused.stderr.contains("different policy"))
        #expect(try w.count("SELECT count(*) FROM contacts") == 3)

        try original.write(toFile: w.policy, atomically: true, encoding: .utf8)
        let applied = try await w.run(["apply", planPath] + now)
        #expect(applied.status == 0, "\(applied.stderr)")
        #expect(try w.count("SELECT count(*) FROM contacts") == 1)
    }

    @Test func aSafetyLimitExitsFourAndChangesNothing() async throws {
        let w = try Workspace(maxRecords: 1)
        // The dry run says so first.
        let planned = try await w.run(["plan"] + now)
        #expect(planned.status == 2)
        #expect(
            planned.stdout.contains(
                "a run would stop at its safety limits, before any change (exit 4):\n  rule `contact-purge`: 2 records due, more than max_records 1"
            ), "\(planned.stdout)")
        let result = try await w.run(["run"] + now)
        #expect(result.status == 4)
        #expect(result.stderr.contains("rule `contact-purge`: 2 records due, more than max_records 1"))
        #expect(try w.count("SELECT count(*) FROM contacts") == 3)
        let reports = w.dir.appendingPathComponent("reports")
        // The run's report (beside the plan's).
        let texts = try FileManager.default.contentsOfDirectory(atPath: reports.path).filter { $0.hasSuffix(".json") }
            .map { try String(contentsOf: reports.appendingPathComponent($0), encoding: .utf8) }
        let refused = try #require(texts.first { $0.contains("\"mode\" : \"run\"") })
        #expect(refused.contains("\"status\" : \"refused\""))
        #expect(refused.contains("\"due\" : 2"))
        #expect(try await w.run(["run", "--allow-more"] + now).status == 0)
        #expect(try w.count("SELECT count(*) FROM contacts") == 1)
    }

    @Test func anEarlierClockExitsEight() async throws {
        let w = try Workspace()
        #expect(try await w.run(["run"] + now).status == 0)
        let result = try await w.run(["run", "--now", "2026-05-01T00:00:00Z"])
        #expect(result.status == 8)
        #expect(result.stderr.contains("earlier than the last completed run"))
    }

    @Test func aHeldLockExitsFive() async throws {
        let w = try Workspace()
        let fd = open(w.database + ".retentiond-lock", O_RDWR | O_CREAT, 0o600)
        defer { close(fd) }
        #expect(flock(fd, LOCK_EX | LOCK_NB) == 0)
        let result = try await w.run(["run"] + now)
        #expect(result.status == 5)
        #expect(result.stderr.contains("another retentiond run holds the lock"))
        #expect(try w.count("SELECT count(*) FROM contacts") == 3)
    }

    @Test func holdsAreManagedFromTheCommandLine() async throws {
        let w = try Workspace()
        let add = try await w.run(
            ["hold", "add", "--table", "contacts", "--key", "1", "--reason", "case 7", "--by", "dpo"] + now)
        #expect(add.status == 0, "\(add.stderr)")
        #expect(add.stdout.contains("hold 1 placed on contacts:1"))
        let list = try await w.run(["hold", "list"] + now)
        #expect(list.stdout.contains("1\tcontacts:1\tdpo\t"))
        #expect(list.stdout.contains("active\tcase 7"))
        #expect(try await w.run(["run"] + now).status == 0)
        #expect(try w.count("SELECT count(*) FROM contacts WHERE id = 1") == 1)
        let release = try await w.run(["hold", "release", "1", "--by", "dpo", "--now", "2026-06-01T01:00:00Z"])
        #expect(release.status == 0)
        #expect(try await w.run(["run", "--now", "2026-06-01T02:00:00Z"]).status == 0)
        #expect(try w.count("SELECT count(*) FROM contacts WHERE id = 1") == 0)
        let missing = try await w.run([
            "hold", "add", "--table", "contacts", "--key", "99", "--reason", "x", "--by", "y",
        ])
        #expect(missing.status == 64, "a mistake in the request, not an internal error")
        #expect(missing.stderr.contains("no record of `contacts` has key 99"))
        let noHold = try await w.run(["hold", "release", "42", "--by", "dpo"])
        #expect(noHold.status == 64 && noHold.stderr.contains("no active hold has id 42"), "\(noHold.stderr)")
        let noSubject = try await w.run(["erase", "--subject", "nosuch", "--key", "1", "--request", "R", "--by", "dpo"])
        #expect(noSubject.status == 64 && noSubject.stderr.contains("has no subject `nosuch`"), "\(noSubject.stderr)")
        let noRecord = try await w.run(["audit", "show", "--subject", "nosuch", "--key", "1"])
        #expect(noRecord.status == 64, "\(noRecord.stderr)")
    }

    @Test func aHoldKeyMustBeTypedAsStoredAndMayNameTheSubjectsKey() async throws {
        let w = try Workspace()
        let fraction = try await w.run(
            ["hold", "add", "--table", "contacts", "--key", "1.0", "--reason", "x", "--by", "y"] + now)
        #expect(fraction.status == 64)
        #expect(
            fraction.stderr.contains("no record of `contacts` has key 1.0 (`contacts.id` holds whole numbers"),
            "\(fraction.stderr)")
        let both = try await w.run([
            "hold", "add", "--table", "contacts", "--subject", "contacts", "--key", "1", "--reason", "x", "--by", "y",
        ])
        #expect(both.status == 64)
        let unknown = try await w.run([
            "hold", "add", "--subject", "nobody", "--key", "1", "--reason", "x", "--by", "y",
        ])
        #expect(unknown.status == 64)
        #expect(unknown.stderr.contains("the policy has no subject `nobody`; it has: contacts"))
        let bySubject = try await w.run(
            ["hold", "add", "--subject", "contacts", "--key", "2", "--reason", "case 9", "--by", "dpo"] + now)
        #expect(bySubject.status == 0, "\(bySubject.stderr)")
        #expect(bySubject.stdout.contains("hold 1 placed on contacts:2"))
        #expect(try await w.run(["run"] + now).status == 0)
        #expect(try w.count("SELECT count(*) FROM contacts") == 2, "contact 1 purged, 2 held, 3 not due")
    }

    /// `run` refuses (exit 8, nothing changed) while a relation no index serves would scan a large
    /// table for every record, naming the index to create; `--allow-unindexed` runs anyway.
    @Test func runRefusesToScanALargeUnindexedTableForEveryRecord() async throws {
        let policy = Workspace.policy().replacingOccurrences(
            of: "clock: last_seen", with: "clock: { latest: [last_seen, calls.at] }"
        )
        .replacingOccurrences(
            of: "    key: id\n",
            with: "    key: id\n    relations:\n      calls: { table: calls, on: { contact_id: id } }\n")
        let w = try Workspace(policyBody: policy)
        try w.execute(
            "CREATE TABLE calls (id INTEGER PRIMARY KEY, contact_id INTEGER NOT NULL, at TEXT); WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 10001) INSERT INTO calls SELECT i, 3, '2026-01-01' FROM n"
        )
        let refused = try await w.run(["run"] + now)
        #expect(refused.status == 8, "\(refused.stderr)")
        #expect(
            refused.stderr.contains("relation `calls` scans `calls` (10001 rows) for every record")
                && refused.stderr.contains("CREATE INDEX"), "\(refused.stderr)")
        #expect(try w.count("SELECT count(*) FROM contacts") == 3, "nothing changed")
        let forced = try await w.run(["run", "--allow-unindexed"] + now)
        #expect(forced.status == 0, "\(forced.stderr)")
        #expect(try w.count("SELECT count(*) FROM contacts") == 1, "contacts 1 and 2 purged")
    }

    /// A `tree` followed one level, over a chain two levels deep: `plan` warns that the run will
    /// refuse the record, and the run does, changing nothing of it.
    @Test func planWarnsOfRowsDeeperThanATreeFollows() async throws {
        let policy = Workspace.policy().replacingOccurrences(
            of: "        action: purge",
            with: """
                        action: purge
                        children:
                          - { table: replies, foreign_key: contact_id, tree: { foreign_key: parent_id, depth: 1 } }
                """)
        let w = try Workspace(policyBody: policy)
        try w.execute(
            """
            CREATE TABLE replies (id INTEGER PRIMARY KEY, contact_id INTEGER NOT NULL REFERENCES contacts (id), parent_id INTEGER REFERENCES replies (id));
            CREATE INDEX replies_contact ON replies (contact_id); CREATE INDEX replies_parent ON replies (parent_id);
            INSERT INTO replies VALUES (10, 1, NULL), (11, 3, 10), (12, 3, 11), (20, 2, NULL);
            """)
        let plan = try await w.run(["plan"] + now)
        #expect(
            plan.stderr.contains(
                "rule `contact-purge`: 1 row(s) of `replies` hang more than 1 level(s) below the rows its due records take"
            ), "\(plan.stderr)")
        let run = try await w.run(["run"] + now)
        #expect(run.stderr.contains("hang more than 1 level(s) below"), "\(run.stderr)")
        #expect(try w.count("SELECT count(*) FROM contacts WHERE id = 1") == 1, "contact 1 is refused")
        #expect(try w.count("SELECT count(*) FROM contacts WHERE id = 2") == 0, "contact 2 goes, with its reply")
        #expect(try w.count("SELECT count(*) FROM replies") == 3)
    }

    /// SIGTERM while planning runs a statement that would take hours (a relation scanned for every
    /// record, run with `--allow-unindexed`): the statement is cut short, the run ends at once,
    /// stopped, nothing changed. (Were it not cut short, the test would outlast its time limit.)
    @Test(.timeLimit(.minutes(5))) func sigtermWhilePlanningCutsTheStatementShort() async throws {
        let policy = Workspace.policy().replacingOccurrences(
            of: "clock: last_seen", with: "clock: { latest: [last_seen, calls.at] }"
        )
        .replacingOccurrences(
            of: "    key: id\n",
            with: "    key: id\n    relations:\n      calls: { table: calls, on: { contact_id: id } }\n")
        let w = try Workspace(policyBody: policy)
        try w.execute(
            """
            WITH RECURSIVE n(i) AS (SELECT 4 UNION ALL SELECT i + 1 FROM n WHERE i < 20000) INSERT INTO contacts SELECT i, NULL, NULL, '2019-01-01' FROM n;
            CREATE TABLE calls (id INTEGER PRIMARY KEY, contact_id INTEGER NOT NULL, at TEXT);
            WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 2000000) INSERT INTO calls SELECT i, 0, '2026-01-01' FROM n;
            """)
        let stderrPath = w.dir.appendingPathComponent("run.err").path
        _ = FileManager.default.createFile(atPath: stderrPath, contents: nil)
        let process = BinaryRunner.process(
            ["run", "--allow-unindexed", "--log-level", "debug", "--config", w.policy] + now, in: w.dir)
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle(forWritingAtPath: stderrPath)
        try process.run()
        // Were the statement not cut short, the process would outlive the test: it goes with it.
        defer { if process.isRunning { kill(process.processIdentifier, SIGKILL) } }
        func stderr() -> String { (try? String(contentsOfFile: stderrPath, encoding: .utf8)) ?? "" }
        while process.isRunning, !stderr().contains("planning rule") { try await Task.sleep(for: .milliseconds(20)) }
        kill(process.processIdentifier, SIGTERM)
        try await process.exited()
        #expect(process.terminationStatus == 143, "\(stderr())")
        #expect(stderr().contains("run stopped while planning; nothing was changed"), "\(stderr())")
        #expect(try w.count("SELECT count(*) FROM contacts") == 20000)
    }

    /// SIGINT (Ctrl-C) during a run stops it at a batch boundary, as SIGTERM does: the batch under
    /// way commits whole, the run says so, writes its report and ends with 130.
    @Test(.timeLimit(.minutes(5))) func sigintStopsARunAtABatchBoundary() async throws {
        let w = try Workspace(policyBody: Workspace.policy(batchSize: 2))
        try w.execute(
            "WITH RECURSIVE n(i) AS (SELECT 4 UNION ALL SELECT i + 1 FROM n WHERE i < 20000) INSERT INTO contacts SELECT i, NULL, NULL, '2019-01-01' FROM n"
        )
        let stderrPath = w.dir.appendingPathComponent("run.err").path
        _ = FileManager.default.createFile(atPath: stderrPath, contents: nil)
        let process = BinaryRunner.process(["run", "--config", w.policy] + now, in: w.dir)
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle(forWritingAtPath: stderrPath)
        try process.run()
        defer { if process.isRunning { kill(process.processIdentifier, SIGKILL) } }
        func purged() -> Int { (try? w.count("SELECT count(*) FROM retentiond_audit WHERE action = 'purge'")) ?? 0 }
        while process.isRunning, purged() == 0 { try await Task.sleep(for: .milliseconds(10)) }
        kill(process.processIdentifier, SIGINT)
        try await process.exited()
        let stderr = (try? String(contentsOfFile: stderrPath, encoding: .utf8)) ?? ""
        #expect(process.terminationStatus == 130, "\(stderr)")
        #expect(stderr.contains("stopping at the next batch boundary (SIGINT)"), "\(stderr)")
        let remaining = try w.count("SELECT count(*) FROM contacts")
        #expect(remaining > 1 && remaining < 20000, "stopped in the middle (\(remaining) left)")
        #expect(purged() == 20000 - remaining && purged() % 2 == 0, "only whole batches, each audited")
        let reports = try FileManager.default.contentsOfDirectory(atPath: w.dir.appendingPathComponent("reports").path)
        #expect(reports.contains { $0.hasSuffix(".json") }, "the stopped run's report is written")
        #expect(try await w.run(["audit", "verify"]).status == 0)
    }

    /// `run --dry-run` is `plan`'s dry run: the same summary, the same safety-limit warning, the
    /// same exit status (they were two copies, and the warning was missing from one).
    @Test func runDryRunSaysWhatPlanSays() async throws {
        let w = try Workspace(maxRecords: 1)
        let plan = try await w.run(["plan"] + now)
        let dry = try await w.run(["run", "--dry-run"] + now)
        for result in [plan, dry] {
            #expect(result.status == 2, "\(result.stderr)")
            #expect(
                result.stdout.contains("a run would stop at its safety limits, before any change (exit 4)"),
                "\(result.stdout)")
        }
        #expect(dry.stdout.contains("dry run: 2 record(s) due; nothing was changed."), "\(dry.stdout)")
        #expect(try w.count("SELECT count(*) FROM contacts") == 3)
    }

    /// `plan --format csv|jsonl`: one line per record decided, the summary on standard error; the
    /// keys listed due are the records the run then deletes.
    @Test func planExportsOneLinePerRecordAsCSVAndJSONLines() async throws {
        let w = try Workspace()
        try w.execute("INSERT INTO contacts VALUES (4, 'held@example.fr', '0600000000', '2019-02-02')")
        #expect(
            try await w.run(
                ["hold", "add", "--table", "contacts", "--key", "4", "--reason", "case \"7\", 2026", "--by", "dpo"]
                    + now
            ).status == 0)
        let csv = try await w.run(["plan", "--format", "csv"] + now)
        #expect(csv.status == 2, "\(csv.stderr)")
        #expect(
            csv.stdout == """
                rule,action,key,decision,reason,kept_by,clock,clock_from,taken_by,child_rows
                contact-purge,purge,1,due,,,2019-01-01,last_seen,,
                contact-purge,purge,2,due,,,2020-06-01,last_seen,,
                contact-purge,purge,4,exempt,legal_hold,,2019-02-02,last_seen,,

                """, "\(csv.stdout)")
        #expect(csv.stderr.contains("record(s) due; nothing was changed"), "the summary beside the lines")
        let jsonl = try await w.run(["plan", "--format", "jsonl"] + now)
        let objects = jsonl.stdout.split(separator: "\n").compactMap {
            try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
        }
        #expect(objects.count == 3)
        #expect(objects.map { $0["key"] as? [Int] } == [[1], [2], [4]])
        #expect(objects.map { $0["decision"] as? String } == ["due", "due", "exempt"])
        #expect(
            objects[2]["reason"] as? String == "legal_hold" && objects[0]["reason"] is NSNull
                && objects[0]["clock_from"] as? String == "last_seen")
        #expect(
            try await w.run(["plan", "--format", "csv", "--detail"] + now).status == 64, "one list of lines at a time")
        // A key holding a comma and quotes stays one CSV field, and one JSON string.
        let coded = try Workspace(
            policyBody: Workspace.policy().replacingOccurrences(of: "table: contacts", with: "table: codes")
                .replacingOccurrences(of: "key: id", with: "key: code"))
        try coded.execute(
            "CREATE TABLE codes (code TEXT PRIMARY KEY, last_seen TEXT NOT NULL); INSERT INTO codes VALUES ('a,\"b\"', '2019-01-01')"
        )
        let quoted = try await coded.run(["plan", "--format", "csv"] + now)
        #expect(
            quoted.stdout.split(separator: "\n").last
                == "contact-purge,purge,\"a,\"\"b\"\"\",due,,,2019-01-01,last_seen,,", "\(quoted.stdout)")
        let quotedJSON = try await coded.run(["plan", "--format", "jsonl"] + now)
        let object = try JSONSerialization.jsonObject(with: Data(quotedJSON.stdout.utf8)) as? [String: Any]
        #expect(object?["key"] as? [String] == ["a,\"b\""])
        #expect(try await w.run(["run"] + now).status == 0)
        #expect(
            try w.count("SELECT count(*) FROM contacts WHERE id IN (1, 2)") == 0
                && w.count("SELECT count(*) FROM contacts") == 2,
            "the run deletes the records listed due, and only those")
    }

    /// What an operator types is shown as typed, never obeyed: a reason with terminal escapes is
    /// listed with them made visible; a request with a line break stays one row of the erasure report.
    @Test func textFromTheCommandLineCannotRewriteTheTerminalOrForgeReportRows() async throws {
        let w = try Workspace()
        let reason = "case 1\u{1B}[2J\u{1B}[31m cleared"
        #expect(
            try await w.run(
                ["hold", "add", "--table", "contacts", "--key", "2", "--reason", reason, "--by", "dpo"] + now
            ).status == 0)
        let list = try await w.run(["hold", "list"])
        #expect(
            !list.stdout.contains("\u{1B}") && list.stdout.contains("case 1\u{FFFD}[2J\u{FFFD}[31m cleared"),
            "\(list.stdout)")

        let erase = try await w.run(
            [
                "erase", "--subject", "contacts", "--key", "1", "--request", "DSR-1\n| forged | row |", "--by",
                "dpo\u{1B}[0m",
            ] + now)
        #expect(erase.status == 0, "\(erase.stderr)")
        #expect(!erase.stdout.contains("\u{1B}"))
        let rows = erase.stdout.split(separator: "\n").filter { $0.hasPrefix("|") }
        #expect(!rows.contains { $0.hasPrefix("| forged") }, "\(erase.stdout)")
        #expect(erase.stdout.contains(#"# Erasure request DSR-1 \| forged \| row \|"#), "\(erase.stdout)")
    }

    /// A hold that would have lapsed already (2020 for 2030) is refused; a date is read in the
    /// policy's time zone, and said so; a record held twice says so.
    @Test func aHoldsEndIsInTheFutureInThePolicysTimeZone() async throws {
        let w = try Workspace()
        let past = try await w.run(
            [
                "hold", "add", "--table", "contacts", "--key", "1", "--reason", "case 1", "--by", "dpo", "--until",
                "2020-01-01",
            ] + now)
        #expect(past.status == 64)
        #expect(
            past.stderr.contains("--until 2020-01-01T00:00:00+01:00 (Europe/Paris) is not in the future"),
            "\(past.stderr)")
        #expect(
            try w.count("SELECT count(*) FROM sqlite_master WHERE name = 'retentiond_holds'") == 0
                || (try w.count("SELECT count(*) FROM retentiond_holds")) == 0)

        let first = try await w.run(
            [
                "hold", "add", "--table", "contacts", "--key", "1", "--reason", "case 1", "--by", "dpo", "--until",
                "2030-01-01",
            ] + now)
        #expect(first.status == 0, "\(first.stderr)")
        #expect(
            first.stdout.contains("hold 1 placed on contacts:1 until 2030-01-01T00:00:00+01:00 (Europe/Paris)"),
            "\(first.stdout)")
        #expect(!first.stderr.contains("already held"))
        let second = try await w.run(
            ["hold", "add", "--table", "contacts", "--key", "1", "--reason", "case 2", "--by", "dpo"] + now)
        #expect(second.status == 0)
        #expect(second.stderr.contains("contacts:1 was already held by hold 1"), "\(second.stderr)")
    }

    /// Everything a run writes after its first change is checked before it: a reports directory
    /// that cannot be one (here a file in its place) stops the run with nothing changed.
    @Test func aRunThatCouldNotWriteItsReportsChangesNothing() async throws {
        let w = try Workspace()
        let blocked = w.dir.appendingPathComponent("reports-here").path
        _ = FileManager.default.createFile(atPath: blocked, contents: Data("not a directory".utf8))
        let run = try await w.run(["run", "--reports-dir", blocked] + now)
        #expect(run.status == 9, "\(run.stderr)")
        #expect(
            run.stderr.contains("reports-here is not a directory") && run.stderr.contains("nothing was changed"),
            "\(run.stderr)")
        #expect(try w.count("SELECT count(*) FROM contacts") == 3)
        #expect(
            try w.count("SELECT count(*) FROM sqlite_master WHERE name = 'retentiond_audit'") == 0
                || (try w.count("SELECT count(*) FROM retentiond_audit WHERE action = 'purge'")) == 0)
        let metrics = try await w.run(["run", "--metrics-file", blocked + "/retentiond.prom"] + now)
        #expect(metrics.status == 9 && metrics.stderr.contains("the metrics file"), "\(metrics.stderr)")
        #expect(try w.count("SELECT count(*) FROM contacts") == 3)
    }

    /// A mistyped command is named as one, with the nearest command, whatever options follow it;
    /// the overview lists every exit status there is.
    @Test func aMistypedCommandIsSuggestedAndTheHelpListsEveryExitStatus() async throws {
        let typo = try await BinaryRunner.run(["plna", "--state-dir", "x"])
        #expect(typo.status == 64)
        #expect(typo.stderr.contains("`plna` is not a retentiond command; did you mean `plan`?"), "\(typo.stderr)")
        let help = try await BinaryRunner.run(["--help"])
        let overview = help.stdout.replacingOccurrences(of: "\n", with: " ")
        for status in [
            "0 success", "8 refused", "9 a state file cannot be written", "10 the database refused some records",
            "11 stopped at --max-duration", "64 bad command line",
        ] {
            #expect(overview.contains(status), "\(status) missing from --help")
        }
        #expect(help.stdout.split(separator: "\n").allSatisfy { $0.count <= 80 }, "the overview fits 80 columns")
    }

    /// A clock of several inputs says, per record, which one it took: the latest of the
    /// prospects' last contact and collection, whichever it is.
    @Test func planDetailSaysWhichClockInputCounts() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("retentiond-clock-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        #expect(try await BinaryRunner.run(["demo", "--seed", "3", "--dir", dir.path, "--no-run"] + now).status == 0)
        let plan = try await BinaryRunner.run(
            ["plan", "--detail", "--config", "etc/retentiond/retentiond.yaml", "--state-dir", dir.path] + now)
        #expect(plan.status == 2, "\(plan.stderr)")
        let lines = plan.stdout.split(separator: "\n").map { $0.split(separator: "\t").map(String.init) }.filter {
            $0.first == "prospect-purge"
        }
        #expect(!lines.isEmpty)
        var fromEach = Set<String>()
        for line in lines {
            // "2018-10-04 from last_contact_at (collected_at 2017-08-06)"
            let clock = line[2].split(separator: " ").map(String.init)
            #expect(clock.count == 5 && clock[1] == "from", "\(line)")
            guard clock.count == 5 else { continue }
            fromEach.insert(clock[2])
            let other = String(clock[4].dropLast())
            #expect(other == "NULL" || clock[0] >= other, "the latest is taken: \(line)")
        }
        #expect(fromEach == ["last_contact_at", "collected_at"], "both inputs win somewhere in the demo: \(fromEach)")
        // A record kept by related records says where they are (`explain` names them).
        let kept = plan.stdout.split(separator: "\n").filter {
            $0.hasPrefix("client-billing-identity\t") && $0.contains("related_record")
        }
        #expect(
            !kept.isEmpty && kept.allSatisfy { $0.hasSuffix("\texempt (related_record: invoices)") },
            "\(kept.prefix(3))")
    }

    /// An unreachable PostgreSQL says why: nothing listening on the port, or no such host.
    @Test func anUnreachablePostgreSQLSaysWhy() async throws {
        let w = try Workspace()
        let refused = try await w.run(["check", "--database-url", "postgres://postgres@127.0.0.1:1/x"])
        #expect(refused.status == 6)
        #expect(
            refused.stderr.contains("127.0.0.1:1")
                && refused.stderr.contains("refused: no server listens on that host and port"), "\(refused.stderr)")
        let unknown = try await w.run(["check", "--database-url", "postgres://postgres@no-such-host.invalid:5432/x"])
        #expect(unknown.status == 6)
        #expect(unknown.stderr.contains("no such host `no-such-host.invalid`"), "\(unknown.stderr)")
    }

    @Test func everyCommandExplainsItself() async throws {
        for command in [
            [], ["demo"], ["check"], ["plan"], ["apply"], ["run"], ["audit", "verify"], ["audit", "show"],
            ["audit", "reanchor"], ["hold", "add"], ["hold", "list"], ["hold", "release"], ["flagged"], ["serve"],
        ] {
            let result = try await BinaryRunner.run(command + ["--help"])
            #expect(result.status == 0, "\(command)")
            #expect(result.stdout.contains("USAGE"), "\(command)")
        }
        let bad = try await BinaryRunner.run(["plan", "--bogus"])
        #expect(bad.status == 64)
    }
}

/// Records the database refuses, as an operator meets them: exit status, message, metrics.
@Suite(.tags(.slow), .timeLimit(.minutes(30))) struct RecordFailureCommandLineTests {
    @Test func aRefusedRecordExitsTenAfterDoingEverythingElse() async throws {
        let w = try Workspace()
        try w.execute(
            "CREATE TRIGGER keep_one BEFORE DELETE ON contacts WHEN old.id = 1 BEGIN SELECT RAISE(ABORT, 'kept by the CRM'); END"
        )
        let metrics = w.dir.appendingPathComponent("retentiond.prom").path
        let run = try await w.run(["run", "--now", "2026-06-01T00:00:00Z", "--metrics-file", metrics])
        #expect(run.status == 10, "\(run.stderr)")
        #expect(run.stderr.contains("the database refused to change 1 record(s) (1 of rule `contact-purge`)"))
        #expect(try w.count("SELECT count(*) FROM contacts") == 2, "contact 2 purged, 1 refused, 3 not due")
        let text = try String(contentsOfFile: metrics, encoding: .utf8)
        #expect(text.contains("retentiond_records_failed{rule=\"contact-purge\"} 1"))
        #expect(text.contains("retentiond_last_run_success 0"))
        let report = try #require(
            try FileManager.default.contentsOfDirectory(atPath: w.dir.appendingPathComponent("reports").path).first {
                $0.hasSuffix(".md")
            })
        let markdown = try String(
            contentsOfFile: w.dir.appendingPathComponent("reports/\(report)").path, encoding: .utf8)
        #expect(markdown.contains("**failed: 1 record(s)**"))
        #expect(markdown.contains("kept by the CRM"))
    }
}
