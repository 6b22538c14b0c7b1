import Foundation
import Testing
import RetentionCore
import RetentionEngine
import RetentionStore
import TestSupport

/// What any store must give the engine, beyond running its statements: the schema as the
/// validator sees it, and the single-run lock.
@Suite struct StoreContractTests {
    @Test(arguments: Backend.allCases)
    func introspectionFindsTablesKeysForeignKeysAndIndexes(_ backend: Backend) async throws {
        let f = try await CRMFixture(backend, policy: CRMPolicies.prospectPurge)
        let schema = try await f.reader().read { try $0.schema() }
        let people = try #require(schema.table("people"))
        #expect(people.primaryKey == ["id"])
        #expect(people.columns.map(\.name) == CRMFixture.peopleColumns)
        #expect(people.column("kind")?.notNull == true && people.column("email")?.notNull == false)
        #expect(people.isUniqueColumn("email"))
        #expect(people.hasIndex(leadingWith: "last_seen"))
        #expect(!people.hasIndex(leadingWith: "name"))
        #expect(Set(schema.references(to: "people").map(\.table)) == ["notes", "orders"])
        #expect(schema.table("attachments")?.foreignKeys.first?.referencedColumns == ["id"])
        #expect(schema.table("attachments")?.foreignKeys.first?.columns == ["note_id"])
    }

    @Test(arguments: Backend.allCases)
    func aSecondRunAtTheSameTimeIsLockedOut(_ backend: Backend) async throws {
        let f = try await CRMFixture(backend, policy: CRMPolicies.prospectPurge)
        let held = try await f.store().acquireRunLock()
        do {
            _ = try await f.run()
            Issue.record("ran while another run held the lock")
        } catch {
            #expect(EnforcementError.from(error).kind == .locked)
        }
        #expect(try await f.ids("people").count == 7)
        withExtendedLifetime(held) {}
    }
}
