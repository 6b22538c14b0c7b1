import Foundation
import Testing

/// A long run says where it is: a progress line per rule in the log at the default level (the
/// shipped units' own), or one redrawn line per rule on a terminal.
@Suite(.tags(.slow), .timeLimit(.minutes(30))) struct ProgressTests {
    @Test func aRunLogsItsProgressPerRuleAndRedrawsItOnATerminal() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent(
            "retentiond-progress-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        let now = ["--now", "2026-06-01T00:00:00Z"]
        #expect(try await BinaryRunner.run(["demo", "--seed", "6", "--dir", dir.path, "--no-run"] + now).status == 0)
        let common = ["--config", "etc/retentiond/retentiond.yaml", "--state-dir", dir.path] + now

        // Not a terminal, at the default level (as under the shipped units): log lines, the last of
        // each rule with everything done.
        let logged = try await BinaryRunner.run(["run", "--batch-size", "50"] + common)
        #expect(logged.status == 0, "\(logged.stderr)")
        let lines = logged.stderr.split(separator: "\n").filter { $0.hasSuffix("[RetentionEngine] progress") }
        #expect(lines.contains { $0.contains("rule=prospect-purge") && $0.contains("left_s=0") }, "\(logged.stderr)")
        for line in lines where line.contains("left_s=0") {
            let fields = Dictionary(
                uniqueKeysWithValues: line.split(separator: " ").compactMap { part -> (String, String)? in
                    let kv = part.split(separator: "=", maxSplits: 1)
                    return kv.count == 2 ? (String(kv[0]), String(kv[1])) : nil
                })
            #expect(fields["done"] == fields["due"], "\(line)")
        }

        // On a terminal (a pseudo-terminal from script(1)): the line is redrawn in place.
        let script = URL(fileURLWithPath: "/usr/bin/script")
        guard FileManager.default.isExecutableFile(atPath: script.path) else {
            Issue.record("script(1) is needed (util-linux)")
            return
        }
        _ = try await BinaryRunner.run(["demo", "--seed", "6", "--dir", dir.path, "--no-run"] + now)
        let command = ([BinaryRunner.binary.path, "run", "--batch-size", "50"] + common).map { "'\($0)'" }.joined(
            separator: " ")
        let terminal = try await BinaryRunner.runProgram(
            script, ["-qec", "cd '\(BinaryRunner.packageRoot.path)' && " + command, "/dev/null"])
        #expect(terminal.status == 0, "\(terminal.stdout)")
        #expect(terminal.stdout.contains("\r\u{1B}[Kprospect-purge: "), "\(terminal.stdout.prefix(500))")
        #expect(terminal.stdout.contains(" records ("), "records done of due, with the rate and time left")
    }
}
