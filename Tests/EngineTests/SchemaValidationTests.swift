import Foundation
import RetentionCore
import RetentionEngine
import RetentionStore
import TestSupport
import Testing

/// `check` against the live schema: every mismatch at its place in the file, with what to do.
@Suite struct SchemaValidationTests {
    func diagnostics(
        _ backend: Backend, _ policy: String, schema: [String] = CRMFixture.schema, data: [String] = CRMFixture.data
    ) async throws -> [Diagnostic] {
        let f = try await CRMFixture(backend, schema: schema, data: data, policy: policy)
        return try await f.validate().1
    }

    func errors(
        _ backend: Backend, _ policy: String, schema: [String] = CRMFixture.schema, data: [String] = CRMFixture.data
    ) async throws -> [String] {
        try await diagnostics(backend, policy, schema: schema, data: data).filter { $0.severity == .error }.map(
            \.description)
    }

    @Test(arguments: Backend.allCases)
    func theFixturePoliciesAreValid(_ backend: Backend) async throws {
        #expect(try await errors(backend, CRMPolicies.prospectPurge).isEmpty)
        #expect(try await errors(backend, CRMPolicies.anonymise).isEmpty)
    }

    @Test(arguments: Backend.allCases)
    func anUnknownTableIsReportedAtItsLineWithASuggestion(_ backend: Backend) async throws {
        let found = try await errors(
            backend, CRMPolicies.anonymise.replacingOccurrences(of: "table: people", with: "table: peple"))
        #expect(found.count == 1)
        #expect(found[0].contains("policy.yaml:8:12: error: table `peple` does not exist"))
        #expect(found[0].hasSuffix("did you mean `people`?"))
    }

    @Test(arguments: Backend.allCases)
    func anUnknownColumnIsReportedWhereverItIsUsed(_ backend: Backend) async throws {
        let found = try await errors(
            backend,
            CRMPolicies.anonymise.replacingOccurrences(of: "fallback: collected", with: "fallback: colected")
                .replacingOccurrences(of: "born: year", with: "birthday: year"))
        #expect(found.contains { $0.contains("table `people` has no column `colected`; did you mean `collected`?") })
        #expect(found.contains { $0.contains("table `people` has no column `birthday`") })
    }

    @Test(arguments: Backend.allCases)
    func settingANotNullColumnToNullIsRefused(_ backend: Backend) async throws {
        let found = try await errors(
            backend,
            CRMPolicies.anonymise.replacingOccurrences(
                of: "name: { pseudonym: { prefix: \"p-\", length: 10 } }", with: "name: null"))
        #expect(found.count == 1)
        #expect(
            found[0].contains(
                "`people.name` is NOT NULL, so it cannot be set to null; use `{ constant: \"…\" }` or `pseudonym`"))
    }

    @Test(arguments: Backend.allCases)
    func collidingStrategiesOnAUniqueColumnAreRefused(_ backend: Backend) async throws {
        let found = try await errors(
            backend,
            CRMPolicies.anonymise.replacingOccurrences(
                of: "email: null", with: "email: { mask: { keep_first: 1, keep_domain: true } }"))
        #expect(found.count == 1)
        #expect(found[0].contains("`people.email` has a unique index"))
    }

    @Test(arguments: Backend.allCases)
    func theKeyMustIdentifyOneRowAndCannotBeAnonymised(_ backend: Backend) async throws {
        let notUnique = try await errors(
            backend, CRMPolicies.anonymise.replacingOccurrences(of: "key: id", with: "key: kind"))
        #expect(notUnique.contains { $0.contains("key (kind) does not identify one row of `people`") })
        let keyField = try await errors(
            backend, CRMPolicies.anonymise.replacingOccurrences(of: "opted: keep", with: "id: null"))
        #expect(keyField.contains { $0.contains("`id` is part of the key of `prospects`") })
    }

    @Test(arguments: Backend.allCases)
    func datesThatDoNotMatchTheirDeclaredFormatAreRefusedWithoutShowingThem(_ backend: Backend) async throws {
        let policy = "date_formats: { people.last_seen: unix }\n" + CRMPolicies.anonymise
        let found = try await errors(backend, policy)
        #expect(found.count == 1)
        #expect(
            found[0].contains(
                "6 of 6 sampled values of `people.last_seen` (clock of rule `prospect-anonymise`) are not unix dates"))
        #expect(!found[0].contains("2020-01-01"))
    }

    /// What an anonymisation writes must fit its column: PostgreSQL would cut a longer value to fit
    /// (a pseudonym shortened, a constant clipped), MariaDB refuse it and stop the run. SQLite
    /// keeps a declared length as a comment, and stores the whole value.
    @Test(arguments: Backend.allCases)
    func aValueLongerThanItsColumnHoldsIsRefused(_ backend: Backend) async throws {
        let schema = CRMFixture.schema.map {
            $0.replacingOccurrences(of: "name TEXT NOT NULL", with: "name VARCHAR(8) NOT NULL")
                .replacingOccurrences(of: "phone TEXT, born TEXT", with: "phone VARCHAR(12), born CHAR(7)")
        }
        let policy = CRMPolicies.anonymise(
            action: """
                        action: anonymise
                        fields:
                          name: { pseudonym: { prefix: "p-", length: 10 } }
                          phone: { constant: "number removed" }
                          born: { constant: "unknown" }
                """)
        let found = try await errors(backend, policy, schema: schema, data: [])
        if backend == .sqlite {
            #expect(found.isEmpty, "\(found)")
            return
        }
        #expect(found.count == 2, "\(found)")
        #expect(
            found.contains {
                $0.contains("`people.name` holds at most 8 characters") && $0.contains("`pseudonym` writes 12")
                    && $0.contains("shorten the pseudonym's prefix or length")
            }, "\(found)")
        #expect(
            found.contains {
                $0.contains("`people.phone` holds at most 12 characters") && $0.contains("`constant` writes 14")
            }, "\(found)")
        #expect(!found.contains { $0.contains("people.born") }, "seven characters fit char(7)")
    }

    @Test(arguments: Backend.allCases)
    func mixedTextLayoutsAreRefused(_ backend: Backend) async throws {
        let data = CRMFixture.data + ["UPDATE people SET last_seen = '2020-01-01T10:00:00Z' WHERE id = 1"]
        let found = try await errors(backend, CRMPolicies.anonymise, data: data)
        #expect(found.contains { $0.contains("mixes ISO-8601 layouts") })
    }

    @Test(arguments: Backend.allCases)
    func aClockWithoutIndexIsAWarning(_ backend: Backend) async throws {
        let schema = CRMFixture.schema.filter { !$0.hasPrefix("CREATE INDEX people_last_seen") }
        let found = try await diagnostics(backend, CRMPolicies.anonymise, schema: schema)
        #expect(found.filter { $0.severity == .error }.isEmpty)
        #expect(
            found.contains {
                $0.severity == .warning && $0.description.contains("no index starts with `people.last_seen`")
                    && $0.description.contains(
                        backend == .mariadb
                            ? "CREATE INDEX `people_last_seen_idx` ON `people` (`last_seen`)"
                            : "CREATE INDEX \"people_last_seen_idx\" ON \"people\" (\"last_seen\")")
            })
    }

    @Test(arguments: Backend.allCases)
    func aTableThatReferencesADeclaredChildMustBeDeclaredToo(_ backend: Backend) async throws {
        let policy = CRMPolicies.prospectPurge(
            children: "        children:\n          - { table: notes, foreign_key: person_id }\n")
        let found = try await errors(backend, policy)
        #expect(found.contains { $0.contains("`attachments`.(note_id) references child table `notes`") })
        // The declared child with an error of its own is not also said to be undeclared.
        let all = try await diagnostics(backend, policy)
        #expect(
            !all.contains {
                $0.description.contains("`notes`.(person_id) references `people` but is not a declared child")
            }, "\(all)")
    }
}

