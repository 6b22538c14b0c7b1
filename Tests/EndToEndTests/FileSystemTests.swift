import Foundation
import GRDB
import Testing

/// Files an operator gets wrong — a FIFO for a database, a symlinked key or database, a state
/// directory that cannot be written — give a message saying what to do and a documented status.
@Suite(.tags(.slow), .timeLimit(.minutes(30))) struct FileSystemTests {
    let now = ["--now", "2026-06-01T00:00:00Z"]

    @Test func aDatabasePathThatIsNotARegularFileIsRefusedAtOnce() async throws {
        let w = try Workspace()
        let fifo = w.dir.appendingPathComponent("fifo.sqlite").path
        #expect(mkfifo(fifo, 0o600) == 0)
        try Workspace.policy(database: "{ sqlite: fifo.sqlite }").write(
            toFile: w.policy, atomically: true, encoding: .utf8)
        let check = try await w.run(["check"])
        #expect(check.status == 6)
        #expect(check.stderr.contains("not a regular file (a FIFO, device or directory)"))
    }

    @Test func aSymlinkedKeyFileIsJudgedByTheFileItNames() async throws {
        let w = try Workspace()
        #expect(try await w.run(["run"] + now).status == 0)
        let key = w.dir.appendingPathComponent("audit.key").path
        let kept = w.dir.appendingPathComponent("vault-audit.key").path
        try FileManager.default.moveItem(atPath: key, toPath: kept)
        try FileManager.default.createSymbolicLink(atPath: key, withDestinationPath: kept)
        #expect(try await w.run(["audit", "verify"]).status == 0, "a link to a 0600 key is fine")
        #expect(chmod(kept, 0o644) == 0)
        let open = try await w.run(["audit", "verify"])
        #expect(open.status == 8)
        #expect(open.stderr.contains("is readable by others (mode 644)"))
    }

    @Test func aRunThroughASymlinkSharesTheLockOfTheRealFile() async throws {
        let w = try Workspace()
        let link = w.dir.appendingPathComponent("link.sqlite").path
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: w.database)
        // Another run holds the lock of the real file.
        let lock = open(w.database + ".retentiond-lock", O_RDWR | O_CREAT, 0o600)
        #expect(flock(lock, LOCK_EX | LOCK_NB) == 0)
        defer { close(lock) }
        try Workspace.policy(database: "{ sqlite: link.sqlite }").write(
            toFile: w.policy, atomically: true, encoding: .utf8)
        let run = try await w.run(["run"] + now)
        #expect(run.status == 5, "\(run.stderr)")
        #expect(try w.count("SELECT count(*) FROM contacts") == 3)
    }

    @Test func aLockFileThatCannotBeOpenedSaysWhatToDo() async throws {
        let w = try Workspace()
        try FileManager.default.createDirectory(
            atPath: w.database + ".retentiond-lock", withIntermediateDirectories: false)
        let run = try await w.run(["run"] + now)
        #expect(run.status == 6)
        #expect(run.stderr.contains("needs write access to the database's directory"))
    }

    /// A user who may read the database but not write it, nor its directory: `check` names both
    /// (as `check` names a PostgreSQL role's missing grants), and a run that goes ahead anyway
    /// says what to grant. Run as `nobody` when the tests run as root, who may write anything.
    @Test func checkNamesADatabaseFileOrDirectoryTheUserCannotWrite() async throws {
        let w = try Workspace()
        let asRoot = getuid() == 0
        // A copy the other user can reach, wherever the build folder is (under /root, say).
        let binary = w.dir.appendingPathComponent("retentiond-copy").path
        try Self.copyExecutable(BinaryRunner.binary.path, to: binary)
        func run(_ arguments: [String]) async throws -> BinaryRunner.Result {
            let command = [binary] + arguments + ["--config", w.policy, "--now", "2026-06-01T00:00:00Z"]
            return asRoot
                ? try await BinaryRunner.runProgram(
                    URL(fileURLWithPath: "/usr/sbin/runuser"), ["-u", "nobody", "--"] + command)
                : try await BinaryRunner.runProgram(URL(fileURLWithPath: binary), Array(command.dropFirst()))
        }
        if !asRoot { #expect(chmod(w.database, 0o444) == 0 && chmod(w.dir.path, 0o555) == 0) }
        defer { _ = chmod(w.dir.path, 0o755) }
        let check = try await run(["check"])
        #expect(check.status == 3, "\(check.stderr)")
        #expect(
            check.stderr.contains("error: the database file \(w.database) is not writable by this user"),
            "\(check.stderr)")
        #expect(
            check.stderr.contains("error: the directory \(w.dir.path) is not writable by this user"), "\(check.stderr)")
        #expect(check.stderr.contains("SQLite writes its rollback journal there"), "\(check.stderr)")
        #expect(check.stderr.contains("the audit chain head and plans go there"), "\(check.stderr)")
        // Planning reads the database, and writes only its report.
        let planning = try await run(["check", "--for-planning"])
        #expect(planning.status == 3)
        #expect(
            planning.stderr.contains(
                "error: the directory \(w.dir.path) (where \(w.dir.path)/reports would be created) is not writable by this user"
            ), "\(planning.stderr)")
        #expect(
            !planning.stderr.contains("database file") && !planning.stderr.contains("chain head"), "\(planning.stderr)")
        #expect(
            try await run(["check", "--for-planning", "--reports-dir", "/tmp"]).status == 0, "reading is enough to plan"
        )

        // The directory writable (the audit key, the run lock, the journal go there), not the file.
        #expect(chmod(w.dir.path, 0o777) == 0)
        let enforce = try await run(["run"])
        #expect(enforce.status == 6, "\(enforce.stderr)")
        #expect(
            enforce.stderr.contains("must be able to write the database file and its directory"), "\(enforce.stderr)")
        #expect(try w.count("SELECT count(*) FROM contacts") == 3)
    }

    @Test func anUnwritableStateOrReportsDirectoryIsNamedWithoutARawDump() async throws {
        let w = try Workspace()
        let file = w.dir.appendingPathComponent("not-a-directory").path
        #expect(FileManager.default.createFile(atPath: file, contents: Data("x".utf8)))
        let plan = try await w.run(["plan", "--reports-dir", file + "/reports"] + now)
        #expect(plan.status == 9)
        #expect(plan.stderr.contains("cannot write \(file): Not a directory"))
        #expect(!plan.stderr.contains("NSCocoaErrorDomain"))
    }

    @Test func readOnlyCommandsRecoverADatabaseACrashLeftMidCommit() async throws {
        let w = try Workspace()
        #expect(try await w.run(["run", "--now", "2026-06-01T00:00:00Z"]).status == 0)
        try w.execute(
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 2000) INSERT INTO contacts SELECT 100 + i, printf('%.500c', 'x'), NULL, '2026-01-01' FROM n"
        )
        // Freeze the files in the middle of a transaction, as a crash would leave them: the
        // database half-written (a one-page cache spills) beside its hot journal.
        let crashed = w.dir.appendingPathComponent("crashed")
        try FileManager.default.createDirectory(at: crashed, withIntermediateDirectories: true)
        let queue = try DatabaseQueue(path: w.database)
        let database = w.database
        try await queue.writeWithoutTransaction { db in
            try db.execute(sql: "PRAGMA cache_size = 1")
            try db.execute(sql: "BEGIN IMMEDIATE")
            try db.execute(sql: "UPDATE contacts SET email = upper(email)")
            for suffix in ["", "-journal"] {
                try FileManager.default.copyItem(
                    atPath: database + suffix, toPath: crashed.appendingPathComponent("crm.sqlite" + suffix).path)
            }
            try db.execute(sql: "ROLLBACK")
        }
        try queue.close()
        for file in ["policy.yaml", "audit.key", "audit-head.json"] {
            try FileManager.default.copyItem(
                at: w.dir.appendingPathComponent(file), to: crashed.appendingPathComponent(file))
        }
        #expect(FileManager.default.fileExists(atPath: crashed.appendingPathComponent("crm.sqlite-journal").path))

        let verify = try await BinaryRunner.run(["audit", "verify", "--config", "policy.yaml"], in: crashed)
        #expect(verify.status == 0, "\(verify.stderr)")
        let plan = try await BinaryRunner.run(
            ["plan", "--config", "policy.yaml", "--now", "2026-06-01T00:00:00Z"], in: crashed)
        #expect(plan.status == 0, "\(plan.stderr)")
        let recovered = try DatabaseQueue(path: crashed.appendingPathComponent("crm.sqlite").path)
        defer { try? recovered.close() }
        #expect(
            try await recovered.read {
                try Int.fetchOne(
                    $0, sql: "SELECT count(*) FROM contacts WHERE email = upper(email) AND email LIKE '%X%'")
            } == 0,
            "the interrupted transaction was rolled back")
    }

    @Test func aPlanSavedInTheCurrentDirectoryIsAppliedWithTheCommandItPrints() async throws {
        let w = try Workspace()
        let plan = try await w.run(["plan", "--out", "review.plan", "--state-dir", "."] + now)
        #expect(plan.status == 2, "\(plan.stderr)")
        let hint = try #require(plan.stdout.split(separator: "\n").first { $0.hasPrefix("plan: review.plan") })
        #expect(hint.contains("--state-dir ."))
        let apply = try await w.run(["apply", "review.plan", "--state-dir", "."] + now)
        #expect(apply.status == 0, "\(apply.stderr)")
        #expect(try w.count("SELECT count(*) FROM contacts") == 1)
    }

    /// Makes `destination` run `source`: a hard link when both are on one file system, else a copy
    /// written through a close-on-exec descriptor. A copy's write descriptor, open while another
    /// test of this process starts a program, is inherited by the program until it executes (or
    /// for its life): executing the copy then fails with ETXTBSY ("Text file busy"), as it did
    /// once in five runs of the suite under load. A link writes nothing.
    static func copyExecutable(_ source: String, to destination: String) throws {
        if link(source, destination) == 0 { return }
        let bytes = try Data(contentsOf: URL(fileURLWithPath: source))
        let fd = open(destination, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o755)
        guard fd >= 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
        defer { close(fd) }
        try bytes.withUnsafeBytes { buffer in
            var offset = 0
            while offset < buffer.count {
                let written = write(fd, buffer.baseAddress! + offset, buffer.count - offset)
                guard written > 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
                offset += written
            }
        }
    }
}
