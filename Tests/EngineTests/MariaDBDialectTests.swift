import Foundation
import RetentionCore
import RetentionStore
import TestSupport
import Testing

/// What only MariaDB does, each decided safely (docs/mariadb.md, "The dialect's traps"): rows
/// written by the server's own client, in its default SQL mode, as an application writes them.
@Suite struct MariaDBDialectTests {
    static let schema = [
        "CREATE TABLE people (id INTEGER PRIMARY KEY, kind VARCHAR(20) NOT NULL, name VARCHAR(50) NOT NULL, last_seen DATETIME, seen_at TIMESTAMP NULL)",
        "CREATE INDEX people_last_seen ON people(last_seen)",
    ]

    static let policy = """
        subjects:
          prospects:
            table: people
            key: id
            filter: { kind: prospect }
            rules:
              - id: prospect-purge
                register: "Prospection"
                legal_basis: "legitimate interest, 3 years"
                clock: last_seen
                after: 3y
                action: purge

        """

    /// A fixture whose schema and rows the test writes with the `mariadb` client, in MariaDB's own
    /// terms and default SQL mode (zero dates allowed), as an application writes them.
    func fixture(_ rows: [String], policy: String = Self.policy) async throws -> CRMFixture {
        let f = try await CRMFixture(.mariadb, schema: [], data: [], policy: policy)
        let database = try #require(f.databaseSection.split(separator: "database: ").last?.split(separator: ",").first)
            .trimmingCharacters(in: .whitespaces)
        try await MariaDBServer.start().sql(database, (Self.schema + rows).joined(separator: "; "))
        return f
    }

