import Foundation
import RetentionCore
import RetentionStore

/// Places, lists and releases legal holds; every change is audited in the same transaction.
///
/// A hold names one row by its table's primary key, stored in canonical form as the database
/// itself renders it (the same expression the planner matches holds with), so a hold placed here
/// matches its record exactly, on every database, whatever key a subject declares.
public struct HoldRegistry: Sendable {
    public let store: any RecordStore
    public let key: AuditKey
    public let stateDirectory: String
    /// Told when placing a hold has to wait for a run's batch in flight (PostgreSQL: see
    /// `lockHolds`), before the wait: the command line prints it, so that an operator knows why
    /// `hold add` has not returned.
    public var onWait: (@Sendable (String) -> Void)?
    /// The policy whose checked keys (`key_uniqueness: checked`) name the rows of tables that
    /// have no primary key (`SchemaSnapshot.declaringKeys`).
    public var policy: Policy?

    public init(store: any RecordStore, key: AuditKey, stateDirectory: String) {
        self.store = store
        self.key = key
        self.stateDirectory = stateDirectory
    }

    var anchor: AuditAnchor { AuditAnchor(store: store, stateDirectory: stateDirectory) }

    /// How the operator names the record: by the table's primary key, or by a subject's key.
    public enum RecordName: Sendable {
        case primaryKey(table: String)
        case subjectKey(Subject)
    }

    /// Finds the one record `text` names and returns its table and primary key, canonical
    /// (see `RecordLocator`): holds name rows by their table's primary key.
    public func record(_ name: RecordName, text: String) async throws -> (table: String, key: RecordKey) {
        let table: String
        let columns: @Sendable (TableInfo) -> [String]
        let described: String
        // Names as the database spells them (`SchemaSnapshot.resolvingNames`), the table typed too.
        let live = try await store.read { try $0.schema() }
        switch name {
        case .primaryKey(let typed):
            let t = live.resolvedTableName(typed)
            (table, columns, described) = (t, { $0.primaryKey }, "`\(t)`'s primary key")
        case .subjectKey(let written):
            let subject =
                policy.flatMap { live.resolvingNames(of: $0).0.subjects.first { $0.id == written.id } } ?? written
            let key = subject.key.map(\.value)
            (table, columns, described) = (subject.table.value, { _ in key }, "subject `\(subject.id)`'s key")
        }
        if let info = (policy.map(live.declaringKeys(of:)) ?? live).table(table), info.primaryKey.isEmpty {
            throw EnforcementError.cannotHoldRows(of: table)
        }
        let key = try await RecordLocator(reader: store, policy: policy).locate(
            table: table, text: text, columns: columns, described: described, keyOf: { $0.primaryKey })
        return (table, key)
    }

    public func add(_ name: RecordName, keyText: String, reason: String, by actor: String, until: Date?, now: Date)
        async throws -> LegalHold
    {
        let (table, recordKey) = try await record(name, text: keyText)
        try await anchor.check()
        let chain = AuditChain(key: key)
        var hold = LegalHold(table: table, key: recordKey, reason: reason, placedBy: actor, placedAt: now, until: until)
        let ref = chain.reference(table: table, key: recordKey)
        let pending = hold
        let writer = AuditWriter(chain: chain)
        let (id, position) = try await store.transaction { session -> (Int64, TrailPosition) in
            try session.prepareToolTables()
            // Not while a batch that decided without this hold can still commit its changes.
            if try !session.tryLockHoldsExclusively() {
                onWait?(Self.waitingForABatch)
                try session.lockHolds(exclusive: true)
            }
            let id = try session.insertHold(pending)
            var detail = ["hold_id": String(id)]
            if let until { detail["until"] = ISO8601DateFormatter().string(from: until) }
            let draft = AuditDraft(
                runID: "hold-\(id)", actor: actor, policyHash: "", action: .holdAdd, table: table, subjectRef: ref,
                detail: detail)
            return (id, try writer.append([draft], in: session, confirmingKey: true))
        }
        try anchor.record(position)
        await copyToLedger()
        hold.id = id
        return hold
    }

    static let waitingForABatch =
        "a run's batch is in progress: the hold is placed as soon as that batch commits (within a fraction of a second, unless the batch waits for rows an application keeps locked: then when that application's transaction ends)"

    /// Places a hold on the row of `table` whose primary key is `keyText`.
    public func add(table: String, keyText: String, reason: String, by actor: String, until: Date?, now: Date)
        async throws -> LegalHold
    {
        try await add(.primaryKey(table: table), keyText: keyText, reason: reason, by: actor, until: until, now: now)
    }

    /// Active holds that protect no record exactly, one message each (for `check`): the record is
    /// gone, or the hold was placed by an older retentiond that stored a text key such as `10042`
    /// as a number (or the reverse), so it never matched. Compares text forms, which scans each
    /// held table once per hold: meant for `check`, not for every run.
    public static func unmatched(in store: any RecordReader, at now: Date, policy: Policy? = nil) async throws
        -> [String]
    {
        try await store.read { session in
            let schema = try policy.map(session.schema().declaringKeys(of:)) ?? session.schema()
            var messages: [String] = []
            for hold in try session.holds(includeReleased: false) where hold.isActive(at: now) {
                guard let table = schema.table(hold.table), table.primaryKey.count == hold.key.values.count else {
                    messages.append(
                        "hold \(hold.id) names table `\(hold.table)`, which has no such key any more: it protects nothing"
                    )
                    continue
                }
                let lookup = zip(table.primaryKey, hold.key.values).map {
                    KeyLookup(column: $0, kind: .other, text: $1.textValue ?? "")
                }
                let found = try session.canonicalKeys(table: hold.table, keyColumns: table.primaryKey, matching: lookup)
                if found.isEmpty {
                    messages.append(
                        "hold \(hold.id) on `\(hold.table)`:\(hold.key) names no existing record (deleted since it was placed?)"
                    )
                } else if !found.contains(hold.key.canonical) {
                    messages.append(
                        "hold \(hold.id) on `\(hold.table)`:\(hold.key) does not match its record's key exactly (a number for a text key, or the reverse, as older versions stored it): the record is NOT protected; release the hold and place it again with `retentiond hold add`"
                    )
                }
            }
            return messages
        }
    }

    public func list(includeReleased: Bool) async throws -> [LegalHold] {
        try await store.read { try $0.holds(includeReleased: includeReleased) }
    }

    public func release(id: Int64, by actor: String, now: Date) async throws -> LegalHold {
        try await anchor.check()
        let chain = AuditChain(key: key)
        let writer = AuditWriter(chain: chain)
        let released = try await store.transaction { session -> (LegalHold, TrailPosition)? in
            try session.prepareToolTables()
            guard let hold = try session.releaseHold(id: id, by: actor, at: now) else { return nil }
            let draft = AuditDraft(
                runID: "hold-\(id)", actor: actor, policyHash: "", action: .holdRelease, table: hold.table,
                subjectRef: chain.reference(table: hold.table, key: hold.key), detail: ["hold_id": String(id)])
            return (hold, try writer.append([draft], in: session, confirmingKey: true))
        }
        guard let (hold, position) = released else {
            throw EnforcementError.noActiveHold(id: id)
        }
        try anchor.record(position)
        await copyToLedger()
        return hold
    }

    /// The hold's entry goes to the erasure ledger, which a restore does not take back: re-anchoring
    /// after one places it again. The hold is placed whatever happens here — a ledger that cannot
    /// be written now is brought up to date by the next run, before it changes anything.
    func copyToLedger() async {
        _ = try? await ErasureLedger(stateDirectory: stateDirectory, key: key).sync(from: store)
    }
}
