import Foundation
import Logging
import NIOCore
import PostgresNIO
import RetentionCore
import RetentionStore

extension PostgresSession: WorkQueueSession {
    /// The runs' queue format this version writes and claims: one row per batch
    /// (`retentiond_batches`). Format 1, one row per record (`retentiond_work`), was an older
    /// version's; its runs are closed, not joined (`closeRunsOfOtherQueueFormats`).
    static let queueFormat: Int64 = 2

    func prepareWorkQueue() throws {
        _ = try execute("SELECT pg_advisory_xact_lock(hashtext('retentiond:ddl'))", [])
        _ = try execute(
            Self.tableIfMissing(
                "retentiond_runs",
                "run_id TEXT PRIMARY KEY, policy_hash TEXT NOT NULL, plan TEXT NOT NULL, opened_at TIMESTAMPTZ NOT NULL DEFAULT now(), filling BOOLEAN NOT NULL DEFAULT false, queue_format INTEGER NOT NULL DEFAULT 1"
            ), [])
        _ = try execute(
            Self.tableIfMissing(
                "retentiond_batches",
                "run_id TEXT NOT NULL, seq BIGINT NOT NULL, rule_id TEXT NOT NULL, record_keys TEXT NOT NULL, PRIMARY KEY (run_id, seq)"
            ), [])
        // Made by older versions, whose runs opened only once filled, queued one row per record
        // (ALTER needs the table's owner: only when a column is missing).
        for (column, definition) in [
            ("filling", "BOOLEAN NOT NULL DEFAULT false"), ("queue_format", "INTEGER NOT NULL DEFAULT 1"),
        ] {
            if try !columnExists(column, of: "retentiond_runs") {
                _ = try execute("ALTER TABLE retentiond_runs ADD COLUMN \(column) \(definition)", [])
            }
        }
    }

    func openRun(id: String, policyHash: String, plan: Data) throws {
        try execute(
            "INSERT INTO retentiond_runs (run_id, policy_hash, plan, filling, queue_format) VALUES (\(.text(id)), \(.text(policyHash)), \(.text(String(decoding: plan, as: UTF8.self))), true, \(.integer(Self.queueFormat)))"
        )
    }

    /// Without fresh statistics, claims planned against an empty table scan and sort the whole queue.
    func analyzeQueue() throws {
        _ = try execute("ANALYZE retentiond_batches", [])
    }

    func finishFilling(id: String) throws {
        try analyzeQueue()
        try execute("UPDATE retentiond_runs SET filling = false WHERE run_id = \(.text(id))")
    }

    func openRun(policyHash: String) throws -> (id: String, plan: Data, filling: Bool)? {
        guard try rows("SELECT to_regclass('retentiond_runs') IS NOT NULL", []).first?.first == .integer(1),
            try columnExists("queue_format", of: "retentiond_runs"),
            let row = try rows(
                "SELECT run_id, plan, filling FROM retentiond_runs WHERE policy_hash = \(.text(policyHash)) AND queue_format = \(.integer(Self.queueFormat)) ORDER BY opened_at LIMIT 1"
            ).first,
            let id = row[0].textValue, let plan = row[1].textValue
        else { return nil }
        return (id, Data(plan.utf8), row[2] == .integer(1))
    }

    func runFilling(id: String) throws -> Bool? {
        guard try rows("SELECT to_regclass('retentiond_runs') IS NOT NULL", []).first?.first == .integer(1),
            let row = try rows("SELECT filling FROM retentiond_runs WHERE run_id = \(.text(id))").first
        else { return nil }
        return row[0] == .integer(1)
    }

    func enqueue(runID: String, batches: [QueuedBatch]) throws {
        guard !batches.isEmpty else { return }
        let encoder = JSONEncoder()
        try insert(
            into: "retentiond_batches", columns: ["run_id", "seq", "rule_id", "record_keys"],
            rows: batches.map { batch in
                [
                    .text(runID), .integer(batch.seq), .text(batch.rule),
                    .text(String(decoding: try encoder.encode(batch.keys), as: UTF8.self)),
                ]
            })
    }

    func claim(runID: String) throws -> QueuedBatch? {
        let claimed = try rows(
            """
            DELETE FROM retentiond_batches WHERE run_id = $1 AND seq = (
                SELECT seq FROM retentiond_batches WHERE run_id = $1 ORDER BY seq LIMIT 1 FOR UPDATE SKIP LOCKED)
            RETURNING seq, rule_id, record_keys
            """, [.text(runID)])
        guard let row = claimed.first, case .integer(let seq) = row[0], let rule = row[1].textValue,
            let keys = row[2].textValue
        else { return nil }
        return QueuedBatch(
            seq: seq, rule: rule, keys: try JSONDecoder().decode([RecordKey].self, from: Data(keys.utf8)))
    }

    func remaining(runID: String) throws -> Int {
        guard
            case .integer(let n) = try rows("SELECT count(*) FROM retentiond_batches WHERE run_id = \(.text(runID))")
                .first?.first
        else { return 0 }
        return Int(n)
    }

    func closeRun(id: String) throws {
        try execute("DELETE FROM retentiond_batches WHERE run_id = \(.text(id))")
        try execute("DELETE FROM retentiond_runs WHERE run_id = \(.text(id))")
    }

    func closeRunsOfOtherQueueFormats() throws {
        let others: SQL = "SELECT run_id FROM retentiond_runs WHERE queue_format <> \(.integer(Self.queueFormat))"
        if try tableExists("retentiond_work") { try execute("DELETE FROM retentiond_work WHERE run_id IN (\(others))") }
        try execute("DELETE FROM retentiond_batches WHERE run_id IN (\(others))")
        try execute("DELETE FROM retentiond_runs WHERE queue_format <> \(.integer(Self.queueFormat))")
    }

    private func columnExists(_ column: String, of table: String) throws -> Bool {
        try rows(
            "SELECT count(*) FROM information_schema.columns WHERE table_name = \(.text(table)) AND column_name = \(.text(column)) AND table_schema = current_schema()"
        ).first?.first != .integer(0)
    }
}
