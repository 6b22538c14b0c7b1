import Foundation
import RetentionCore
import RetentionEngine
import TestSupport
import Testing

/// Fiscal-year anchors and composite text keys (quotes and backslashes included) on both databases.
@Suite struct CompositeKeyTests {
    static let schema = [
        "CREATE TABLE invoices (country TEXT NOT NULL, number TEXT NOT NULL, issued_on TEXT NOT NULL, amount INTEGER, PRIMARY KEY (country, number))",
        "CREATE INDEX invoices_issued_on ON invoices(issued_on)",
        "CREATE TABLE invoice_lines (id INTEGER PRIMARY KEY, country TEXT NOT NULL, number TEXT NOT NULL, label TEXT, FOREIGN KEY (country, number) REFERENCES invoices(country, number))",
    ]

    static let data = [
        "INSERT INTO invoices VALUES ('FR', 'F-\"quoted\"\\1', '2015-12-31', 10)",
        "INSERT INTO invoices VALUES ('FR', 'F-2', '2016-01-01', 20)",
        "INSERT INTO invoices VALUES ('DE', 'F-1', '2014-06-30', 30)",
        "INSERT INTO invoice_lines VALUES (1, 'FR', 'F-\"quoted\"\\1', 'x'), (2, 'FR', 'F-2', 'y'), (3, 'DE', 'F-1', 'z')",
    ]

    static let policy = """
        subjects:
          invoices:
            table: invoices
            key: [country, number]
            rules:
              - id: accounting
                register: "Comptabilité"
                legal_basis: "legal obligation, 10 years"
                clock: { column: issued_on, anchor: fiscal_year_end }
                after: 10y
                action: purge
                children: auto
        """

    @Test(arguments: Backend.allCases)
    func accountingRecordsCountFromTheEndOfTheirFiscalYearAndCompositeKeysWork(_ backend: Backend) async throws {
        let f = try await CRMFixture(backend, schema: Self.schema, data: Self.data, policy: Self.policy)
        // Now is 2026-06-01: invoices of fiscal years up to 2015 are past 10 years; 2016 is not.
        // Hold one of them, with a key holding quotes and a backslash, to check keys match in SQL and Swift alike.
        _ = try await f.holds().add(
            table: "invoices", keyText: "FR,F-\"quoted\"\\1", reason: "tax audit", by: "cfo", until: nil,
            now: CRMFixture.now)
        let report = try await f.run()
        #expect(report.rules[0].pastCutoff == 2)
        #expect(report.rules[0].exempt == ["legal_hold": 1])
        #expect(report.rules[0].purged == 1)
        let left = try await f.texts("SELECT country || '/' || number AS k FROM invoices ORDER BY k")
        #expect(left == ["FR/F-\"quoted\"\\1", "FR/F-2"])
        #expect(try await f.ids("invoice_lines") == [1, 2])
        #expect(try await f.trail().verify().isValid)
    }

    /// A composite key whose text holds a comma is named as a JSON array: held, and kept by the run.
    @Test(arguments: Backend.allCases)
    func aKeyWhoseTextHoldsACommaIsNamedAsAJSONArray(_ backend: Backend) async throws {
        let f = try await CRMFixture(
            backend, schema: Self.schema,
            data: Self.data + [
                "INSERT INTO invoices VALUES ('FR', 'F-3,bis', '2010-05-01', 40)"
            ], policy: Self.policy)
        // `FR,F-3,bis` is three values for two columns: refused, never read as another record.
        await #expect(throws: (any Error).self) {
            _ = try await f.holds().add(
                table: "invoices", keyText: "FR,F-3,bis", reason: "audit", by: "cfo", until: nil, now: CRMFixture.now)
        }
        let hold = try await f.holds().add(
            table: "invoices", keyText: #"["FR", "F-3,bis"]"#, reason: "audit", by: "cfo", until: nil,
            now: CRMFixture.now)
        #expect(hold.key == RecordKey([.text("FR"), .text("F-3,bis")]))
        let report = try await f.run()
        #expect(report.rules[0].exempt == ["legal_hold": 1])
        let left = try await f.texts("SELECT country || '/' || number AS k FROM invoices ORDER BY k")
        #expect(
            left == ["FR/F-2", "FR/F-3,bis"], "the 2015 and 2014 invoices go; the held 2010 one stays, 2016 is not due")
    }
}
