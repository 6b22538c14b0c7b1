import Foundation
import Testing
import RetentionCore
import RetentionEngine
import RetentionStore

/// What any store must do, run unchanged against real SQLite and a real PostgreSQL 15 server.
@Suite struct StoreContractTests {
    static let purge = """
        subjects:
          prospects:
            table: people
            key: id
            filter: { kind: prospect }
            exempt:
              consent: { until: keep_until }
            rules:
              - id: prospect-purge
                register: "Prospection"
                legal_basis: "legitimate interest, 3 years"
                clock: { latest: [last_seen, collected] }
                after: 3y
                action: purge
                children:
                  - table: notes
                    foreign_key: person_id
                    children:
                      - { table: attachments, foreign_key: note_id }
        """

    static let anonymise = """
        subjects:
          prospects:
            table: people
            key: id
            filter: { kind: prospect }
            rules:
              - id: prospect-anonymise
                register: "Prospection"
                legal_basis: "legitimate interest"
                clock: { column: last_seen, fallback: collected }
                after: 3y
                action: anonymise
                fields:
                  email: null
                  name: { pseudonym: { prefix: "p-", length: 10 } }
                  phone: { mask: { keep_last: 2 } }
                  born: year
        """

    @Test(arguments: Backend.allCases)
    func introspectionFindsTablesKeysForeignKeysAndIndexes(_ backend: Backend) async throws {
        let f = try await ContractFixture(backend, policy: Self.purge)
        let schema = try await f.store(readOnly: true).read { try $0.schema() }
        let people = try #require(schema.table("people"))
        #expect(people.primaryKey == ["id"])
        #expect(people.columns.map(\.name) == ["id", "kind", "name", "email", "phone", "born", "last_seen", "collected", "keep_until"])
        #expect(people.column("kind")?.notNull == true && people.column("email")?.notNull == false)
        #expect(people.isUniqueColumn("email"))
        #expect(people.hasIndex(leadingWith: "last_seen"))
        #expect(Set(schema.references(to: "people").map(\.table)) == ["notes", "orders"])
        #expect(schema.table("attachments")?.foreignKeys.first?.referencedColumns == ["id"])
    }

    @Test(arguments: Backend.allCases)
    func purgeDeletesTheRecordsAndTheirChildrenWithTheirAuditEntries(_ backend: Backend) async throws {
        let f = try await ContractFixture(backend, policy: Self.purge)
        let report = try await f.run()
        #expect(report.status == .complete)
        #expect(try await f.ids("people") == [3, 4, 5, 6])
        #expect(try await f.ids("notes") == [13])
        #expect(try await f.ids("attachments") == [101])
        #expect(try await f.ids("orders") == [1000, 1001])
        let tally = try #require(report.rules.first)
        #expect(tally.purged == 2)
        #expect(tally.exempt == ["consent": 1, "referenced_by_undeclared_table": 1])
        #expect(tally.childRowsPurged == ["notes": 3, "attachments": 1])
        #expect(try await f.audit(action: "purge").map { $0[0] } == [.text(try f.reference("people", 1)), .text(try f.reference("people", 2))])
        #expect(try await f.audit(action: "purge-children").count == 2)
    }

    @Test(arguments: Backend.allCases)
    func anonymiseRewritesTheListedFieldsRowByRow(_ backend: Backend) async throws {
        let f = try await ContractFixture(backend, policy: Self.anonymise)
        let report = try await f.run()
        #expect(report.rules[0].anonymised == 4)
        let rows = try await f.rows("SELECT id, email, name, phone, born, collected FROM people ORDER BY id")
        let alice = rows[0]
        #expect(alice[1] == .null)
        guard case .text(let name) = alice[2] else { Issue.record("name is not text"); return }
        #expect(name.hasPrefix("p-") && name.count == 12)
        #expect(alice[3] == .text("***************44"))
        #expect(alice[4] == .text("1980-01-01"))
        #expect(alice[5] == .text("2019-06-01"))
        #expect(rows[2][1] == .text("chloe.durand@example.fr"), "record 3 is not due")
        #expect(rows[5][2] == .text("Fabien Morel"), "clients are another subject")
        let entries = try await f.audit(action: "anonymise")
        #expect(entries.count == 4)
        #expect(entries.allSatisfy { $0[1] == .text("email,name,phone,born") })
    }

