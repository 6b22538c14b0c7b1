import Foundation
import RetentionCore
import RetentionEngine
import TestSupport
import Testing

/// An enforcing run does not start planning statements that would scan a large table for every
/// record: it refuses before any change, naming the index to create; a small table, an index, or
/// `allowUnindexed` (`--allow-unindexed`) let it go.
@Suite struct UnindexedScanTests {
    static let policy = """
        subjects:
          prospects:
            table: people
            key: id
            relations:
              events: { table: events, on: { person_id: id } }
            filter: { kind: prospect }
            rules:
              - id: prospect-purge
                register: "Prospection"
                legal_basis: "legitimate interest, 3 years"
                clock: { latest: [last_seen, events.at] }
                after: 3y
                action: purge
                children:
                  - { table: notes, foreign_key: person_id, children: [{ table: attachments, foreign_key: note_id }] }

        """

    @Test(arguments: Backend.allCases)
    func anEnforcingRunRefusesToScanALargeTableForEveryRecord(_ backend: Backend) async throws {
        // Ten events of prospect 3 (recent): a scan of ten rows per record is cheaper than a probe.
        let f = try await CRMFixture(
            backend,
            schema: CRMFixture.schema + [
                "CREATE TABLE events (id INTEGER PRIMARY KEY, person_id INTEGER NOT NULL, at TEXT)"
            ],
            data: CRMFixture.data + [
                "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 10) INSERT INTO events SELECT i, 3, '2025-12-01' FROM n"
            ],
            policy: Self.policy)
        let (_, diagnostics) = try await f.validate()
        #expect(diagnostics.contains { $0.message.contains("relation `events` scans `events` for every record") })
        let small = try await f.run()
        #expect(small.status == .complete, "\(small.rules)")
        let left = try await f.ids("people")

        // 10,001 events more: each record's probe would read them all. Refused, nothing changed.
        try await f.sql([
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 10001) INSERT INTO events SELECT 100 + i, 3, '2025-12-01' FROM n"
        ])
        let entries = try await f.audit().count
        do {
            _ = try await f.run()
            Issue.record("the run went ahead")
        } catch let refused as EnforcementError {
            guard case .refused(let message) = refused else { throw refused }
            #expect(
                message.contains("policy.yaml:")
                    && message.contains("relation `events` scans `events` (10011 rows) for every record"), "\(message)")
            #expect(
                message.contains("CREATE INDEX") && message.contains("person_id")
                    && message.contains("--allow-unindexed"), "\(message)")
        }
        let people = try await f.ids("people")
        let after = try await f.audit().count
        #expect(people == left && after == entries, "nothing changed, nothing audited")

        // Asked for, it enforces anyway (prospect 3, seen through its events this winter, stays).
        var anyway = try await f.enforcer()
        anyway.allowUnindexed = true
        let forced = try await anyway.run(now: CRMFixture.now, allowMore: false)
        let completed = try await f.audit(action: "run-completed").count
        #expect(forced.status == .complete && completed == 2)

        // With the index `check` advises, no refusal.
        try await f.sql(["CREATE INDEX events_person_id_idx ON events (person_id)"])
        #expect(try await f.run().status == .complete)
    }
}
