import Foundation
import RetentionCore
import RetentionEngine
import RetentionStore
import TestSupport
import Testing

/// `retentiond_audit_refs`: a record's entries are found by its pseudonymous reference in every
/// segment the appends filed, in a trail written by an older version (upgraded in place), and
/// after the table was dropped by hand — never by a 16-digit prefix alone.
@Suite struct AuditReferenceTests {
    /// Three references: `a` and `twin` share their first 16 hex digits (what the table keeps).
    static let a = String(repeating: "a", count: 16) + String(repeating: "1", count: 48)
    static let twin = String(repeating: "a", count: 16) + String(repeating: "2", count: 48)
    static let other = String(repeating: "b", count: 64)

    static func entry(_ seq: Int64, _ ref: String, rule: String = "r1", action: String = "anonymise") -> AuditEntry {
        AuditEntry(
            seq: seq, runID: "run", at: "2026-06-01T00:00:00Z", actor: "test", policyHash: "p", ruleID: rule,
            action: action,
            table: "people", subjectRef: ref, fields: "", detail: "{}", prevMAC: "m\(seq - 1)", mac: "m\(seq)")
    }

    /// The trail as the previous version laid it out: `subject_ref` indexed on the trail itself.
    static func olderLayout(_ backend: Backend) -> [String] {
        let seq = backend == .sqlite ? "INTEGER" : "BIGINT"
        return [
            """
            CREATE TABLE retentiond_audit (seq \(seq) PRIMARY KEY, run_id TEXT NOT NULL, at TEXT NOT NULL, actor TEXT NOT NULL,
                policy_hash TEXT NOT NULL, rule_id TEXT NOT NULL, action TEXT NOT NULL, table_name TEXT NOT NULL, subject_ref TEXT NOT NULL,
                fields TEXT NOT NULL, detail TEXT NOT NULL, prev_mac TEXT NOT NULL, mac TEXT NOT NULL)
            """,
            "CREATE INDEX retentiond_audit_rule_ref ON retentiond_audit(rule_id, subject_ref)",
            "CREATE INDEX retentiond_audit_ref ON retentiond_audit(subject_ref)",
            "CREATE INDEX retentiond_audit_action ON retentiond_audit(action)",
            "CREATE INDEX retentiond_audit_run ON retentiond_audit(run_id)",
        ]
    }

    static func insertWithoutFiling(_ e: AuditEntry) -> String {
        "INSERT INTO retentiond_audit VALUES (\(e.seq), 'run', 'at', 'test', 'p', '\(e.ruleID)', '\(e.action)', 'people', '\(e.subjectRef)', '', '{}', 'x', 'm\(e.seq)')"
    }

    func seqs(_ store: any RecordStore, _ ref: String, after: Int64 = 0, limit: Int = 100) async throws -> [Int64] {
        try await store.read { try $0.auditEntries(after: after, limit: limit, filter: AuditFilter(subjectRef: ref)) }
            .map(\.seq)
    }

