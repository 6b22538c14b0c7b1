import Foundation
import RetentionCore
import RetentionEngine
import TestSupport
import Testing

/// Names are identifiers, never text: a table, column or index named with a quote, a backtick, a
/// space, non-ASCII letters or a reserved word is read, probed and deleted from like any other,
/// whether the policy names it or it merely sits beside the policy's tables.
@Suite struct HostileNameTests {
    /// The policy governs `order` (a reserved word) with its clock in `select` and its child `from`;
    /// tables the policy never names reference it with quotes and spaces in their names.
    static let schema = [
        #"CREATE TABLE "order" (id INTEGER PRIMARY KEY, "select" TEXT, "group" TEXT)"#,
        #"CREATE INDEX "order.select" ON "order"("select")"#,
        #"CREATE TABLE "from" (id INTEGER PRIMARY KEY, "order" INTEGER NOT NULL REFERENCES "order"(id))"#,
        #"CREATE INDEX "from by ""order""" ON "from"("order")"#,
        #"CREATE TABLE "a""b" (id INTEGER PRIMARY KEY, "we""ird" INTEGER REFERENCES "order"(id))"#,
        #"CREATE INDEX "i""x" ON "a""b"("we""ird")"#,
        #"CREATE TABLE "sp ace" (id INTEGER PRIMARY KEY, "select" INTEGER REFERENCES "order"(id))"#,
        #"CREATE TABLE "back`tick" (id INTEGER PRIMARY KEY, "col`umn" TEXT)"#,
        #"CREATE TABLE "Ünïcödé tåble" (id INTEGER PRIMARY KEY, "ñame" TEXT)"#,
        #"CREATE INDEX "ïndex" ON "Ünïcödé tåble"("ñame")"#,
    ]

    /// Orders 1–4 are due (2019); 5 is recent. 2 is referenced from `a"b`, 3 from `sp ace`: both
    /// tables are undeclared, so they keep their orders.
    static let data = [
        #"INSERT INTO "order" VALUES (1, '2019-01-01', 'g1'), (2, '2019-01-01', 'g2'), (3, '2019-01-01', 'g3'), (4, '2019-01-01', 'g4'), (5, '2026-05-01', 'g5')"#,
        #"INSERT INTO "from" VALUES (10, 1), (11, 1), (12, 2), (13, 4), (14, 5)"#,
        #"INSERT INTO "a""b" VALUES (20, 2)"#,
        #"INSERT INTO "sp ace" VALUES (30, 3)"#,
        #"INSERT INTO "back`tick" VALUES (40, 'x')"#,
        #"INSERT INTO "Ünïcödé tåble" VALUES (50, 'y')"#,
    ]

    static let policy = """
        subjects:
          orders:
            table: order
            key: id
            review_columns: [group]
            rules:
              - id: order-purge
                register: "Orders"
                legal_basis: "contract, 3 years"
                clock: select
                after: 3y
                action: purge
                children:
                  - { table: from, foreign_key: order }

        """

    @Test(arguments: Backend.allCases)
    func namesWithQuotesSpacesAndReservedWordsAreReadAndUsedAsNames(_ backend: Backend) async throws {
        let f = try await CRMFixture(backend, schema: Self.schema, data: Self.data, policy: Self.policy)
        let (resolved, diagnostics) = try await f.validate()
        let schema = try #require(resolved, "\(diagnostics)").schema
        #expect(schema.table("a\"b")?.indexes.contains { $0.name == "i\"x" && $0.columns == ["we\"ird"] } == true)
        #expect(schema.table("from")?.indexes.contains { $0.name == "from by \"order\"" } == true)
        #expect(schema.table("sp ace")?.foreignKeys.first?.referencedTable == "order")
        #expect(schema.table("Ünïcödé tåble")?.columns.map(\.name) == ["id", "ñame"])
        #expect(schema.table("back`tick")?.primaryKey == ["id"])
        // The undeclared references are named in check's warnings as they are spelt.
        #expect(diagnostics.contains { $0.message.contains("`a\"b`.(we\"ird) references `order`") }, "\(diagnostics)")
        #expect(
            !diagnostics.contains { $0.message.contains("no index starts with `order.select`") },
            "the index on \"select\" serves the clock")

        let plan = try await f.plan()
        #expect(plan.rules[0].due == 2 && plan.rules[0].exempt == ["referenced_by_undeclared_table": 2])
        let report = try await f.run()
        // Expected, from the data: 1 and 4 go with their rows of `from`; 2 and 3 are referenced; 5 is recent.
        #expect(report.rules[0].purged == 2)
        #expect(try await f.ids("\"order\"") == [2, 3, 5])
        #expect(try await f.ids("\"from\"") == [12, 14])
        #expect(try await f.ids("\"a\"\"b\"") == [20])
        #expect(try await f.ids("\"sp ace\"") == [30])
        #expect(try await f.ids("\"back`tick\"") == [40])
        #expect(try await f.ids("\"Ünïcödé tåble\"") == [50])
        #expect(try await f.trail().verify().isValid)

        // A hold names a row of a table whatever its name.
        _ = try await f.holds().add(
            table: "order", keyText: "5", reason: "evidence", by: "dpo", until: nil, now: CRMFixture.now)
        let later = try await f.run(now: .iso("2030-01-01T00:00:00Z"))
        #expect(later.rules[0].exempt["legal_hold"] == 1)
        #expect(try await f.ids("\"order\"") == [2, 3, 5])
    }
}
