import Foundation
import RetentionCore
import RetentionEngine
import TestSupport
import Testing

/// `erase`: a data subject's request carried out now through the subject's rules, holds and
/// legal obligations respected, audited with the request's reference.
@Suite struct ErasureTests {
    static let policy =
        CRMPolicies.prospectPurge + """

              clients:
                table: people
                key: id
                filter: { kind: client }
                rules:
                  - id: client-contact
                    register: "Clients"
                    legal_basis: "contract"
                    clock: last_seen
                    after: 1y
                    action: anonymise
                    fields: { email: null, phone: null }
                  - id: client-identity
                    register: "Clients"
                    legal_basis: "legal obligation: accounting, 10 years"
                    clock: last_seen
                    after: 3y
                    action: anonymise
                    fields: { name: { pseudonym: { prefix: "c-" } } }
                    exempt:
                      related:
                        - { table: orders, foreign_key: person_id, clock: ordered_on, within: 10y }

            """

    @Test(arguments: Backend.allCases)
    func aRequestErasesWhatTheRulesAllowNowAndSaysWhyTheRestIsKept(_ backend: Backend) async throws {
        let f = try await CRMFixture(backend, policy: Self.policy)
        _ = try await f.holds().add(
            table: "people", keyText: "2", reason: "litigation", by: "dpo", until: nil, now: CRMFixture.now)
        let enforcer = try await f.enforcer()
        let policy = try f.policy()
        let prospects = policy.subjects[0]
        let clients = policy.subjects[1]

        // Nothing changes in a dry run.
        let before = try await f.snapshot()
        let dry = try await enforcer.erase(
            subject: prospects, keyText: "3", request: "REQ-1", now: CRMFixture.now, dryRun: true)
        #expect(dry.steps.map(\.outcome) == ["would be purged"])
        #expect(try await f.snapshot() == before)

        // 3 was seen recently (not due by the clock) and 4 agreed to be kept: a request erases both, with 3's notes.
        let three = try await enforcer.erase(
            subject: prospects, keyText: "3", request: "REQ-1", now: CRMFixture.now, dryRun: false)
        #expect(three.steps.map(\.outcome) == ["purged"])
        // What went with the record is said, per table: note 13 and its attachment 101.
        #expect(three.steps[0].childRowsDeleted == ["notes": 1, "attachments": 1])
        #expect(three.markdown().contains("| 1 `attachments` deleted, 1 `notes` deleted |"), "\(three.markdown())")
        let four = try await enforcer.erase(
            subject: prospects, keyText: "4", request: "REQ-2", now: CRMFixture.now, dryRun: false)
        #expect(four.steps.map(\.outcome) == ["purged"])
        #expect(try await f.ids("people") == [1, 2, 5, 6, 7])
        #expect(try await f.ids("notes") == [10, 11, 12])
        #expect(try await f.ids("attachments") == [100])

        // A legal hold keeps 2, and says so.
        let two = try await enforcer.erase(
            subject: prospects, keyText: "2", request: "REQ-3", now: CRMFixture.now, dryRun: false)
        #expect(two.steps.map(\.outcome) == ["kept"])
        #expect(two.steps[0].reason?.contains("legal hold") == true)

        // Client 6 has an order from 2019: the contact data goes, the identity stays for the accounts.
        let six = try await enforcer.erase(
            subject: clients, keyText: "6", request: "REQ-4", now: CRMFixture.now, dryRun: false)
        #expect(six.steps.map(\.outcome) == ["anonymised", "kept"])
        #expect(six.steps[1].reason?.contains("related record") == true)
        let row = try await f.rows("SELECT name, email FROM people WHERE id = 6")[0]
        #expect(row == [.text("Fabien Morel"), .null])

        // The trail names each request, and the actor.
        let entries = try await f.audit().filter { ["purge", "anonymise"].contains($0.action) }
        #expect(entries.map { $0.detail.contains("\"request\":\"REQ-") } == [true, true, true])
        #expect(entries.map(\.actor).allSatisfy { $0 == "test" }, "the enforcer's actor")
        #expect(try await f.trail().verify().isValid)
        // A prospect is not a client: the clients' rules do not apply to it.
        let wrong = try await enforcer.erase(
            subject: clients, keyText: "1", request: "REQ-5", now: CRMFixture.now, dryRun: false)
        #expect(wrong.steps.allSatisfy { $0.outcome == "not applicable" })
        #expect(try await f.ids("people").contains(1))
    }
}
