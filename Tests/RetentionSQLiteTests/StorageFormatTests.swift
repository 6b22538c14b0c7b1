import Foundation
import GRDB
import Testing
@testable import RetentionCore
@testable import RetentionEngine

/// Dates stored as Unix seconds, Julian days and ISO text; fiscal-year anchors; composite text keys.
@Suite struct StorageFormatTests {
    static let schema = """
        CREATE TABLE accounts (id INTEGER PRIMARY KEY, login TEXT NOT NULL, deleted_at INTEGER, seen_jd REAL);
        CREATE INDEX accounts_deleted_at ON accounts(deleted_at);
        CREATE INDEX accounts_seen_jd ON accounts(seen_jd);
        CREATE TABLE invoices (country TEXT NOT NULL, number TEXT NOT NULL, issued_on TEXT NOT NULL, amount INTEGER, PRIMARY KEY (country, number));
        CREATE INDEX invoices_issued_on ON invoices(issued_on);
        CREATE TABLE invoice_lines (id INTEGER PRIMARY KEY, country TEXT NOT NULL, number TEXT NOT NULL, label TEXT,
            FOREIGN KEY (country, number) REFERENCES invoices(country, number));
        """

    static func unix(_ text: String) -> Int64 { Int64(Date.iso(text).timeIntervalSince1970) }
    static func julian(_ text: String) -> Double { Date.iso(text).timeIntervalSince1970 / 86_400 + 2_440_587.5 }

    static let data = """
        INSERT INTO accounts VALUES (1, 'a', \(unix("2026-05-01T00:00:00Z")), \(julian("2026-05-01T00:00:00Z")));
        INSERT INTO accounts VALUES (2, 'b', \(unix("2026-05-31T23:00:00Z")), \(julian("2025-01-01T00:00:00Z")));
        INSERT INTO accounts VALUES (3, 'c', NULL, \(julian("2026-05-31T00:00:00Z")));
        INSERT INTO invoices VALUES ('FR', 'F-"quoted"\\1', '2015-12-31', 10);
        INSERT INTO invoices VALUES ('FR', 'F-2', '2016-01-01', 20);
        INSERT INTO invoices VALUES ('DE', 'F-1', '2014-06-30', 30);
        INSERT INTO invoice_lines VALUES (1, 'FR', 'F-"quoted"\\1', 'x'), (2, 'FR', 'F-2', 'y'), (3, 'DE', 'F-1', 'z');
        """

    @Test func unixSecondsClocksCompareAsIntegers() async throws {
        let policy = """
            subjects:
              accounts:
                table: accounts
                key: id
                rules:
                  - id: deleted-account
                    register: "Site"
                    legal_basis: "consent withdrawn"
                    clock: deleted_at
                    after: 7 days
                    action: purge
            """
        let f = try Fixture(schema: Self.schema, data: Self.data, policy: policy)
        let report = try await f.run()
        #expect(report.rules[0].purged == 1)
        #expect(try f.ids("accounts") == [2, 3])
    }

    @Test func julianDayClocksAreInferredFromARealColumn() async throws {
        let policy = """
            subjects:
              accounts:
                table: accounts
                key: id
                rules:
                  - id: idle
                    register: "Site"
                    legal_basis: "inactivity"
                    clock: seen_jd
                    after: 1y
                    action: anonymise
                    fields: { login: { constant: "gone" } }
            """
        let f = try Fixture(schema: Self.schema, data: Self.data, policy: policy)
        _ = try await f.run()
        #expect(try f.query("SELECT login FROM accounts ORDER BY id").map { $0["login"] as String } == ["a", "gone", "c"])
    }

    @Test func accountingRecordsCountFromTheEndOfTheirFiscalYearAndCompositeKeysWork() async throws {
        let policy = """
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
        let f = try Fixture(schema: Self.schema, data: Self.data, policy: policy)
        // Now is 2026-06-01: invoices of fiscal years up to 2015 are past 10 years; 2016 is not.
        // Hold one of them, with a key holding quotes and a backslash, to check keys match in SQL and Swift alike.
        _ = try await f.holds().add(table: "invoices", keyText: "FR,F-\"quoted\"\\1", reason: "tax audit", by: "cfo", until: nil, now: Fixture.now)
        let report = try await f.run()
        #expect(report.rules[0].pastCutoff == 2)
        #expect(report.rules[0].exempt == ["legal_hold": 1])
        #expect(report.rules[0].purged == 1)
        let left = try f.query("SELECT country || '/' || number AS k FROM invoices ORDER BY k").map { $0["k"] as String }
        #expect(left == ["FR/F-\"quoted\"\\1", "FR/F-2"])
        #expect(try f.ids("invoice_lines") == [1, 2])
        #expect(try await f.trail().verify().isValid)
    }
}
