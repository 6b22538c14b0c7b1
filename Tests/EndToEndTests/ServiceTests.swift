import Foundation
import GRDB
import RetentionCore
import Testing

/// `retentiond serve` under a stand-in for systemd, and what a timer-run leaves for monitoring.
@Suite(.tags(.slow), .timeLimit(.minutes(30))) struct ServiceTests {
    static func policy(schedule: String, batchSize: Int = 500) -> String {
        Workspace.policy(batchSize: batchSize, schedule: schedule)
    }

    @Test func itTellsSystemdItIsReadyKeepsTheWatchdogFedAndStopsCleanly() async throws {
        let w = try Workspace(policyBody: Self.policy(schedule: "{ every: 1h }"))
        let notify = try NotifySocket()
        let service = try ServiceProcess(
            arguments: ["--config", w.policy], in: w.dir, notify: notify, watchdogMicroseconds: 200_000)
        #expect(try await service.notification { $0.contains("READY=1") } != nil, "no READY=1: \(service.stderr)")
        #expect(try await service.notification { $0.contains("WATCHDOG=1") } != nil)
        service.signal(SIGTERM)
        #expect(try await service.notification { $0.contains("STOPPING=1") } != nil)
        #expect(try await service.exitStatus() == 0)
        let ready = try #require(notify.messages.firstIndex { $0.contains("READY=1") })
        let stopping = try #require(notify.messages.firstIndex { $0.contains("STOPPING=1") })
        #expect(ready < stopping)
    }

    /// The metrics file exists once the service is ready, though its first run is an hour away:
    /// what carries over from earlier runs, and no sample that claims a run of its own.
    @Test func itWritesItsMetricsAtStartWithoutClaimingARun() async throws {
        let w = try Workspace(policyBody: Self.policy(schedule: "{ every: 1h }"))
        let metrics = w.dir.appendingPathComponent("retentiond.prom").path
        #expect(try await w.run(["run", "--metrics-file", metrics, "--now", "2026-06-01T00:00:00Z"]).status == 0)
        let before = try Self.parseMetrics(try String(contentsOfFile: metrics, encoding: .utf8))
        try FileManager.default.removeItem(atPath: metrics)
        try
            "retentiond_run_failures_total 2\nretentiond_last_success_timestamp_seconds \(before["retentiond_last_success_timestamp_seconds"] ?? 0)\n"
            .write(toFile: metrics, atomically: true, encoding: .utf8)

        let notify = try NotifySocket()
        let service = try ServiceProcess(
            arguments: ["--config", w.policy, "--metrics-file", metrics], in: w.dir, notify: notify)
        defer { service.signal(SIGTERM) }
        #expect(try await service.notification { $0.contains("READY=1") } != nil, "no READY=1: \(service.stderr)")
        let text = try String(contentsOfFile: metrics, encoding: .utf8)
        #expect(
            text.contains("# TYPE retentiond_run_failures_total counter"), "written by the service at start: \(text)")
        let started = try Self.parseMetrics(text)
        #expect(started["retentiond_run_failures_total"] == 2, "carried over, not counted again")
        #expect(
            started["retentiond_last_success_timestamp_seconds"] == before["retentiond_last_success_timestamp_seconds"])
        #expect(
            started["retentiond_last_run_success"] == nil && started["retentiond_last_run_timestamp_seconds"] == nil,
            "no run claimed: \(started)")
        service.signal(SIGTERM)
        #expect(try await service.exitStatus() == 0)
    }

    @Test func anInvalidPolicyAtStartExitsThreeBeforeReady() async throws {
        let w = try Workspace(
            policyBody: Self.policy(schedule: "{ every: 1h }").replacingOccurrences(
                of: "clock: last_seen", with: "clock: last_sen"))
        let notify = try NotifySocket()
        let service = try ServiceProcess(arguments: ["--config", w.policy], in: w.dir, notify: notify)
        #expect(try await service.exitStatus() == 3)
        #expect(!notify.messages.contains { $0.contains("READY=1") })
        #expect(service.stderr.contains("has no column `last_sen`"))
    }

    @Test func sigtermInTheMiddleOfALargeRunLeavesOnlyWholeBatchesAndTheNextRunFinishes() async throws {
        let w = try Workspace(policyBody: Self.policy(schedule: "{ every: 1h, run_at_start: true }", batchSize: 2))
        let total = 20_000
        try w.execute(
            "DELETE FROM contacts; WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < \(total)) INSERT INTO contacts SELECT i, 'c' || i || '@example.fr', NULL, '2019-01-01' FROM n;"
        )
        let notify = try NotifySocket()
        let service = try ServiceProcess(arguments: ["--config", w.policy], in: w.dir, notify: notify)
        #expect(try await service.notification { $0.contains("STATUS=running") } != nil, "\(service.stderr)")

        // Wait until some batches are committed, then ask the service to stop.
        var config = Configuration()
        config.readonly = true
        config.busyMode = .timeout(5)
        let reader = try DatabaseQueue(path: w.database, configuration: config)
        while service.process.isRunning {
            let purged = try await reader.read { db -> Int in
                // sqlite_master itself, not GRDB's schema cache: the run creates the table meanwhile.
                guard
                    try Int.fetchOne(db, sql: "SELECT count(*) FROM sqlite_master WHERE name = 'retentiond_audit'") == 1
                else { return 0 }
                return try Int.fetchOne(db, sql: "SELECT count(*) FROM retentiond_audit WHERE action = 'purge'") ?? 0
            }
            if purged > 0 { break }
            try await Task.sleep(for: .milliseconds(20))
        }
        service.signal(SIGTERM)
        #expect(try await service.exitStatus() == 0, "\(service.stderr)")

        let remaining = try await reader.read { try Int64.fetchAll($0, sql: "SELECT id FROM contacts ORDER BY id") }
        let refs = try await reader.read {
            try String.fetchAll($0, sql: "SELECT subject_ref FROM retentiond_audit WHERE action = 'purge'")
        }
        try reader.close()
        let deleted = Set(Int64(1)...Int64(total)).subtracting(remaining)
        #expect(
            !deleted.isEmpty && deleted.count < total,
            "the stop must land in the middle of the run (deleted \(deleted.count))")
        #expect(deleted.count % 2 == 0, "only whole batches of 2 are applied")
        let key = try AuditKey.load(path: w.dir.appendingPathComponent("audit.key").path, createIfMissing: false).key
        let chain = AuditChain(key: key)
        #expect(
            Set(refs) == Set(deleted.map { chain.reference(table: "contacts", key: RecordKey([.integer($0)])) }),
            "every deleted record has its audit entry and no other has one")
        #expect(service.stderr.contains("run stopped at a batch boundary"))

        let next = try await w.run(["run", "--batch-size", "1000"])
        #expect(next.status == 0, "\(next.stderr)")
        #expect(try w.count("SELECT count(*) FROM contacts") == 0)
        #expect(try await w.run(["audit", "verify"]).status == 0)
    }

    @Test func sighupWithABrokenPolicyKeepsTheServiceOnTheOldOne() async throws {
        let w = try Workspace(policyBody: Self.policy(schedule: "{ every: 1h }"))
        let notify = try NotifySocket()
        let service = try ServiceProcess(arguments: ["--config", w.policy], in: w.dir, notify: notify)
        #expect(try await service.notification { $0.contains("READY=1") } != nil)
        let valid = try String(contentsOfFile: w.policy, encoding: .utf8)
        try valid.replacingOccurrences(of: "after: 3y", with: "after: 3 eons").write(
            toFile: w.policy, atomically: true, encoding: .utf8)
        service.signal(SIGHUP)
        let failed = try await service.notification { $0.contains("policy reload failed") }
        #expect(failed?.contains("still enforcing the previous policy") == true)
        #expect(service.process.isRunning)
        #expect(service.stderr.contains("unknown duration unit `eons`"))

        try valid.replacingOccurrences(of: "after: 3y", with: "after: 4y").write(
            toFile: w.policy, atomically: true, encoding: .utf8)
        service.signal(SIGHUP)
        #expect(try await service.notification { $0.contains("STATUS=policy reloaded") } != nil)
        service.signal(SIGTERM)
        #expect(try await service.exitStatus() == 0)
    }

    /// Parses the Prometheus text exposition format strictly enough to catch a malformed file.
    static func parseMetrics(_ text: String) throws -> [String: Double] {
        var typed = Set<String>()
        var samples: [String: Double] = [:]
        let sample = try Regex(
            #"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\]|\\.)*"(?:,[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\]|\\.)*")*\})? (-?[0-9.]+(?:[eE][-+]?[0-9]+)?)$"#
        )
        for line in text.split(separator: "\n", omittingEmptySubsequences: false).dropLast() {
            if line.hasPrefix("# TYPE ") {
                let parts = line.split(separator: " ")
                #expect(parts.count == 4 && ["gauge", "counter"].contains(parts[3]), "bad TYPE line: \(line)")
                typed.insert(String(parts[2]))
            } else if line.hasPrefix("# HELP ") {
                continue
            } else {
                let match = try #require(try sample.wholeMatch(in: String(line)), "not a sample line: \(line)")
                let name = String(match.output[1].substring!)
                #expect(typed.contains(name), "\(name) has no TYPE line before it")
                samples[name + (match.output[2].substring.map(String.init) ?? "")] = Double(
                    String(match.output[3].substring!))
            }
        }
        #expect(text.hasSuffix("\n"))
        return samples
    }

    @Test func aRunThatFailsBeforePlanningStillUpdatesTheMetrics() async throws {
        let w = try Workspace()
        let metrics = w.dir.appendingPathComponent("retentiond.prom").path
        #expect(try await w.run(["run", "--metrics-file", metrics, "--now", "2026-06-01T00:00:00Z"]).status == 0)
        #expect(
            try Self.parseMetrics(try String(contentsOfFile: metrics, encoding: .utf8))["retentiond_last_run_success"]
                == 1)
        // The database goes away: the next run fails before it plans, and monitoring must see it.
        try FileManager.default.removeItem(atPath: w.database)
        #expect(try await w.run(["run", "--metrics-file", metrics, "--now", "2026-06-01T01:00:00Z"]).status == 6)
        let samples = try Self.parseMetrics(try String(contentsOfFile: metrics, encoding: .utf8))
        #expect(samples["retentiond_last_run_success"] == 0)
        #expect(samples["retentiond_run_failures_total"] == 1)
        #expect(samples["retentiond_last_success_timestamp_seconds"] != nil, "the last success is carried over")
    }

    @Test func theMetricsFileParsesAndMatchesTheReport() async throws {
        let w = try Workspace()
        let metrics = w.dir.appendingPathComponent("retentiond.prom").path
        #expect(try await w.run(["run", "--metrics-file", metrics, "--now", "2026-06-01T00:00:00Z"]).status == 0)
        let samples = try Self.parseMetrics(try String(contentsOfFile: metrics, encoding: .utf8))
        let reports = w.dir.appendingPathComponent("reports")
        let json = try #require(
            try FileManager.default.contentsOfDirectory(atPath: reports.path).first { $0.hasSuffix(".json") })
        let report =
            try JSONSerialization.jsonObject(with: Data(contentsOf: reports.appendingPathComponent(json)))
            as! [String: Any]
        let rule = (report["rules"] as! [[String: Any]])[0]
        for field in ["due", "flagged", "anonymised", "purged", "stale"] {
            #expect(
                samples["retentiond_records_\(field){rule=\"contact-purge\"}"] == Double(rule[field] as! Int),
                "\(field)")
        }
        #expect(samples["retentiond_records_purged{rule=\"contact-purge\"}"] == 2)
        #expect(samples["retentiond_run_failures_total"] == 0)
        #expect(samples["retentiond_last_run_success"] == 1)
        let lastSuccess = try #require(samples["retentiond_last_success_timestamp_seconds"])
        #expect(abs(lastSuccess - Date().timeIntervalSince1970) < 120)

        // A refused run counts as a failure and leaves the last success where it was.
        #expect(try await w.run(["run", "--metrics-file", metrics, "--now", "2026-05-01T00:00:00Z"]).status == 8)
        let after = try Self.parseMetrics(try String(contentsOfFile: metrics, encoding: .utf8))
        #expect(after["retentiond_run_failures_total"] == 1)
        #expect(after["retentiond_last_run_success"] == 0)
        #expect(after["retentiond_last_success_timestamp_seconds"] == lastSuccess)
        let mode = try FileManager.default.attributesOfItem(atPath: metrics)[.posixPermissions] as? Int
        #expect(mode == 0o644, "node_exporter must be able to read it")
    }

    @Test func underTheJournalLinesCarrySyslogPrioritiesAndNoTimestamps() async throws {
        let w = try Workspace()
        try w.execute("DROP INDEX contacts_last_seen")
        let process = Process()
        process.executableURL = BinaryRunner.binary
        process.arguments = ["check", "--config", w.policy]
        // The journal's stream is whatever stderr is: a file here (a pipe could be inherited by
        // another test's process and never end).
        let errPath = w.dir.appendingPathComponent("journal.err").path
        _ = FileManager.default.createFile(atPath: errPath, contents: nil)
        let err = try #require(FileHandle(forWritingAtPath: errPath))
        var info = stat()
        fstat(err.fileDescriptor, &info)
        var environment = ProcessInfo.processInfo.environment
        environment["JOURNAL_STREAM"] = "\(info.st_dev):\(info.st_ino)"
        process.environment = environment
        process.standardError = err
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        try await process.exited()
        try err.close()
        let text = try String(contentsOfFile: errPath, encoding: .utf8)
        #expect(process.terminationStatus == 0)
        let lines = text.split(separator: "\n")
        #expect(!lines.isEmpty)
        #expect(lines.allSatisfy { $0.hasPrefix("<4>") }, "\(text)")
        #expect(text.contains("no index starts with `contacts.last_seen`"))
    }

    @Test func jsonLogsAreOneObjectPerLine() async throws {
        let w = try Workspace(policyBody: Self.policy(schedule: "{ every: 1h }"))
        let notify = try NotifySocket()
        let service = try ServiceProcess(
            arguments: ["--config", w.policy, "--log-format", "json", "--log-level", "info"], in: w.dir, notify: notify)
        #expect(try await service.notification { $0.contains("READY=1") } != nil)
        service.signal(SIGTERM)
        #expect(try await service.exitStatus() == 0)
        let lines = service.stderr.split(separator: "\n")
        #expect(lines.count >= 2)
        for line in lines {
            let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
            #expect(object?["level"] != nil && object?["message"] != nil, "\(line)")
        }
        #expect(service.stderr.contains("\"message\":\"ready\""))
    }
}