    @Test func aZeroDateIsNoDateAndNeverMakesARecordDue() async throws {
        let f = try await fixture([
            "INSERT INTO people VALUES (1, 'prospect', 'zero', '0000-00-00 00:00:00', NULL)",
            "INSERT INTO people VALUES (2, 'prospect', 'old', '2020-01-01 10:00:00', NULL)",
            "INSERT INTO people VALUES (3, 'prospect', 'none', NULL, NULL)",
            "INSERT INTO people VALUES (4, 'prospect', 'recent', '2026-01-01 10:00:00', NULL)",
        ])
        // `check` says so, where the subject names the table, with how to find them.
        let (_, diagnostics) = try await f.validate()
        let warning = try #require(diagnostics.first { $0.message.contains("zero date") }, "\(diagnostics)")
        #expect(warning.severity == .warning)
        #expect(warning.message.hasPrefix("`people.last_seen` holds 1 zero date(s) (0000-00-00)"), "\(warning.message)")
        #expect(warning.hint?.contains("WHERE `last_seen` < '0001-01-01'") == true)
        let plan = try await f.plan()
        #expect(
            plan.rules[0].pastCutoff == 1,
            "only the 2020 record; the zero date compares as older than every date, and is none")
        let report = try await f.run()
        #expect(report.rules[0].purged == 1)
        #expect(try await f.ids("people") == [1, 3, 4])
        #expect(try await f.audit(action: "purge").map(\.subjectRef) == [try f.reference("people", 2)])
    }

    @Test func aFilterValueMatchesExactlyWhateverTheCollation() async throws {
        // utf8mb4_general_ci: 'Prospect ', 'PROSPECT' and 'prospect' are equal to the server.
        let f = try await fixture([
            "INSERT INTO people VALUES (1, 'prospect', 'exact', '2020-01-01 10:00:00', NULL)",
            "INSERT INTO people VALUES (2, 'Prospect ', 'trailing space', '2020-01-01 10:00:00', NULL)",
            "INSERT INTO people VALUES (3, 'PROSPECT', 'upper case', '2020-01-01 10:00:00', NULL)",
        ])
        #expect(
            try await f.count("SELECT count(*) FROM people WHERE kind = 'prospect'") == 3, "the server's own comparison"
        )
        let report = try await f.run()
        #expect(report.rules[0].purged == 1)
        #expect(try await f.ids("people") == [2, 3])
    }

    @Test func aTableThatCannotRollBackIsRefusedByCheckWithTheStatementToRun() async throws {
        let f = try await fixture([
            "ALTER TABLE people ENGINE=MyISAM",
            "INSERT INTO people VALUES (2, 'prospect', 'old', '2020-01-01 10:00:00', NULL)",
        ])
        let (resolved, diagnostics) = try await f.validate()
        #expect(resolved == nil)
        let refusal = try #require(diagnostics.first { $0.severity == .error })
        #expect(
            refusal.message.contains("rule `prospect-purge` changes `people`, a table on the MyISAM engine"),
            "\(refusal.message)")
        #expect(refusal.hint?.contains("ALTER TABLE `people` ENGINE=InnoDB") == true)
        await #expect(throws: (any Error).self) { _ = try await f.run() }
        #expect(try await f.ids("people") == [2], "nothing was deleted")
    }

    @Test func aTimestampIsAnInstantWhateverTheSessionThatWroteIt() async throws {
        // Written through a session at -05:00. The bound is 3 years before 2026-06-01 00:00 UTC:
        // 21:00 on May 31st at -05:00 is 02:00 UTC on June 1st, after it, though read as
        // wall-clock time (in UTC or in Paris) it would look earlier.
        let clockedBySeenAt = Self.policy.replacingOccurrences(of: "clock: last_seen", with: "clock: seen_at")
        let f = try await fixture(
            [
                "SET time_zone = '-05:00'",
                "INSERT INTO people VALUES (1, 'prospect', 'after the bound', NULL, '2023-05-31 21:00:00')",
                "INSERT INTO people VALUES (2, 'prospect', 'before the bound', NULL, '2023-05-31 18:00:00')",
            ], policy: clockedBySeenAt)
        let report = try await f.run()
        #expect(report.rules[0].purged == 1)
        #expect(try await f.ids("people") == [1])
    }

    /// With `lower_case_table_names = 1` the server stores table names in lower case: a policy
    /// written with the spelling the table was created with (`People`) is resolved to the stored
    /// name, said once, and enforces as on any server.
    @Test func tablesOfAServerThatStoresNamesInLowerCaseResolveToTheStoredName() async throws {
        let server = try await MariaDBServer.startLowerCaseNames()
        let database = try await server.createDatabase()
        try await server.sql(
            database,
            ([
                "CREATE TABLE People (id INTEGER PRIMARY KEY, kind VARCHAR(20) NOT NULL, name VARCHAR(50) NOT NULL, last_seen DATETIME, seen_at TIMESTAMP NULL)",
                "CREATE INDEX people_last_seen ON People(last_seen)",
                "INSERT INTO People VALUES (1, 'prospect', 'old', '2020-01-01 10:00:00', NULL), (2, 'prospect', 'recent', '2026-01-01 10:00:00', NULL)",
            ]).joined(separator: "; "))
        #expect(
            try await server.sql(
                database, "SELECT table_name FROM information_schema.tables WHERE table_schema = DATABASE()")
                == "people")
        let f = try await CRMFixture(
            .mariadb, schema: [], data: [],
            policy: Self.policy.replacingOccurrences(of: "table: people", with: "table: People"))
        f.databaseOverride = .mariadb(
            MariaDBLocation(host: "127.0.0.1", port: server.port, database: database, user: "root", tls: .disable))
        let (resolved, diagnostics) = try await f.validate()
        #expect(resolved?.policy.subjects.first?.table.value == "people")
        #expect(
            diagnostics.filter {
                $0.message.contains("the database spells these names otherwise")
                    && $0.message.contains("`People` as `people`")
            }.count == 1,
            "\(diagnostics)")
        let report = try await f.run()
        #expect(report.rules[0].purged == 1, "\(report.message ?? "")")
        #expect(try await server.sql(database, "SELECT id FROM people") == "2")
    }
}
