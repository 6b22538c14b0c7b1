import Foundation
import Testing

@testable import RetentionCore

/// Every duration, count and size in a policy is bounded and refused at its place in the file;
/// no input, however mangled, makes the parser crash.
@Suite struct PolicyBoundsTests {
    func errors(_ text: String) -> [String] {
        do {
            _ = try PolicyParser(path: "/etc/retentiond/policy.yaml").parse(text, hash: "h")
            return []
        } catch let invalid as PolicyInvalid {
            return invalid.diagnostics.filter { $0.severity == .error }.map(\.description)
        } catch {
            return ["\(error)"]
        }
    }

    /// The hand-made cases that once passed `check` or crashed (issue: inputs are bounded).
    @Test(
        arguments: [
            (
                "after: 3y", "after: 5000y",
                ":17:16: error: rule `prospect-purge`.after: `5000y` is longer than 200 years"
            ),
            (
                "after: 3y", "after: 9223372036854775807y",
                ":17:16: error: rule `prospect-purge`.after: `9223372036854775807y` is longer than 200 years"
            ),
            (
                "after: 30 months", "after: 99999999999999999999 months",
                ":25:16: error: rule `prospect-anonymise`.after: `99999999999999999999 months` is longer than 200 years"
            ),
            (
                "state_dir:", "schedule: { every: 9223372036854775807s }\nstate_dir:",
                ":3:20: error: schedule.every: `9223372036854775807s` is longer than 200 years"
            ),
            (
                "state_dir:", "schedule: { every: 400d }\nstate_dir:",
                ":3:20: error: schedule.every must be a fixed length from one second to 366 days"
            ),
            (
                "state_dir:", "schedule: { daily: \"03:00\", jitter: 2562047788015215w }\nstate_dir:",
                ":3:37: error: schedule.jitter: `2562047788015215w` is longer than 200 years"
            ),
            (
                "state_dir:", "schedule: { daily: \"03:00\", jitter: 367d }\nstate_dir:",
                ":3:37: error: schedule.jitter must be a fixed length (days, hours, minutes, seconds) of at most 366 days"
            ),
            (
                "state_dir:", "safety: { max_records: 99999999999999999999 }\nstate_dir:",
                ":3:24: error: safety.max_records must be a whole number from 0 to 1000000000"
            ),
            ("length: 10", "length: 100000", ":29:54: error: length must be a whole number from 8 to 64"),
            (
                "keep_last: 2", "keep_last: 9223372036854775807",
                ":30:39: error: keep_last must be a whole number from 0 to 1000"
            ),
            ("batch_size: 500", "batch_size: 500", nil),
        ] as [(String, String, String?)])
    func oversizedValuesAreRefusedWhereTheyStand(original: String, replacement: String, expected: String?) {
        let text = PolicyParserTests.valid.replacingOccurrences(of: original, with: replacement)
        let found = errors(text)
        if let expected {
            #expect(found.contains { $0.hasPrefix("/etc/retentiond/policy.yaml" + expected) }, "\(found)")
        } else {
            #expect(found.isEmpty, "\(found)")
        }
    }

    @Test func aKeyThatRepeatsAColumnIsRefused() {
        let found = errors(
            PolicyParserTests.valid.replacingOccurrences(of: "key: [country, number]", with: "key: [country, country]"))
        #expect(found.contains { $0.contains("error: key names `country` twice") }, "\(found)")
    }

    @Test func aListAsAFilterValueSuggestsIn() {
        let found = errors(
            PolicyParserTests.valid.replacingOccurrences(
                of: "filter: { kind: prospect,", with: "filter: { kind: [prospect, lead],"))
        #expect(
            found.contains { $0.contains("a filter value is one value, not a list") && $0.contains("`{ in: [ … ] }`") },
            "\(found)")
    }

    /// A deterministic generator, so a failing mutant can be reproduced from the seed.
    struct Mutator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        mutating func below(_ n: Int) -> Int { Int(next() % UInt64(n)) }

        static let fragments = [
            "9223372036854775807", "-1", "99999999999999999999y", "0", "1e308", "nan", "~", "null", "[", "]", "{", "}",
            ": ", "\n  ", "- ", "&a [1,2]", "*a", "!!binary AAAA", "\"\\u0000\"", "'", "\t", "#", "%YAML 1.1\n",
            String(repeating: "[", count: 300), String(repeating: "x", count: 70_000), "\u{202E}", "é", "🙂",
        ]

        /// One mutant of `text`: a few bytes replaced, a fragment inserted, or a cut.
        mutating func mutate(_ text: [UInt8]) -> [UInt8] {
            var bytes = text
            for _ in 0...below(4) {
                guard !bytes.isEmpty else { break }
                let at = below(bytes.count)
                switch below(5) {
                case 0: bytes[at] = UInt8(truncatingIfNeeded: next())
                case 1: bytes.insert(contentsOf: Array(Self.fragments[below(Self.fragments.count)].utf8), at: at)
                case 2: bytes.removeSubrange(at..<min(bytes.count, at + below(40) + 1))
                case 3: bytes = Array(bytes[..<at])
                default: bytes.insert(contentsOf: [0xFF, 0xFE, 0xC3], at: at)
                }
            }
            return bytes
        }
    }

    /// Seeded and bounded by count (not by time), so it is the same run on any machine. A crash of
    /// the parser ends the test process, which fails the suite.
    @Test func thousandsOfMutantsAreAnsweredWithoutACrash() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "retentiond-fuzz-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("policy.yaml").path
        var mutator = Mutator(state: 20_261_125)
        let original = Array(PolicyParserTests.valid.utf8)
        var accepted = 0
        for _ in 0..<3000 {
            let mutant = mutator.mutate(original)
            _ = FileManager.default.createFile(atPath: path, contents: Data(mutant))
            do {
                _ = try PolicyParser(path: path).parseFile()
                accepted += 1
            } catch is PolicyInvalid {
                // Refused with diagnostics: the expected answer for most mutants.
            }
        }
        #expect(accepted < 3000, "the mutants must reach the error paths")
    }

    @Test func anAliasBombIsRefusedOrReadWithoutBlowingUp() {
        var text = "a0: &a0 [x, x, x, x, x, x, x, x]\n"
        for level in 1...6 {
            text +=
                "a\(level): &a\(level) [" + Array(repeating: "*a\(level - 1)", count: 8).joined(separator: ", ") + "]\n"
        }
        // Not a policy: every key is unknown, which the parser must say without expanding 8^7 nodes into memory.
        #expect(!errors(text).isEmpty)
    }
}
