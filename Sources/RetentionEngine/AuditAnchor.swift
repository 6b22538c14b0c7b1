import Foundation
import RetentionCore
import RetentionStore

/// Where the audit trail must stand before anything is appended to it: whole (all the tool's
/// tables present) and still extending the head recorded in the state directory.
///
/// Every writer checks it first, so a database restored from an older copy, a trail truncated or
/// dropped, or a holds table dropped is refused (exit 7) before the next entry could paper over it.
public struct AuditAnchor: Sendable {
    public let store: any RecordStore
    public let stateDirectory: String

    public init(store: any RecordStore, stateDirectory: String) {
        self.store = store
        self.stateDirectory = stateDirectory
    }

    /// The head recorded for this database in the state directory, if any.
    public var recordedHead: StateFiles.RecordedHead? {
        StateFiles.readHead(stateDirectory: stateDirectory, database: store.location)
    }

    /// True when the database has, or had, an audit trail: any of the tool's tables, or a recorded
    /// head. A new audit key must never be created then (it could not verify the trail).
    public func trailExists() async throws -> Bool {
        if let recorded = recordedHead, recorded.seq > 0 { return true }
        return try await store.read { try $0.toolTables().any }
    }

    /// Throws `auditTampered` when the trail is not whole or no longer extends the recorded head;
    /// returns which tool tables exist (none on a database never enforced).
    @discardableResult
    public func check() async throws -> ToolTables {
        let recorded = recordedHead
        let (tables, macThere) = try await store.read { session -> (ToolTables, String?) in
            let tables = try session.toolTables()
            guard tables.audit, let seq = recorded?.seq, seq > 0 else { return (tables, nil) }
            return (tables, try session.auditEntry(seq: seq)?.mac)
        }
        let headFile = StateFiles.headPath(stateDirectory: stateDirectory)
        if tables.any, !tables.complete {
            throw EnforcementError.auditTampered(
                "\(store.location) has \(tables.audit ? "retentiond_audit" : "retentiond_holds") but not \(tables.missing.joined(separator: ", ")): the tool's own tables were dropped by hand; nothing was changed. Restore the database from a backup (docs/operations.md, \"When the trail is not intact\")")
        }
        guard let recorded, recorded.seq > 0 else { return tables }
        if !tables.audit {
            throw EnforcementError.auditTampered(
                "\(store.location) has no audit trail, but \(headFile) records entry \(recorded.seq) of it: the trail was dropped; nothing was changed. Restore the database from a backup, or see docs/operations.md on re-anchoring")
        }
        if macThere != recorded.mac {
            throw EnforcementError.auditTampered(
                "the audit trail of \(store.location) no longer extends the head recorded in \(headFile) (entry \(recorded.seq)): the database was restored from an older copy or the trail was truncated or rewritten; nothing was changed. After a legitimate restore, re-anchor with `retentiond audit reanchor --reason … --by …` (docs/operations.md)")
        }
        return tables
    }

    /// After a legitimate restore: records in the trail itself that history before its current end
    /// was lost (with the old head and the reason), then makes the new end the recorded head.
    /// Refuses when the trail in the database does not verify on its own.
    public func reanchor(key: AuditKey, reason: String, by actor: String, now: Date) async throws -> (previous: StateFiles.RecordedHead?, head: AuditHead) {
        let chain = AuditChain(key: key)
        let trail = AuditTrail(store: store, key: key, stateDirectory: stateDirectory)
        let own = try await trail.verifyEntries()
        guard own.problems.isEmpty else {
            throw EnforcementError.auditTampered("the audit trail in the database is itself not intact (\(own.problems.count) problem(s), first: \(own.problems[0])); re-anchoring would vouch for it, so nothing was changed")
        }
        let previous = recordedHead
        var detail = ["reason": reason, "database": store.location]
        if let previous {
            detail["previous_seq"] = String(previous.seq)
            detail["previous_mac"] = previous.mac
        }
        let draft = AuditDraft(runID: "reanchor-" + Enforcer.makeRunID(now: now), actor: actor, policyHash: "", action: AuditAction.reanchored.rawValue, detail: detail)
        let head = try await store.transaction { session -> AuditHead in
            try session.prepareToolTables()
            let (entries, head) = chain.seal([draft], after: try session.lockedAuditHead(), at: now)
            try session.appendAudit(entries)
            return head
        }
        try StateFiles.recordHead(head, database: store.location, stateDirectory: stateDirectory, replacing: true)
        return (previous, head)
    }
}
