import Foundation
import RetentionCore
import RetentionEngine
import RetentionStore
import TestSupport
import Testing

/// Each action, checked row by row in the database and in the audit trail beside it.
@Suite struct EnforcementTests {
    @Test(arguments: Backend.allCases)
    func purgeDeletesTheRecordsAndTheirDeclaredChildrenAndNothingElse(_ backend: Backend) async throws {
        let f = try await CRMFixture(backend, policy: CRMPolicies.prospectPurge)
        let report = try await f.run()

        // 1 (last seen 2020) and 2 (never seen, collected 2019) are past 3 years; 3 is recent;
        // 4 consented until 2027; 5 has an order (orders is not a declared child); 6 and 7 are clients.
        #expect(try await f.ids("people") == [3, 4, 5, 6, 7])
        #expect(try await f.ids("notes") == [13])
        #expect(try await f.ids("attachments") == [101])
        #expect(try await f.ids("orders") == [1000, 1001])

        let tally = try #require(report.rules.first)
        #expect(report.status == .complete)
        #expect(tally.pastCutoff == 4)
        #expect(tally.purged == 2)
        #expect(tally.exempt == ["consent": 1, "referenced_by_undeclared_table": 1])
        #expect(tally.childRowsPurged == ["notes": 3, "attachments": 1])

        let purges = try await f.audit(action: "purge")
        #expect(purges.map(\.subjectRef) == [try f.reference("people", 1), try f.reference("people", 2)])
        #expect(purges.allSatisfy { $0.ruleID == "prospect-purge" && $0.runID == report.runID && $0.fields == "*" })
        let children = try await f.audit(action: "purge-children")
        #expect(
            Set(children.map { "\($0.table):\($0.detail)" })
                == [
                    "notes:{\"parent_table\":\"people\",\"rows\":\"3\"}",
                    "attachments:{\"parent_table\":\"people\",\"rows\":\"1\"}",
                ])
        #expect(try await f.audit(action: "run-completed").count == 1)
        #expect(try await f.trail().verify().isValid)
    }

    /// Reports count rows per table, whatever reached them (the records, their children): the dry
    /// run's figures, the run's, and the rows the database lost, counted before and after, agree.
    @Test(arguments: Backend.allCases)
    func reportsCountTheRowsDeletedPerTableAsTheDatabaseLosesThem(_ backend: Backend) async throws {
        let f = try await CRMFixture(backend, policy: CRMPolicies.prospectPurge)
        let tables = ["people", "notes", "attachments", "orders"]
        func counts() async throws -> [String: Int] {
            var counts: [String: Int] = [:]
            for table in tables { counts[table] = try await f.count("SELECT count(*) FROM \(table)") }
            return counts
        }
        let before = try await counts()
        let plan = try await f.plan()
        let run = try await f.run()
        let after = try await counts()
        var lost: [String: RunReport.TableChange] = [:]
        for table in tables where before[table]! > after[table]! {
            lost[table] = RunReport.TableChange(deleted: before[table]! - after[table]!)
        }
        #expect(run.tables == lost, "\(String(describing: run.tables)) vs \(lost)")
        #expect(plan.tables == run.tables, "the preview is what happens")
        #expect(
            run.tables?["notes"]?.deleted == 3 && run.tables?["attachments"]?.deleted == 1,
            "prospects 1 and 2: three notes, one attachment")
        #expect(run.markdown().contains("| `notes` | 3 | 0 |"))
    }

    /// A dry run counts a subject's records (the rows its filter selects) beside the table's rows:
    /// the register's and the report's "of how many".
    @Test(arguments: Backend.allCases)
    func aDryRunCountsTheSubjectsRecordsApartFromTheTablesRows(_ backend: Backend) async throws {
        let f = try await CRMFixture(backend, policy: CRMPolicies.prospectPurge)
        let report = try await f.plan()
        // Five prospects and two clients (the fixture's data).
        #expect(report.rules[0].subjectRecords == 5 && report.rules[0].tableRows == 7)
        let all = try await CRMFixture(
            backend, policy: CRMPolicies.anonymise(filter: "{ kind: { in: [prospect, client] } }"))
        #expect(try await all.plan().rules[0].subjectRecords == 7)
    }

    /// A dry run counts the child rows of every due record, page after page, and none of an exempt
    /// record's: the figures the run then reports, and the rows it leaves. Each page is counted in
    /// one statement per child table (joined through the links' indexes, or, without them, through
    /// nested subqueries); on the pass's own connection, and on two of their own while the next
    /// pages are read, as `plan` counts.
    /// A table two declarations reach (history by its article, and by its ticket) is counted once
    /// per row in the dry run, as the run deletes each row once: the preview is what happens.
    @Test(arguments: Backend.allCases, [0, 2])
    func aChildTableReachedByTwoDeclarationsIsCountedOncePerRow(_ backend: Backend, counters: Int) async throws {
        let schema = [
            "CREATE TABLE ticket (id INTEGER PRIMARY KEY, closed_at TEXT)",
            "CREATE TABLE article (id INTEGER PRIMARY KEY, ticket_id INTEGER NOT NULL REFERENCES ticket(id))",
            "CREATE TABLE history (id INTEGER PRIMARY KEY, ticket_id INTEGER NOT NULL REFERENCES ticket(id), article_id INTEGER REFERENCES article(id))",
        ]
        // Ticket 1 is due: history 100 is its own (no article), 101 its article 10's (and its own).
        // Ticket 2 is recent, with the same shape.
        let data = [
            "INSERT INTO ticket VALUES (1, '2019-01-01'), (2, '2026-05-01')",
            "INSERT INTO article VALUES (10, 1), (20, 2)",
            "INSERT INTO history VALUES (100, 1, NULL), (101, 1, 10), (200, 2, NULL), (201, 2, 20)",
        ]
        let policy = """
            subjects:
              tickets:
                table: ticket
                key: id
                rules:
                  - id: ticket-purge
                    register: "Support"
                    legal_basis: "contract, 2 years"
                    clock: closed_at
                    after: 2y
                    action: purge
                    children:
                      - { table: article, foreign_key: ticket_id, children: [{ table: history, foreign_key: article_id }] }
                      - { table: history, foreign_key: ticket_id }

            """
        let f = try await CRMFixture(backend, schema: schema, data: data, policy: policy)
        let plan = try await f.plan(counters: counters)
        #expect(plan.rules[0].childRowsPurged == ["article": 1, "history": 2], "history 100 and 101, each once")
        let report = try await f.run()
        #expect(report.rules[0].childRowsPurged == plan.rules[0].childRowsPurged)
        #expect(try await f.ids("history") == [200, 201])
        #expect(try await f.ids("article") == [20])
    }

    @Test(arguments: Backend.allCases, [false, true])
    func aDryRunCountsTheChildrenOfEveryDueRecordAcrossPages(_ backend: Backend, indexed: Bool) async throws {
        // Prospects 100…4599, last seen in 2020, each with two notes and an attachment on each:
        // due, except every seventh, kept by consent until 2030. Pages of 2000 cut them in three.
        let series = "WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < 4499)"
        let indexes =
            indexed
            ? [
                "CREATE INDEX notes_person ON notes(person_id)",
                "CREATE INDEX attachments_note ON attachments(note_id)",
            ] : []
        let f = try await CRMFixture(
            backend, schema: CRMFixture.schema + indexes,
            data: CRMFixture.data + [
                "\(series) INSERT INTO people SELECT 100 + i, 'prospect', 'p', NULL, NULL, NULL, '2020-01-01', '2019-01-01', CASE WHEN i % 7 = 0 THEN '2030-01-01' END, 0 FROM n",
                "\(series) INSERT INTO notes SELECT 10000 + 2 * i, 100 + i, 'a' FROM n",
                "\(series) INSERT INTO notes SELECT 10001 + 2 * i, 100 + i, 'b' FROM n",
                "\(series) INSERT INTO attachments SELECT 20000 + 2 * i, 10000 + 2 * i, 'x' FROM n",
                "\(series) INSERT INTO attachments SELECT 20001 + 2 * i, 10001 + 2 * i, 'y' FROM n",
            ], policy: CRMPolicies.prospectPurge)
        try f.write(policy: CRMPolicies.prospectPurge, batchSize: 1000)
        let kept = (0..<4500).filter { $0 % 7 == 0 }.count
        let due = 4500 - kept
        // With the fixture's own: prospects 1 and 2 go with notes 10, 11, 12 and attachment 100;
        // 4 is kept by consent, 5 by its order.
        let expected = ["notes": 3 + 2 * due, "attachments": 1 + 2 * due]

        for counters in [0, 2] {
            let plan = try await f.plan(counters: counters)
            #expect(plan.rules[0].due == 2 + due)
            #expect(plan.rules[0].exempt == ["consent": 1 + kept, "referenced_by_undeclared_table": 1])
            #expect(plan.rules[0].childRowsPurged == expected, "counting on \(counters) connection(s) of their own")
        }

        let report = try await f.run()
        #expect(report.rules[0].purged == 2 + due)
        #expect(report.rules[0].childRowsPurged == expected)
        #expect(try await f.count("SELECT count(*) FROM people WHERE id >= 100") == kept)
        #expect(try await f.count("SELECT count(*) FROM notes WHERE id >= 10000") == 2 * kept)
        #expect(try await f.count("SELECT count(*) FROM attachments WHERE id >= 20000") == 2 * kept)
        #expect(
            try await f.count(
                "SELECT count(*) FROM notes AS n WHERE NOT EXISTS (SELECT 1 FROM people AS p WHERE p.id = n.person_id)")
                == 0)
        #expect(try await f.trail().verify().isValid)
    }

    /// Children reached through a column other than the key, compared case-insensitively (a
    /// Znuny `customer_preferences.user_id` = `customer_user.login`), with the `LOWER(…)` indexes
    /// `check` advises: a page's count starts from its records' keys and joins down through those
    /// indexes, on the pass's own connection and on connections of their own alike.
    @Test(arguments: Backend.allCases)
    func aDryRunCountsChildrenLinkedByAnotherColumnCaseInsensitively(_ backend: Backend) async throws {
        let preferences = """
                      - table: preferences
                        foreign_key: address
                        references: [email]
                        match: case_insensitive
                        children:
                          - { table: settings, foreign_key: preference_id }
            """
        let f = try await CRMFixture(
            backend,
            schema: CRMFixture.schema + [
                "CREATE TABLE preferences (id INTEGER PRIMARY KEY, address TEXT NOT NULL, value TEXT)",
                "CREATE INDEX preferences_address ON preferences (LOWER(address))",
                "CREATE TABLE settings (id INTEGER PRIMARY KEY, preference_id INTEGER NOT NULL REFERENCES preferences(id))",
                "CREATE INDEX settings_preference ON settings (preference_id)",
            ],
            data: CRMFixture.data + [
                // Alice (due) has two, written in capitals once; Bruno (due) one; David (kept by consent) one.
                "INSERT INTO preferences VALUES (1, 'ALICE.MARTIN@example.fr', 'a'), (2, 'alice.martin@example.fr', 'b'), (3, 'bruno.petit@example.fr', 'c'), (4, 'david.roux@example.fr', 'd')",
                "INSERT INTO settings VALUES (10, 1), (11, 1), (12, 3), (13, 4)",
            ], policy: CRMPolicies.prospectPurge(children: CRMPolicies.declaredChildren + "\n" + preferences))
        let expected = ["notes": 3, "attachments": 1, "preferences": 3, "settings": 3]
        for counters in [0, 2] {
            let plan = try await f.plan(counters: counters)
            #expect(plan.rules[0].childRowsPurged == expected, "counting on \(counters) connection(s) of their own")
        }
        let report = try await f.run()
        #expect(report.rules[0].childRowsPurged == expected)
        #expect(try await f.ids("preferences") == [4])
        #expect(try await f.ids("settings") == [13])
    }

    @Test(arguments: Backend.allCases)
    func childrenAutoFollowsForeignKeysRecursively(_ backend: Backend) async throws {
        let f = try await CRMFixture(backend, policy: CRMPolicies.prospectPurge(children: "        children: auto"))
        let report = try await f.run()
        // orders is now a child too, so person 5 goes with its order.
        #expect(try await f.ids("people") == [3, 4, 6, 7])
        #expect(try await f.ids("orders") == [1001])
        #expect(try await f.ids("attachments") == [101])
        #expect(report.rules[0].childRowsPurged == ["notes": 3, "attachments": 1, "orders": 1])
    }

    @Test(arguments: Backend.allCases)
    func anonymiseRewritesOnlyTheListedFieldsOfDueRecords(_ backend: Backend) async throws {
        let f = try await CRMFixture(backend, policy: CRMPolicies.anonymise)
        let before = try await f.records("people", CRMFixture.peopleColumns)
        let report = try await f.run()
        #expect(report.rules[0].anonymised == 4)

        let after = try await f.records("people", CRMFixture.peopleColumns)
        #expect(after.count == 7)
        for (old, new) in zip(before, after) {
            guard case .integer(let id)? = old["id"] else {
                Issue.record("no id")
                continue
            }
            if [1, 2, 4, 5].contains(id) {
                #expect(new["email"] == .null)
                let name = new["name"]?.textValue ?? ""
                #expect(name.hasPrefix("p-") && name.count == 12 && new["name"] != old["name"])
                #expect(new["collected"] == old["collected"], "unlisted columns are kept")
                #expect(new["kind"] == .text("prospect"))
                #expect(new["opted"] == old["opted"], "`keep` keeps")
            } else {
                #expect(old == new, "record \(id) is not due or not a prospect and must not change")
            }
        }
        #expect(after[0]["phone"] == .text("***************44"))
        #expect(after[0]["born"] == .text("1980-01-01"))
        #expect(after[1]["born"] == .text("1975-01-01"))

        let entries = try await f.audit(action: "anonymise")
        #expect(entries.count == 4)
        #expect(entries.allSatisfy { $0.fields == "email,name,phone,born" })
        #expect(Set(entries.map(\.subjectRef)) == Set(try [1, 2, 4, 5].map { try f.reference("people", $0) }))
    }

    /// Fields set to one value for every record (`constant`, `null`) are written without a list of
    /// values: the keys alone name the rows, single or composite.
    @Test(arguments: Backend.allCases)
    func fieldsWithOneValueForEveryRecordAreSetThroughTheKeysAlone(_ backend: Backend) async throws {
        let f = try await CRMFixture(
            backend,
            policy: CRMPolicies.anonymise(
                action: """
                            action: anonymise
                            fields:
                              email: null
                              name: { constant: "gone" }
                    """))
        let before = try await f.records("people", CRMFixture.peopleColumns)
        #expect(try await f.run().rules[0].anonymised == 4)
        let after = try await f.records("people", CRMFixture.peopleColumns)
        for (old, new) in zip(before, after) {
            guard case .integer(let id)? = old["id"] else {
                Issue.record("no id")
                continue
            }
            var expected = old
            if [1, 2, 4, 5].contains(id) {
                expected["email"] = .null
                expected["name"] = .text("gone")
            }
            #expect(new == expected, "record \(id)")
        }
        #expect(
            try await f.audit(action: "anonymise").map(\.subjectRef).sorted()
                == (try [1, 2, 4, 5].map { try f.reference("people", $0) }).sorted())

        // A composite key, on a table whose name is a reserved word in mixed case: quoted everywhere.
        let g = try await CRMFixture(
            backend,
            schema: [
                "CREATE TABLE \"Order\" (country TEXT NOT NULL, number TEXT NOT NULL, issued_on TEXT NOT NULL, amount INTEGER, PRIMARY KEY (country, number))"
            ],
            data: [
                "INSERT INTO \"Order\" VALUES ('FR', 'F-\"quoted\"\\1', '2015-12-31', 10), ('FR', 'F-2', '2016-01-01', 20), ('DE', 'F-1', '2014-06-30', 30), ('FR', 'F-3', '2020-01-01', 40)"
            ],
            policy: """
                subjects:
                  orders:
                    table: Order
                    key: [country, number]
                    rules:
                      - id: amounts
                        register: "Comptabilité"
                        legal_basis: "legal obligation, 10 years"
                        clock: issued_on
                        after: 10y
                        action: anonymise
                        fields: { amount: null }
                """)
        // Issued before 2016-06-01: the first three; the fourth keeps its amount.
        #expect(try await g.run().rules[0].anonymised == 3)
        #expect(
            try await g.rows("SELECT country || '/' || number, amount FROM \"Order\" ORDER BY 1")
                == [
                    [.text("DE/F-1"), .null], [.text("FR/F-\"quoted\"\\1"), .null], [.text("FR/F-2"), .null],
                    [.text("FR/F-3"), .integer(40)],
                ])
        #expect(try await g.trail().verify().isValid)
    }

    @Test(arguments: Backend.allCases)
    func aSecondRunChangesNothingNew(_ backend: Backend) async throws {
        let f = try await CRMFixture(backend, policy: CRMPolicies.anonymise)
        _ = try await f.run()
        let afterFirst = try await f.snapshot()
        let entriesAfterFirst = try await f.audit().count
        let second = try await f.run(now: CRMFixture.now.addingTimeInterval(86_400))
        #expect(second.rules[0].anonymised == 0)
        #expect(second.rules[0].alreadyDone == 4)
        #expect(second.rules[0].due == 0)
        #expect(try await f.snapshot() == afterFirst)
        #expect(try await f.audit().count == entriesAfterFirst + 1, "only the run-completed entry is new")
    }

    @Test(arguments: Backend.allCases)
    func flagChangesNoDataAndFlagsEachRecordOnce(_ backend: Backend) async throws {
        let f = try await CRMFixture(backend, policy: CRMPolicies.anonymise(action: "        action: flag"))
        let before = try await f.snapshot()
        let first = try await f.run()
        #expect(first.rules[0].flagged == 4)
        #expect(try await f.snapshot() == before)
        #expect(try await f.audit(action: "flag").count == 4)
        let second = try await f.run(now: CRMFixture.now.addingTimeInterval(86_400))
        #expect(second.rules[0].flagged == 0)
        #expect(try await f.audit(action: "flag").count == 4)
    }

    @Test(arguments: Backend.allCases)
    func batchesCoverEveryRecordWhateverTheBatchSize(_ backend: Backend) async throws {
        let f = try await CRMFixture(backend, policy: CRMPolicies.anonymise, batchSize: 1)
        let report = try await f.run()
        #expect(report.rules[0].anonymised == 4)
        #expect(try await f.count("SELECT count(*) FROM people WHERE email IS NULL") == 4)
        #expect(try await f.trail().verify().isValid)
    }

    @Test(arguments: Backend.allCases)
    func theDryRunChangesNothingNotEvenTheToolsTables(_ backend: Backend) async throws {
        let f = try await CRMFixture(backend, policy: CRMPolicies.prospectPurge)
        let before = try await f.snapshot()
        let plan = try await f.plan(out: f.dir.appendingPathComponent("p.plan").path)
        #expect(plan.totalDue == 2)
        #expect(try await f.snapshot() == before)
        #expect(try await f.reader().read { try $0.toolTablesExist() } == false)
    }

    @Test(arguments: Backend.allCases)
    func theReportIsWrittenForPeopleAndMachinesAndOnlyForTheOwner(_ backend: Backend) async throws {
        let f = try await CRMFixture(backend, policy: CRMPolicies.prospectPurge)
        let report = try await f.run()
        let paths = try StateFiles.writeReport(report, policy: try f.policy(), settings: try f.settings())
        for path in [paths.json, paths.markdown] {
            let mode = try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int
            #expect(mode == 0o600)
        }
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        let decoded = try decoder.decode(RunReport.self, from: Data(contentsOf: URL(fileURLWithPath: paths.json)))
        #expect(decoded.rules.map(\.purged) == [2])
        #expect(decoded.policyHash == report.policyHash)
        let markdown = try String(contentsOfFile: paths.markdown, encoding: .utf8)
        #expect(markdown.contains("| `prospect-purge` | prospects (`people`) | purge |"))
        #expect(!markdown.contains("alice"), "no review columns: no personal values, not even keys")
    }
}
