import Crypto
import Foundation
import RetentionCore
import RetentionStore

/// Replaces the audit key (`retentiond audit rotate-key`) without breaking the trail.
///
/// The old entries stay where they are. The new key seals one `audit-key-rotated` entry after them
/// that names the old head and holds the digest of every entry before it (`AuditChain.SealDigest`):
/// from then on the whole trail verifies with the new key alone, and a change to an old entry —
/// even by someone who holds the old key — is found. Right after it, every hold is restated under
/// the new key (its `hold-add`, and its `hold-release` if released), so the holds table still
/// matches the trail; the marks of what rules did name records by key, not by reference, and stay.
///
/// Crash-safe in three steps: the new key is written beside the old one (`<key file>.rotating`)
/// and the old one copied aside (`<key file>.retired-<time>`); the rotation entry and the restated
/// holds commit in one transaction; then the new key replaces the old file and the head is
/// recorded. Interrupted after the commit, the next `rotate-key` finishes the rename; before it, it
/// starts again. Every other command refuses while the pending file is there.
struct KeyRotation: Sendable {
    let store: any RecordStore
    let keyPath: String
    let stateDirectory: String
    let actor: String

    /// Where the new key waits until the database has the entry it sealed.
    static func pendingPath(_ keyPath: String) -> String { keyPath + ".rotating" }

    struct Outcome: Sendable {
        /// The entries sealed by the rotation (the old trail), and the rotation's own entry.
        var sealedEntries: Int64
        var rotationSeq: Int64
        var restatedHolds: Int
        /// Where the old key was copied (nil when an interrupted rotation was only finished).
        var retiredKey: String?
        var head: AuditHead
    }

    /// Rotates from `oldKey`, the key the trail verifies with now. The caller holds the run lock
    /// and has checked the trail against its recorded head and completed the rules' marks.
    func rotate(from oldKey: AuditKey, reason: String, now: Date) async throws -> Outcome {
        let trail = AuditTrail(store: store, key: oldKey, stateDirectory: stateDirectory)
        let verification = try await trail.verify()
        guard verification.isValid else {
            let first =
                (verification.problems.map(\.description) + verification.anchorProblems + verification.holdProblems
                + verification.ledgerProblems).first ?? ""
            throw EnforcementError.trailNotIntactToRotate(
                location: store.location, problemCount: verification.problemCount, first: first)
        }
        guard verification.entries > 0 else {
            throw EnforcementError.noTrailToRotate(location: store.location)
        }
        let bytes = SymmetricKey(size: .bits256).withUnsafeBytes { Data($0) }
        let retired = keyPath + ".retired-" + RunID.make(at: now).prefix(16)
        let oldFile = try Data(contentsOf: URL(fileURLWithPath: keyPath))
        try StateFiles.writePrivate(oldFile, to: retired)
        try StateFiles.writePrivate(Data((bytes.hexEncoded + "\n").utf8), to: Self.pendingPath(keyPath))
        let newKey = AuditKey(bytes: bytes)
        let runID = "rotate-key-" + RunID.make(at: now)
        let (actor, location, fingerprint) = (self.actor, store.location, Self.fingerprint)
        let headFile = StateFiles.headFileIdentity(stateDirectory: stateDirectory)
        let (position, sealed, holds) = try await store.transaction { session -> (TrailPosition, Int64, Int) in
            let head = try session.lockedAuditHead()
            var digest = AuditChain.SealDigest()
            var after: Int64 = 0
            while true {
                let page = try session.auditEntries(after: after, limit: 2000, filter: AuditFilter())
                for entry in page { digest.add(entry) }
                guard let last = page.last, page.count == 2000 else { break }
                after = last.seq
            }
            guard digest.count == head.seq else {
                throw EnforcementError.trailEntriesMissing(location: location, count: digest.count, head: head.seq)
            }
            var drafts = [
                AuditDraft(
                    runID: runID, actor: actor, policyHash: "", action: .keyRotated,
                    detail: [
                        "reason": reason, "previous_seq": String(head.seq), "previous_mac": head.mac,
                        "sealed_entries": String(digest.count), "sealed_digest": digest.hex,
                        "previous_key": fingerprint(oldKey), "key": fingerprint(newKey), "head_file": headFile,
                    ])
            ]
            let chain = AuditChain(key: newKey)
            let holds = try session.holds(includeReleased: true)
            for hold in holds {
                var detail = [
                    "hold_id": String(hold.id), "restated": "key rotation",
                    "placed_at": ISO8601DateFormatter().string(from: hold.placedAt),
                ]
                if let until = hold.until { detail["until"] = ISO8601DateFormatter().string(from: until) }
                drafts.append(
                    AuditDraft(
                        runID: runID, actor: actor, policyHash: "", action: .holdAdd, table: hold.table,
                        subjectRef: chain.reference(table: hold.table, key: hold.key), detail: detail))
                if hold.releasedAt != nil {
                    drafts.append(
                        AuditDraft(
                            runID: runID, actor: actor, policyHash: "", action: .holdRelease, table: hold.table,
                            subjectRef: chain.reference(table: hold.table, key: hold.key),
                            detail: ["hold_id": String(hold.id), "restated": "key rotation"]))
                }
            }
            return (try AuditWriter(chain: chain).append(drafts, in: session), digest.count, holds.count)
        }
        try ErasureLedger(stateDirectory: stateDirectory, key: oldKey).reseal(with: newKey)
        try finish(position)
        return Outcome(
            sealedEntries: sealed, rotationSeq: sealed + 1, restatedHolds: holds, retiredKey: retired,
            head: position.head)
    }