/// The GRANT statements `check` prints: one per table, sequence or schema, privileges in GRANT's
/// order, a column list only where no need asks for the whole table.
@Suite struct GrantStatementTests {
    @Test func oneStatementPerObjectWithColumnListsWhereNeeded() {
        let report = PrivilegeReport(
            role: "ret",
            missing: [
                PrivilegeNeed(table: "people", kind: .delete),
                PrivilegeNeed(table: "people", kind: .update, column: "name"),
                PrivilegeNeed(table: "people", kind: .select),
                PrivilegeNeed(table: "people", kind: .update, column: "email"),
                PrivilegeNeed(table: "retentiond_holds_id_seq", kind: .usage, object: .sequence),
                PrivilegeNeed(table: "notes", kind: .update, column: "body"),
                PrivilegeNeed(table: "notes", kind: .update),
                PrivilegeNeed(table: "public", kind: .create, object: .schema),
            ])
        #expect(
            report.grants == [
                "GRANT CREATE ON SCHEMA \"public\" TO \"ret\";",
                "GRANT USAGE ON SEQUENCE \"retentiond_holds_id_seq\" TO \"ret\";",
                "GRANT UPDATE ON \"notes\" TO \"ret\";",
                "GRANT SELECT, UPDATE (\"email\", \"name\"), DELETE ON \"people\" TO \"ret\";",
            ])
        #expect(
            PrivilegeReport(role: nil, missing: report.missing).grants.isEmpty, "SQLite: no roles, nothing to grant")
    }

    /// UPDATE on any one column (to lock rows) is granted on the key, unless another UPDATE the
    /// role lacks on the same table gives it already.
    @Test func anUpdateLockIsGrantedOnTheKeyOnlyWhenNothingElseGivesIt() {
        let lock = PrivilegeNeed(table: "tickets", kind: .update, column: "id", anyColumn: true)
        #expect(
            PrivilegeReport(role: "ret", missing: [lock, PrivilegeNeed(table: "tickets", kind: .delete)]).grants
                == ["GRANT UPDATE (\"id\"), DELETE ON \"tickets\" TO \"ret\";"])
        #expect(
            PrivilegeReport(
                role: "ret", missing: [lock, PrivilegeNeed(table: "tickets", kind: .update, column: "email")]
            ).grants
                == ["GRANT UPDATE (\"email\") ON \"tickets\" TO \"ret\";"])
        #expect(lock.description.contains("UPDATE any column of `tickets`"))
    }
}
