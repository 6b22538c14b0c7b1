import Foundation
import RetentionCore
import RetentionEngine
import RetentionStore
import TestSupport
import Testing

/// Filters, clocks, consent and exemptions through relations, at their boundaries, on both
/// databases: which people a rule changes is read back from the database after the run.
@Suite struct RelationTests {
    /// The CRM plus a one-to-one profile, a one-to-many contact log and a mailing list keyed by address.
    static let schema =
        CRMFixture.schema + [
            "CREATE TABLE profiles (id INTEGER PRIMARY KEY, person_ref INTEGER NOT NULL UNIQUE, ended TEXT, consent_until TEXT)",
            "CREATE TABLE contacts (id INTEGER PRIMARY KEY, person_id INTEGER NOT NULL, kind TEXT NOT NULL, happened TEXT)",
            "CREATE INDEX contacts_person ON contacts (person_id)",
            "CREATE TABLE mailings (id INTEGER PRIMARY KEY, address TEXT NOT NULL)",
            "CREATE TABLE events (id INTEGER PRIMARY KEY, elementtype TEXT NOT NULL, fk_element INTEGER NOT NULL)",
            "CREATE TABLE stamps (id INTEGER PRIMARY KEY, owner_kind TEXT NOT NULL, owner_id INTEGER NOT NULL, stamped TEXT NOT NULL)",
            "CREATE INDEX stamps_owner ON stamps (owner_id, owner_kind)",
            "CREATE INDEX events_element ON events (fk_element)",
            "CREATE TABLE stages (id INTEGER PRIMARY KEY, name TEXT NOT NULL, kind TEXT NOT NULL)",
            "CREATE TABLE moves (id INTEGER PRIMARY KEY, person_id INTEGER NOT NULL, stage_id INTEGER NOT NULL, happened TEXT)",
            "CREATE INDEX moves_person ON moves (person_id)",
            "CREATE TABLE links (id INTEGER PRIMARY KEY, source_key TEXT NOT NULL, kind TEXT NOT NULL)",
            "CREATE INDEX links_source ON links (source_key)",
        ]

    /// One anonymise rule over the prospects (people 1–5) that marks what it changes: `subject` is
    /// the subject's relations and exemptions (indented as subject keys), `rule` the rule's clock,
    /// after and exemptions (indented as subject keys too).
    static func policy(subject: String, rule: String, filter: String = "{ kind: prospect }") -> String {
        let rule = rule.split(separator: "\n").map { "    " + $0 }.joined(separator: "\n")
        return """
            subjects:
              prospects:
                table: people
                key: id
                filter: \(filter)
            \(subject)
                rules:
                  - id: mark
                    register: "Test"
                    legal_basis: "test"
            \(rule)
                    action: anonymise
                    fields:
                      name: { constant: "changed" }

            """
    }

    /// Runs the policy on `data` added to the CRM's and returns the ids of the people it changed.
    func changed(_ backend: Backend, _ policy: String, data: [String]) async throws -> [Int64] {
        let f = try await CRMFixture(backend, schema: Self.schema, data: CRMFixture.data + data, policy: policy)
        let (resolved, diagnostics) = try await f.validate()
        try #require(resolved != nil, "\(diagnostics)")
        let report = try await f.run()
        let ids = try await f.rows("SELECT id FROM people WHERE name = 'changed' ORDER BY id").compactMap {
            row -> Int64? in
            if case .integer(let i) = row[0] { return i } else { return nil }
        }
        #expect(report.rules[0].anonymised == ids.count)
        #expect(try await f.audit(action: "anonymise").count == ids.count, "one audit entry per record changed")
        return ids
    }

    // "now" is 2026-06-01T00:00:00Z, 02:00 in Paris (the fixture's zone, in which text dates are stored).

    @Test(arguments: Backend.allCases)
    func aClockInAOneToOneTableIsComparedAtTheSecond(_ backend: Backend) async throws {
        let policy = Self.policy(
            subject: """
                    relations:
                      profile: { table: profiles, on: { person_ref: id } }
                    exempt:
                      consent: { until: profile.consent_until }
                """,
            rule: """
                    clock: profile.ended
                    after: 1y
                """)
        let data = [
            "INSERT INTO profiles VALUES (1, 1, '2025-06-01 01:59:59', NULL)",  // a second before the bound
            "INSERT INTO profiles VALUES (2, 2, '2025-06-01 02:00:00', NULL)",  // at the bound
            "INSERT INTO profiles VALUES (3, 3, NULL, NULL)",  // no date: never due
            // consent in the related row
            "INSERT INTO profiles VALUES (4, 4, '2020-01-01 00:00:00', '2027-01-01 00:00:00')",
        ]  // 5 has no profile: no clock
        #expect(try await changed(backend, policy, data: data) == [1])
    }

