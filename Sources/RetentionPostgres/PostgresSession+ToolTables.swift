import Foundation
import RetentionCore
import RetentionStore

/// The tool's own tables on PostgreSQL: created (and an older version's trail upgraded) by the
/// first writing command, in its transaction.
extension PostgresSession {
    func prepareToolTables() throws {
        // Serialise concurrent first runs: CREATE … IF NOT EXISTS alone can still collide.
        _ = try execute("SELECT pg_advisory_xact_lock(hashtext('retentiond:ddl'))", [])
        let refsFiled = try tableExists("retentiond_audit_refs")
        for statement in [
            Self.tableIfMissing(
                "retentiond_audit",
                """
                seq BIGINT PRIMARY KEY, run_id TEXT NOT NULL, at TEXT NOT NULL, actor TEXT NOT NULL, policy_hash TEXT NOT NULL,
                rule_id TEXT NOT NULL, action TEXT NOT NULL, table_name TEXT NOT NULL, subject_ref TEXT NOT NULL,
                fields TEXT NOT NULL, detail TEXT NOT NULL, prev_mac TEXT NOT NULL, mac TEXT NOT NULL
                """),
            Self.indexIfMissing("retentiond_audit_action_rule", on: "retentiond_audit(action, rule_id)"),
            Self.tableIfMissing(
                "retentiond_audit_refs",
                """
                segment BIGINT NOT NULL, ref TEXT COLLATE "C" NOT NULL, seq BIGINT NOT NULL, PRIMARY KEY (segment, ref, seq)
                """),
            // The indexes an older version kept on the trail (the run's, written by every entry, served
            // only `audit show --run`); a role that does not own them (tables created by another
            // role) leaves them, and its appends stay slower until their owner drops them.
            """
            DO $d$ BEGIN
                DROP INDEX IF EXISTS retentiond_audit_rule_ref, retentiond_audit_ref, retentiond_audit_action, retentiond_audit_run;
            EXCEPTION WHEN insufficient_privilege THEN NULL;
            END $d$
            """,
            Self.ownFunction(
                """
                CREATE OR REPLACE FUNCTION retentiond_audit_append_only() RETURNS trigger LANGUAGE plpgsql
                AS $f$ BEGIN RAISE EXCEPTION 'retentiond_audit is append-only'; END $f$
                """),
            Self.guardTriggers(
                on: "retentiond_audit", function: "retentiond_audit_append_only",
                rowTrigger: "retentiond_audit_append_only",
                truncateTrigger: "retentiond_audit_no_truncate"),
            Self.tableIfMissing(
                "retentiond_holds",
                """
                id BIGSERIAL PRIMARY KEY, table_name TEXT NOT NULL, record_key TEXT NOT NULL, reason TEXT NOT NULL,
                placed_by TEXT NOT NULL, placed_at TEXT NOT NULL, until TEXT, released_by TEXT, released_at TEXT
                """),
            Self.indexIfMissing("retentiond_holds_record", on: "retentiond_holds(table_name, record_key)"),
            Self.tableIfMissing(
                "retentiond_done", "rule_id TEXT NOT NULL, record_key TEXT NOT NULL, PRIMARY KEY (rule_id, record_key)"),
            Self.ownFunction(
                """
                CREATE OR REPLACE FUNCTION retentiond_holds_release_only() RETURNS trigger LANGUAGE plpgsql
                AS $f$ BEGIN
                    IF TG_OP = 'UPDATE' AND OLD.released_at IS NULL AND NEW.released_at IS NOT NULL AND NEW.released_by IS NOT NULL
                        AND (NEW.id, NEW.table_name, NEW.record_key, NEW.reason, NEW.placed_by, NEW.placed_at, NEW.until)
                            IS NOT DISTINCT FROM (OLD.id, OLD.table_name, OLD.record_key, OLD.reason, OLD.placed_by, OLD.placed_at, OLD.until) THEN
                        RETURN NEW;
                    END IF;
                    RAISE EXCEPTION 'retentiond_holds keeps every hold, and a row changes only when released, once: use retentiond hold release';
                END $f$
                """),
            Self.guardTriggers(
                on: "retentiond_holds", function: "retentiond_holds_release_only",
                rowTrigger: "retentiond_holds_release_only",
                truncateTrigger: "retentiond_holds_no_truncate"),
        ] {
            _ = try execute(statement, [])
        }
        // Same transaction as the table: a trail is never left with half its references filed.
        if refsFiled { try fileUnfiledAuditRefs() } else { try execute(builder.fileExistingAuditRefs) }
    }

