import Foundation
import RetentionCore
import RetentionEngine
import TestSupport
import Testing

/// Dates as SQLite applications store them: Unix seconds in an INTEGER column, Julian days in a REAL one.
@Suite struct StorageFormatTests {
    static let schema = [
        "CREATE TABLE accounts (id INTEGER PRIMARY KEY, login TEXT NOT NULL, deleted_at INTEGER, seen_jd REAL)",
        "CREATE INDEX accounts_deleted_at ON accounts(deleted_at)",
        "CREATE INDEX accounts_seen_jd ON accounts(seen_jd)",
    ]

    static func unix(_ text: String) -> Int64 { Int64(Date.iso(text).timeIntervalSince1970) }
    static func julian(_ text: String) -> Double { Date.iso(text).timeIntervalSince1970 / 86_400 + 2_440_587.5 }

    static let data = [
        "INSERT INTO accounts VALUES (1, 'a', \(unix("2026-05-01T00:00:00Z")), \(julian("2026-05-01T00:00:00Z")))",
        "INSERT INTO accounts VALUES (2, 'b', \(unix("2026-05-31T23:00:00Z")), \(julian("2025-01-01T00:00:00Z")))",
        "INSERT INTO accounts VALUES (3, 'c', NULL, \(julian("2026-05-31T00:00:00Z")))",
    ]

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
        let f = try await CRMFixture(.sqlite, schema: Self.schema, data: Self.data, policy: policy)
        let report = try await f.run()
        #expect(report.rules[0].purged == 1)
        #expect(try await f.ids("accounts") == [2, 3])
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
        let f = try await CRMFixture(.sqlite, schema: Self.schema, data: Self.data, policy: policy)
        _ = try await f.run()
        #expect(try await f.texts("SELECT login FROM accounts ORDER BY id") == ["a", "gone", "c"])
    }
}
