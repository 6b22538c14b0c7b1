import Foundation
import TestSupport
import Testing

/// `retentiond flagged --rule ID`: the records a flag rule flagged, for the people who act on them.
@Suite(.tags(.slow), .timeLimit(.minutes(30))) struct FlaggedCommandLineTests {
    static let policy = """
        version: 1
        time_zone: Europe/Paris
        state_dir: .
        database: { sqlite: crm.sqlite }
        safety: { max_percent: 100 }
        subjects:
          contacts:
            table: contacts
            key: id
            review_columns: [email]
            rules:
              - id: contact-warning
                register: "Prospection"
                legal_basis: "legitimate interest, 3 years"
                clock: last_seen
                after: 30 months
                action: flag
              - id: contact-purge
                register: "Prospection"
                legal_basis: "legitimate interest, 3 years"
                clock: last_seen
                after: 10y
                action: purge
        """

    @Test func aFlagRulesRecordsAreListedWithTheirReviewColumns() async throws {
        let w = try Workspace(policyBody: Self.policy)
        let now = ["--now", "2026-06-01T00:00:00Z"]
        #expect(try await w.run(["run"] + now).status == 0)
        let listed = try await w.run(["flagged", "--rule", "contact-warning"])
        #expect(listed.status == 0, "\(listed.stderr)")
        // Contacts 1 (2019-01-01) and 2 (2020-06-01) are past 30 months on 2026-06-01; 3 (2026-01-01) is not.
        #expect(listed.stdout == "id\temail\n1\told.one@example.fr\n2\told.two@example.fr\n")
        #expect(
            try await w.run(["flagged", "--rule", "contact-warning", "--limit", "1"]).stderr.contains(
                "the first 1 records are shown"))

        let purge = try await w.run(["flagged", "--rule", "contact-purge"])
        #expect(
            purge.status == 3 && purge.stderr.contains("rule `contact-purge` purges records, it does not flag them"))
        let unknown = try await w.run(["flagged", "--rule", "contact-warn"])
        #expect(
            unknown.status == 3
                && unknown.stderr.contains("has no rule `contact-warn`; its flag rules: `contact-warning`"))
        #expect(try await w.run(["flagged", "--rule", "contact-warning", "--limit", "0"]).status == 64)
    }
}
