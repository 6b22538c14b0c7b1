import Foundation
import Testing

/// `retentiond diff OLD [NEW]`: the rules' changes in the register's words with the live counts;
/// exit 2 when the new policy makes more records due, 0 when not, 3 when a file is not a policy.
@Suite(.tags(.slow), .timeLimit(.minutes(30))) struct DiffCommandLineTests {
    let now = ["--now", "2026-06-01T00:00:00Z"]

    /// The workspace's policy (contacts purged 3 years after last seen) kept as `before.yaml`, and
    /// the policy changed to `after`.
    func workspace(after: String) throws -> (Workspace, String) {
        let w = try Workspace()
        let before = w.dir.appendingPathComponent("before.yaml").path
        try FileManager.default.copyItem(atPath: w.policy, toPath: before)
        let text = try String(contentsOfFile: before, encoding: .utf8)
        try text.replacingOccurrences(of: "after: 3y", with: "after: \(after)").write(
            toFile: w.policy, atomically: true, encoding: .utf8)
        return (w, before)
    }

    @Test func aShorterPeriodExitsTwoWithTheRecordsItMakesDue() async throws {
        let (w, before) = try workspace(after: "1y")
        // Contacts last seen 2019-01-01, 2020-06-01, 2026-01-01: two past either cutoff now; the
        // third past one year's by 2027-06-01, never past three years' within the twelve months.
        let text = try await w.run(["diff", before] + now)
        #expect(text.status == 2, "\(text.stderr)")
        #expect(
            text.stdout.contains(
                """
                Makes more records due (or does more to them):
                  contact-purge
                    kept for: 3 years → 1 year  [more due]
                    due now: 2 → 2; due within 12 months: 2 → 3 (+1)

                """), "\(text.stdout)")
        #expect(try w.count("SELECT count(*) FROM contacts") == 3, "nothing changed")

        let json = try await w.run(["diff", before, "--format", "json"] + now)
        #expect(json.status == 2)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])
        let rule = try #require((object["rules"] as? [[String: Any]])?.first)
        #expect(rule["rule"] as? String == "contact-purge" && rule["status"] as? String == "changed")
        #expect((rule["dueWithin12Months"] as? [String: Int]) == ["old": 2, "new": 3])
        #expect((rule["changes"] as? [[String: Any]])?.first?["direction"] as? String == "more-due")
        #expect(
            (object["new"] as? [String: Any])?["sha256"] as? String != (object["old"] as? [String: Any])?["sha256"]
                as? String)

        let html = try await w.run(["diff", before, "--format", "html"] + now)
        #expect(html.status == 2)
        #expect(
            html.stdout.hasPrefix("<!DOCTYPE html>")
                && html.stdout.contains(
                    "<td>kept for</td><td>3 years</td><td>1 year</td><td class=\"more-due\">more due</td>"),
            "\(html.stdout)")
        #expect(html.stdout.contains("due now: 2 → 2; due within 12 months: 2 → 3 (+1)"))
    }

    @Test func aLongerPeriodTheSamePolicyAndABadFile() async throws {
        let (w, before) = try workspace(after: "4y")
        let longer = try await w.run(["diff", before] + now)
        #expect(longer.status == 0, "\(longer.stderr)")
        #expect(
            longer.stdout.contains(
                "Makes no more records due:\n  contact-purge\n    kept for: 3 years → 4 years  [more kept]\n"),
            "\(longer.stdout)")

        // The new policy as the second argument; without counts, the database is not opened.
        let shorter = try await BinaryRunner.run(["diff", w.policy, before, "--no-counts"] + now, in: w.dir)
        #expect(shorter.status == 2 && !shorter.stdout.contains("due now"), "\(shorter.stdout)")

        let same = try await w.run(["diff", w.policy] + now)
        #expect(same.status == 0 && same.stdout.contains("the two files are the same policy"), "\(same.stdout)")

        let bad = w.dir.appendingPathComponent("bad.yaml").path
        try "version: 1\nsubjects: 3\n".write(toFile: bad, atomically: true, encoding: .utf8)
        let invalid = try await w.run(["diff", bad] + now)
        #expect(invalid.status == 3 && invalid.stderr.contains("bad.yaml:"), "\(invalid.stderr)")
        let both = try await BinaryRunner.run(["diff", before, w.policy, "--config", before] + now, in: w.dir)
        #expect(
            both.status == 64 && both.stderr.contains("either as the second argument or as --config"), "\(both.stderr)")
    }
}
