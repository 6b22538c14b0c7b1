import Foundation
import Testing
@testable import RetentionCore

/// The register's retention section, rendered from the shipped policy.
@Suite struct RegisterTests {
    func shippedPolicy() throws -> Policy {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        return try PolicyParser(path: root.appendingPathComponent("etc/retentiond/retentiond.yaml").path).parseFile().0
    }

    @Test func everyRuleIsInItsRegisterEntryInWords() throws {
        let policy = try shippedPolicy()
        let register = Register(policy: policy)
        #expect(register.entries.map(\.register).first == "Gestion des prospects, clients, fournisseurs — prospection")
        #expect(register.entries.flatMap(\.lines).map(\.rule).sorted() == policy.rules.map(\.id).sorted(), "every rule of the shipped policy, once")
        #expect(Set(register.entries.map(\.register)) == Set(policy.rules.map(\.register)))
        let text = register.markdown()
        #expect(text.contains("| prospects: `third_parties` where kind = prospect | 3 years | the latest of last_contact_at and collected_at | deleted, with `prospection_events`, `web_accounts`, `account_sessions` | a legal hold; the person's agreement to keep it until retention_consent_until | legitimate interest (prospection), 3 years from collection or last contact | `prospect-purge` |"), "\(text)")
        #expect(text.contains("| 33 months | the latest of last_contact_at and collected_at | flagged for review (nothing changed) |"))
        #expect(text.contains("| invoices: `invoices` | 10 years | the end of the fiscal year of issued_on | deleted, with `invoice_lines` |"))
        #expect(text.contains("a related invoices younger than 10 years (counted from the end of the fiscal year of issued_on)"))
        #expect(text.contains("| until the date (no delay) | relationship_ended_at | anonymised: address (erased), birth_date (reduced to the year), civility (erased) |"))
        #expect(!text.contains("| now |"), "no figures without a database")
    }

    @Test func figuresAreAddedWhenGivenAndHTMLIsEscaped() throws {
        var policy = try shippedPolicy()
        policy.subjects[0].rules[0].register = "<script>alert(1)</script>"
        var tally = RuleTally(rule: policy.rules[1], subject: policy.subjects[0],
                              cutoff: try Cutoff(rule: policy.rules[1], policy: policy, now: Date()))
        tally.tableRows = 1200
        tally.due = 42
        tally.exempt = ["consent": 3, "legal_hold": 1]
        #expect(Register(policy: policy, tallies: [policy.rules[1].id: tally]).markdown()
            .contains("| 1200 rows in `third_parties`; 42 due now; kept: 3 consent, 1 legal hold |"), "a report of an older version")
        tally.subjectRecords = 700
        let register = Register(policy: policy, tallies: [policy.rules[1].id: tally])
        #expect(register.markdown().contains("| 700 records of `\(tally.subject)` (of 1200 rows in `third_parties`); 42 due now; kept: 3 consent, 1 legal hold |"))
        let html = register.html()
        #expect(html.contains("<h2>&lt;script&gt;alert(1)&lt;/script&gt;</h2>"))
        #expect(!html.contains("<script>"))
        #expect(html.hasPrefix("<!DOCTYPE html>") && !html.contains("http"), "one self-contained page")
    }
}
