import Foundation
import Logging
import NIOCore
import PostgresNIO
import RetentionCore
import RetentionStore

extension PostgresSession: WorkQueueSession {
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

    /// Without fresh statistics, claims planned against an empty table scan and sort the whole queue.
    func analyzeQueue() throws {
        _ = try execute("ANALYZE retentiond_batches", [])
    }

    /// Tables an older version made lack the columns `prepareWorkQueue` adds (its planner adds them).
    func queueReadable() throws -> Bool {
        try rows("SELECT to_regclass('retentiond_runs') IS NOT NULL", []).first?.first == .integer(1)
            && columnExists("queue_format", of: "retentiond_runs")
    }

    private func columnExists(_ column: String, of table: String) throws -> Bool {
        try rows(
            "SELECT count(*) FROM information_schema.columns WHERE table_name = \(.text(table)) AND column_name = \(.text(column)) AND table_schema = current_schema()"
        ).first?.first != .integer(0)
    }
}
