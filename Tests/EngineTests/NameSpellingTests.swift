import Foundation
import RetentionCore
import RetentionEngine
import RetentionStore
import TestSupport
import Testing

/// A product that creates its tables unquoted (`CREATE TABLE Tickets (Id …, Created …)`):
/// PostgreSQL holds them as `tickets`, `id`, `created`; SQLite and MariaDB as written. A policy
/// written either way — with the product's documented spelling or in lower case — resolves each
/// name to the database's spelling, says so once, and enforces the same rows on every database.
@Suite struct NameSpellingTests {
    static let schema = [
        "CREATE TABLE Queues (Id INTEGER PRIMARY KEY, Name TEXT NOT NULL)",
        "CREATE TABLE Tickets (Id INTEGER PRIMARY KEY, Queue_Id INTEGER NOT NULL, Subject TEXT, Created TEXT NOT NULL)",
        "CREATE TABLE Replies (Id INTEGER PRIMARY KEY, Ticket_Id INTEGER NOT NULL REFERENCES Tickets (Id), Body TEXT)",
        "CREATE INDEX Replies_Ticket ON Replies (Ticket_Id)",
    ]
    static let data = [
        "INSERT INTO Queues VALUES (1, 'support'), (2, 'sales')",
        "INSERT INTO Tickets VALUES (1, 1, 'printer', '2020-01-01 10:00:00'), (2, 2, 'quote', '2020-01-01 10:00:00'), (3, 1, 'vpn', '2025-01-01 10:00:00')",
        "INSERT INTO Replies VALUES (10, 1, 'rebooted'), (20, 2, 'sent'), (30, 3, 'fixed')",
    ]

    /// The policy with each table and column name transformed by `spell`.
    static func policy(_ spell: (String) -> String) -> String {
        """
        subjects:
          tickets:
            table: \(spell("Tickets"))
            key: \(spell("Id"))
            relations:
              queue: { table: \(spell("Queues")), on: { \(spell("Id")): \(spell("Queue_Id")) } }
            filter: { queue.\(spell("Name")): support }
            review_columns: [\(spell("Subject"))]
            rules:
              - id: tickets-2y
                register: "Support"
                legal_basis: "contract"
                clock: \(spell("Created"))
                after: 2y
                action: purge
                children:
                  - { table: \(spell("Replies")), foreign_key: \(spell("Ticket_Id")) }

        """
    }

    @Test(arguments: Backend.allCases, [true, false])
    func aPolicyInTheProductsSpellingOrInLowerCaseEnforcesTheSameRows(_ backend: Backend, documented: Bool) async throws
    {
        let f = try await CRMFixture(
            backend, schema: Self.schema, data: Self.data,
            policy: Self.policy(documented ? { $0 } : { $0.lowercased() }))
        let (resolved, diagnostics) = try await f.validate()
        try #require(resolved != nil, "\(diagnostics)")
        // PostgreSQL folded the product's names; the others hold them as created.
        let spelledOtherwise = documented == (backend == .postgres)
        let notes = diagnostics.filter { $0.message.contains("the database spells these names otherwise") }
        #expect(notes.count == (spelledOtherwise ? 1 : 0), "\(diagnostics)")
        if spelledOtherwise {
            let expected = documented ? "`Tickets` as `tickets`" : "`tickets` as `Tickets`"
            #expect(notes.first?.message.contains(expected) == true, "\(notes)")
        }
        let report = try await f.run()
        #expect(report.failure == nil)
        #expect(report.rules[0].purged == 1)
        let ticketsTable = backend == .postgres ? "tickets" : "Tickets"
        let repliesTable = backend == .postgres ? "replies" : "Replies"
        #expect(
            try await f.rows("SELECT \(backend == .postgres ? "id" : "Id") FROM \(ticketsTable) ORDER BY 1").map {
                $0[0].int
            } == [2, 3],
            "ticket 1 (support, 2020) goes; 2 is sales, 3 is recent")
        #expect(try await f.rows("SELECT count(*) FROM \(repliesTable)").map { $0[0].int } == [2])
        #expect(try await f.audit(action: "purge").count == 1)
    }

    @Test(arguments: Backend.allCases)
    func aNameTwoSpellingsFitIsReportedNotGuessed(_ backend: Backend) async throws {
        // MariaDB's columns ignore case: `SUBJECT` and `Subject` cannot both exist.
        guard backend != .mariadb else { return }
        let f = try await CRMFixture(
            backend,
            schema: Self.schema + [
                backend == .postgres
                    ? "ALTER TABLE Tickets ADD COLUMN \"Subject\" TEXT" : "CREATE TABLE subject_copy (SUBJECT TEXT)"
            ], data: Self.data, policy: Self.policy { $0 == "Subject" ? "sUbJeCt" : $0.lowercased() })
        let (resolved, diagnostics) = try await f.validate()
        #expect(resolved == nil)
        #expect(
            diagnostics.contains { $0.severity == .error && $0.message.contains("no column `sUbJeCt`") },
            "\(diagnostics)")
    }
}
