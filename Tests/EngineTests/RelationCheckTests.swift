import Foundation
import RetentionCore
import RetentionStore
import TestSupport
import Testing

/// `check` on relations against the live schema: each mistake at its place, with what to do.
@Suite struct RelationCheckTests {
    func diagnostics(
        _ backend: Backend, subject: String, clock: String = "collected", filter: String = "{ kind: prospect }",
        schema: [String] = RelationTests.schema
    ) async throws -> [Diagnostic] {
        let policy = """
            subjects:
              prospects:
                table: people
                key: id
                filter: \(filter)
            \(subject)
                rules:
                  - id: r
                    register: "Test"
                    legal_basis: "test"
                    clock: \(clock)
                    after: 3y
                    action: flag

            """
        let f = try await CRMFixture(backend, schema: schema, data: CRMFixture.data, policy: policy)
        return try await f.validate().1
    }

    func errors(
        _ backend: Backend, subject: String, clock: String = "collected", filter: String = "{ kind: prospect }",
        schema: [String] = RelationTests.schema
    ) async throws -> [String] {
        try await diagnostics(backend, subject: subject, clock: clock, filter: filter, schema: schema).filter {
            $0.severity == .error
        }.map(\.description)
    }

    @Test(arguments: Backend.allCases)
    func unknownTablesAndColumnsOfARelationAreReportedWhereTheyAreWritten(_ backend: Backend) async throws {
        let found = try await errors(
            backend,
            subject: """
                    relations:
                      profile: { table: profile, on: { person_ref: id } }
                      calls: { table: contacts, on: { person: id } }
                """)
        #expect(
            found.contains {
                $0.contains("policy.yaml:12:25: error: table `profile` does not exist")
                    && $0.contains("did you mean `profiles`?")
            }, "\(found)")
        #expect(
            found.contains {
                $0.contains("table `contacts` has no column `person`") && $0.contains("did you mean `person_id`?")
            }, "\(found)")
    }

    @Test(arguments: Backend.allCases)
    func aRelationsColumnIsCheckedInItsOwnTable(_ backend: Backend) async throws {
        let found = try await errors(
            backend,
            subject: """
                    relations:
                      calls: { table: contacts, on: { person_id: id } }
                """, clock: "calls.happend")
        #expect(
            found.contains { $0.contains("table `contacts` has no column `happend`; did you mean `happened`?") },
            "\(found)")
    }

    @Test(arguments: Backend.allCases)
    func aChainThatLoopsIsRefused(_ backend: Backend) async throws {
        let found = try await errors(
            backend,
            subject: """
                    relations:
                      a: { table: contacts, on: { id: b.person_id } }
                      b: { table: contacts, on: { id: a.person_id } }
                """)
        #expect(found.contains { $0.contains("relation `a` does not lead back to the subject's row") }, "\(found)")
    }

    @Test(arguments: Backend.allCases)
    func aTextValueForANumericColumnIsRefusedByCheckNotByTheDatabase(_ backend: Backend) async throws {
        let found = try await errors(
            backend,
            subject: """
                    relations:
                      calls: { table: contacts, on: { person_id: id } }
                """, filter: "{ kind: prospect, calls.person_id: { in: [1, \"closed successful\"] } }")
        #expect(
            found.contains {
                $0.contains("`contacts.person_id` is")
                    && $0.contains("but the filter compares it with the text \"closed successful\"")
            }, "\(found)")
    }

    @Test(arguments: Backend.allCases)
    func aRelationWithoutAnIndexGetsAWarningWithTheIndexToCreate(_ backend: Backend) async throws {
        let found = try await diagnostics(
            backend,
            subject: """
                    relations:
                      mailing: { table: mailings, on: { address: email } }
                """, filter: "{ kind: prospect, mailing: { exists: true } }")
        #expect(found.filter { $0.severity == .error }.isEmpty)
        #expect(
            found.contains {
                $0.severity == .warning && $0.description.contains("no index starts with `mailings.address`")
                    && $0.description.contains(
                        backend == .mariadb
                            ? "CREATE INDEX `mailings_address_idx` ON `mailings` (`address`)"
                            : "CREATE INDEX \"mailings_address_idx\" ON \"mailings\" (\"address\")")
            })
    }

    /// The legacy form of a related exemption (`table` and `foreign_key`) is type-checked as a
    /// relation's `on` is: a text column against an integer key is refused where it is written,
    /// not by PostgreSQL in the middle of `plan`.
    @Test(arguments: Backend.allCases)
    func aRelatedTableNamedByForeignKeyMustHoldTheKeysKindOfValues(_ backend: Backend) async throws {
        let found = try await errors(
            backend,
            subject: """
                    exempt:
                      related:
                        - { table: mailings, foreign_key: address }
                """)
        #expect(
            found.contains {
                $0.contains("`mailings.address` (") && $0.contains("is compared with `people.id`")
                    && $0.contains("different kinds of values")
            }, "\(found)")
        #expect(
            try await errors(
                backend,
                subject: """
                        exempt:
                          related:
                            - { table: contacts, foreign_key: person_id, clock: happened, within: 1y }
                    """
            ).isEmpty)
    }

    @Test(arguments: Backend.allCases)
    func aRelatedTableNamedByForeignKeyReachesNoRelation(_ backend: Backend) async throws {
        let found = try await errors(
            backend,
            subject: """
                    relations:
                      calls: { table: contacts, on: { person_id: id } }
                    exempt:
                      related:
                        - { table: orders, foreign_key: person_id, clock: calls.happened, within: 1y }
                """)
        #expect(found.contains { $0.contains("`calls.happened` cannot be used here") }, "\(found)")
    }

    /// A purge of every person collected over three years ago, with one child.
    static func purge(child: String) -> String {
        """
        subjects:
          prospects:
            table: people
            key: id
            rules:
              - id: r
                register: "Test"
                legal_basis: "test"
                clock: collected
                after: 3y
                action: purge
                children:
                  - \(child)

        """
    }

    @Test(arguments: Backend.allCases)
    func aPolymorphicChildWithoutItsDiscriminatorIsRefused(_ backend: Backend) async throws {
        func policy(_ child: String) -> String { Self.purge(child: child) }
        let unsafe = try await CRMFixture(
            backend, schema: RelationTests.schema, data: CRMFixture.data,
            policy: policy("{ table: events, foreign_key: fk_element, references: [id] }"))
        let found = try await unsafe.validate().1.filter { $0.severity == .error }.map(\.description)
        #expect(
            found.contains {
                $0.contains(
                    "child `events` is matched on (fk_element) without a foreign key to `people`, and `events` has `elementtype`"
                )
                    && $0.contains("`where: { elementtype: VALUE_FOR_people }`")
            }, "\(found)")

        let safe = try await CRMFixture(
            backend, schema: RelationTests.schema,
            data: CRMFixture.data + [
                // person 4 is due and referenced from nothing else
                "INSERT INTO events VALUES (1, 'person', 4), (2, 'order', 4)"
            ],
            policy: policy(
                "{ table: events, foreign_key: fk_element, references: [id], where: { elementtype: person } }"))
        #expect(try await safe.validate().0 != nil)
        _ = try await safe.run()
        #expect(
            try await safe.ids("events") == [2],
            "the person's event went with it; the order's with the same number stayed")

        let undiscriminated = try await CRMFixture(
            backend, schema: RelationTests.schema, data: CRMFixture.data,
            policy: policy("{ table: contacts, foreign_key: person_id }"))
        #expect(
            try await undiscriminated.validate().1.contains {
                $0.severity == .warning
                    && $0.description.contains(
                        "child `contacts` is matched on (person_id) without a foreign key to `people`")
            })
    }

    /// An index led by the discriminator a child's `where` fixes, then its foreign key, serves the
    /// probe (`fk_element = ? AND elementtype = 'person'`): no advice. One led by the
    /// discriminator alone, or with another column before the key, does not.
    @Test(arguments: Backend.allCases)
    func aCompositeIndexLedByTheFixedDiscriminatorServesADiscriminatedChild(_ backend: Backend) async throws {
        let policy = Self.purge(
            child: "{ table: events, foreign_key: fk_element, references: [id], where: { elementtype: person } }")
        let schema = RelationTests.schema.filter { !$0.hasPrefix("CREATE INDEX events_element") }
        func advice(_ index: String, explain: Bool = false) async throws -> [Diagnostic] {
            let f = try await CRMFixture(backend, schema: schema + [index], data: CRMFixture.data, policy: policy)
            let (resolved, diagnostics) = try await f.validate()
            let policy = try #require(resolved, "\(diagnostics)")
            if explain {
                // The database agrees: deleting a page's events probes the index, scans nothing.
                try await f.gatherStatistics()
                let builder = SQLBuilder(dialect: try await f.executing { $0.dialect })
                let query = try policy.query(for: try f.policy().rules[0], now: CRMFixture.now, toolTablesExist: true)
                for path in query.childPaths {
                    let lines = try await QueryPlanTests().plan(
                        f,
                        builder.deleteChildren(
                            path, subjectTable: query.table, keyColumns: query.keyColumns,
                            keys: [RecordKey([.integer(1)]), RecordKey([.integer(2)])]))
                    #expect(
                        QueryPlanTests().scans(lines, backend: backend, includingSubject: true).isEmpty,
                        "\(lines.joined(separator: "\n"))")
                }
            }
            return diagnostics.filter { $0.message.contains("no index starts with `events.fk_element`") }
        }
        #expect(
            try await advice("CREATE INDEX events_kind_element ON events (elementtype, fk_element)", explain: true)
                .isEmpty)
        #expect(try await advice("CREATE INDEX events_kind ON events (elementtype)").count == 1)
        #expect(
            try await advice("CREATE INDEX events_kind_id_element ON events (elementtype, id, fk_element)").count == 1)
    }

    /// A child shared by two subjects through a YAML anchor is one declaration: its warning is
    /// said once.
    @Test func aWarningAboutASharedChildIsSaidOnce() async throws {
        let policy = """
            subjects:
              prospects:
                table: people
                key: id
                filter: { kind: prospect }
                rules:
                  - id: r1
                    register: "Test"
                    legal_basis: "test"
                    clock: collected
                    after: 3y
                    action: purge
                    children: &events
                      - { table: events, foreign_key: fk_element, references: [id], where: { elementtype: person } }
              clients:
                table: people
                key: id
                filter: { kind: client }
                rules:
                  - id: r2
                    register: "Test"
                    legal_basis: "test"
                    clock: collected
                    after: 5y
                    action: purge
                    children: *events

            """
        let schema = RelationTests.schema.filter { !$0.hasPrefix("CREATE INDEX events_element") }
        let f = try await CRMFixture(.sqlite, schema: schema, data: CRMFixture.data, policy: policy)
        let (resolved, diagnostics) = try await f.validate()
        #expect(resolved != nil, "\(diagnostics)")
        #expect(
            diagnostics.filter { $0.message.contains("no index starts with `events.fk_element`") }.count == 1,
            "\(diagnostics)")
    }

    @Test(arguments: Backend.allCases)
    func aDatabaseErrorThatStillEscapesNamesTheRuleAndItsLine(_ backend: Backend) async throws {
        let f = try await CRMFixture(backend, policy: CRMPolicies.prospectPurge)
        let planner = try await f.planner()
        // The schema changes between check and plan (the application's migration, say).
        try await f.sql(["ALTER TABLE people RENAME COLUMN last_seen TO seen_at"])
        do {
            _ = try await planner.dryRun(now: CRMFixture.now, mode: .plan, planPath: nil)
            Issue.record("planning over a renamed column succeeded")
        } catch {
            #expect("\(error)".contains("rule `prospect-purge` (\(f.policyPath):"), "\(error)")
        }
    }

    @Test(arguments: Backend.allCases)
    func theTwoSidesOfARelationMustHoldTheSameKindOfValues(_ backend: Backend) async throws {
        let found = try await errors(
            backend,
            subject: """
                    relations:
                      by_name: { table: contacts, on: { person_id: name } }
                      by_mail: { table: mailings, on: { id: email }, match: case_insensitive }
                """)
        #expect(
            found.contains {
                $0.contains("`contacts.person_id` (") && $0.contains("is compared with `people.name` (")
                    && $0.contains("they hold different kinds of values")
            }, "\(found)")
        #expect(
            found.contains { $0.contains("`match: case_insensitive` compares text, but `mailings.id` is") }, "\(found)")
    }

    @Test(arguments: Backend.allCases)
    func anEnteredClockNeedsASetAndAnOrder(_ backend: Backend) async throws {
        let noSet = try await errors(
            backend,
            subject: """
                    relations:
                      moved: { table: moves, on: { person_id: id } }
                """, clock: "{ entered: moved.happened }")
        #expect(
            noSet.contains { $0.contains("relation `moved` has no `where`") && $0.contains("give `moved` a `where`") },
            "\(noSet)")
        let noKey = try await errors(
            backend,
            subject: """
                    relations:
                      closing: { table: loose_moves, on: { person_id: id }, where: { stage: closed } }
                """, clock: "{ entered: closing.happened }",
            schema: RelationTests.schema + [
                "CREATE TABLE loose_moves (person_id INTEGER NOT NULL, stage TEXT NOT NULL, happened TEXT)"
            ])
        #expect(
            noKey.contains { $0.contains("`loose_moves` has no single-column primary key or unique index") }, "\(noKey)"
        )
        await #expect { _ = try await errors(backend, subject: "", clock: "{ entered: collected }") } throws: { error in
            "\(error)".contains(
                "`entered` picks among the rows of a relation; `collected` is a column of the row itself")
        }
    }

    @Test(arguments: Backend.allCases)
    func aTextColumnHoldingIdsIsLinkedAsTextInOneDirectionOnly(_ backend: Backend) async throws {
        let plain = try await errors(
            backend,
            subject: """
                    relations:
                      linked: { table: links, on: { source_key: id } }
                """)
        #expect(
            plain.contains {
                $0.contains("`links.source_key` (") && $0.contains("they hold different kinds of values")
                    && $0.contains("add `as: text`")
            }, "\(plain)")
        // From the text side, the numbers' column would be read as text: no index could find its rows.
        let reversed = try await errors(
            backend,
            subject: """
                    relations:
                      linked: { table: links, on: { source_key: id }, as: text }
                      back: { table: people, on: { id: linked.source_key }, as: text }
                """)
        #expect(
            reversed.contains {
                $0.contains("`as: text` reads the starting row's `links.source_key`")
                    && $0.contains("link from the table holding the numbers")
            }, "\(reversed)")
        #expect(
            try await errors(
                backend,
                subject: """
                        relations:
                          linked: { table: links, on: { source_key: id }, as: text }
                    """
            ).isEmpty)
        // Without an index on the text column, `check` names the one to create.
        let unindexed = try await diagnostics(
            backend,
            subject: """
                    relations:
                      linked: { table: links, on: { kind: id }, as: text }
                """)
        #expect(
            unindexed.contains {
                $0.severity == .warning && $0.description.contains("relation `linked` scans `links`")
                    && $0.description.contains("CREATE INDEX") && $0.description.contains("links_kind_idx")
            }, "\(unindexed)")
        await #expect {
            _ = try await errors(
                backend,
                subject: """
                        relations:
                          linked: { table: links, on: { source_key: id }, as: number }
                    """)
        } throws: { "\($0)".contains("unknown conversion `as: number`") }
    }
}
