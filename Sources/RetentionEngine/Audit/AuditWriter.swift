import Dispatch
import Foundation
import RetentionCore
import RetentionStore
import Synchronization

/// Where a trail stands after an append: its newest entry and its first (which names the trail:
/// a keyed MAC no other trail shares, whatever path the database is reached by).
public struct TrailPosition: Sendable, Hashable {
    public var head: AuditHead
    public var genesis: String

    public init(head: AuditHead, genesis: String) {
        self.head = head
        self.genesis = genesis
    }
}

/// The one way entries join the audit trail: batches, run records, holds and re-anchoring all
/// append through it, inside the caller's transaction, after the chain's locked head.
struct AuditWriter: Sendable {
    let chain: AuditChain

    /// Seals `drafts` after the current head and appends them; returns where the trail now stands.
    /// Each entry carries the moment it was sealed (the run's `now`, which `--now` may set, is in
    /// the run's own entry); a batch's entries all carry one.
    ///
    /// With `early`, its drafts come first: the entries it sealed while the batch's statements ran
    /// are used as they are if the locked head is the one it sealed after; otherwise (another
    /// writer appended meanwhile) every draft is sealed again here, after the locked head.
    ///
    /// `confirmingKey`: for writers that do not hold the run lock (holds), which a key rotation
    /// could have overtaken since they loaded their key: once the chain is locked, refuse to append
    /// after a rotation this key did not seal.
    func append(
        _ drafts: [AuditDraft], in session: any WritingSession, after early: EarlySeal? = nil,
        confirmingKey: Bool = false
    ) throws -> TrailPosition {
        try appending(drafts, in: session, after: early, confirmingKey: confirmingKey).position
    }

    /// `append`, returning the entries as appended beside where the trail now stands.
    func appending(
        _ drafts: [AuditDraft], in session: any WritingSession, after early: EarlySeal? = nil,
        confirmingKey: Bool = false
    ) throws -> (entries: [AuditEntry], position: TrailPosition) {
        let locked = try session.lockedAuditHead()
        if confirmingKey, let rotation = try session.lastKeyRotation(),
            let entry = try session.auditEntry(seq: rotation), chain.mac(of: entry) != entry.mac
        {
            throw EnforcementError.keyRotatedMeanwhile()
        }
        let at = early?.at ?? Date()
        var entries: [AuditEntry] = []
        var head = locked
        if let early, early.head == locked {
            entries = early.entries()
            head = entries.last.map { AuditHead(seq: $0.seq, mac: $0.mac) } ?? locked
        } else if let early {
            (entries, head) = chain.seal(early.drafts, after: locked, at: at)
        }
        let rest = chain.seal(drafts, after: head, at: at)
        entries += rest.entries
        head = rest.head
        try session.appendAudit(entries)
        // The first entry is in this batch only once; afterwards one lookup by primary key.
        let genesis = try entries.first { $0.seq == 1 }?.mac ?? session.auditEntry(seq: 1)?.mac ?? ""
        return (entries, TrailPosition(head: head, genesis: genesis))
    }
}

/// Audit entries sealed on another core while a batch's statements run: after the trail's head as
/// it stood once the batch knew its records (read without the chain's lock, which a batch takes
/// only to append, so that workers' batches run side by side). `AuditWriter.append` uses them only if
/// that is still the head once locked; the MACs cost the database's time nothing then.
final class EarlySeal: Sendable {
    let drafts: [AuditDraft]
    let head: AuditHead
    let at: Date
    private let sealed = Mutex<[AuditEntry]?>(nil)
    private let done = DispatchSemaphore(value: 0)

    /// Starts sealing `drafts` after the current head of `session`'s trail.
    init(_ drafts: [AuditDraft], chain: AuditChain, in session: any WritingSession) throws {
        self.drafts = drafts
        head = try session.auditHead()
        at = Date()
        DispatchQueue.global().async { [self] in
            let entries = chain.seal(drafts, after: head, at: at).entries
            sealed.withLock { $0 = entries }
            done.signal()
        }
    }

    /// The sealed entries, once sealing is over.
    func entries() -> [AuditEntry] {
        if let entries = sealed.withLock({ $0 }) { return entries }
        done.wait()
        return sealed.withLock { $0 } ?? []
    }
}
