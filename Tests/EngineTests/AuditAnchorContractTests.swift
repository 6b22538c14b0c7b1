import Foundation
import RetentionCore
import RetentionEngine
import RetentionStore
import TestSupport
import Testing

/// The audit trail stays anchored to the head recorded outside the database: whatever path the
/// database is reached by, after a restore, a truncation or a dropped table. On both databases.
@Suite struct AuditAnchorContractTests {
    @Test(arguments: Backend.allCases)
    func aDroppedToolTableMeansATrailExistsAndIsRefused(_ backend: Backend) async throws {
        let f = try await CRMFixture(backend, policy: CRMPolicies.anonymise)
        _ = try await f.run()
        try await f.sql(["DROP TABLE retentiond_holds"])
        let anchor = AuditAnchor(store: try await f.store(), stateDirectory: f.dir.path)
        #expect(try await anchor.trailExists())
        await expectTamperingRefused { _ = try await f.run(now: CRMFixture.now.addingTimeInterval(60)) }
        #expect(
            try await f.reader().read { try $0.toolTables() } == ToolTables(audit: true, holds: false),
            "not silently re-created")

        try await f.dropAuditProtection()
        try await f.sql(["DROP TABLE retentiond_audit"])
        #expect(try await anchor.trailExists(), "the recorded head still says there was a trail")
        let before = try await f.snapshot()
        await expectTamperingRefused { _ = try await f.run(now: CRMFixture.now.addingTimeInterval(120)) }
        #expect(try await f.snapshot() == before, "no pseudonym of a pseudonym")
    }

    @Test(arguments: Backend.allCases)
    func aTrailThatNoLongerExtendsTheRecordedHeadIsRefusedUntilReanchored(_ backend: Backend) async throws {
        let f = try await CRMFixture(backend, policy: CRMPolicies.anonymise)
        _ = try await f.run()
        #expect(try await f.rows("SELECT count(*) FROM retentiond_audit") == [[.integer(5)]], "4 records and the run")
        // As after a restore from an older copy: the newest entries are gone.
        try await f.dropAuditProtection()
        try await f.sql(["DELETE FROM retentiond_audit WHERE seq > 2"])
        try await f.sql(["UPDATE people SET name = 'Back From Backup' WHERE id = 4"])
        await expectTamperingRefused { _ = try await f.run(now: CRMFixture.now.addingTimeInterval(60)) }
        let registry = try await f.holds()
        await expectTamperingRefused {
            _ = try await registry.add(
                table: "people", keyText: "3", reason: "x", by: "y", until: nil, now: CRMFixture.now)
        }
        #expect(try await f.rows("SELECT count(*) FROM retentiond_audit") == [[.integer(2)]], "nothing appended")
        #expect(
            try await f.rows("SELECT name FROM people WHERE id = 4") == [[.text("Back From Backup")]], "nothing changed"
        )

        let (previous, head) = try await AuditAnchor.reanchor(
            try await f.store(), stateDirectory: f.dir.path, key: try f.key, reason: "restore ticket 7", by: "ops",
            now: CRMFixture.now.addingTimeInterval(90))
        #expect(previous?.seq == 5 && head.seq == 3)
        let entry = try #require(try await f.audit(action: "audit-reanchored").first)
        let detail = try JSONSerialization.jsonObject(with: Data((entry.detail).utf8)) as? [String: String]
        #expect(
            detail == [
                "database": try await f.store().location, "previous_mac": previous?.mac ?? "", "previous_seq": "5",
                "previous_genesis": previous?.genesis ?? "", "reason": "restore ticket 7",
                "head_file": StateFiles.headFileIdentity(stateDirectory: f.dir.path),
            ])
        #expect(previous?.genesis?.count == 64)
        // The erasure ledger still names what the lost entries did: runs wait until it is re-applied.
        await expectTamperingRefused { _ = try await f.run(now: CRMFixture.now.addingTimeInterval(100)) }
        let replay = try await f.enforcer().reanchor(
            reason: "restore ticket 7", now: CRMFixture.now.addingTimeInterval(110), dryRun: false
        ).replay
        #expect(replay?.reapplied == 2, "the two records whose audit entries were lost are done again")
        let next = try await f.run(now: CRMFixture.now.addingTimeInterval(120))
        #expect(next.rules[0].anonymised == 0)
        #expect(
            try await AuditTrail(store: try await f.reader(), key: try f.key, stateDirectory: f.dir.path).verify()
                .isValid)
    }

    func verify(_ f: CRMFixture, headPath: String? = nil) async throws -> AuditTrail.Verification {
        try await AuditTrail(store: try await f.reader(), key: try f.key, stateDirectory: f.dir.path).verify(
            headPath: headPath)
    }

    @Test(arguments: Backend.allCases)
    func theSameTrailReachedByAnotherPathIsStillCheckedAgainstItsHead(_ backend: Backend) async throws {
        let f = try await CRMFixture(backend, policy: CRMPolicies.anonymise)
        _ = try await f.run()
        // The docs' own situation: runs record one path, an operator reaches the database by another.
        try f.reachDatabaseByAnotherPath()
        try f.write(policy: CRMPolicies.anonymise)
        #expect(try await f.store().location != (StateFiles.readHead(stateDirectory: f.dir.path)?.database ?? ""))
        try await f.dropAuditProtection()
        try await f.sql(["DELETE FROM retentiond_audit WHERE seq > 3"])
        await expectTamperingRefused { _ = try await f.run(now: CRMFixture.now.addingTimeInterval(60)) }
        let verification = try await verify(f)
        #expect(verification.problems.contains { $0.message.contains("truncated") })
    }

    /// The trail names the head file that recorded its runs: removed, it is a finding (not "no head
    /// yet"), and re-anchoring is the way on.
    @Test(arguments: Backend.allCases)
    func aHeadRemovedFromTheStateDirectoryThatRecordedItIsRefused(_ backend: Backend) async throws {
        let f = try await CRMFixture(backend, policy: CRMPolicies.anonymise)
        _ = try await f.run()
        try FileManager.default.removeItem(atPath: StateFiles.headPath(stateDirectory: f.dir.path))
        try await f.sql(["UPDATE people SET email = 'new@example.fr' WHERE id = 6"])
        let before = try await f.snapshot()
        await expectTamperingRefused { _ = try await f.run(now: CRMFixture.now.addingTimeInterval(60)) }
        #expect(try await f.snapshot() == before, "nothing changed")
        #expect(try await verify(f).anchorProblems.contains { $0.contains("is gone, but the trail") })
        _ = try await AuditAnchor.reanchor(
            try await f.store(), stateDirectory: f.dir.path, key: try f.key, reason: "head lost", by: "ops",
            now: CRMFixture.now.addingTimeInterval(90))
        #expect(try await verify(f).isValid)
        #expect(try await f.run(now: CRMFixture.now.addingTimeInterval(120)).succeeded)
    }

    @Test(arguments: Backend.allCases)
    func aHeadThatBelongsToAnotherTrailIsRefused(_ backend: Backend) async throws {
        let mine = try await CRMFixture(backend, policy: CRMPolicies.anonymise)
        let other = try await CRMFixture(backend, policy: CRMPolicies.anonymise)
        _ = try await mine.run()
        _ = try await other.run()
        let head = StateFiles.headPath(stateDirectory: mine.dir.path)
        try FileManager.default.removeItem(atPath: head)
        try FileManager.default.copyItem(atPath: StateFiles.headPath(stateDirectory: other.dir.path), toPath: head)
        await expectTamperingRefused { _ = try await mine.run(now: CRMFixture.now.addingTimeInterval(60)) }
        #expect(try await verify(mine).anchorProblems.contains { $0.contains("belongs to another audit trail") })
    }

    @Test(arguments: Backend.allCases)
    func aHeadKeptElsewhereCatchesWhatTheLocalOneNoLongerCan(_ backend: Backend) async throws {
        let f = try await CRMFixture(backend, policy: CRMPolicies.anonymise)
        _ = try await f.run()
        let offHost = f.dir.appendingPathComponent("off-host-head.json").path
        try FileManager.default.copyItem(atPath: StateFiles.headPath(stateDirectory: f.dir.path), toPath: offHost)
        // An attacker who can write both the database and the state directory truncates the trail
        // (and the references filed beside it), rewrites the local head to match it and removes
        // the erasure ledger (which would say the trail lost entries it copied).
        try await f.dropAuditProtection()
        try await f.sql([
            "DELETE FROM retentiond_audit WHERE seq > 3", "DELETE FROM retentiond_audit_refs WHERE seq > 3",
        ])
        let three = try await f.rows("SELECT mac FROM retentiond_audit WHERE seq = 3")[0][0].textValue ?? ""
        let local = try #require(StateFiles.readHead(stateDirectory: f.dir.path))
        try StateFiles.recordHead(
            TrailPosition(head: AuditHead(seq: 3, mac: three), genesis: local.genesis ?? ""), database: local.database,
            stateDirectory: f.dir.path, replacing: true)
        #expect(try await !verify(f).isValid, "the ledger saw the lost entries")
        try FileManager.default.removeItem(atPath: ErasureLedger.path(stateDirectory: f.dir.path))
        #expect(try await verify(f).isValid, "locally consistent: this is what the external copy is for")
        let external = try await verify(f, headPath: offHost)
        #expect(!external.isValid)
        #expect(external.problems.contains { $0.message.contains("entry 5 was recorded") })
    }

    @Test(arguments: Backend.allCases)
    func aHeadFileOlderThanTheTrailIsSaidLoudly(_ backend: Backend) async throws {
        let f = try await CRMFixture(backend, policy: CRMPolicies.anonymise)
        _ = try await f.run()
        let head = StateFiles.headPath(stateDirectory: f.dir.path)
        let older = try Data(contentsOf: URL(fileURLWithPath: head))
        // Two more runs: the trail grows by their run-completed entries.
        try await f.sql(["UPDATE people SET last_seen = '2020-01-01' WHERE id = 3"])
        _ = try await f.run(now: CRMFixture.now.addingTimeInterval(60))
        try older.write(to: URL(fileURLWithPath: head))
        let standing = try await AuditAnchor(store: try await f.reader(), stateDirectory: f.dir.path).check()
        #expect(standing.entriesPastHead == 2, "one anonymised record and one run-completed entry past the old head")
        let verification = try await verify(f)
        #expect(verification.isValid && verification.entriesPastHead == 2)
    }

    /// A head file that exists but is not a head (corrupted, replaced by a directory) is a finding,
    /// never "no head": every writer refuses and `verify` fails until it is restored or re-anchored.
    @Test(arguments: Backend.allCases)
    func anUnreadableHeadIsRefusedUntilReanchored(_ backend: Backend) async throws {
        let f = try await CRMFixture(backend, policy: CRMPolicies.anonymise)
        _ = try await f.run()
        let head = StateFiles.headPath(stateDirectory: f.dir.path)
        try Data("{\"seq\": ".utf8).write(to: URL(fileURLWithPath: head))
        try await f.sql(["UPDATE people SET email = 'new@example.fr' WHERE id = 6"])
        let before = try await f.snapshot()
        await expectTamperingRefused { _ = try await f.run(now: CRMFixture.now.addingTimeInterval(60)) }
        #expect(try await f.snapshot() == before, "nothing changed")
        let verification = try await verify(f)
        #expect(
            !verification.isValid
                && verification.anchorProblems.contains {
                    $0.contains("cannot be read (it does not hold a recorded head)")
                },
            "\(verification.anchorProblems)")

        try FileManager.default.removeItem(atPath: head)
        try FileManager.default.createDirectory(atPath: head, withIntermediateDirectories: false)
        await expectTamperingRefused { _ = try await f.run(now: CRMFixture.now.addingTimeInterval(60)) }
        #expect(try await verify(f).anchorProblems.contains { $0.contains("cannot be read (it is a directory)") })

        // Removed and re-anchored by the operator: the trail is anchored again and runs go on.
        try FileManager.default.removeItem(atPath: head)
        _ = try await AuditAnchor.reanchor(
            try await f.store(), stateDirectory: f.dir.path, key: try f.key, reason: "head lost", by: "ops",
            now: CRMFixture.now.addingTimeInterval(90))
        #expect(try await verify(f).isValid)
        #expect(try await f.run(now: CRMFixture.now.addingTimeInterval(120)).succeeded)
    }

    /// Re-anchoring vouches for the trail's end: on a trail that is intact and ends at its head
    /// there is nothing to accept, and it is refused with nothing appended.
    @Test(arguments: Backend.allCases)
    func reanchoringAnIntactTrailIsRefused(_ backend: Backend) async throws {
        let f = try await CRMFixture(backend, policy: CRMPolicies.anonymise)
        _ = try await f.run()
        let entries = try await f.audit().count
        do {
            _ = try await AuditAnchor.reanchor(
                try await f.store(), stateDirectory: f.dir.path, key: try f.key, reason: "why not", by: "ops",
                now: CRMFixture.now.addingTimeInterval(90))
            Issue.record("an intact trail was re-anchored")
        } catch {
            #expect(EnforcementError.from(error).kind == .refused, "\(error)")
            #expect("\(error)".contains("nothing to re-anchor"))
        }
        #expect(try await f.audit().count == entries, "nothing appended")
    }
}