    @Test(arguments: Backend.allCases)
    func theLatestRelatedDateCountsOnlyRowsThatMeetTheRelationsCondition(_ backend: Backend) async throws {
        let data = [
            "INSERT INTO contacts VALUES (1, 1, 'call', '2026-01-01 10:00:00')",  // 1: a recent call
            "INSERT INTO contacts VALUES (2, 2, 'spam', '2026-01-01 10:00:00')",  // 2: recent, but not a call
            "INSERT INTO contacts VALUES (3, 5, 'call', '2020-01-01 10:00:00')",  // 5: an old call
            "INSERT INTO contacts VALUES (4, 3, 'call', '2019-01-01 10:00:00')",  // 3: an old and a recent call
            "INSERT INTO contacts VALUES (5, 3, 'call', '2026-02-01 10:00:00')",
        ]
        let subject = """
                relations:
                  calls: { table: contacts, on: { person_id: id }, where: { kind: call } }
            """
        // People's own dates: 1, 2, 4, 5 last seen in 2020 (collected 2019), 3 seen 2025-12-01.
        let latest = Self.policy(
            subject: subject,
            rule: """
                    clock: { latest: [last_seen, collected, calls.happened] }
                    after: 3y
                """)
        #expect(try await changed(backend, latest, data: data) == [2, 4, 5])

        let earliest = Self.policy(
            subject: subject,
            rule: """
                    clock: { column: { earliest: calls.happened } }
                    after: 3y
                """)
        #expect(try await changed(backend, earliest, data: data) == [3, 5])
    }