/// `run` (the timer's oneshot) stopped by systemd: whole batches, its report and metrics.
@Suite(.tags(.slow), .timeLimit(.minutes(30))) struct RunStopTests {
    @Test func sigtermStopsARunAtABatchBoundaryAndItStillReports() async throws {
        let w = try Workspace(policyBody: Workspace.policy(batchSize: 2))
        let total = 20_000
        try w.execute(
            "DELETE FROM contacts; WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < \(total)) INSERT INTO contacts SELECT i, 'c' || i || '@example.fr', NULL, '2019-01-01' FROM n;"
        )
        let metrics = w.dir.appendingPathComponent("retentiond.prom").path
        let process = BinaryRunner.process(
            ["run", "--config", w.policy, "--now", "2026-06-01T00:00:00Z", "--metrics-file", metrics], in: w.dir)
        let stderrPath = w.dir.appendingPathComponent("run.err").path
        _ = FileManager.default.createFile(atPath: stderrPath, contents: nil)
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle(forWritingAtPath: stderrPath)
        try process.run()

        // Wait until batches are being committed, then stop it as systemd would.
        var config = Configuration()
        config.readonly = true
        config.busyMode = .timeout(5)
        let reader = try DatabaseQueue(path: w.database, configuration: config)
        while process.isRunning {
            let purged = try await reader.read { db -> Int in
                // sqlite_master itself, not GRDB's schema cache: the run creates the table meanwhile.
                guard
                    try Int.fetchOne(db, sql: "SELECT count(*) FROM sqlite_master WHERE name = 'retentiond_audit'") == 1
                else { return 0 }
                return try Int.fetchOne(db, sql: "SELECT count(*) FROM retentiond_audit WHERE action = 'purge'") ?? 0
            }
            if purged > 0 { break }
            try await Task.sleep(for: .milliseconds(10))
        }
        kill(process.processIdentifier, SIGTERM)
        try await process.exited()
        let stderr = (try? String(contentsOfFile: stderrPath, encoding: .utf8)) ?? ""
        #expect(process.terminationStatus == 143, "\(stderr)")
        #expect(stderr.contains("retentiond: stopping at the next batch boundary (SIGTERM)"))
        #expect(!stderr.contains("error: stopping"), "stopping on request is not an error")

        let remaining = try await reader.read { try Int.fetchOne($0, sql: "SELECT count(*) FROM contacts") ?? -1 }
        let purged = try await reader.read {
            try Int.fetchOne($0, sql: "SELECT count(*) FROM retentiond_audit WHERE action = 'purge'") ?? -1
        }
        try reader.close()
        #expect(remaining > 0 && remaining < total, "stopped in the middle (\(remaining) left)")
        #expect(purged == total - remaining && purged % 2 == 0, "only whole batches, each audited")
        let reports = w.dir.appendingPathComponent("reports").path
        let json = try #require(
            try FileManager.default.contentsOfDirectory(atPath: reports).first { $0.hasSuffix(".json") })
        let report =
            try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: reports + "/" + json)))
            as? [String: Any]
        #expect(report?["status"] as? String == "incomplete")
        #expect(try String(contentsOfFile: metrics, encoding: .utf8).contains("retentiond_last_run_success 0"))

        let next = try await w.run(["run", "--now", "2026-06-01T00:01:00Z", "--batch-size", "1000"])
        #expect(next.status == 0, "\(next.stderr)")
        #expect(try w.count("SELECT count(*) FROM contacts") == 0)
        #expect(try await w.run(["audit", "verify"]).status == 0)
    }
}
