import Foundation
import Testing

@testable import RetentionCore

/// Which way each kind of policy change goes, in the register's words.
@Suite struct PolicyDiffTests {
    static let base = PolicyParserTests.valid

    func diff(_ change: (String) -> String) throws -> PolicyDiff {
        let parser = PolicyParser(path: "/etc/retentiond/policy.yaml")
        let changed = change(Self.base)
        #expect(changed != Self.base, "the change applies to the text")
        return PolicyDiff(
            old: try parser.parse(Self.base, hash: "old").0, new: try parser.parse(changed, hash: "new").0)
    }

    func rule(_ diff: PolicyDiff, _ id: String) throws -> PolicyDiff.Rule {
        try #require(diff.rules.first { $0.rule == id })
    }

    @Test func aShorterPeriodMakesMoreDueALongerOneKeepsMore() throws {
        let shorter = try diff { $0.replacingOccurrences(of: "after: 3y", with: "after: 35 months") }
        #expect(
            try rule(shorter, "prospect-purge").changes == [
                PolicyDiff.Change(facet: "kept for", old: "3 years", new: "35 months", direction: .moreDue)
            ])
        #expect(shorter.makesMoreDue)
        #expect(try rule(shorter, "prospect-anonymise").status == .unchanged)
        let longer = try diff { $0.replacingOccurrences(of: "after: 30 months", with: "after: 3y") }
        #expect(try rule(longer, "prospect-anonymise").changes.map(\.direction) == [.moreKept])
        #expect(!longer.makesMoreDue)
    }

    @Test func aRemovedExemptionMakesMoreDueAnAddedOneKeepsMore() throws {
        let removed = try diff {
            $0.replacingOccurrences(of: "    exempt:\n      consent: { until: keep_until }\n", with: "")
        }
        #expect(try rule(removed, "prospect-purge").changes.map(\.facet) == ["unless"])
        #expect(try rule(removed, "prospect-purge").changes.map(\.direction) == [.moreDue])
        #expect(
            try rule(removed, "prospect-anonymise").changes.map(\.direction) == [.moreDue],
            "the subject's exemption was both rules'")
        let added = try diff {
            $0.replacingOccurrences(
                of: "    key: [country, number]\n",
                with: "    key: [country, number]\n    exempt:\n      consent: { flag: keep_invoice }\n")
        }
        #expect(try rule(added, "accounting").changes.map(\.direction) == [.moreKept])
        #expect(!added.makesMoreDue)
    }

    @Test func whatAnActionDoesMoreOrLessOf() throws {
        let child = try diff {
            $0.replacingOccurrences(
                of: "          - { table: events, foreign_key: third_party_id }\n",
                with:
                    "          - { table: events, foreign_key: third_party_id }\n          - { table: notes, foreign_key: third_party_id }\n"
            )
        }
        #expect(try rule(child, "prospect-purge").changes.map(\.direction) == [.moreDue], "a table added to a purge")
        let harsher = try diff {
            $0.replacingOccurrences(of: "after: 10y\n        action: flag", with: "after: 10y\n        action: purge")
        }
        #expect(try rule(harsher, "accounting").changes.map(\.direction) == [.moreDue], "flag → purge")
        let field = try diff { $0.replacingOccurrences(of: "city: keep", with: "city: null") }
        #expect(try rule(field, "prospect-anonymise").changes.map(\.direction) == [.moreDue], "a field no longer kept")
        let milder = try diff { $0.replacingOccurrences(of: "note: { constant: \"removed\" }", with: "note: keep") }
        #expect(try rule(milder, "prospect-anonymise").changes.map(\.direction) == [.moreKept])
    }

    @Test func addedRemovedAndReworded() throws {
        let renamed = try diff { $0.replacingOccurrences(of: "id: accounting", with: "id: accounting-10y") }
        #expect(try rule(renamed, "accounting-10y").status == .added)
        #expect(try rule(renamed, "accounting").status == .removed)
        #expect(try rule(renamed, "accounting").changes.map(\.direction) == [.moreKept])
        #expect(!renamed.makesMoreDue, "a new flag rule changes no data")
        var flagCounted = renamed
        flagCounted.rules[flagCounted.rules.firstIndex { $0.rule == "accounting-10y" }!].dueNow = PolicyDiff.Counts(
            old: nil, new: 5)
        #expect(!flagCounted.makesMoreDue, "however many records it flags")
        let worded = try diff {
            $0.replacingOccurrences(
                of: "legal_basis: \"legal obligation\"",
                with: "legal_basis: \"legal obligation (Code de commerce L123-22)\"")
        }
        #expect(try rule(worded, "accounting").changes.map(\.direction) == [.wording])
        #expect(!worded.makesMoreDue)
        let counting = try diff {
            $0.replacingOccurrences(
                of: "          - { table: events, foreign_key: third_party_id }\n",
                with:
                    "          - { table: events, foreign_key: third_party_id }\n        statistics: { period: year, by: [country] }\n"
            )
        }
        #expect(
            try rule(counting, "prospect-purge").changes == [
                PolicyDiff.Change(
                    facet: "statistics", old: "none kept",
                    new:
                        "counted per year and country, in `retentiond_statistics` (groups under 5 records merged into `other`)",
                    direction: .wording)
            ])
        #expect(!counting.makesMoreDue, "what is counted of erased records changes no record")
        let clock = try diff {
            $0.replacingOccurrences(
                of: "clock: { column: last_contact_at, fallback: collected_at }", with: "clock: collected_at")
        }
        #expect(try rule(clock, "prospect-anonymise").changes.map(\.direction) == [.either], "the counts decide")
        #expect(!clock.makesMoreDue, "without counts")
        var counted = clock
        counted.rules[counted.rules.firstIndex { $0.rule == "prospect-anonymise" }!].dueNow = PolicyDiff.Counts(
            old: 3, new: 5)
        #expect(counted.makesMoreDue, "with counts that grow")
    }

    @Test func theTextListsWhatMakesMoreDueFirst() throws {
        var d = try diff { $0.replacingOccurrences(of: "after: 3y", with: "after: 2y") }
        d.rules[0].dueNow = PolicyDiff.Counts(old: 10, new: 25)
        let text = d.text()
        #expect(
            text.contains(
                "Makes more records due (or does more to them):\n  prospect-purge\n    kept for: 3 years → 2 years  [more due]\n    due now: 10 → 25 (+15)\n"
            ), "\(text)")
        #expect(text.contains("Unchanged: prospect-anonymise, accounting"))
    }

    /// The page for the people who sign a change off: the same sections, each change a row with
    /// which way it goes, the counts under it, every value escaped.
    @Test func theHTMLPageHasTheSameSectionsEscaped() throws {
        var d = try diff {
            $0.replacingOccurrences(of: "after: 3y", with: "after: 2y").replacingOccurrences(
                of: "register: \"Prospection\"", with: "register: \"<b>Prospection</b>\"")
        }
        d.rules[0].dueNow = PolicyDiff.Counts(old: 10, new: 25)
        let html = d.html()
        #expect(html.hasPrefix("<!DOCTYPE html>") && html.hasSuffix("</body></html>\n"))
        #expect(html.contains("<h2>Makes more records due (or does more to them)</h2>"))
        #expect(
            html.contains(
                "<tr><td rowspan=\"3\"><code>prospect-purge</code></td><td>kept for</td><td>3 years</td><td>2 years</td><td class=\"more-due\">more due</td></tr>"
            ), "\(html)")
        #expect(html.contains("<tr><td>records</td><td colspan=\"3\">due now: 10 → 25 (+15)</td></tr>"))
        #expect(html.contains("&lt;b&gt;Prospection&lt;/b&gt;") && !html.contains("<b>Prospection"))
        #expect(html.contains("<h2>Changes wording only</h2>"), "prospect-anonymise: its register entry only")
        #expect(html.contains("<p>Unchanged: <code>accounting</code></p>"), "\(html)")
    }
}
