import Foundation
import Testing
@testable import RetentionCore
@testable import RetentionEngine

/// `check` against the live schema: every mismatch at its place in the file, with what to do.
@Suite struct SchemaValidationTests {
    func diagnostics(_ policy: String, schema: String = Fixture.schema, data: String = Fixture.data) async throws -> [Diagnostic] {
        let f = try Fixture(schema: schema, data: data, policy: policy)
        return try await f.validate().1
    }

    func errors(_ policy: String, schema: String = Fixture.schema, data: String = Fixture.data) async throws -> [String] {
        try await diagnostics(policy, schema: schema, data: data).filter { $0.severity == .error }.map(\.description)
    }

    @Test func theFixturePoliciesAreValid() async throws {
        #expect(try await errors(EnforcementTests.prospectPurge).isEmpty)
        #expect(try await errors(EnforcementTests.anonymise).isEmpty)
    }

    @Test func anUnknownTableIsReportedAtItsLineWithASuggestion() async throws {
        let found = try await errors(EnforcementTests.anonymise.replacingOccurrences(of: "table: people", with: "table: peple"))
        #expect(found.count == 1)
        #expect(found[0].contains("policy.yaml:9:12: error: table `peple` does not exist"))
        #expect(found[0].hasSuffix("did you mean `people`?"))
    }

    @Test func anUnknownColumnIsReportedWhereverItIsUsed() async throws {
        let found = try await errors(EnforcementTests.anonymise.replacingOccurrences(of: "fallback: collected", with: "fallback: colected")
            .replacingOccurrences(of: "born: year", with: "birthday: year"))
        #expect(found.contains { $0.contains("table `people` has no column `colected`; did you mean `collected`?") })
        #expect(found.contains { $0.contains("table `people` has no column `birthday`") })
    }

    @Test func settingANotNullColumnToNullIsRefused() async throws {
        let found = try await errors(EnforcementTests.anonymise.replacingOccurrences(of: "name: { pseudonym: { prefix: \"p-\", length: 10 } }", with: "name: null"))
        #expect(found.count == 1)
        #expect(found[0].contains("`people.name` is NOT NULL, so it cannot be set to null; use `{ constant: \"…\" }` or `pseudonym`"))
    }

    @Test func collidingStrategiesOnAUniqueColumnAreRefused() async throws {
        let found = try await errors(EnforcementTests.anonymise.replacingOccurrences(of: "email: null", with: "email: { mask: { keep_first: 1, keep_domain: true } }"))
        #expect(found.count == 1)
        #expect(found[0].contains("`people.email` has a unique index"))
    }

    @Test func theKeyMustIdentifyOneRowAndCannotBeAnonymised() async throws {
        let notUnique = try await errors(EnforcementTests.anonymise.replacingOccurrences(of: "key: id", with: "key: kind"))
        #expect(notUnique.contains { $0.contains("key (kind) does not identify one row of `people`") })
        let keyField = try await errors(EnforcementTests.anonymise.replacingOccurrences(of: "opted: keep", with: "id: null"))
        #expect(keyField.contains { $0.contains("`id` is part of the key of `prospects`") })
    }

    @Test func datesThatDoNotMatchTheirDeclaredFormatAreRefusedWithoutShowingThem() async throws {
        let policy = "date_formats: { people.last_seen: unix }\n" + EnforcementTests.anonymise
        let found = try await errors(policy)
        #expect(found.count == 1)
        #expect(found[0].contains("6 of 6 sampled values of `people.last_seen` (clock of rule `prospect-anonymise`) are not unix dates"))
        #expect(!found[0].contains("2020-01-01"))
    }

    @Test func mixedTextLayoutsAreRefused() async throws {
        let data = Fixture.data + "\nUPDATE people SET last_seen = '2020-01-01T10:00:00Z' WHERE id = 1;"
        let found = try await errors(EnforcementTests.anonymise, data: data)
        #expect(found.contains { $0.contains("mixes ISO-8601 layouts") })
    }

    @Test func aClockWithoutIndexIsAWarning() async throws {
        let schema = Fixture.schema.replacingOccurrences(of: "CREATE INDEX people_last_seen ON people(last_seen);", with: "")
        let found = try await diagnostics(EnforcementTests.anonymise, schema: schema)
        #expect(found.filter { $0.severity == .error }.isEmpty)
        #expect(found.contains { $0.severity == .warning && $0.description.contains("no index starts with `people.last_seen`") && $0.description.contains("CREATE INDEX ON people(last_seen)") })
    }

    @Test func aTableThatReferencesADeclaredChildMustBeDeclaredToo() async throws {
        let policy = EnforcementTests.prospectPurge(children: "        children:\n          - { table: notes, foreign_key: person_id }\n")
        let found = try await errors(policy)
        #expect(found.contains { $0.contains("`attachments`.(note_id) references child table `notes`") })
    }
}