    /// "Closed since": a record's history rows move it between stages; the clock is the last time
    /// it entered a closed stage from outside them — a move between closed stages does not restart
    /// it, a reopening does, and rows at the same time are ordered by their key.
    @Test(arguments: Backend.allCases)
    func anEnteredClockCountsFromTheLastEntryIntoTheSet(_ backend: Backend) async throws {
        let data = [
            "INSERT INTO stages VALUES (1, 'open', 'open')", "INSERT INTO stages VALUES (2, 'won', 'closed')",
            "INSERT INTO stages VALUES (3, 'lost', 'closed')",
            // 1: closed in 2020, moved from won to lost in 2025 (inside the set): closed since 2020.
            "INSERT INTO moves VALUES (10, 1, 1, '2019-01-01 10:00:00')",
            "INSERT INTO moves VALUES (11, 1, 2, '2020-01-01 10:00:00')",
            "INSERT INTO moves VALUES (12, 1, 3, '2025-06-01 10:00:00')",
            // 2: closed in 2020, reopened in 2021, closed again in 2025: closed since 2025.
            "INSERT INTO moves VALUES (20, 2, 2, '2020-01-01 10:00:00')",
            "INSERT INTO moves VALUES (21, 2, 1, '2021-01-01 10:00:00')",
            "INSERT INTO moves VALUES (22, 2, 3, '2025-01-01 10:00:00')",
            // 3: opened and closed in the same second, a second before the bound (2023-06-01 02:00 in Paris): the key orders them.
            "INSERT INTO moves VALUES (30, 3, 1, '2023-06-01 01:59:59')",
            "INSERT INTO moves VALUES (31, 3, 2, '2023-06-01 01:59:59')",
            // 4: closed at the bound (its first row, by key), then reopened in the same second.
            "INSERT INTO moves VALUES (40, 4, 2, '2023-06-01 02:00:00')",
            "INSERT INTO moves VALUES (41, 4, 1, '2023-06-01 02:00:00')",
            // 5: never closed.
            "INSERT INTO moves VALUES (50, 5, 1, '2019-01-01 10:00:00')",
        ]
        let subject = """
                relations:
                  closing: { table: moves, on: { person_id: id }, where: { closing_stage.kind: closed } }
                  closing_stage: { table: stages, on: { id: closing.stage_id } }
            """
        func clocked(_ clock: String) -> String {
            Self.policy(subject: subject, rule: "    clock: \(clock)\n    after: 3y")
        }
        #expect(try await changed(backend, clocked("{ entered: closing.happened }"), data: data) == [1, 3])
        #expect(
            try await changed(
                backend, clocked("{ column: { entered: closing.happened }, fallback: collected }"), data: data) == [
                    1, 3, 5,
                ],
            "without an entry (5 never closed) the fallback counts")
        // What the other forms would say: the latest closed row keeps 1 a year too long; the earliest purges 2 early.
        #expect(try await changed(backend, clocked("closing.happened"), data: data) == [3])
        #expect(try await changed(backend, clocked("{ earliest: closing.happened }"), data: data) == [1, 2, 3])
    }

    /// Znuny's `link_relation.source_key` is text holding a ticket's numeric id: `as: text` reads
    /// the number as text, exactly (`'03'` is not 3's), and the text column's index finds the rows.
    @Test(arguments: Backend.allCases)
    func aLinkDeclaredAsTextComparesNumbersWithTheTextThatHoldsThem(_ backend: Backend) async throws {
        let data = [
            "INSERT INTO links VALUES (1, '1', 'person'), (2, '3', 'person'), (3, '03', 'person'), (4, '5', 'person'), (5, '2', 'ticket'), (6, '6', 'person')"
        ]
        let subject = """
                relations:
                  linked: { table: links, on: { source_key: id }, as: text, where: { kind: person } }
            """
        let rule = """
                clock: collected
                after: 0d
            """
        #expect(
            try await changed(
                backend,
                Self.policy(subject: subject, rule: rule, filter: "{ kind: prospect, linked: { exists: true } }"),
                data: data) == [1, 3, 5])
        #expect(
            try await changed(
                backend,
                Self.policy(subject: subject, rule: rule, filter: "{ kind: prospect, linked: { exists: false } }"),
                data: data) == [2, 4])

        // A purge deletes the links of its records, and only theirs, along the index on source_key.
        let purge = """
            subjects:
              prospects:
                table: people
                key: id
                filter: { kind: prospect }
                rules:
                  - id: purge
                    register: "Test"
                    legal_basis: "test"
                    clock: collected
                    after: 3y
                    action: purge
                    children:
                      - { table: notes, foreign_key: person_id, children: [{ table: attachments, foreign_key: note_id }] }
                      - { table: links, foreign_key: source_key, references: [id], as: text, where: { kind: person } }

            """
        let bulk =
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 20000) INSERT INTO links SELECT 100 + i, CAST(1000 + i AS \(backend == .mariadb ? "CHAR" : "TEXT")), 'ticket' FROM n"
        let f = try await CRMFixture(backend, schema: Self.schema, data: CRMFixture.data + data + [bulk], policy: purge)
        let (resolved, diagnostics) = try await f.validate()
        try #require(resolved != nil, "\(diagnostics)")
        try await f.gatherStatistics()
        let policy = try f.policy()
        let query = try #require(try resolved?.query(for: policy.rules[0], now: CRMFixture.now, toolTablesExist: true))
        let builder = SQLBuilder(dialect: try await f.executing { $0.dialect })
        let links = try #require(query.childPaths.first { $0.last?.table == "links" })
        let keys = [RecordKey([.integer(1)]), RecordKey([.integer(3)])]
        for sql in [
            builder.deleteChildren(links, subjectTable: "people", keyColumns: ["id"], keys: keys),
            builder.countChildren(links, subjectTable: "people", keyColumns: ["id"], keys: keys),
        ] {
            let lines = try await QueryPlanTests().plan(f, sql)
            #expect(
                QueryPlanTests().scans(lines, backend: backend, includingSubject: true).isEmpty,
                "\(lines.joined(separator: "\n"))")
        }

        let report = try await f.run()
        #expect(report.failure == nil)
        // 5 has an order (not a declared child): kept, with its link.
        #expect(try await f.rows("SELECT id FROM people ORDER BY id").map { $0[0].int } == [5, 6, 7])
        #expect(
            try await f.rows("SELECT id FROM links WHERE id < 100 ORDER BY id").map { $0[0].int } == [3, 4, 5, 6],
            "the links of 1 and 3 go; '03', another kind's and the kept records' stay")
        #expect(try await f.rows("SELECT count(*) FROM links WHERE id >= 100").map { $0[0].int } == [20000])
        #expect(try await f.audit(action: "purge").count == 4)
    }

    @Test(arguments: Backend.allCases)
    func aFilterTestsWhetherARelationHasRows(_ backend: Backend) async throws {
        let data = [
            "INSERT INTO contacts VALUES (1, 1, 'call', NULL)", "INSERT INTO contacts VALUES (2, 3, 'spam', NULL)",
        ]
        let subject = """
                relations:
                  contacts: { table: contacts, on: { person_id: id } }
                  spam: { table: contacts, on: { person_id: id }, where: { kind: spam } }
            """
        let rule = """
                clock: collected
                after: 0d
            """
        #expect(
            try await changed(
                backend,
                Self.policy(subject: subject, rule: rule, filter: "{ kind: prospect, contacts: { exists: false } }"),
                data: data) == [2, 4, 5])
        #expect(
            try await changed(
                backend,
                Self.policy(subject: subject, rule: rule, filter: "{ kind: prospect, contacts: { exists: true } }"),
                data: data) == [1, 3])
        #expect(
            try await changed(
                backend,
                Self.policy(subject: subject, rule: rule, filter: "{ kind: prospect, spam.id: { in: [2, 9] } }"),
                data: data) == [3])
    }

    @Test(arguments: Backend.allCases)
    func aRelatedRowWithoutADateKeepsTheRecordOnlyWhenThePolicySaysSo(_ backend: Backend) async throws {
        let data = [
            "INSERT INTO contacts VALUES (1, 2, 'call', NULL)",  // 2: an undated call
            "INSERT INTO contacts VALUES (2, 4, 'call', '2026-01-01 10:00:00')",  // 4: a recent call
            "INSERT INTO contacts VALUES (3, 5, 'call', '2020-01-01 10:00:00')",  // 5: an old call
        ]
        func policy(_ undated: String) -> String {
            Self.policy(
                subject: """
                        relations:
                          calls: { table: contacts, on: { person_id: id }, where: { kind: call } }
                    """,
                rule: """
                        clock: { latest: [last_seen, collected] }
                        after: 3y
                        exempt:
                          related:
                            - { relation: calls, clock: happened, within: 1y\(undated) }
                    """)
        }
        // Due by their own dates: 1, 2, 4, 5; 4 has a recent call.
        #expect(
            try await changed(backend, policy(""), data: data) == [1, 2, 5], "by default an undated row keeps nothing")
        #expect(try await changed(backend, policy(", undated: keep"), data: data) == [1, 5])
    }

    @Test(arguments: Backend.allCases)
    func aCaseInsensitiveRelationMatchesWhatTheApplicationTreatsAsEqual(_ backend: Backend) async throws {
        let data = ["INSERT INTO mailings VALUES (1, 'ALICE.MARTIN@EXAMPLE.FR'), (2, 'bruno.petit@example.fr')"]
        func policy(_ match: String) -> String {
            Self.policy(
                subject: """
                        relations:
                          mailing: { table: mailings, on: { address: email }, match: \(match) }
                    """,
                rule: """
                        clock: collected
                        after: 0d
                    """, filter: "{ kind: prospect, mailing: { exists: true } }")
        }
        #expect(try await changed(backend, policy("case_insensitive"), data: data) == [1, 2])
        // MariaDB compares two columns under their collation, case-insensitive here, as the
        // application's own joins do (docs/mariadb.md): `exact` cannot be stricter than the database.
        #expect(try await changed(backend, policy("exact"), data: data) == (backend == .mariadb ? [1, 2] : [2]))
    }

    @Test(arguments: Backend.allCases)
    func aRelationOnSeveralColumnsMatchesThemAll(_ backend: Backend) async throws {
        // A stamp belongs to a person when both its owner_id and owner_kind match the person's id and kind.
        let data = [
            "INSERT INTO stamps VALUES (1, 'prospect', 1, '2026-01-01 00:00:00')",  // 1: a recent stamp of its own
            "INSERT INTO stamps VALUES (2, 'client', 2, '2026-01-01 00:00:00')",  // id 2, but a client's: not 2's
        ]
        let policy = Self.policy(
            subject: """
                    relations:
                      stamps: { table: stamps, on: { owner_id: id, owner_kind: kind } }
                """,
            rule: """
                    clock: { latest: [last_seen, collected, stamps.stamped] }
                    after: 3y
                """)
        #expect(
            try await changed(backend, policy, data: data) == [2, 4, 5],
            "1 is kept by its own recent stamp; 2's only stamp is another kind's")
    }
}
