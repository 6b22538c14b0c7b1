import Foundation
import Testing

/// scripts/install.sh into a temporary root, and the man pages it installs kept in step with the
/// commands.
@Suite(.tags(.slow), .timeLimit(.minutes(10))) struct InstallTests {
    func mode(_ path: String) throws -> Int { (try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int) ?? -1 }

    @Test func theInstallScriptPutsEverythingInPlaceAndKeepsAnEditedPolicy() async throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("retentiond-root-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: root) }
        let bash = URL(fileURLWithPath: "/bin/bash")
        let script = BinaryRunner.packageRoot.appendingPathComponent("scripts/install.sh").path
        let first = try await BinaryRunner.runProgram(bash, [script, "--root", root, "--binary", BinaryRunner.binary.path])
        #expect(first.status == 0, "\(first.stderr)")
        #expect(try mode(root + "/usr/local/bin/retentiond") == 0o755)
        #expect(try mode(root + "/etc/retentiond/credentials") == 0o700, "the audit key's credential directory")
        #expect(try mode(root + "/etc/retentiond/retentiond.yaml") == 0o644)
        for file in ["etc/retentiond/examples/dolibarr.yaml", "etc/retentiond/examples/znuny.yaml", "etc/systemd/system/retentiond.service",
                     "etc/systemd/system/retentiond-run.service", "etc/systemd/system/retentiond-run.timer",
                     "etc/systemd/system/retentiond-dry-run.service", "usr/local/share/man/man1/retentiond.1",
                     "usr/local/share/man/man1/retentiond.erase.1"] {
            #expect(FileManager.default.fileExists(atPath: root + "/" + file), "\(file)")
        }
        let completion = try String(contentsOfFile: root + "/usr/share/bash-completion/completions/retentiond", encoding: .utf8)
        #expect(completion.contains("retentiond") && completion.contains("explain"), "bash completion for every command")
        let installed = try await BinaryRunner.runProgram(URL(fileURLWithPath: root + "/usr/local/bin/retentiond"), ["check", "--help"])
        #expect(installed.status == 0 && installed.stdout.contains("--config"))

        // Installing again keeps the operator's policy.
        let policy = root + "/etc/retentiond/retentiond.yaml"
        try "# edited by the operator\n".write(toFile: policy, atomically: true, encoding: .utf8)
        let again = try await BinaryRunner.runProgram(bash, [script, "--root", root, "--binary", BinaryRunner.binary.path])
        #expect(again.status == 0 && again.stdout.contains("keeping the existing"))
        #expect(try String(contentsOfFile: policy, encoding: .utf8) == "# edited by the operator\n")
    }

    /// The pages in docs/man are generated from the command definitions; a command or option
    /// added without regenerating them is caught here.
    @Test func everyCommandAndOptionHasItsManPage() async throws {
        let man = BinaryRunner.packageRoot.appendingPathComponent("docs/man")
        let pages = try FileManager.default.contentsOfDirectory(atPath: man.path).filter { $0.hasSuffix(".1") }
        let commands = [["check"], ["plan"], ["apply"], ["run"], ["serve"], ["demo"], ["flagged"], ["explain"], ["register"], ["erase"],
                        ["forecast"], ["audit", "verify"], ["audit", "show"], ["audit", "reanchor"], ["hold", "add"], ["hold", "list"], ["hold", "release"]]
        let top = try await BinaryRunner.run(["--help"])
        for command in commands {
            #expect(top.stdout.contains(command[0]), "\(command[0]) in --help")
            let page = "retentiond." + command.joined(separator: ".") + ".1"
            #expect(pages.contains(page), "\(page) missing: regenerate docs/man (docs/deployment.md)")
            guard pages.contains(page) else { continue }
            let text = try String(contentsOf: man.appendingPathComponent(page), encoding: .utf8)
            let help = try await BinaryRunner.run(command + ["--help"])
            // The option lines of the help (they start with a dash), not options named in prose.
            let optionLines = help.stdout.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }.filter { $0.hasPrefix("-") }
            let options = Set(optionLines.flatMap { $0.split(whereSeparator: { " ,".contains($0) }) }.filter { $0.hasPrefix("--") && $0.count > 2 }
                .map { String($0.prefix { $0.isLetter || $0.isNumber || $0 == "-" }) })
            for option in options where option != "--help" {
                // mdoc writes `--config` as `Fl -config` (the macro adds one dash).
                #expect(text.contains("Fl " + option.dropFirst()), "\(page) lacks \(option): regenerate docs/man")
            }
        }
    }
}
