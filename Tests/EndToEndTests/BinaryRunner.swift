import Foundation
import GRDB
import TestSupport

/// Runs the built `retentiond` binary as an operator would, capturing what it prints.
struct BinaryRunner {
    struct Result: Sendable {
        var status: Int32
        var stdout: String
        var stderr: String
    }

    /// The package root, where the shipped policy lives.
    static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    /// The binary sits beside the test bundle in the build folder.
    static let binary: URL = {
        let testBinary = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        var folder = testBinary.deletingLastPathComponent()
        for _ in 0..<4 {
            let candidate = folder.appendingPathComponent("retentiond")
            if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
            folder = folder.deletingLastPathComponent()
        }
        return packageRoot.appendingPathComponent(".build/debug/retentiond")
    }()

    /// The binary set up to run `arguments` in `directory`, without the systemd variables of the
    /// environment the tests run in.
    static func process(_ arguments: [String], in directory: URL) -> Process {
        let process = Process()
        process.executableURL = binary
        process.arguments = arguments
        process.currentDirectoryURL = directory
        var environment = ProcessInfo.processInfo.environment
        for name in [
            "STATE_DIRECTORY", "CREDENTIALS_DIRECTORY", "NOTIFY_SOCKET", "WATCHDOG_USEC", "JOURNAL_STREAM",
            "INVOCATION_ID",
        ] {
            environment.removeValue(forKey: name)
        }
        process.environment = environment
        return process
    }

    /// Starts several commands at once (each in its own process, output to files) and waits for all.
    static func runTogether(_ commands: [[String]], in directory: URL = packageRoot) async throws -> [Result] {
        try await offThePool { try runTogetherBlocking(commands, in: directory) }
    }

    private static func runTogetherBlocking(_ commands: [[String]], in directory: URL) throws -> [Result] {
        let started = try commands.map { try start($0, in: directory) }
        return started.map { started in
            started.process.waitUntilExit()
            return started.collect()
        }
    }

    /// The binary running, its output going to files (see `runBlocking`).
    struct Started {
        let process: Process
        let out: String
        let err: String

        /// Waits for the process to exit (without holding a thread) and reads what it printed.
        func result() async throws -> Result {
            try await process.exited()
            return collect()
        }

        fileprivate func collect() -> Result {
            defer {
                unlink(out)
                unlink(err)
            }
            return Result(
                status: process.terminationStatus, stdout: (try? String(contentsOfFile: out, encoding: .utf8)) ?? "",
                stderr: (try? String(contentsOfFile: err, encoding: .utf8)) ?? "")
        }
    }

    /// Starts the binary on `arguments` in `directory` and returns at once.
    static func start(_ arguments: [String], in directory: URL = packageRoot) throws -> Started {
        let process = process(arguments, in: directory)
        let base = FileManager.default.temporaryDirectory.appendingPathComponent(
            "retentiond-together-\(UUID().uuidString.prefix(8))"
        ).path
        _ = FileManager.default.createFile(atPath: base + ".out", contents: nil)
        _ = FileManager.default.createFile(atPath: base + ".err", contents: nil)
        process.standardOutput = FileHandle(forWritingAtPath: base + ".out")
        process.standardError = FileHandle(forWritingAtPath: base + ".err")
        try process.run()
        return Started(process: process, out: base + ".out", err: base + ".err")
    }

    /// Runs the binary and waits for it to exit, off the cooperative pool.
    @discardableResult
    static func run(_ arguments: [String], in directory: URL = packageRoot) async throws -> Result {
        try await offThePool { try runBlocking(arguments, in: directory) }
    }

    /// Runs another program (a browser, a shell script, script(1)) through posix_spawn: a browser
    /// leaves a crash handler running with the descriptor Foundation's Process watches for the
    /// exit, which would then never be seen.
    static func runProgram(_ executable: URL, _ arguments: [String]) async throws -> Result {
        let result = try await Spawn.run(executable.path, arguments)
        return Result(status: result.status, stdout: result.stdout, stderr: result.stderr)
    }

