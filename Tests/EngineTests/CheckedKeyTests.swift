import Foundation
import RetentionCore
import RetentionEngine
import RetentionStore
import TestSupport
import Testing

/// A product whose table has no primary key nor unique index (`id INTEGER` and nothing more):
/// `key_uniqueness: checked` makes retentiond check the key itself — at `check`, before each plan
/// and each application — and never act on a value that names several rows (or on rows with none).
/// Holds, marks and the audit name the rows by that key. On every database.
@Suite struct CheckedKeyTests {
    static let schema = [
        "CREATE TABLE tickets (id INTEGER NOT NULL, subject TEXT, closed TEXT NOT NULL)",
        "CREATE TABLE replies (ticket_id INTEGER NOT NULL, body TEXT)",
    ]
    // "now" is 2026-06-01; two years before is 2024-06-01.
    static let data = [
        "INSERT INTO tickets VALUES (1, 'printer', '2020-01-01 10:00:00'), (2, 'invoice', '2021-01-01 10:00:00'), (3, 'login', '2022-01-01 10:00:00'), (4, 'vpn', '2025-01-01 10:00:00'), (5, 'mail', '2026-01-01 10:00:00')",
        "INSERT INTO replies VALUES (1, 'rebooted'), (2, 'sent again'), (3, 'reset'), (4, 'fixed')",
    ]

    static func policy(checked: Bool, action: String = "purge") -> String {
        """
        subjects:
          tickets:
            table: tickets
            key: id
        \(checked ? "    key_uniqueness: checked\n" : "")    rules:
              - id: tickets-2y
                register: "Support"
                legal_basis: "contract, 2 years after closure"
                clock: closed
                after: 2y
                action: \(action)
                children:
                  - { table: replies, foreign_key: ticket_id, references: [id] }

        """
    }

    @Test(arguments: Backend.allCases)
    func aKeyTheDatabaseDoesNotEnforceIsRefusedUnlessRetentiondChecksIt(_ backend: Backend) async throws {
        let unchecked = try await CRMFixture(
            backend, schema: Self.schema, data: Self.data, policy: Self.policy(checked: false))
        let refused = try await unchecked.validate()
        #expect(refused.0 == nil)
        #expect(
            refused.1.contains {
                $0.message.contains("neither the primary key nor a unique index")
                    && ($0.hint ?? "").contains("key_uniqueness: checked")
            }, "\(refused.1)")

        let f = try await CRMFixture(backend, schema: Self.schema, data: Self.data, policy: Self.policy(checked: true))
        let (resolved, diagnostics) = try await f.validate()
        try #require(resolved != nil, "\(diagnostics)")
        #expect(
            !diagnostics.contains { $0.message.contains("cannot be held") },
            "the checked key names rows for holds: \(diagnostics)")

        // A hold names the row by the checked key; the run keeps it and purges the others due.
        _ = try await f.holds().add(
            table: "tickets", keyText: "2", reason: "dispute", by: "dpo", until: nil, now: CRMFixture.now)
        let report = try await f.run()
        #expect(report.failure == nil)
        #expect(try await f.rows("SELECT id FROM tickets ORDER BY id").map { $0[0].int } == [2, 4, 5])
        #expect(try await f.rows("SELECT ticket_id FROM replies ORDER BY ticket_id").map { $0[0].int } == [2, 4])
        let purged = try await f.audit(action: "purge")
        #expect(Set(purged.map(\.subjectRef)) == Set([try f.reference("tickets", 1), try f.reference("tickets", 3)]))
    }

    @Test(arguments: Backend.allCases)
    func aValueOnTwoRowsOrARowWithoutOneStopsEverythingBeforeAnyChange(_ backend: Backend) async throws {
        let f = try await CRMFixture(
            backend, schema: ["CREATE TABLE tickets (id INTEGER, subject TEXT, closed TEXT NOT NULL)", Self.schema[1]],
            data: Self.data + [
                "INSERT INTO tickets VALUES (3, 'copy of login', '2025-06-01 10:00:00'), (NULL, 'lost', '2019-01-01 10:00:00')"
            ],
            policy: Self.policy(checked: true))
        let (resolved, diagnostics) = try await f.validate()
        #expect(resolved == nil)
        #expect(
            diagnostics.contains {
                $0.message.contains(
                    "1 value(s) of `tickets.id` name more than one row, and 1 row(s) have no value in `tickets.id`")
            }, "\(diagnostics)")

        // Valid when planned, a duplicate made since stops the run before any change.
        try await f.sql([
            "DELETE FROM tickets WHERE id = 3 AND subject = 'copy of login'", "DELETE FROM tickets WHERE id IS NULL",
        ])
        let enforcer = try await f.enforcer()
        try await f.sql(["INSERT INTO tickets VALUES (1, 'copy of printer', '2026-01-01 10:00:00')"])
        await #expect { _ = try await enforcer.run(now: CRMFixture.now, allowMore: false) } throws: { error in
            "\(error)".contains("1 value(s) of `tickets.id` name more than one row")
                && "\(error)".contains("nothing was changed")
        }
        #expect(try await f.rows("SELECT count(*) FROM tickets").map { $0[0].int } == [6], "nothing was deleted")
        #expect(try await f.rows("SELECT count(*) FROM replies").map { $0[0].int } == [4])
        #expect(try await f.audit(action: "purge").isEmpty)
    }

    /// A flag rule marks what it flagged by the checked key: the next run finds the marks and
    /// flags nothing again.
    @Test(arguments: Backend.allCases)
    func aFlagRuleMarksRecordsByTheCheckedKey(_ backend: Backend) async throws {
        let purge = Self.policy(checked: true, action: "flag")
        let policy = String(purge[..<purge.range(of: "children:")!.lowerBound]) + "\n"
        let f = try await CRMFixture(backend, schema: Self.schema, data: Self.data, policy: policy)
        let first = try await f.run()
        #expect(first.rules[0].flagged == 3, "tickets 1, 2 and 3 closed before 2024-06-01")
        let second = try await f.run()
        #expect(second.rules[0].flagged == 0)
        #expect(second.rules[0].alreadyDone == 3)
        #expect(try await f.audit(action: "flag").count == 3)
        #expect(try await f.rows("SELECT count(*) FROM tickets").map { $0[0].int } == [5], "a flag changes nothing")
    }
}
