import Foundation
import TestSupport
import Testing

/// scripts/install.sh into a temporary root, and the man pages it installs kept in step with the
/// commands. What it installs is a binary with the Swift runtime linked in, as install.sh builds
/// it: built once per test run into a build folder of its own (minutes when cold).
@Suite(.tags(.slow), .timeLimit(.minutes(30))) struct InstallTests {
    func mode(_ path: String) throws -> Int {
        (try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int) ?? -1
    }

    /// `retentiond` built with `--static-swift-stdlib` (debug, to share nothing with the release
    /// build an operator may have), once for every test that needs it.
    static let staticBinary = Task<URL, Error> {
        let scratch = BinaryRunner.packageRoot.appendingPathComponent(".build-static").path
        let build = try await Spawn.run(
            "/usr/bin/env",
            [
                "swift", "build", "--package-path", BinaryRunner.packageRoot.path,
                "--scratch-path", scratch, "--static-swift-stdlib", "--product", "retentiond",
            ])
        guard build.status == 0 else { throw StaticBuildFailed(output: build.stdout + build.stderr) }
        return URL(fileURLWithPath: scratch + "/debug/retentiond")
    }

    struct StaticBuildFailed: Error, CustomStringConvertible {
        var output: String
        var description: String { "swift build --static-swift-stdlib failed:\n" + String(output.suffix(4000)) }
    }

    /// A binary linked to the toolchain's Swift libraries (as `swift build` makes them) starts only
    /// where that toolchain stays installed: refused, naming the libraries. The installed binary
    /// links no Swift library and runs with an empty environment.
    @Test func theInstalledBinaryNeedsNoSwiftToolchain() async throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("retentiond-root-\(UUID().uuidString)")
            .path
        defer { try? FileManager.default.removeItem(atPath: root) }
        let bash = URL(fileURLWithPath: "/bin/bash")
        let script = BinaryRunner.packageRoot.appendingPathComponent("scripts/install.sh").path
        let linked = try await BinaryRunner.runProgram(
            bash, [script, "--root", root, "--binary", BinaryRunner.binary.path])
        #expect(linked.status == 1)
        #expect(
            linked.stderr.contains("linked to the Swift toolchain's runtime (")
                && linked.stderr.contains("libswiftCore.so"), "\(linked.stderr)")
        #expect(!FileManager.default.fileExists(atPath: root + "/usr/local/bin/retentiond"), "nothing installed")

        let installed = try await BinaryRunner.runProgram(
            bash, [script, "--root", root, "--binary", try await Self.staticBinary.value.path])
        #expect(installed.status == 0, "\(installed.stderr)")
        let binary = root + "/usr/local/bin/retentiond"
        let libraries = try await BinaryRunner.runProgram(URL(fileURLWithPath: "/usr/bin/ldd"), [binary])
        #expect(
            libraries.status == 0 && libraries.stdout.contains("libsqlite3") && libraries.stdout.contains("libmariadb"),
            "\(libraries.stdout)")
        #expect(
            !libraries.stdout.contains("libswift") && !libraries.stdout.contains("Foundation")
                && !libraries.stdout.contains("/swift/"),
            "no library from the toolchain: \(libraries.stdout)")
        // No PATH, no LD_LIBRARY_PATH, no HOME: the demo runs start to end.
        let demo = try await BinaryRunner.runProgram(
            URL(fileURLWithPath: "/usr/bin/env"),
            [
                "-i", "/bin/sh", "-c",
                "cd \"$0\" && exec \"$0\"/usr/local/bin/retentiond demo --dir demo --seed 3 --now 2026-06-01T00:00:00Z",
                root,
            ])
        #expect(demo.status == 0, "\(demo.stderr)")
        #expect(demo.stdout.contains("retentiond audit verify"), "\(demo.stdout)")
    }

    @Test func theInstallScriptPutsEverythingInPlaceAndKeepsAnEditedPolicy() async throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("retentiond-root-\(UUID().uuidString)")
            .path
        defer { try? FileManager.default.removeItem(atPath: root) }
        let bash = URL(fileURLWithPath: "/bin/bash")
        let script = BinaryRunner.packageRoot.appendingPathComponent("scripts/install.sh").path
        let binary = try await Self.staticBinary.value.path
        let first = try await BinaryRunner.runProgram(bash, [script, "--root", root, "--binary", binary])
        #expect(first.status == 0, "\(first.stderr)")
        #expect(try mode(root + "/usr/local/bin/retentiond") == 0o755)
        #expect(try mode(root + "/etc/retentiond/credentials") == 0o700, "the audit key's credential directory")
        #expect(try mode(root + "/etc/retentiond/retentiond.yaml") == 0o644)
        for file in [
            "etc/retentiond/examples/dolibarr.yaml", "etc/retentiond/examples/znuny.yaml",
            "etc/systemd/system/retentiond.service",
            "etc/systemd/system/retentiond-run.service", "etc/systemd/system/retentiond-run.timer",
            "etc/systemd/system/retentiond-dry-run.service", "usr/local/share/man/man1/retentiond.1",
            "usr/local/share/man/man1/retentiond.erase.1",
        ] {
            #expect(FileManager.default.fileExists(atPath: root + "/" + file), "\(file)")
        }
        let completion = try String(
            contentsOfFile: root + "/usr/share/bash-completion/completions/retentiond", encoding: .utf8)
        #expect(
            completion.contains("retentiond") && completion.contains("explain"), "bash completion for every command")
        let installed = try await BinaryRunner.runProgram(
            URL(fileURLWithPath: root + "/usr/local/bin/retentiond"), ["check", "--help"])
        #expect(installed.status == 0 && installed.stdout.contains("--config"))
        // The installed demo finds the installed policy and suggests the installed command, not `swift run`.
        // (From a directory of its own: a relative etc/retentiond/retentiond.yaml, as in the package, comes first.)
        try FileManager.default.createDirectory(atPath: root + "/home", withIntermediateDirectories: true)
        let demo = try await BinaryRunner.runProgram(
            URL(fileURLWithPath: "/bin/sh"),
            [
                "-c",
                "cd \"$0\"/home && exec \"$0\"/usr/local/bin/retentiond demo --dir demo --seed 3 --now 2026-06-01T00:00:00Z",
                root,
            ])
        #expect(demo.status == 0, "\(demo.stderr)")
        #expect(demo.stdout.contains("policy: \(root)/etc/retentiond/retentiond.yaml"), "\(demo.stdout)")
        #expect(
            demo.stdout.contains("\n  retentiond audit verify --config ") && !demo.stdout.contains("swift run"),
            "\(demo.stdout)")

        // Installing again keeps the operator's policy.
        let policy = root + "/etc/retentiond/retentiond.yaml"
        try "# edited by the operator\n".write(toFile: policy, atomically: true, encoding: .utf8)
        let again = try await BinaryRunner.runProgram(bash, [script, "--root", root, "--binary", binary])
        #expect(again.status == 0 && again.stdout.contains("keeping the existing"))
        #expect(try String(contentsOfFile: policy, encoding: .utf8) == "# edited by the operator\n")
    }

    /// The installed policy names the file the units load as a credential: a command run by hand
    /// uses the key the units use, and never creates a second one.
    @Test func byHandAndUnderTheUnitsTheSameKeyIsUsed() async throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("retentiond-root-\(UUID().uuidString)")
            .path
        defer { try? FileManager.default.removeItem(atPath: root) }
        let script = BinaryRunner.packageRoot.appendingPathComponent("scripts/install.sh").path
        let installed = try await BinaryRunner.runProgram(
            URL(fileURLWithPath: "/bin/bash"),
            [script, "--root", root, "--binary", try await Self.staticBinary.value.path])
        #expect(installed.status == 0, "\(installed.stderr)")
        let credential = "/etc/retentiond/credentials/audit.key"
        let policy = try String(contentsOfFile: root + "/etc/retentiond/retentiond.yaml", encoding: .utf8)
        #expect(
            policy.split(separator: "\n").filter { $0.hasPrefix("audit:") } == ["audit: { key_file: \(credential) }"])
        for unit in ["retentiond.service", "retentiond-run.service", "retentiond-dry-run.service"] {
            let text = try String(contentsOfFile: root + "/etc/systemd/system/" + unit, encoding: .utf8)
            #expect(text.contains("LoadCredential=audit.key:\(credential)\n"), "\(unit) loads the key the policy names")
            // A Condition would skip the unit in silence when the policy is missing; an Assert fails it.
            #expect(
                text.contains("\nAssertPathExists=/etc/retentiond/retentiond.yaml\n")
                    && !text.contains("ConditionPathExists="), "\(unit)")
        }

        // The same policy with its paths moved under the temporary root, a database in its state
        // directory, and the key made as docs/deployment.md says.
        let state = root + "/var/lib/retentiond"
        let moved = root + "/etc/retentiond/moved.yaml"
        try policy.replacingOccurrences(of: credential, with: root + credential)
            .replacingOccurrences(of: "state_dir: /var/lib/retentiond", with: "state_dir: \(state)")
            .write(toFile: moved, atomically: true, encoding: .utf8)
        let now = "2026-06-01T00:00:00Z"
        #expect(
            try await BinaryRunner.run(["demo", "--no-run", "--dir", state, "--seed", "3", "--now", now]).status == 0)
        try? FileManager.default.removeItem(atPath: state + "/audit.key")
        let makeKey =
            "umask 077; od -An -tx1 -N32 /dev/urandom | tr -d \" \\n\" > \(root + credential); echo >> \(root + credential)"
        #expect(try await BinaryRunner.runProgram(URL(fileURLWithPath: "/bin/sh"), ["-c", makeKey]).status == 0)

        // Under a unit: systemd hands a copy of the file in $CREDENTIALS_DIRECTORY.
        let credentials = root + "/run/credentials/retentiond-run.service"
        try FileManager.default.createDirectory(atPath: credentials, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: root + credential, toPath: credentials + "/audit.key")
        let env = URL(fileURLWithPath: "/usr/bin/env")
        let unit = try await BinaryRunner.runProgram(
            env,
            [
                "-u", "STATE_DIRECTORY", "CREDENTIALS_DIRECTORY=\(credentials)",
                BinaryRunner.binary.path, "run", "--config", moved, "--now", now,
            ])
        #expect(unit.status == 0, "\(unit.stderr)")
        #expect(!unit.stderr.contains("created a new audit key"))
        // By hand, later: the same key, read from the file the policy names.
        let byHand = try await BinaryRunner.run(["run", "--config", moved, "--now", "2026-06-02T00:00:00Z"])
        #expect(byHand.status == 0, "\(byHand.stderr)")
        #expect(!byHand.stderr.contains("created a new audit key"))
        #expect(try await BinaryRunner.run(["audit", "verify", "--config", moved]).status == 0)
        #expect(!FileManager.default.fileExists(atPath: state + "/audit.key"), "no second key in the state directory")

        // Without the file, by hand: refused, and told where the key is expected, not that it is lost.
        try FileManager.default.removeItem(atPath: root + credential)
        let missing = try await BinaryRunner.run(["audit", "verify", "--config", moved])
        #expect(missing.status == 8)
        #expect(
            missing.stderr.contains("audit.key_file")
                && missing.stderr.contains("/etc/retentiond/credentials/audit.key"), "\(missing.stderr)")
    }

    /// The pages in docs/man are generated from the command definitions; a command or option
    /// added without regenerating them is caught here.
    @Test func everyCommandAndOptionHasItsManPage() async throws {
        let man = BinaryRunner.packageRoot.appendingPathComponent("docs/man")
        let pages = try FileManager.default.contentsOfDirectory(atPath: man.path).filter { $0.hasSuffix(".1") }
        let commands = [
            ["check"], ["plan"], ["apply"], ["run"], ["serve"], ["demo"], ["flagged"], ["explain"], ["register"],
            ["erase"],
            ["forecast"], ["audit", "verify"], ["audit", "show"], ["audit", "reanchor"], ["hold", "add"],
            ["hold", "list"], ["hold", "release"],
        ]
        let top = try await BinaryRunner.run(["--help"])
        for command in commands {
            #expect(top.stdout.contains(command[0]), "\(command[0]) in --help")
            let page = "retentiond." + command.joined(separator: ".") + ".1"
            #expect(pages.contains(page), "\(page) missing: regenerate docs/man (docs/deployment.md)")
            guard pages.contains(page) else { continue }
            let text = try String(contentsOf: man.appendingPathComponent(page), encoding: .utf8)
            let help = try await BinaryRunner.run(command + ["--help"])
            // The option lines of the help (they start with a dash), not options named in prose.
            let optionLines = help.stdout.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }.filter
            { $0.hasPrefix("-") }
            let options = Set(
                optionLines.flatMap { $0.split(whereSeparator: { " ,".contains($0) }) }.filter {
                    $0.hasPrefix("--") && $0.count > 2
                }
                .map { String($0.prefix { $0.isLetter || $0.isNumber || $0 == "-" }) })
            for option in options where option != "--help" {
                // mdoc writes `--config` as `Fl -config` (the macro adds one dash).
                #expect(text.contains("Fl " + option.dropFirst()), "\(page) lacks \(option): regenerate docs/man")
            }
        }
    }
}
