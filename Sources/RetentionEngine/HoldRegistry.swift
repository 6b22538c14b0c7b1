import Foundation
import RetentionCore
import RetentionStore

/// Places, lists and releases legal holds; every change is audited in the same transaction.
public struct HoldRegistry: Sendable {
    public let store: any RecordStore
    public let key: AuditKey
    public let stateDirectory: String

    public init(store: any RecordStore, key: AuditKey, stateDirectory: String) {
        self.store = store
        self.key = key
        self.stateDirectory = stateDirectory
    }

    /// Parses `TEXT` as the key of `table` (its primary key) and checks that the record exists.
    public func recordKey(table: String, text: String) async throws -> RecordKey {
        let schema = try await store.read { try $0.schema() }
        guard let info = schema.table(table), !table.hasPrefix("retentiond_") else {
            throw EnforcementError.failed("table `\(table)` does not exist in \(store.location)")
        }
        guard !info.primaryKey.isEmpty else {
            throw EnforcementError.failed("table `\(table)` has no primary key, so its rows cannot be held individually")
        }
        guard let key = RecordKey.parse(text, columnCount: info.primaryKey.count) else {
            throw EnforcementError.failed("`\(table)` is keyed by (\(info.primaryKey.joined(separator: ", "))): give \(info.primaryKey.count) value(s) separated by commas")
        }
        let here = SourceLocation(file: "--key", line: 1, column: 1)
        let conditions = zip(info.primaryKey, key.values).map { FilterCondition(column: Name($0, at: here), test: .equals($1)) }
        let count = try await store.read { try $0.rowCount(table: table, filter: conditions) }
        guard count == 1 else { throw EnforcementError.failed("no record of `\(table)` has key \(key)") }
        return key
    }

    public func add(table: String, keyText: String, reason: String, by actor: String, until: Date?, now: Date) async throws -> LegalHold {
        let recordKey = try await recordKey(table: table, text: keyText)
        let chain = AuditChain(key: key)
        var hold = LegalHold(table: table, key: recordKey, reason: reason, placedBy: actor, placedAt: now, until: until)
        let ref = chain.reference(table: table, key: recordKey)
        let pending = hold
        let (id, head) = try await store.transaction { session -> (Int64, AuditHead) in
            try session.prepareToolTables()
            let id = try session.insertHold(pending)
            var detail = ["hold_id": String(id)]
            if let until { detail["until"] = ISO8601DateFormatter().string(from: until) }
            let draft = AuditDraft(runID: "hold-\(id)", actor: actor, policyHash: "", action: "hold-add", table: table, subjectRef: ref, detail: detail)
            let (entries, head) = chain.seal([draft], after: try session.lockedAuditHead(), at: now)
            try session.appendAudit(entries)
            return (id, head)
        }
        try StateFiles.recordHead(head, database: store.location, stateDirectory: stateDirectory)
        hold.id = id
        return hold
    }

    public func list(includeReleased: Bool) async throws -> [LegalHold] {
        try await store.read { try $0.holds(includeReleased: includeReleased) }
    }

    public func release(id: Int64, by actor: String, now: Date) async throws -> LegalHold {
        let chain = AuditChain(key: key)
        let (hold, head) = try await store.transaction { session -> (LegalHold?, AuditHead) in
            try session.prepareToolTables()
            guard let hold = try session.releaseHold(id: id, by: actor, at: now) else { return (nil, .genesis) }
            let draft = AuditDraft(runID: "hold-\(id)", actor: actor, policyHash: "", action: "hold-release", table: hold.table,
                                   subjectRef: chain.reference(table: hold.table, key: hold.key), detail: ["hold_id": String(id)])
            let (entries, head) = chain.seal([draft], after: try session.lockedAuditHead(), at: now)
            try session.appendAudit(entries)
            return (hold, head)
        }
        guard let hold else { throw EnforcementError.failed("no active hold has id \(id); see `retentiond hold list`") }
        try StateFiles.recordHead(head, database: store.location, stateDirectory: stateDirectory)
        return hold
    }
}
