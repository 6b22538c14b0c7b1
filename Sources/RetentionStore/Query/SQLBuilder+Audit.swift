import Foundation
import RetentionCore

/// The audit trail's statements: its entries, and the references filed beside them.
extension SQLBuilder {
    /// How many leading hex digits of a pseudonymous reference `retentiond_audit_refs` keeps (64
    /// bits): enough to find a record's few entries, which are then matched on the whole reference.
    public static let refPrefixLength = 16

    /// `retentiond_audit_refs` finds entries by reference without a randomly ordered index on the
    /// trail, which every append would rewrite all over (a page per entry once the trail is large).
    /// Each append files its references as one segment, keyed by its first `seq`: appends only ever
    /// write at the end, and a lookup probes each segment once (`segments`, a skip scan written
    /// out because neither database does one on its own), a few thousand probes for millions of entries.
    public func appendAuditRefs(from first: Int64, through last: Int64) -> SQL {
        "INSERT INTO retentiond_audit_refs (segment, ref, seq) SELECT \(.integer(first)), substr(subject_ref, 1, \(literal: Self.refPrefixLength)), seq"
            + " FROM retentiond_audit WHERE seq >= \(.integer(first)) AND seq <= \(.integer(last)) AND subject_ref <> '' ORDER BY 2, 3"
    }

    /// Files every entry of an existing trail as one segment (0): the upgrade from a version that
    /// indexed `subject_ref` on the trail itself, or the rebuild of a dropped `retentiond_audit_refs`.
    public var fileExistingAuditRefs: SQL {
        "INSERT INTO retentiond_audit_refs (segment, ref, seq) SELECT 0, substr(subject_ref, 1, \(literal: Self.refPrefixLength)), seq"
            + " FROM retentiond_audit WHERE subject_ref <> '' ORDER BY 2, 3"
    }

    /// `WITH RECURSIVE segments(segment)`: every segment of `retentiond_audit_refs`, each found by
    /// one probe of its primary key.
    static let auditRefSegments: SQL =
        "WITH RECURSIVE segments(segment) AS (SELECT min(segment) FROM retentiond_audit_refs"
        + " UNION ALL SELECT (SELECT min(r.segment) FROM retentiond_audit_refs AS r WHERE r.segment > g.segment) FROM segments AS g WHERE g.segment IS NOT NULL) "

    /// The entries that may have one of `references` (to be matched on the whole reference by the
    /// caller), in a statement that starts with `auditRefSegments`: those filed under one of their
    /// prefixes, and every entry after the last one filed — normally only run records, but entries
    /// an older version appended (after a downgrade) until the next writing command files them.
    static func seqOfReferences(_ references: [String]) -> SQL {
        let prefixes = Set(references.map { String($0.prefix(refPrefixLength)) }).sorted().map { SQLValue.text($0) }
        return
            "(seq IN (SELECT r.seq FROM segments AS g JOIN retentiond_audit_refs AS r ON r.segment = g.segment AND r.ref IN (\(SQL.list(prefixes)))) OR seq > \(lastFiledSeq))"
    }

    /// How many entries up to the last one filed have no filing of their own: their reference's
    /// prefix and seq in the segment that covers their seq (the last one starting at or before
    /// it). Two key probes per entry; for `audit verify`.
    public var unfiledAuditEntries: SQL {
        let prefix: SQL = "substr(a.subject_ref, 1, \(literal: Self.refPrefixLength))"
        return "SELECT count(*) FROM retentiond_audit AS a WHERE a.subject_ref <> '' AND a.seq <= \(Self.lastFiledSeq)"
            + " AND NOT EXISTS (SELECT 1 FROM retentiond_audit_refs AS r WHERE r.segment = (SELECT max(g.segment) FROM retentiond_audit_refs AS g WHERE g.segment <= a.seq)"
            + " AND r.ref = \(prefix) AND r.seq = a.seq)"
    }

    /// How many filings name no entry of the trail (its seq with that reference's prefix).
    public var strayAuditRefs: SQL {
        "SELECT count(*) FROM retentiond_audit_refs AS r WHERE NOT EXISTS (SELECT 1 FROM retentiond_audit AS a"
            + " WHERE a.seq = r.seq AND substr(a.subject_ref, 1, \(literal: Self.refPrefixLength)) = r.ref)"
    }

    /// The `seq` of the last entry filed in `retentiond_audit_refs` (0 when none): the largest of
    /// the newest segment.
    static let lastFiledSeq: SQL =
        "(SELECT coalesce(max(l.seq), 0) FROM retentiond_audit_refs AS l WHERE l.segment = (SELECT max(segment) FROM retentiond_audit_refs))"

    /// The trail's columns, in the order `auditEntry` reads them.
    static let auditColumnNames = [
        "seq", "run_id", "at", "actor", "policy_hash", "rule_id", "action", "table_name", "subject_ref", "fields",
        "detail", "prev_mac", "mac",
    ]

    /// Entries with `seq > after`, ascending, at most `limit`, narrowed by `filter`; `indexed` as in
    /// `auditedReferences`.
    public func auditEntries(after: Int64, limit: Int, filter: AuditFilter, indexed: Bool) -> SQL {
        var sql: SQL = "SELECT \(idents: Self.auditColumnNames) FROM retentiond_audit WHERE seq > \(.integer(after))"
        if let run = filter.runID { sql += " AND run_id = \(.text(run))" }
        if let rule = filter.ruleID { sql += " AND rule_id = \(.text(rule))" }
        if let ref = filter.subjectRef {
            if indexed { sql = Self.auditRefSegments + sql + " AND \(Self.seqOfReferences([ref]))" }
            sql += " AND subject_ref = \(.text(ref))"
        }
        return sql + " ORDER BY seq LIMIT \(.integer(Int64(limit)))"
    }

    /// Of `references`, those `rule` already acted on with `action`; `indexed`: whether
    /// `retentiond_audit_refs` exists (a trail not yet upgraded is searched on `subject_ref`).
    public func auditedReferences(rule: String, action: String, references: [String], indexed: Bool) -> SQL {
        let match: SQL =
            "rule_id = \(.text(rule)) AND action = \(.text(action)) AND subject_ref IN (\(SQL.list(references.map { .text($0) })))"
        guard indexed else { return "SELECT subject_ref FROM retentiond_audit WHERE " + match }
        return Self.auditRefSegments
            + "SELECT subject_ref FROM retentiond_audit WHERE \(Self.seqOfReferences(references)) AND " + match
    }
}
