import Foundation
import RetentionCore
import RetentionStore

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
    /// Each entry carries the moment it was written (the run's `now`, which `--now` may set, is in
    /// the run's own entry).
    func append(_ drafts: [AuditDraft], in session: any WritingSession) throws -> TrailPosition {
        let (entries, head) = chain.seal(drafts, after: try session.lockedAuditHead(), at: Date())
        try session.appendAudit(entries)
        // The first entry is in this batch only once; afterwards one lookup by primary key.
        let genesis = try entries.first { $0.seq == 1 }?.mac ?? session.auditEntry(seq: 1)?.mac ?? ""
        return TrailPosition(head: head, genesis: genesis)
    }
}
