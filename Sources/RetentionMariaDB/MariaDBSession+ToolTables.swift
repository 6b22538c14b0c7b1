import Foundation
import RetentionCore
import RetentionStore

/// The tool's own tables on MariaDB. DDL commits implicitly, so they are created when missing, by
/// themselves, before anything the transaction changes (the connection has no autocommit: what
/// follows runs in a new transaction). Text is `utf8mb4_bin`: compared exactly, as everywhere else.
extension MariaDBSession {
    static let toolTableOptions = "ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin"

    func prepareToolTables() throws {
        let existing = Set(
            try rows(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name LIKE 'retentiond!_%' ESCAPE '!'",
                []
            )
            .compactMap { $0.first?.textValue })
        let refsFiled = existing.contains("retentiond_audit_refs")
        let tables: [(name: String, definition: String)] = [
            (
                "retentiond_audit",
                """
                seq BIGINT PRIMARY KEY, run_id VARCHAR(64) NOT NULL, at VARCHAR(40) NOT NULL, actor TEXT NOT NULL, policy_hash VARCHAR(128) NOT NULL,
                rule_id VARCHAR(200) NOT NULL, action VARCHAR(40) NOT NULL, table_name VARCHAR(200) NOT NULL, subject_ref VARCHAR(128) NOT NULL,
                fields TEXT NOT NULL, detail MEDIUMTEXT NOT NULL, prev_mac VARCHAR(128) NOT NULL, mac VARCHAR(128) NOT NULL,
                KEY retentiond_audit_action_rule (action, rule_id)
                """
            ),
            (
                "retentiond_audit_refs",
                "segment BIGINT NOT NULL, ref VARCHAR(16) NOT NULL, seq BIGINT NOT NULL, PRIMARY KEY (segment, ref, seq)"
            ),
            (
                "retentiond_holds",
                """
                id BIGINT AUTO_INCREMENT PRIMARY KEY, table_name VARCHAR(200) NOT NULL, record_key VARCHAR(500) NOT NULL, reason TEXT NOT NULL,
                placed_by TEXT NOT NULL, placed_at VARCHAR(40) NOT NULL, until VARCHAR(40), released_by TEXT, released_at VARCHAR(40),
                KEY retentiond_holds_record (table_name, record_key)
                """
            ),
            // rule_id and record_key within InnoDB's 3072 bytes of a key.
            (
                "retentiond_done",
                "rule_id VARCHAR(200) NOT NULL, record_key VARCHAR(500) NOT NULL, PRIMARY KEY (rule_id, record_key)"
            ),
            ("retentiond_locks", "name VARCHAR(40) PRIMARY KEY"),
        ]
        for table in tables where !existing.contains(table.name) {
            _ = try connection.execute(
                "CREATE TABLE IF NOT EXISTS \(table.name) (\(table.definition)) \(Self.toolTableOptions)")
        }
        if !existing.contains("retentiond_locks") {
            _ = try execute("INSERT IGNORE INTO retentiond_locks (name) VALUES ('audit-chain'), ('holds')", [])
        }
        // The trail is append-only, and a hold changes once, when released (TRUNCATE fires no
        // trigger on MariaDB: docs/mariadb.md).
        for statement in [
            """
            CREATE TRIGGER IF NOT EXISTS retentiond_audit_no_update BEFORE UPDATE ON retentiond_audit FOR EACH ROW
            SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'retentiond_audit is append-only'
            """,
            """
            CREATE TRIGGER IF NOT EXISTS retentiond_audit_no_delete BEFORE DELETE ON retentiond_audit FOR EACH ROW
            SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'retentiond_audit is append-only'
            """,
            """
            CREATE TRIGGER IF NOT EXISTS retentiond_holds_release_only BEFORE UPDATE ON retentiond_holds FOR EACH ROW
            IF NOT (OLD.released_at IS NULL AND NEW.released_at IS NOT NULL AND NEW.released_by IS NOT NULL
                    AND NEW.id <=> OLD.id AND NEW.table_name <=> OLD.table_name AND NEW.record_key <=> OLD.record_key
                    AND NEW.reason <=> OLD.reason AND NEW.placed_by <=> OLD.placed_by AND NEW.placed_at <=> OLD.placed_at
                    AND NEW.until <=> OLD.until) THEN
                SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'retentiond_holds keeps every hold, and a row changes only when released, once: use retentiond hold release';
            END IF
            """,
            """
            CREATE TRIGGER IF NOT EXISTS retentiond_holds_no_delete BEFORE DELETE ON retentiond_holds FOR EACH ROW
            SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'retentiond_holds keeps every hold, and a row changes only when released, once: use retentiond hold release'
            """,
        ] where try !triggersComplete() {
            _ = try connection.execute(statement)
        }
        if refsFiled { try fileUnfiledAuditRefs() } else { try execute(builder.fileExistingAuditRefs) }
    }

    /// Within InnoDB's 3072 bytes of a key: 200 + 16 + 500 characters of four bytes.
    func prepareStatisticsTable(_ name: String) throws {
        guard try !tableExists(name) else { return }
        let definition = StatisticsTable.definition(
            text: "TEXT", key: ("VARCHAR(200)", "VARCHAR(16)", "VARCHAR(\(StatisticsTable.groupLimit))"),
            integer: "BIGINT")
        _ = try connection.execute(
            "CREATE TABLE IF NOT EXISTS \(SQL.quote(name)) (\(definition)) \(Self.toolTableOptions)")
    }

    private func triggersComplete() throws -> Bool {
        try rows(
            "SELECT count(*) FROM information_schema.triggers WHERE trigger_schema = DATABASE() AND trigger_name LIKE 'retentiond!_%' ESCAPE '!'",
            []
        ).first?.first == .integer(4)
    }
}

extension MariaDBSession: WorkQueueSession {
    func prepareWorkQueue() throws {
        for (name, definition) in [
            (
                "retentiond_runs",
                "run_id VARCHAR(64) PRIMARY KEY, policy_hash VARCHAR(128) NOT NULL, plan LONGTEXT NOT NULL, opened_at TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6), filling BOOLEAN NOT NULL DEFAULT false, queue_format INTEGER NOT NULL DEFAULT 1"
            ),
            (
                "retentiond_batches",
                "run_id VARCHAR(64) NOT NULL, seq BIGINT NOT NULL, rule_id VARCHAR(200) NOT NULL, record_keys LONGTEXT NOT NULL, PRIMARY KEY (run_id, seq)"
            ),
        ] where try !tableExists(name) {
            _ = try connection.execute("CREATE TABLE IF NOT EXISTS \(name) (\(definition)) \(Self.toolTableOptions)")
        }
    }

    func analyzeQueue() throws {}

    func queueReadable() throws -> Bool { try tableExists("retentiond_runs") }

    /// On a Galera cluster, batches are claimed only on the planner's node, whose row locks the
    /// workers share.
    func claim(runID: String) throws -> QueuedBatch? {
        if let node = connection.clusterNode {
            try ClusterLease.refuseAnotherNode(self, node: node, location: location)
        }
        return try claimEarliestBatch(runID: runID)
    }
}
