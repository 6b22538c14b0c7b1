import Foundation
import Testing
import RetentionCore
import RetentionEngine
import RetentionStore
import TestSupport

/// The statements a purge rule runs are served by indexes on both databases: the due test, and
/// the re-check of a batch with its legal holds on children and grandchildren — never a scan of a
/// child table per parent.
@Suite struct QueryPlanTests {
    /// Three levels of children under the subject, each linked by an indexed foreign key.
    static let schema = CRMFixture.schema + [
        "CREATE INDEX notes_person ON notes(person_id)",
        "CREATE INDEX attachments_note ON attachments(note_id)",
        "CREATE TABLE annotations (id INTEGER PRIMARY KEY, attachment_id INTEGER NOT NULL REFERENCES attachments(id), body TEXT)",
        "CREATE INDEX annotations_attachment ON annotations(attachment_id)",
        "CREATE INDEX orders_person ON orders(person_id)",
    ]
    static let data = CRMFixture.data + ["INSERT INTO annotations VALUES (1000, 100, 'signed')"]

    static let policy = """
        subjects:
          prospects:
            table: people
            key: id
            filter: { kind: prospect }
            rules:
              - id: prospect-purge
                register: "Prospection"
                legal_basis: "legitimate interest, 3 years"
                clock: last_seen
                after: 3y
                action: purge
                children:
                  - table: notes
                    foreign_key: person_id
                    children:
                      - table: attachments
                        foreign_key: note_id
                        children:
                          - { table: annotations, foreign_key: attachment_id }
        """

    /// The plan's lines, with PostgreSQL told to avoid sequential scans wherever an index can
    /// serve (so a scan that remains means no index could).
    func plan(_ f: CRMFixture, _ sql: String, _ bindings: [SQLValue]) async throws -> [String] {
        let backend = f.backend
        return try await f.executing { executing in
            switch backend {
            case .sqlite:
                return try executing.rows("EXPLAIN QUERY PLAN " + sql, bindings).compactMap { $0.last?.textValue }
            case .postgres:
                _ = try executing.execute("SET LOCAL enable_seqscan = off", [])
                return try executing.rows("EXPLAIN " + sql, bindings).compactMap { $0.first?.textValue }
            }
        }
    }

    /// Lines that read a whole table; `subject` too when `includingSubject`.
    func scans(_ lines: [String], backend: Backend, includingSubject: Bool) -> [String] {
        lines.filter { line in
            switch backend {
            // SQLite names tables by their alias in the plan: `SCAN c1` reads all of a child table.
            case .sqlite: return line.hasPrefix("SCAN ") && (includingSubject || !line.hasPrefix("SCAN s"))
            case .postgres: return line.contains("Seq Scan") && (includingSubject || !line.contains(" people s "))
            }
        }
    }

    @Test(arguments: Backend.allCases)
    func theDueTestAndTheBatchRecheckUseIndexesAllTheWayDown(_ backend: Backend) async throws {
        let f = try await CRMFixture(backend, schema: Self.schema, data: Self.data, policy: Self.policy)
        // The tool's tables, so the hold checks are part of the statements.
        let key = try AuditKey.load(path: try f.policy().keyFile, createIfMissing: true).key
        _ = try await HoldRegistry(store: try await f.store(), key: key, stateDirectory: f.dir.path)
            .add(table: "annotations", keyText: "1000", reason: "evidence", by: "dpo", until: nil, now: CRMFixture.now)
        if backend == .postgres { try await f.sql(["ANALYZE"]) }

        let policy = try f.policy()
        let (resolved, _) = try await Enforcer.validate(policy, store: try await f.reader())
        let query = try #require(try resolved?.query(for: policy.rules[0], now: CRMFixture.now, toolTablesExist: true))
        let dialect: SQLDialect = try await f.executing { $0.dialect }

        var recheck = SQLBuilder(dialect: dialect)
        let recheckSQL = recheck.candidates(query, after: nil, keys: [RecordKey([.integer(1)]), RecordKey([.integer(2)])], limit: nil)
        let recheckPlan = try await plan(f, recheckSQL, recheck.bindings)
        #expect(recheckSQL.contains("JOIN \"annotations\""), "three levels of children are checked for holds")
        #expect(scans(recheckPlan, backend: backend, includingSubject: true).isEmpty, "\(recheckPlan.joined(separator: "\n"))")

        var due = SQLBuilder(dialect: dialect)
        let dueSQL = due.candidates(query, after: nil, keys: nil, limit: 500)
        let duePlan = try await plan(f, dueSQL, due.bindings)
        // How the subject's due rows are found (clock index, or key order for paging) is the
        // planner's choice on a table this small; what hangs off each row must be probed.
        #expect(scans(duePlan, backend: backend, includingSubject: false).isEmpty, "\(duePlan.joined(separator: "\n"))")

        // And the hold on the grandchild's child keeps its prospect, through all of it.
        let report = try await f.run()
        #expect(report.rules[0].exempt["legal_hold"] == 1)
        #expect(try await f.ids("people").contains(1))
    }
}