    /// The policy names it (a lower-case identifier, which may be a reserved word): quoted.
    func prepareStatisticsTable(_ name: String) throws {
        _ = try execute("SELECT pg_advisory_xact_lock(hashtext('retentiond:ddl'))", [])
        _ = try execute(
            Self.tableIfMissing(
                SQL.quote(name),
                StatisticsTable.definition(text: "TEXT", key: ("TEXT", "TEXT", "TEXT"), integer: "BIGINT")), [])
    }

    /// `CREATE TABLE IF NOT EXISTS` asks for `CREATE` on the schema even when the table exists:
    /// each table is created only when missing, so a role given the tables by their owner
    /// (docs/postgresql.md, a stricter separation) needs no `CREATE` at all.
    static func tableIfMissing(_ name: String, _ columns: String) -> String {
        "DO $d$ BEGIN IF to_regclass('\(name)') IS NULL THEN CREATE TABLE \(name) (\(columns)); END IF; END $d$"
    }

    /// Where another role created the tool's tables (docs/postgresql.md, a stricter separation),
    /// only their owner may add indexes or replace functions: `CREATE INDEX IF NOT EXISTS` checks
    /// ownership before existence, so each index is created only when missing, and a function
    /// owned by another role is left as it is.
    static func indexIfMissing(_ name: String, on definition: String) -> String {
        "DO $d$ BEGIN IF to_regclass('\(name)') IS NULL THEN CREATE INDEX \(name) ON \(definition); END IF; END $d$"
    }

    /// The triggers that make `function` judge every `UPDATE` and `DELETE` (per row) and `TRUNCATE`
    /// of `table`, each created when missing.
    static func guardTriggers(on table: String, function: String, rowTrigger: String, truncateTrigger: String) -> String
    {
        func ifMissing(_ name: String, _ definition: String) -> String {
            "IF NOT EXISTS (SELECT 1 FROM pg_trigger WHERE tgname = '\(name)' AND tgrelid = '\(table)'::regclass) THEN CREATE TRIGGER \(name) \(definition); END IF;"
        }
        return "DO $d$ BEGIN "
            + ifMissing(rowTrigger, "BEFORE UPDATE OR DELETE ON \(table) FOR EACH ROW EXECUTE FUNCTION \(function)()")
            + ifMissing(
                truncateTrigger, "BEFORE TRUNCATE ON \(table) FOR EACH STATEMENT EXECUTE FUNCTION \(function)()")
            + " END $d$"
    }

    static func ownFunction(_ definition: String) -> String {
        "DO $d$ BEGIN\n\(definition);\nEXCEPTION WHEN insufficient_privilege THEN NULL;\nEND $d$"
    }
}

/// The locks and checks every batch takes on the tool's tables.
extension PostgresSession {
    /// Held by retentiond's own transactions only (batches, workers', holds placed), each bounded
    /// itself: waited for without the batch's `lock_timeout`, which is for the application's locks
    /// (a worker behind a sibling's slow batch would otherwise stop its run). PostgreSQL's deadlock
    /// detector still ends a cycle.
    func lockAuditChain() throws {
        let bound = try rows("SELECT current_setting('lock_timeout')", []).first?.first ?? .text("0")
        _ = try execute("SET LOCAL lock_timeout = 0", [])
        _ = try execute("SELECT pg_advisory_xact_lock(hashtext('retentiond:audit-chain'))", [])
        _ = try execute("SELECT set_config('lock_timeout', $1, true)", [bound])
    }

    /// READ COMMITTED lets another session commit between two statements, so batches (shared)
    /// and hold placements (exclusive) meet on an advisory lock held until their commit.
    func lockHolds(exclusive: Bool) throws {
        let function = exclusive ? "pg_advisory_xact_lock" : "pg_advisory_xact_lock_shared"
        _ = try execute("SELECT \(function)(hashtext('retentiond:holds'))", [])
    }

    func tryLockHoldsExclusively() throws -> Bool {
        try rows("SELECT pg_try_advisory_xact_lock(hashtext('retentiond:holds'))", []).first?.first == .integer(1)
    }

    /// `lock_timeout` for the rest of the transaction; a statement that reaches it fails with
    /// SQLSTATE 55P03, which `translate` turns into `DatabaseUnavailable`.
    func limitLockWaits() throws {
        _ = try execute("SET LOCAL lock_timeout = \(max(lockWait.milliseconds, 1))", [])
    }

    func toolTables() throws -> ToolTables {
        let row = try rows(
            "SELECT to_regclass('retentiond_audit') IS NOT NULL, to_regclass('retentiond_holds') IS NOT NULL", []
        ).first
        return ToolTables(audit: row?[0] == .integer(1), holds: row?[1] == .integer(1))
    }

    func tableExists(_ name: String) throws -> Bool {
        try rows("SELECT to_regclass($1) IS NOT NULL", [.text(name)]).first?.first == .integer(1)
    }
}
