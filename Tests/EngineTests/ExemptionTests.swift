import Foundation
import RetentionCore
import RetentionEngine
import RetentionStore
import TestSupport
import Testing

/// Legal holds, consent and related records keep what must be kept.
@Suite struct ExemptionTests {
    @Test(arguments: Backend.allCases)
    func aLegalHoldKeepsTheRecordUntilReleased(_ backend: Backend) async throws {
        let f = try await CRMFixture(backend, policy: CRMPolicies.prospectPurge)
        let hold = try await f.holds().add(
            table: "people", keyText: "1", reason: "case 2026-042", by: "dpo@example.fr", until: nil,
            now: CRMFixture.now)
        let first = try await f.run()
        #expect(first.rules[0].exempt["legal_hold"] == 1)
        #expect(try await f.ids("people").contains(1))
        #expect(try await f.ids("notes").contains(10), "the record's children are kept with it")

        let released = try await f.holds().release(
            id: hold.id, by: "dpo@example.fr", now: CRMFixture.now.addingTimeInterval(60))
        #expect(released.releasedBy == "dpo@example.fr")
        _ = try await f.run(now: CRMFixture.now.addingTimeInterval(120))
        #expect(!(try await f.ids("people").contains(1)))

        let entries = try await f.audit().filter { $0.action.hasPrefix("hold-") }
        #expect(entries.map(\.action) == ["hold-add", "hold-release"])
        #expect(entries.allSatisfy { $0.actor == "dpo@example.fr" && $0.subjectRef == (try? f.reference("people", 1)) })
        #expect(try await f.trail().verify().isValid)
    }

    @Test(arguments: Backend.allCases)
    func aHoldOnAChildRowKeepsTheParentFromBeingPurgedThroughIt(_ backend: Backend) async throws {
        let f = try await CRMFixture(backend, policy: CRMPolicies.prospectPurge)
        _ = try await f.holds().add(
            table: "attachments", keyText: "100", reason: "evidence", by: "legal", until: nil, now: CRMFixture.now)
        let report = try await f.run()
        #expect(report.rules[0].exempt["legal_hold"] == 1)
        #expect(try await f.ids("people").contains(1))
        #expect(try await f.ids("attachments").contains(100))
        #expect(!(try await f.ids("people").contains(2)), "other records are purged as usual")
    }

    @Test(arguments: Backend.allCases)
    func aHoldThatHasLapsedNoLongerApplies(_ backend: Backend) async throws {
        let f = try await CRMFixture(backend, policy: CRMPolicies.prospectPurge)
        _ = try await f.holds().add(
            table: "people", keyText: "1", reason: "short", by: "legal", until: CRMFixture.now.addingTimeInterval(-1),
            now: CRMFixture.now.addingTimeInterval(-86_400))
        _ = try await f.run()
        #expect(!(try await f.ids("people").contains(1)))
    }

    @Test(arguments: Backend.allCases)
    func holdsNeedAnExistingRecordAndTheTablesKey(_ backend: Backend) async throws {
        let f = try await CRMFixture(backend, policy: CRMPolicies.prospectPurge)
        await #expect(throws: EnforcementError.self) {
            _ = try await f.holds().add(
                table: "people", keyText: "999", reason: "x", by: "y", until: nil, now: CRMFixture.now)
        }
        await #expect(throws: EnforcementError.self) {
            _ = try await f.holds().add(
                table: "nosuchtable", keyText: "1", reason: "x", by: "y", until: nil, now: CRMFixture.now)
        }
    }

    @Test(arguments: Backend.allCases)
    func aConsentFlagKeepsTheRecord(_ backend: Backend) async throws {
        let policy = CRMPolicies.anonymise(
            filter: "{ kind: { in: [prospect, client] } }", exempt: "    exempt:\n      consent: { flag: opted }\n")
        let f = try await CRMFixture(backend, policy: policy)
        let report = try await f.run()
        // Client 6 (last seen 2020) opted in; client 7 is recent.
        #expect(report.rules[0].exempt == ["consent": 1])
        #expect(try await f.texts("SELECT email FROM people WHERE id = 6") == ["fabien.morel@example.fr"])
        #expect(report.rules[0].anonymised == 4)
    }

    @Test(arguments: Backend.allCases)
    func aRecentRelatedRecordKeepsTheRecordAnOldOneDoesNot(_ backend: Backend) async throws {
        let f = try await CRMFixture(backend, policy: CRMPolicies.identityKeptByOrders)
        let report = try await f.run()
        // 5 has an order of 2024 (kept); 6's order of 2019 ends its fiscal year 2019-12-31, +5y is past.
        #expect(report.rules[0].exempt == ["related_record": 1])
        let names = try await f.texts("SELECT CAST(id AS TEXT) || '=' || name FROM people ORDER BY id").compactMap {
            $0
        }
        #expect(names.contains("5=Emma Blanc"))
        #expect(names.contains("6=anonymised"))
    }

    @Test(arguments: Backend.allCases)
    func aRecordStillReferencedFromAnUndeclaredTableIsNeverPurged(_ backend: Backend) async throws {
        let f = try await CRMFixture(backend, policy: CRMPolicies.prospectPurge)
        let (_, diagnostics) = try await f.validate()
        #expect(
            diagnostics.contains {
                $0.severity == .warning && $0.message.contains("`orders`.(person_id) references `people`")
            })
        let report = try await f.run()
        #expect(report.rules[0].exempt["referenced_by_undeclared_table"] == 1)
        #expect(try await f.ids("people").contains(5))
        #expect(try await f.ids("orders").contains(1000))
    }
}
