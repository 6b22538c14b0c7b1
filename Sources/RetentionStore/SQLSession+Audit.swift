import Foundation
import RetentionCore

/// The audit trail in SQL, written once for every database: its entries, head and references.
extension StoreSession {
    static var auditColumnNames: [String] { SQLBuilder.auditColumnNames }

    static func auditEntry(_ row: [SQLValue]) -> AuditEntry? {
        guard row.count == 13, case .integer(let seq) = row[0] else { return nil }
        let t = row.dropFirst().map { $0.textValue ?? "" }
        return AuditEntry(
            seq: seq, runID: t[0], at: t[1], actor: t[2], policyHash: t[3], ruleID: t[4], action: t[5], table: t[6],
            subjectRef: t[7], fields: t[8], detail: t[9], prevMAC: t[10], mac: t[11])
    }

    public func auditHead() throws -> AuditHead {
        guard try toolTables().audit,
            let row = try rows("SELECT seq, mac FROM retentiond_audit ORDER BY seq DESC LIMIT 1", []).first,
            case .integer(let seq) = row[0], let mac = row[1].textValue
        else { return .genesis }
        return AuditHead(seq: seq, mac: mac)
    }

    /// Entries with `seq > after`, ascending, at most `limit`, narrowed by `filter`.
    public func auditEntries(after: Int64, limit: Int, filter: AuditFilter) throws -> [AuditEntry] {
        guard try toolTables().audit else { return [] }
        let indexed = try filter.subjectRef != nil && auditRefsExist()
        return try rows(builder.auditEntries(after: after, limit: limit, filter: filter, indexed: indexed)).compactMap(
            Self.auditEntry)
    }

    public func auditEntry(seq: Int64) throws -> AuditEntry? {
        guard try toolTables().audit else { return nil }
        return try rows("SELECT \(idents: Self.auditColumnNames) FROM retentiond_audit WHERE seq = \(.integer(seq))")
            .first
            .flatMap(Self.auditEntry)
    }

    /// `now` of the newest completed enforcing run, if any.
    public func lastCompletedRunTime() throws -> Date? {
        guard try toolTables().audit,
            let detail = try rows(
                "SELECT detail FROM retentiond_audit WHERE action = \(.text(AuditAction.runCompleted.rawValue)) ORDER BY seq DESC LIMIT 1"
            )
            .first?.first?.textValue,
            let object = try? JSONSerialization.jsonObject(with: Data(detail.utf8)) as? [String: String],
            let now = object["now"]
        else { return nil }
        return ISO8601DateFormatter().date(from: now)
    }

    /// The sequence number of the newest `audit-key-rotated` entry, if the key was ever rotated.
    public func lastKeyRotation() throws -> Int64? {
        guard try toolTables().audit,
            case .integer(let seq)? = try rows(
                "SELECT max(seq) FROM retentiond_audit WHERE action = \(.text(AuditAction.keyRotated.rawValue))"
            ).first?.first
        else { return nil }
        return seq
    }

    /// Whether an entry that recorded the head (`run-completed`, `audit-reanchored`,
    /// `audit-key-rotated`) names the head file `identity` (`head_file` in its detail).
    public func trailNamesHeadFile(_ identity: String) throws -> Bool {
        guard try toolTables().audit else { return false }
        let actions = SQL.list([AuditAction.runCompleted, .reanchored, .keyRotated].map { .text($0.rawValue) })
        // The detail is JSON with sorted keys and no spaces; the identity is hexadecimal (no LIKE wildcard).
        let pattern = SQLValue.text("%\"head_file\":\"\(identity)\"%")
        return try !rows(
            "SELECT 1 FROM retentiond_audit WHERE action IN (\(actions)) AND detail LIKE \(pattern) LIMIT 1"
        ).isEmpty
    }

    /// Whether `rule` ever acted with `action` (one probe of the audit index).
    public func hasAuditEntries(ruleID: String, action: AuditAction) throws -> Bool {
        guard try toolTables().audit else { return false }
        return try !rows(
            "SELECT 1 FROM retentiond_audit WHERE action = \(.text(action.rawValue)) AND rule_id = \(.text(ruleID)) LIMIT 1"
        ).isEmpty
    }

    // MARK: References (`retentiond_audit_refs`)

    /// Of these references, those `rule` already acted on with `action` (flag or anonymise).
    public func auditedReferences(ruleID: String, action: AuditAction, references: [String]) throws -> Set<String> {
        guard !references.isEmpty, try toolTables().audit else { return [] }
        let sql = builder.auditedReferences(
            rule: ruleID, action: action.rawValue, references: references, indexed: try auditRefsExist())
        return Set(try rows(sql).compactMap { $0[0].textValue })
    }

    /// Whether `retentiond_audit_refs` exists: it does once a writing command ran this version.
    func auditRefsExist() throws -> Bool { try tableExists("retentiond_audit_refs") }

    /// How many of the trail's entries with a reference, up to the last one filed, have no filing
    /// of their own in `retentiond_audit_refs`, and how many of its rows file no entry; zeros
    /// without that table.
    public func auditRefsMismatch() throws -> (missing: Int, extra: Int) {
        guard try toolTables().audit, try auditRefsExist() else { return (0, 0) }
        func count(_ sql: SQL) throws -> Int {
            guard case .integer(let n)? = try rows(sql).first?.first else { return 0 }
            return Int(n)
        }
        return (try count(builder.unfiledAuditEntries), try count(builder.strayAuditRefs))
    }

}

extension WritingSession {
    /// The entries, then their references filed as one segment of `retentiond_audit_refs`.
    public func appendAudit(_ entries: [AuditEntry]) throws {
        try insert(
            into: "retentiond_audit", columns: Self.auditColumnNames,
            rows: entries.map { e in
                [.integer(e.seq)]
                    + [
                        e.runID, e.at, e.actor, e.policyHash, e.ruleID, e.action, e.table, e.subjectRef, e.fields,
                        e.detail, e.prevMAC, e.mac,
                    ].map { .text($0) }
            })
        if let first = entries.first?.seq, let last = entries.last?.seq {
            try execute(builder.appendAuditRefs(from: first, through: last))
        }
    }

    /// Files every entry of the trail again, as one segment (after a restore: `audit reanchor`).
    public func refileAuditRefs() throws {
        try execute("DELETE FROM retentiond_audit_refs")
        try execute(builder.fileExistingAuditRefs)
    }

    /// Files, as one segment, the entries appended after the last one filed (by an older version,
    /// after a downgrade): called by `prepareToolTables` when the table already exists.
    public func fileUnfiledAuditRefs() throws {
        let range: SQL =
            "SELECT min(seq), max(seq) FROM retentiond_audit WHERE seq > \(SQLBuilder.lastFiledSeq) AND subject_ref <> ''"
        guard let row = try rows(range).first, case .integer(let first) = row[0], case .integer(let last) = row[1]
        else { return }
        try execute(builder.appendAuditRefs(from: first, through: last))
    }
}
