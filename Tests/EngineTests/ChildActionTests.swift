import Foundation
import RetentionCore
import RetentionEngine
import TestSupport
import Testing

/// An anonymise rule's children: deleted or anonymised with their record, in its transaction,
/// audited beside it.
@Suite struct ChildActionTests {
    static let policy = """
        subjects:
          prospects:
            table: people
            key: id
            filter: { kind: prospect }
            rules:
              - id: prospect-anonymise
                register: "Prospection"
                legal_basis: "legitimate interest, 3 years"
                clock: { latest: [last_seen, collected] }
                after: 3y
                action: anonymise
                fields:
                  email: null
                children:
                  - table: notes
                    foreign_key: person_id
                    action: purge
                    children:
                      - { table: attachments, foreign_key: note_id }
                  - table: orders
                    foreign_key: person_id
                    action: anonymise
                    fields:
                      ordered_on: year

        """

    // Due prospects: 1 (notes 10, 11; attachment 100 on 10), 2 (note 12), 4, 5 (order 1000).
    // Prospect 3 (note 13, attachment 101) was seen recently; 6 and 7 are clients (order 1001 is 6's).
    @Test(arguments: Backend.allCases)
    func childrenAreDeletedOrAnonymisedWithTheirRecordAndAuditedBesideIt(_ backend: Backend) async throws {
        let f = try await CRMFixture(
            backend, data: CRMFixture.data + ["UPDATE orders SET ordered_on = '2024-03-15' WHERE id = 1000"],
            policy: Self.policy)
        _ = try await f.holds().add(
            table: "notes", keyText: "12", reason: "evidence", by: "dpo", until: nil, now: CRMFixture.now)
        // The dry run counts what would go with the records, per table.
        let plan = try await f.plan()
        #expect(plan.rules[0].childRowsPurged == ["notes": 2, "attachments": 1])
        #expect(plan.rules[0].childRowsAnonymised == ["orders": 1])
        let report = try await f.run()
        #expect(report.rules[0].anonymised == 3)
        #expect(report.rules[0].exempt["legal_hold"] == 1, "a hold on a child keeps its record, and so the child")
        #expect(report.rules[0].childRowsPurged == ["notes": 2, "attachments": 1])
        #expect(report.rules[0].childRowsAnonymised == ["orders": 1])

        let people = try await f.rows("SELECT id, email FROM people ORDER BY id")
        #expect(people.filter { $0[1] == .null }.map { $0[0] } == [.integer(1), .integer(4), .integer(5)])
        #expect(try await f.ids("notes") == [12, 13])
        #expect(try await f.ids("attachments") == [101])
        #expect(try await f.texts("SELECT ordered_on FROM orders ORDER BY id") == ["2024-01-01", "2019-03-01"])

        let audit = try await f.audit()
        #expect(audit.filter { $0.action == "anonymise" }.count == 3)
        let children = audit.filter { $0.action.hasSuffix("-children") }.map { "\($0.action) \($0.table) \($0.fields)" }
            .sorted()
        #expect(
            children == [
                "anonymise-children orders ordered_on", "purge-children attachments *", "purge-children notes *",
            ], "\(children)")
        #expect(
            audit.filter { $0.action.hasSuffix("-children") }.allSatisfy { $0.subjectRef.isEmpty },
            "no key of a child in the trail")
        #expect(try await f.trail().verify().isValid)

        // Done once: a second run changes nothing, children included.
        let again = try await f.run()
        #expect(
            again.rules[0].anonymised == 0 && again.rules[0].childRowsPurged.isEmpty
                && again.rules[0].childRowsAnonymised.isEmpty)
    }

    @Test func aChildOfAnAnonymiseRuleMustSayWhatHappensToIt() throws {
        let text =
            "version: 1\ntime_zone: UTC\ndatabase: { sqlite: crm.sqlite }\n"
            + Self.policy.replacingOccurrences(of: "action: purge\n", with: "\n")
        do {
            _ = try PolicyParser(path: "policy.yaml").parse(text, hash: "h")
            Issue.record("a child without an action was accepted")
        } catch let invalid as PolicyInvalid {
            #expect(
                invalid.diagnostics.contains {
                    $0.description.contains("child `notes` of an anonymise rule needs an `action`")
                }, "\(invalid.diagnostics)")
        }
    }
}
