import Foundation
import TestSupport
import Testing

/// Every retentiond command shown in a shell block of README.md and docs/, run exactly as written,
/// in the order of its document, by /bin/sh with the built binary first on PATH.
///
/// Each document runs in a fresh working directory set up as an installed machine would be:
/// `etc/retentiond/retentiond.yaml` there is the shipped policy with its state directory moved into
/// the sandbox (the commands find it there as they find /etc/retentiond/retentiond.yaml on a
/// server). Two translations, of the invocation only: `swift run retentiond` is the built binary (a
/// nested SwiftPM build would wait on this build's lock), and a leading `sudo` is dropped. A line
/// that only makes folders and copies files by relative paths (`mkdir -p offsite && cp … offsite/`)
/// runs in the sandbox too. Lines of other programs (systemctl, install, journalctl) change the
/// machine and are not run here:
/// scripts/install.sh is run into a temporary root by InstallTests, and CI checks the units with
/// systemd-analyze.
@Suite(.tags(.slow), .timeLimit(.minutes(30))) struct DocumentedCommandsTests {
    struct Command: CustomStringConvertible {
        var file: String
        var line: Int
        var text: String
        var description: String { "\(file):\(line): \(text)" }
        /// The same command with the built binary in place of `swift run retentiond`, without `sudo`.
        var invocation: String {
            var text = self.text
            if text.hasPrefix("sudo ") { text.removeFirst("sudo ".count) }
            if text.hasPrefix("swift run retentiond") { text.removeFirst("swift run ".count) }
            return text
        }
        var subcommand: String { invocation.split(separator: " ").dropFirst().first.map(String.init) ?? "" }
    }

    static let documents =
        ["README.md"]
        + ((try? FileManager.default.contentsOfDirectory(
            atPath: BinaryRunner.packageRoot.appendingPathComponent("docs").path)) ?? []).filter { $0.hasSuffix(".md") }
        .sorted().map { "docs/" + $0 }

    /// The retentiond command lines of a document's `sh` blocks, continuation lines joined and
    /// trailing comments removed.
    static func commands(in document: String) throws -> [Command] {
        let text = try String(contentsOf: BinaryRunner.packageRoot.appendingPathComponent(document), encoding: .utf8)
        var commands: [Command] = []
        var inShellBlock = false
        var inOtherBlock = false
        var pending: (line: Int, text: String)?
        for (index, raw) in text.components(separatedBy: "\n").enumerated() {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.hasPrefix("```") {
                if inShellBlock || inOtherBlock {
                    inShellBlock = false
                    inOtherBlock = false
                } else if line == "```sh" {
                    inShellBlock = true
                } else {
                    inOtherBlock = true
                }
                continue
            }
            guard inShellBlock else { continue }
            let joined = (pending?.text ?? "") + line
            let start = pending?.line ?? index + 1
            if joined.hasSuffix("\\") {
                pending = (start, String(joined.dropLast()) + " ")
                continue
            }
            pending = nil
            let command = withoutComment(joined)
            if command.range(of: #"^(sudo )?(swift run )?retentiond( |$)"#, options: .regularExpression) != nil
                || copiesInPlace(command)
            {
                commands.append(Command(file: document, line: start, text: command))
            }
        }
        return commands
    }

    /// `mkdir -p A && cp B C`: only folders made and files copied, every path relative.
    static func copiesInPlace(_ command: String) -> Bool {
        command.components(separatedBy: " && ").allSatisfy { part in
            let words = part.split(separator: " ").map(String.init)
            guard let program = words.first, ["mkdir", "cp"].contains(program) else { return false }
            return words.dropFirst().allSatisfy { !$0.hasPrefix("/") && !$0.contains("..") && !$0.contains("$") }
        }
    }

    /// The line up to a `#` that starts a shell comment (after a blank, outside quotes).
    static func withoutComment(_ line: String) -> String {
        var quote: Character?
        var previous: Character = " "
        for (offset, character) in line.enumerated() {
            if let open = quote {
                if character == open { quote = nil }
            } else if character == "'" || character == "\"" {
                quote = character
            } else if character == "#", previous == " " {
                return String(line.prefix(offset)).trimmingCharacters(in: .whitespaces)
            }
            previous = character
        }
        return line.trimmingCharacters(in: .whitespaces)
    }

    /// A working directory with the shipped policy where a server has it, its state directory in
    /// the sandbox and, for PostgreSQL, its database on the test server.
    struct Sandbox {
        let dir: URL
        var state: URL { dir.appendingPathComponent("retentiond-demo") }
        var environment: [String] = []

        init(database: String? = nil) throws {
            dir = FileManager.default.temporaryDirectory.appendingPathComponent(
                "retentiond-docs-\(UUID().uuidString.prefix(8))")
            try FileManager.default.createDirectory(
                at: dir.appendingPathComponent("etc/retentiond"), withIntermediateDirectories: true)
            var policy = try String(
                contentsOf: BinaryRunner.packageRoot.appendingPathComponent("etc/retentiond/retentiond.yaml"),
                encoding: .utf8)
            policy = policy.replacingOccurrences(
                of: "\nstate_dir: /var/lib/retentiond\n", with: "\nstate_dir: \(dir.path)/retentiond-demo\n")
            if let database {
                policy = policy.replacingOccurrences(
                    of: "\ndatabase: { sqlite: crm.sqlite }\n", with: "\ndatabase: \(database)\n")
            }
            try policy.write(
                to: dir.appendingPathComponent("etc/retentiond/retentiond.yaml"), atomically: true, encoding: .utf8)
        }

        /// `/usr/bin/env` arguments that run `command` here as an operator's shell would.
        func shell(_ command: String, with extra: [String] = []) -> [String] {
            [
                "-u", "STATE_DIRECTORY", "-u", "CREDENTIALS_DIRECTORY", "-u", "NOTIFY_SOCKET", "-u", "WATCHDOG_USEC",
                "-u", "JOURNAL_STREAM",
                "PATH=\(BinaryRunner.binary.deletingLastPathComponent().path):\(ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin")",
            ]
                + environment + extra + [
                    "/bin/sh", "-c", "cd '\(dir.path)' && " + (command.contains(" && ") ? command : "exec " + command),
                ]
        }

        /// Runs one documented command; `serve` until it is ready, then stopped as systemd stops it.
        func run(_ command: Command) async throws {
            if command.subcommand == "serve" {
                let notify = try NotifySocket()
                let process = Process()
                process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
                process.arguments = shell(command.invocation, with: ["NOTIFY_SOCKET=\(notify.path)"])
                let errors = dir.appendingPathComponent("serve.err")
                _ = FileManager.default.createFile(atPath: errors.path, contents: nil)
                process.standardOutput = FileHandle.nullDevice
                process.standardError = FileHandle(forWritingAtPath: errors.path)
                try process.run()
                let ready = try await notify.waitFor(while: { process.isRunning }) { $0.contains("READY=1") }
                let stderr = { (try? String(contentsOf: errors, encoding: .utf8)) ?? "" }
                #expect(ready != nil, "\(command) never became ready: \(stderr())")
                kill(process.processIdentifier, SIGTERM)
                try await process.exited()
                #expect(
                    process.terminationStatus == 0, "\(command) stopped with \(process.terminationStatus): \(stderr())")
                return
            }
            let result = try await Spawn.run("/usr/bin/env", shell(command.invocation))
            // A dry run that finds work exits 2 ("changes planned"); re-anchoring the documents' intact
            // demo trail is refused as documented (exit 8: nothing to re-anchor); everything else succeeds.
            let reanchoringIntact =
                command.invocation.hasPrefix("retentiond audit reanchor")
                && result.stderr.contains("there is nothing to re-anchor")
            let accepted: Set<Int32> = command.subcommand == "plan" ? [0, 2] : reanchoringIntact ? [8] : [0]
            #expect(accepted.contains(result.status), "\(command) exited \(result.status): \(result.stderr)")
        }
    }

    @Test func theCommandListFindsEveryDocumentedCommand() throws {
        let readme = try Self.commands(in: "README.md").map(\.text)
        #expect(readme.contains("swift run retentiond demo"))
        #expect(readme.contains("retentiond plan --out review.plan"))
        #expect(readme.contains(#"retentiond hold add --table third_parties --key 702 --reason "case 12" --by dpo"#))
        #expect(try Self.commands(in: "docs/deployment.md").map(\.text).contains("sudo retentiond run --allow-more"))
        #expect(Self.withoutComment(#"retentiond x --reason "a # b"   # note"#) == #"retentiond x --reason "a # b""#)
        #expect(
            readme.contains("mkdir -p offsite && cp retentiond-demo/audit-head.json offsite/"),
            "how the head's copy is made runs too")
        #expect(
            !Self.copiesInPlace("cp retentiond-demo/audit-head.json /etc/")
                && !Self.copiesInPlace("sudo install -d /etc/retentiond"))
        for document in Self.documents {
            for command in try Self.commands(in: document) {
                #expect(
                    !command.text.contains("…") && !command.text.contains("["),
                    "\(command): a placeholder cannot be run as written")
            }
        }
    }

    /// README's blocks, in order: the demo, then every command on the demo's database.
    @Test func readmeCommandsRunAsWritten() async throws {
        let sandbox = try Sandbox()
        defer { try? FileManager.default.removeItem(at: sandbox.dir) }
        let commands = try Self.commands(in: "README.md")
        #expect(
            commands.first?.invocation == "retentiond demo", "README starts with the demo the other commands run on")
        for command in commands { try await sandbox.run(command) }
    }

    /// The other documents' commands on SQLite (each after a demo, as an installed machine with
    /// a history), and docs/postgresql.md's on the test PostgreSQL server.
    @Test func docsCommandsRunAsWritten() async throws {
        for document in Self.documents where document != "README.md" {
            let commands = try Self.commands(in: document)
            guard !commands.isEmpty else { continue }
            var sandbox: Sandbox
            if document == "docs/postgresql.md" {
                let server = try await PostgresServer.start()
                try await server.psql("postgres", "DROP DATABASE IF EXISTS crm_demo")
                try await server.psql("postgres", "CREATE DATABASE crm_demo")
                sandbox = try Sandbox(
                    database:
                        "{ postgres: { host: 127.0.0.1, port: \(server.port), database: crm_demo, user: postgres, tls: disable } }"
                )
                sandbox.environment = ["PGPORT=\(server.port)"]
            } else {
                sandbox = try Sandbox()
                let demo = try await Spawn.run("/usr/bin/env", sandbox.shell("retentiond demo --seed 7"))
                #expect(demo.status == 0, "\(demo.stderr)")
            }
            defer { try? FileManager.default.removeItem(at: sandbox.dir) }
            for command in commands { try await sandbox.run(command) }
        }
    }
}
