import Foundation
import RetentionCore
import RetentionStore
import TestSupport
import Testing

@testable import RetentionEngine

/// `retentiond audit rotate-key`: the trail verifies with the new key alone, holds and marks stay
/// valid, a change to an entry sealed by the rotation is still found, and an interrupted rotation
/// is finished (or started again) by the next one. On every database.
@Suite struct KeyRotationTests {
    func rotate(_ f: CRMFixture, reason: String = "yearly rotation") async throws -> (
        sealedEntries: Int64, rotationSeq: Int64, restatedHolds: Int, retiredKey: String?
    ) {
        try await f.enforcer().rotateKey(keyPath: try f.settings().keyFile, reason: reason, now: CRMFixture.now)
    }

    func file(_ path: String) throws -> String { try String(contentsOfFile: path, encoding: .utf8) }

    /// A key file as retentiond writes one (mode 0600: a key readable by others is refused).
    func writeKey(_ text: String, to path: String) throws {
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        chmod(path, 0o600)
    }

    @Test(arguments: Backend.allCases)
    func aRotatedTrailVerifiesWithTheNewKeyAloneAndKeepsHoldsAndMarks(_ backend: Backend) async throws {
        let f = try await CRMFixture(backend, policy: CRMPolicies.anonymise)
        let registry = try await f.holds()
        _ = try await registry.add(
            table: "people", keyText: "2", reason: "case 12", by: "dpo", until: nil, now: CRMFixture.now)
        let released = try await registry.add(
            table: "people", keyText: "1", reason: "case 13", by: "dpo", until: nil, now: CRMFixture.now)
        _ = try await registry.release(id: released.id, by: "dpo", now: CRMFixture.now)
        let first = try await f.run()
        #expect(
            first.rules[0].anonymised == 3 && first.rules[0].exempt["legal_hold"] == 1,
            "prospects 1, 4 and 5; 2 is held")
        let keyFile = try f.settings().keyFile
        let oldKey = try file(keyFile)
        let before = try await f.trail().verify()
        #expect(before.isValid)
        let names = try await f.rows("SELECT id, name FROM people ORDER BY id")

        let stale = try await f.holds()  // a `hold add` that loaded the key before the rotation
        let rotated = try await rotate(f)
        await #expect(throws: EnforcementError.self, "its key no longer seals the trail") {
            _ = try await stale.add(
                table: "people", keyText: "3", reason: "late", by: "dpo", until: nil, now: CRMFixture.now)
        }
        #expect(rotated.sealedEntries == Int64(before.entries) && rotated.rotationSeq == rotated.sealedEntries + 1)
        #expect(rotated.restatedHolds == 2)
        let retired = try #require(rotated.retiredKey)
        #expect(try file(retired) == oldKey, "the old key is kept aside")
        #expect(try file(keyFile) != oldKey && !FileManager.default.fileExists(atPath: keyFile + ".rotating"))

        let after = try await f.trail().verify()
        #expect(after.isValid, "\(after.problems) \(after.anchorProblems) \(after.holdProblems)")
        #expect(after.holdWarnings.isEmpty, "every hold restated: \(after.holdWarnings)")
        #expect(after.entries == before.entries + 1 + 3, "the rotation, two holds placed and one released again")
        let entry = try #require(try await f.audit().first { $0.seq == rotated.rotationSeq })
        #expect(entry.action == "audit-key-rotated" && entry.actor == "test")
        #expect(
            entry.detail.contains("\"previous_seq\":\"\(before.entries)\"")
                && entry.detail.contains("\"reason\":\"yearly rotation\""))
        // The old key no longer seals this trail: it is the wrong key now.
        let anchor = AuditAnchor(store: try await f.reader(), stateDirectory: f.dir.path)
        await #expect(throws: EnforcementError.self) { _ = try await anchor.loadKey(path: retired, create: false) }
        #expect(try await anchor.loadKey(path: keyFile, create: false) != nil)

        // The next run honours the holds and redoes nothing the marks record.
        let next = try await f.run()
        #expect(next.succeeded, "\(next.message ?? "")")
        #expect(next.rules[0].anonymised == 0 && next.rules[0].exempt["legal_hold"] == 1)
        #expect(try await f.rows("SELECT id, name FROM people ORDER BY id") == names, "nothing changed again")
        _ = try await f.holds().add(
            table: "people", keyText: "3", reason: "case 14", by: "dpo", until: nil, now: CRMFixture.now)
        #expect(try await f.trail().verify().isValid)
    }

    /// Someone who holds the old key rewrites an entry the rotation sealed, MAC and all: the
    /// rotation's digest no longer matches.
    @Test func anEntrySealedByARotationCannotBeRewrittenEvenWithTheOldKey() async throws {
        let f = try await CRMFixture(.sqlite, policy: CRMPolicies.prospectPurge)
        _ = try await f.run()
        let oldChain = AuditChain(key: try f.key)
        _ = try await rotate(f)
        var entry = try #require(try await f.audit(action: "purge").first)
        entry.actor = "someone else"
        entry.mac = oldChain.mac(of: entry)
        try await f.sql([
            "DROP TRIGGER retentiond_audit_append_only_update",
            "UPDATE retentiond_audit SET actor = '\(entry.actor)', mac = '\(entry.mac)' WHERE seq = \(entry.seq)",
        ])
        let verification = try await f.trail().verify()
        #expect(!verification.isValid)
        #expect(
            verification.problems.contains { $0.message.contains("no longer match its digest") },
            "\(verification.problems)")
    }

    @Test(arguments: Backend.allCases)
    func anInterruptedRotationIsFinishedByTheNextAndRefusedByEveryOtherCommand(_ backend: Backend) async throws {
        let f = try await CRMFixture(backend, policy: CRMPolicies.prospectPurge)
        _ = try await f.run()
        let keyFile = try f.settings().keyFile
        let headFile = StateFiles.headPath(stateDirectory: f.dir.path)
        let (oldKey, oldHead) = (try file(keyFile), try file(headFile))
        let rotated = try await rotate(f)
        let newKey = try file(keyFile)
        // As if killed after the database committed the rotation, before the key file and head moved.
        try writeKey(newKey, to: keyFile + ".rotating")
        try writeKey(oldKey, to: keyFile)
        try oldHead.write(toFile: headFile, atomically: true, encoding: .utf8)
        let anchor = AuditAnchor(store: try await f.reader(), stateDirectory: f.dir.path)
        do {
            _ = try await anchor.loadKey(path: keyFile, create: false)
            Issue.record("a command loaded the key while a rotation was pending")
        } catch let error as EnforcementError {
            #expect(error.description.contains("`retentiond audit rotate-key` again"), "\(error)")
        }
        let finished = try await rotate(f)
        #expect(
            finished.retiredKey == nil && finished.rotationSeq == rotated.rotationSeq, "finished, not rotated twice")
        #expect(try file(keyFile) == newKey && !FileManager.default.fileExists(atPath: keyFile + ".rotating"))
        let verification = try await f.trail().verify()
        #expect(
            verification.isValid && verification.recordedHead?.seq == verification.head.seq,
            "\(verification.problems) \(verification.anchorProblems)")

        // A pending key the database never saw (killed before the commit) is dropped, and the rotation starts again.
        try writeKey(String(repeating: "1", count: 64) + "\n", to: keyFile + ".rotating")
        let again = try await rotate(f, reason: "second")
        #expect(again.retiredKey != nil && again.rotationSeq > rotated.rotationSeq)
        #expect(try await f.trail().verify().isValid)
        #expect(try await f.run().succeeded)
    }
}
