import Foundation
import Logging
import RetentionCore
import RetentionStore

/// The archive database a run of the active phase moves records into (`action: archive`), and
/// the archive's own policy: the rules whose marks a record arriving there clears.
public struct ArchiveTarget: Sendable {
    public let store: any RecordStore
    public let policy: Policy

    public init(store: any RecordStore, policy: Policy) {
        self.store = store
        self.policy = policy
    }
}

/// How one archive rule moves a batch across two databases without a distributed transaction:
/// the records' rows are copied into the archive and committed there first, listed as pending;
/// the live batch then re-checks the records, deletes those still due whose rows are still the
/// ones copied, and audits them; last, the archive drops the copies of the records the live batch
/// kept and ends their pending state. A crash anywhere leaves each record in the live database,
/// in both, or (once the live batch committed) in the archive — never in neither — and the next
/// run completes what is pending before anything else (`recover`).
struct ArchiveMove: Sendable {
    let shape: ArchiveShape
    let target: ArchiveTarget

    /// The archive's rules on the same table, whose marks of an arriving record are cleared.
    var unmarking: [String] {
        target.policy.rules.filter { target.policy.subject(for: $0).table.value == shape.table }.map(\.id)
    }

    /// Reads the batch's rows from the live database and commits them into the archive.
    func copy(_ keys: [RecordKey], from live: any RecordStore) async throws -> ArchivedRows {
        let shape = self.shape
        let unmarking = self.unmarking
        let copies = try await live.read { try $0.rowsToArchive(shape, keys: keys) }
        try await target.store.transaction {
            try $0.storeArchived(copies, shape: shape, keys: keys, unmarking: unmarking)
        }
        return copies
    }

    /// After the live batch: the copies of the records it did not delete go, and none stays pending.
    func settle(_ keys: [RecordKey], removing: [RecordKey]) async throws {
        let shape = self.shape
        try await target.store.transaction { try $0.settleArchived(shape: shape, keys: keys, removing: removing) }
    }

    /// Before a run changes anything: the archived tables exist, and what a crash left pending is
    /// completed — a record still in the live database keeps it (its copy goes: the next batch
    /// copies it again if it is due), a record no longer there is in the archive for good.
    static func prepare(_ resolved: ResolvedPolicy, target: ArchiveTarget, live: any RecordStore, logger: Logger)
        async throws
    {
        let tables = resolved.archivedTables(for: target.policy)
        try await target.store.transaction { try $0.prepareArchive(tables) }
        let pending = try await target.store.read { try $0.pendingArchived() }
        guard !pending.isEmpty else { return }
        let byRule = Dictionary(grouping: pending, by: \.rule).mapValues { $0.map(\.key) }
        for (ruleID, keys) in byRule.sorted(by: { $0.key < $1.key }) {
            guard let rule = resolved.rule(id: ruleID)?.rule, rule.archives else {
                logger.warning(
                    "the archive lists \(keys.count) record(s) of rule `\(ruleID)` as pending, a rule this policy no longer has: they stay in both databases until it comes back",
                    metadata: ["archive": "\(target.store.location)"])
                continue
            }
            let move = ArchiveMove(shape: resolved.archiveShape(of: rule), target: target)
            let shape = move.shape
            let still = try await live.read {
                try $0.existingKeys(table: shape.table, keyColumns: shape.keyColumns, keys: keys)
            }
            try await move.settle(keys, removing: Array(still))
            logger.notice(
                "completed an interrupted archive batch: \(keys.count - still.count) record(s) were moved, \(still.count) stayed in the live database (their copies were removed)",
                metadata: ["rule": "\(ruleID)"])
        }
    }
}
