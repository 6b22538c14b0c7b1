import Foundation
import GRDB
import Testing
@testable import RetentionCore
@testable import RetentionEngine

/// Legal holds, consent and related records keep what must be kept.
@Suite struct ExemptionTests {
    @Test func aLegalHoldKeepsTheRecordUntilReleased() async throws {
        let f = try Fixture(policy: EnforcementTests.prospectPurge)
        let hold = try await f.holds().add(table: "people", keyText: "1", reason: "case 2026-042", by: "dpo@example.fr", until: nil, now: Fixture.now)
        let first = try await f.run()
        #expect(first.rules[0].exempt["legal_hold"] == 1)
        #expect(try f.ids("people").contains(1))
        #expect(try f.ids("notes").contains(10), "the record's children are kept with it")

        let released = try await f.holds().release(id: hold.id, by: "dpo@example.fr", now: Fixture.now.addingTimeInterval(60))
        #expect(released.releasedBy == "dpo@example.fr")
        _ = try await f.run(now: Fixture.now.addingTimeInterval(120))
        #expect(!(try f.ids("people").contains(1)))

        let entries = try f.audit().filter { ($0["action"] as String).hasPrefix("hold-") }
        #expect(entries.map { $0["action"] as String } == ["hold-add", "hold-release"])
        #expect(entries.allSatisfy { ($0["actor"] as String) == "dpo@example.fr" && ($0["subject_ref"] as String) == (try? f.reference("people", 1)) })
        #expect(try await f.trail().verify().isValid)
    }

    @Test func aHoldOnAChildRowKeepsTheParentFromBeingPurgedThroughIt() async throws {
        let f = try Fixture(policy: EnforcementTests.prospectPurge)
        _ = try await f.holds().add(table: "attachments", keyText: "100", reason: "evidence", by: "legal", until: nil, now: Fixture.now)
        let report = try await f.run()
        #expect(report.rules[0].exempt["legal_hold"] == 1)
        #expect(try f.ids("people").contains(1))
        #expect(try f.ids("attachments").contains(100))
        #expect(!(try f.ids("people").contains(2)), "other records are purged as usual")
    }

    @Test func aHoldThatHasLapsedNoLongerApplies() async throws {
        let f = try Fixture(policy: EnforcementTests.prospectPurge)
        _ = try await f.holds().add(table: "people", keyText: "1", reason: "short", by: "legal", until: Fixture.now.addingTimeInterval(-1), now: Fixture.now.addingTimeInterval(-86_400))
        _ = try await f.run()
        #expect(!(try f.ids("people").contains(1)))
    }

    @Test func holdsNeedAnExistingRecordAndTheTablesKey() async throws {
        let f = try Fixture(policy: EnforcementTests.prospectPurge)
        await #expect(throws: EnforcementError.self) {
            _ = try await f.holds().add(table: "people", keyText: "999", reason: "x", by: "y", until: nil, now: Fixture.now)
        }
        await #expect(throws: EnforcementError.self) {
            _ = try await f.holds().add(table: "nosuchtable", keyText: "1", reason: "x", by: "y", until: nil, now: Fixture.now)
        }
    }

    @Test func aConsentFlagKeepsTheRecord() async throws {
        let policy = EnforcementTests.anonymise(filter: "{ kind: { in: [prospect, client] } }", exempt: "    exempt:\n      consent: { flag: opted }\n")
        let f = try Fixture(policy: policy)
        let report = try await f.run()
        // Client 6 (last seen 2020) opted in; client 7 is recent.
        #expect(report.rules[0].exempt == ["consent": 1])
        #expect(try f.query("SELECT email FROM people WHERE id = 6").first?["email"] == "fabien.morel@example.fr")
        #expect(report.rules[0].anonymised == 4)
    }

    @Test func aRecentRelatedRecordKeepsTheRecordAnOldOneDoesNot() async throws {
        let policy = """
            subjects:
              people:
                table: people
                key: id
                rules:
                  - id: identity
                    register: "Clients"
                    legal_basis: "contract; accounting"
                    clock: { latest: [last_seen, collected] }
                    after: 3y
                    action: anonymise
                    fields: { name: { constant: "anonymised" } }
                    exempt:
                      related:
                        - table: orders
                          foreign_key: person_id
                          clock: { column: ordered_on, anchor: fiscal_year_end }
                          within: 5y
            """
        let f = try Fixture(policy: policy)
        let report = try await f.run()
        // 5 has an order of 2024 (kept); 6's order of 2019 ends its fiscal year 2019-12-31, +5y is past.
        #expect(report.rules[0].exempt == ["related_record": 1])
        let names = try f.query("SELECT id, name FROM people ORDER BY id").map { "\($0["id"] as Int64)=\($0["name"] as String)" }
        #expect(names.contains("5=Emma Blanc"))
        #expect(names.contains("6=anonymised"))
    }

    @Test func aRecordStillReferencedFromAnUndeclaredTableIsNeverPurged() async throws {
        let f = try Fixture(policy: EnforcementTests.prospectPurge)
        let (_, diagnostics) = try await f.validate()
        #expect(diagnostics.contains { $0.severity == .warning && $0.message.contains("`orders`.(person_id) references `people`") })
        let report = try await f.run()
        #expect(report.rules[0].exempt["referenced_by_undeclared_table"] == 1)
        #expect(try f.ids("people").contains(5))
        #expect(try f.ids("orders").contains(1000))
    }
}
