import Foundation
import Testing

/// `--format json` on the commands scripts read: one JSON document on standard output, with the
/// field names docs/operations.md lists.
@Suite(.tags(.slow), .timeLimit(.minutes(30))) struct JSONOutputTests {
    let now = ["--now", "2026-06-01T00:00:00Z"]

    func object(_ text: String) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any], "\(text)")
    }

    func array(_ text: String) throws -> [[String: Any]] {
        try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [[String: Any]], "\(text)")
    }

    @Test func checkPlanRunHoldListAndAuditShowSpeakJSON() async throws {
        let w = try Workspace()
        let check = try await w.run(["check", "--format", "json"])
        #expect(check.status == 0, "\(check.stderr)")
        let checked = try object(check.stdout)
        #expect(checked["valid"] as? Bool == true)
        #expect((checked["purges"] as? [[String: Any]])?.first?["rule"] as? String == "contact-purge")
        #expect(checked["missingPrivileges"] as? [Any] != nil && checked["diagnostics"] as? [Any] != nil)
        #expect((checked["writeAccess"] as? [Any])?.isEmpty == true, "the test's user may write the database")

        let plan = try await w.run(["plan", "--format", "json"] + now)
        #expect(plan.status == 2)
        let planned = try object(plan.stdout)
        #expect(planned["mode"] as? String == "plan")
        let rules = try #require(planned["rules"] as? [[String: Any]])
        #expect(rules.first?["rule"] as? String == "contact-purge" && rules.first?["due"] as? Int == 2)

        #expect(
            try await w.run(["hold", "add", "--table", "contacts", "--key", "1", "--reason", "case 9", "--by", "dpo"])
                .status == 0)
        let holds = try array(try await w.run(["hold", "list", "--format", "json"]).stdout)
        #expect(
            holds.count == 1 && holds[0]["state"] as? String == "active" && holds[0]["key"] as? String == "1"
                && holds[0]["table"] as? String == "contacts")

        let run = try await w.run(["run", "--format", "json"] + now)
        #expect(run.status == 0, "\(run.stderr)")
        let ran = try object(run.stdout)
        #expect(ran["mode"] as? String == "run" && ran["status"] as? String == "complete")
        #expect((ran["rules"] as? [[String: Any]])?.first?["purged"] as? Int == 1)

        let audit = try array(try await w.run(["audit", "show", "--format", "json"]).stdout)
        #expect(audit.map { $0["action"] as? String } == ["hold-add", "purge", "run-completed"])

        // Invalid policy: the verdict and the errors, exit 3.
        try "version: 1\n".write(toFile: w.policy, atomically: true, encoding: .utf8)
        let invalid = try await w.run(["check", "--format", "json"])
        #expect(invalid.status == 3)
        let verdict = try object(invalid.stdout)
        #expect(verdict["valid"] as? Bool == false)
        #expect(
            (verdict["diagnostics"] as? [[String: Any]])?.contains {
                ($0["message"] as? String)?.contains("missing `time_zone`") == true
            } == true, "\(invalid.stdout)")
    }

    @Test func withJSONLogsEveryLineOnStandardErrorIsAJSONObject() async throws {
        let w = try Workspace()
        try "version: 1\n".write(toFile: w.policy, atomically: true, encoding: .utf8)
        let invalid = try await w.run(["check", "--log-format", "json"])
        #expect(invalid.status == 3)
        let lines = invalid.stderr.split(separator: "\n")
        #expect(lines.count >= 3)
        for line in lines {
            let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
            #expect(
                object?["level"] as? String == "error" && (object?["message"] as? String)?.isEmpty == false, "\(line)")
        }
    }
}