    @Test(arguments: Backend.allCases)
    func aSecondRunChangesNothingNew(_ backend: Backend) async throws {
        let f = try await ContractFixture(backend, policy: Self.anonymise)
        _ = try await f.run()
        let before = try await f.snapshot()
        let second = try await f.run(now: ContractFixture.now.addingTimeInterval(86_400))
        #expect(second.rules[0].anonymised == 0)
        #expect(second.rules[0].alreadyDone == 4)
        #expect(try await f.snapshot() == before)
    }

    @Test(arguments: Backend.allCases)
    func theDryRunChangesNothing(_ backend: Backend) async throws {
        let f = try await ContractFixture(backend, policy: Self.purge)
        let before = try await f.snapshot()
        let plan = try await f.enforcer(readOnly: true).plan(now: ContractFixture.now, mode: .plan, planPath: f.dir.appendingPathComponent("p.plan").path)
        #expect(plan.totalDue == 2)
        #expect(try await f.snapshot() == before)
        #expect(try await f.store(readOnly: true).read { try $0.toolTablesExist() } == false, "not even the tool's own tables")
    }

    @Test(arguments: Backend.allCases)
    func legalHoldsOnTheRecordOrOnAChildRowKeepIt(_ backend: Backend) async throws {
        let f = try await ContractFixture(backend, policy: Self.purge)
        let key = try AuditKey.load(path: try f.policy().keyFile, createIfMissing: true).key
        let holds = HoldRegistry(store: try await f.store(), key: key, stateDirectory: f.dir.path)
        _ = try await holds.add(table: "people", keyText: "2", reason: "case", by: "dpo", until: nil, now: ContractFixture.now)
        _ = try await holds.add(table: "attachments", keyText: "100", reason: "evidence", by: "dpo", until: nil, now: ContractFixture.now)
        let report = try await f.run()
        #expect(report.rules[0].exempt["legal_hold"] == 2)
        #expect(try await f.ids("people") == [1, 2, 3, 4, 5, 6])
        let listed = try await holds.list(includeReleased: false)
        #expect(listed.map { "\($0.table):\($0.key)" } == ["people:2", "attachments:100"])
        _ = try await holds.release(id: listed[0].id, by: "dpo", now: ContractFixture.now.addingTimeInterval(60))
        _ = try await f.run(now: ContractFixture.now.addingTimeInterval(120))
        #expect(try await f.ids("people") == [1, 3, 4, 5, 6])
    }

    @Test(arguments: Backend.allCases)
    func tamperingWithTheTrailIsDetected(_ backend: Backend) async throws {
        let f = try await ContractFixture(backend, policy: Self.anonymise)
        _ = try await f.run()
        let trail = AuditTrail(store: try await f.store(readOnly: true), key: try f.key, stateDirectory: f.dir.path)
        #expect(try await trail.verify().isValid)
        await #expect(throws: (any Error).self) { try await f.sql(["UPDATE retentiond_audit SET action = 'flag' WHERE seq = 2"]) }
        try await f.dropAuditProtection()
        try await f.sql(["UPDATE retentiond_audit SET fields = 'email' WHERE seq = 2"])
        #expect(try await trail.verify().problems.map(\.description) == ["entry 2: its content does not match its MAC (modified)"])
        try await f.sql(["DELETE FROM retentiond_audit WHERE seq >= 4"])
        #expect(try await trail.verify().problems.contains { $0.message.contains("truncated") })
    }

    @Test(arguments: Backend.allCases)
    func aSecondRunAtTheSameTimeIsLockedOut(_ backend: Backend) async throws {
        let f = try await ContractFixture(backend, policy: Self.purge)
        let held = try await f.store().acquireRunLock()
        do {
            _ = try await f.run()
            Issue.record("ran while another run held the lock")
        } catch {
            #expect(EnforcementError.from(error).kind == .locked)
        }
        #expect(try await f.ids("people").count == 6)
        withExtendedLifetime(held) {}
    }
}