    /// Output goes to files, not pipes: a pipe's end is seen only when every process holding it
    /// has closed it, and a process another test starts at the same moment may inherit it.
    private static func runBlocking(_ arguments: [String], in directory: URL) throws -> Result {
        try runTogetherBlocking([arguments], in: directory)[0]
    }
}

/// A temporary directory with a small database and a policy for the binary to work on.
final class Workspace {
    let dir: URL
    var policy: String { dir.appendingPathComponent("policy.yaml").path }
    var database: String { dir.appendingPathComponent("crm.sqlite").path }

    init(policyBody: String? = nil, maxRecords: Int? = nil) throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("retentiond-e2e-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let queue = try DatabaseQueue(path: database)
        try queue.write { db in
            try db.execute(
                sql: """
                    CREATE TABLE contacts (id INTEGER PRIMARY KEY, email TEXT, phone TEXT, last_seen TEXT NOT NULL);
                    CREATE INDEX contacts_last_seen ON contacts(last_seen);
                    INSERT INTO contacts VALUES (1, 'old.one@example.fr', '0611223344', '2019-01-01');
                    INSERT INTO contacts VALUES (2, 'old.two@example.fr', '0655667788', '2020-06-01');
                    INSERT INTO contacts VALUES (3, 'recent@example.fr', '0699887766', '2026-01-01');
                    """)
        }
        try queue.close()
        try (policyBody ?? Self.policy(maxRecords: maxRecords)).write(toFile: policy, atomically: true, encoding: .utf8)
    }

    /// `CRMPolicies.contactPurge` as a whole policy, with the options the tests vary.
    static func policy(
        maxRecords: Int? = nil, batchSize: Int = 500, schedule: String? = nil,
        stateDir: String = ".", database: String = "{ sqlite: crm.sqlite }"
    ) -> String {
        let safety = maxRecords.map { "\n        safety: { max_records: \($0) }" } ?? ""
        return """
            version: 1
            time_zone: Europe/Paris
            state_dir: \(stateDir)
            database: \(database)
            batch_size: \(batchSize)
            safety: { max_percent: 100 }\(schedule.map { "\nschedule: \($0)" } ?? "")

            """ + CRMPolicies.contactPurge + safety
    }

    deinit { try? FileManager.default.removeItem(at: dir) }

    func run(_ arguments: [String]) async throws -> BinaryRunner.Result {
        try await BinaryRunner.run(arguments + ["--config", policy], in: dir)
    }

    func execute(_ sql: String) throws {
        let queue = try DatabaseQueue(path: database)
        defer { try? queue.close() }
        try queue.write { try $0.execute(sql: sql) }
    }

    func count(_ sql: String) throws -> Int {
        let queue = try DatabaseQueue(path: database)
        defer { try? queue.close() }
        return try queue.read { try Int.fetchOne($0, sql: sql) ?? -1 }
    }

    /// Runs `statements` on the database in one transaction, as someone with the file would.
    func sql(_ statements: [String]) throws {
        let queue = try DatabaseQueue(path: database)
        defer { try? queue.close() }
        try queue.write { db in for statement in statements { try db.execute(sql: statement) } }
    }
}

extension Process {
    /// Waits for the process to exit without blocking a thread (`waitUntilExit` would hold one of
    /// the test runner's cooperative threads).
    func exited() async throws {
        while isRunning { try await Task.sleep(for: .milliseconds(10)) }
    }

    /// Waits `seconds`, or until the process exits if it does sooner: a kill timed at random
    /// within a run's length never waits past the run's end (the run that gave that length may
    /// have shared the machine with the whole suite, and a run that follows it alone ends sooner).
    func exited(orAfter seconds: Double) async throws {
        let deadline = ContinuousClock.now + .seconds(seconds)
        while isRunning, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(10)) }
    }
}