    /// After an interruption: true when the trail's last rotation was sealed with the pending key
    /// (the database has it: the rename is finished); false when it was not (the pending key is
    /// removed, and a rotation can start again).
    func finishInterrupted() async throws -> Outcome? {
        let pending = Self.pendingPath(keyPath)
        let key = try AuditKey.load(path: pending, createIfMissing: false).key
        let chain = AuditChain(key: key)
        let rotation = try await store.read { session -> (AuditEntry, TrailPosition)? in
            guard let seq = try session.lastKeyRotation(), let entry = try session.auditEntry(seq: seq),
                let genesis = try session.auditEntry(seq: 1)?.mac
            else { return nil }
            return (entry, TrailPosition(head: try session.auditHead(), genesis: genesis))
        }
        guard let (entry, position) = rotation, chain.mac(of: entry) == entry.mac else {
            unlink(pending)
            return nil
        }
        try ErasureLedger(
            stateDirectory: stateDirectory, key: try AuditKey.load(path: keyPath, createIfMissing: false).key
        ).reseal(with: key)
        try finish(position)
        return Outcome(
            sealedEntries: entry.seq - 1, rotationSeq: entry.seq, restatedHolds: 0, retiredKey: nil, head: position.head
        )
    }

    /// The new key takes the old one's place; the head moves to the rotation's end.
    private func finish(_ position: TrailPosition) throws {
        guard rename(Self.pendingPath(keyPath), keyPath) == 0 else {
            throw EnforcementError.newKeyNotMoved(keyPath: keyPath, reason: String(cString: strerror(errno)))
        }
        try StateFiles.recordHead(position, database: store.location, stateDirectory: stateDirectory)
    }

    /// A short public name for a key, recorded in the trail: which key sealed from where, without
    /// revealing anything of it.
    @Sendable static func fingerprint(_ key: AuditKey) -> String { key.fingerprint }
}

extension Enforcer {
    /// `retentiond audit rotate-key`, under the run lock: finishes an interrupted rotation, or
    /// checks the trail as a run would (anchor, tool tables, marks complete) and rotates.
    public func rotateKey(keyPath: String, reason: String, now: Date) async throws -> (
        sealedEntries: Int64, rotationSeq: Int64, restatedHolds: Int, retiredKey: String?
    ) {
        try await store.withRunLock { _ in
            let rotation = KeyRotation(
                store: store, keyPath: keyPath, stateDirectory: settings.stateDirectory, actor: actor)
            if FileManager.default.fileExists(atPath: KeyRotation.pendingPath(keyPath)),
                let finished = try await rotation.finishInterrupted()
            {
                logger.notice("finished an interrupted key rotation", metadata: ["entry": "\(finished.rotationSeq)"])
                return (finished.sealedEntries, finished.rotationSeq, finished.restatedHolds, nil)
            }
            let key = try AuditKey.load(path: keyPath, createIfMissing: false).key
            guard try await anchor.sealsTrail(key) else {
                throw EnforcementError.keyDoesNotMatch(keyPath: keyPath, location: store.location)
            }
            // A rule whose marks are incomplete looks its records up in the trail by references of the old key.
            let applier = Applier(
                resolved: resolved, settings: settings, store: store, key: key, actor: actor, runID: "rotate-key",
                logger: logger)
            try await applier.prepare()
            // The ledger names what was erased under the old key's references before the rotation.
            try await applier.syncLedger()
            let done = try await rotation.rotate(from: key, reason: reason, now: now)
            return (done.sealedEntries, done.rotationSeq, done.restatedHolds, done.retiredKey)
        }
    }
}
