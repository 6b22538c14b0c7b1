import Foundation
import RetentionCore
import RetentionEngine
import TestSupport
import Testing

/// Holds the application keeps in a table of its own keep records exactly as retentiond's do.
@Suite struct ApplicationHoldTests {
    static let schema =
        CRMFixture.schema + [
            "CREATE TABLE litigation (id INTEGER PRIMARY KEY, object_table TEXT NOT NULL, object_id TEXT NOT NULL, reason TEXT, until TEXT, released INTEGER NOT NULL DEFAULT 0)",
            "CREATE INDEX litigation_object ON litigation (object_table, object_id)",
        ]

    static let holds = """
        application_holds:
          - { table: litigation, table_column: object_table, key_column: object_id, until: until, where: { released: 0 } }

        """

    // Prospects 1, 2, 4 and 5 are due under prospectPurge (3 was seen recently, 4 has consent until 2027).
    @Test(arguments: Backend.allCases)
    func aRecordOrAChildHeldByTheApplicationIsKeptUntilTheHoldEnds(_ backend: Backend) async throws {
        let f = try await CRMFixture(
            backend, schema: Self.schema,
            data: CRMFixture.data + [
                "INSERT INTO litigation VALUES (1, 'people', '1', 'case 12', NULL, 0)",  // holds prospect 1
                // holds a grandchild of prospect 3 (not due)
                "INSERT INTO litigation VALUES (2, 'attachments', '101', 'evidence', NULL, 0)",
                // holds prospect 2's note until 2027
                "INSERT INTO litigation VALUES (3, 'notes', '12', 'evidence', '2027-01-01 00:00:00', 0)",
                "INSERT INTO litigation VALUES (4, 'people', '5', 'ended', '2026-01-01 00:00:00', 0)",  // ended: 5 goes
                // released (4 kept by consent anyway)
                "INSERT INTO litigation VALUES (5, 'people', '4', 'released', NULL, 1)",
                // names another table's row 2
                "INSERT INTO litigation VALUES (6, 'orders', '2', 'another table', NULL, 0)",
                "DELETE FROM orders WHERE person_id = 5",  // so that only holds decide for 5
            ], policy: Self.holds + CRMPolicies.prospectPurge)
        let report = try await f.run()
        #expect(report.rules[0].exempt["legal_hold"] == 2)
        #expect(try await f.ids("people") == [1, 2, 3, 4, 6, 7])
        #expect(try await f.ids("notes") == [10, 11, 12, 13])
        #expect(try await f.audit(action: "purge").count == 1, "only prospect 5 was purged")

        // Released by the application: the next run purges them.
        try await f.sql(["UPDATE litigation SET released = 1 WHERE id IN (1, 3)"])
        _ = try await f.run()
        #expect(try await f.ids("people") == [3, 4, 6, 7])
    }

    @Test(arguments: Backend.allCases)
    func aHoldTableThatCannotBeReadFailsTheRunAndChangesNothing(_ backend: Backend) async throws {
        let f = try await CRMFixture(
            backend, schema: Self.schema, data: CRMFixture.data, policy: Self.holds + CRMPolicies.prospectPurge)
        #expect(try await f.validate().0 != nil)
        try await f.sql(["DROP TABLE litigation"])
        await #expect(throws: (any Error).self) { _ = try await f.run() }
        #expect(try await f.ids("people") == [1, 2, 3, 4, 5, 6, 7])
        #expect(try await f.audit(action: "purge").isEmpty)
    }

    @Test(arguments: Backend.allCases)
    func checkReportsAHoldTableThatDoesNotMatchTheSchema(_ backend: Backend) async throws {
        let f = try await CRMFixture(
            backend, schema: Self.schema, data: CRMFixture.data,
            policy: """
                application_holds:
                  - { table: litigation, table_column: object_tabel, key_column: object_id, until: reason }

                """ + CRMPolicies.prospectPurge)
        let errors = try await f.validate().1.filter { $0.severity == .error }.map(\.description)
        #expect(
            errors.contains {
                $0.contains("table `litigation` has no column `object_tabel`; did you mean `object_table`?")
            }, "\(errors)")
    }

    @Test(arguments: Backend.allCases)
    func aTableWithACompositeKeyIsSaidToBeOutOfTheirReach(_ backend: Backend) async throws {
        let f = try await CRMFixture(
            backend,
            schema: Self.schema + [
                "CREATE TABLE pairs (a INTEGER NOT NULL, b INTEGER NOT NULL, seen TEXT, PRIMARY KEY (a, b))"
            ],
            data: [],
            policy: Self.holds + """
                subjects:
                  pairs:
                    table: pairs
                    key: [a, b]
                    rules:
                      - { id: r, register: "Test", legal_basis: "test", clock: seen, after: 1y, action: purge }

                """)
        let (resolved, diagnostics) = try await f.validate()
        #expect(resolved != nil)
        #expect(
            diagnostics.contains {
                $0.severity == .warning
                    && $0.description.contains(
                        "`pairs` has a primary key of 2 columns: the application's hold tables name one key value")
            }, "\(diagnostics)")
    }
}