    /// No older version ever wrote a trail on MariaDB: there is no older layout to upgrade from.
    @Test(arguments: [Backend.sqlite, .postgres])
    func aRecordsEntriesAreFoundInEverySegmentOfAnUpgradedTrail(_ backend: Backend) async throws {
        let f = try await CRMFixture(backend, policy: CRMPolicies.prospectPurge)
        // Entries 1–4 written by the older version, without references filed.
        let old = [
            Self.entry(1, ""), Self.entry(2, Self.a), Self.entry(3, Self.other), Self.entry(4, Self.a, rule: "r2"),
        ]
        try await f.sql(Self.olderLayout(backend) + old.map(Self.insertWithoutFiling))
        let store = try await f.store()
        try await store.transaction { try $0.prepareToolTables() }
        // Then three appends: three segments.
        let appends = [
            [Self.entry(5, Self.other), Self.entry(6, ""), Self.entry(7, Self.a)],
            [Self.entry(8, Self.twin, rule: "r2"), Self.entry(9, Self.other, rule: "r2")],
            [Self.entry(10, Self.a, action: "flag"), Self.entry(11, Self.twin, action: "flag")],
        ]
        for batch in appends { try await store.transaction { try $0.appendAudit(batch) } }
        // Then an older version again (a downgrade): entries appended without being filed.
        let unfiled = [Self.entry(12, Self.a, rule: "r3"), Self.entry(13, ""), Self.entry(14, Self.other)]
        try await f.sql(unfiled.map(Self.insertWithoutFiling))

        let all = old + appends.flatMap { $0 } + unfiled
        func expected(_ ref: String) -> [Int64] { all.filter { $0.subjectRef == ref }.map(\.seq) }
        #expect(try await seqs(store, Self.a) == expected(Self.a))
        #expect(expected(Self.a) == [2, 4, 7, 10, 12], "the entries after the last one filed are found too")
        #expect(try await seqs(store, Self.twin) == [8, 11], "a shared prefix finds only the reference's own entries")
        #expect(try await seqs(store, Self.other) == expected(Self.other))
        #expect(try await seqs(store, Self.a, after: 4) == [7, 10, 12])
        #expect(try await seqs(store, Self.a, limit: 2) == [2, 4])
        #expect(try await seqs(store, String(repeating: "c", count: 64)).isEmpty)

        let acted = try await store.read {
            try $0.auditedReferences(ruleID: "r1", action: .anonymise, references: [Self.a, Self.twin, Self.other])
        }
        #expect(
            acted
                == Set(all.filter { $0.ruleID == "r1" && $0.action == "anonymise" }.map(\.subjectRef)).subtracting([""])
        )
        #expect(acted == [Self.a, Self.other], "twin shares a's prefix, not its entries")
        #expect(
            try await store.read {
                try $0.auditedReferences(ruleID: "r3", action: .anonymise, references: [Self.a, Self.twin])
            } == [Self.a],
            "an entry not yet filed")
        #expect(try await store.read { try $0.hasAuditEntries(ruleID: "r2", action: .anonymise) })
        #expect(try await !store.read { try $0.hasAuditEntries(ruleID: "r2", action: .flag) })

        // The next writing command files them; then one row per entry with a reference, and the
        // trail's randomly ordered indexes are gone, as is the run's (written by every entry).
        #expect(
            try await f.count("SELECT count(*) FROM retentiond_audit_refs") == all.filter { !$0.subjectRef.isEmpty }
                .count - 2)
        try await store.transaction { try $0.prepareToolTables() }
        #expect(
            try await f.count("SELECT count(*) FROM retentiond_audit_refs")
                == all.filter { !$0.subjectRef.isEmpty }.count)
        #expect(
            try await f.count("SELECT count(DISTINCT segment) FROM retentiond_audit_refs") == 5,
            "segment 0, three appends, the catch-up")
        #expect(try await seqs(store, Self.a) == expected(Self.a))
        let indexes =
            backend == .sqlite
            ? "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'retentiond_audit'"
            : "SELECT indexname FROM pg_indexes WHERE tablename = 'retentiond_audit' AND indexname <> 'retentiond_audit_pkey'"
        #expect(Set(try await f.rows(indexes).compactMap { $0.first?.textValue }) == ["retentiond_audit_action_rule"])

        // Dropped by hand, the table is rebuilt from the trail by the next writing command.
        try await f.sql(["DROP TABLE retentiond_audit_refs"])
        #expect(try await seqs(store, Self.a) == expected(Self.a), "without the table, the trail itself is searched")
        try await store.transaction { try $0.prepareToolTables() }
        #expect(
            try await f.count("SELECT count(*) FROM retentiond_audit_refs")
                == all.filter { !$0.subjectRef.isEmpty }.count)
        #expect(try await seqs(store, Self.twin) == [8, 11])
    }
}
