import Foundation
import GRDB
import RetentionCore
import RetentionStore

/// One read or one transaction on a SQLite database.
struct SQLiteSession: StoreSession {
    let db: Database

    private func rows(_ sql: String, _ bindings: [SQLValue]) throws -> [[SQLValue]] {
        try Row.fetchAll(db, sql: sql, arguments: StatementArguments(bindings.map(\.databaseValue)))
            .map { row in row.databaseValues.map(SQLValue.init) }
    }

    private func execute(_ sql: String, _ bindings: [SQLValue]) throws -> Int {
        try db.execute(sql: sql, arguments: StatementArguments(bindings.map(\.databaseValue)))
        return db.changesCount
    }

    // MARK: Schema

    func schema() throws -> SchemaSnapshot {
        let names = try String.fetchAll(db, sql: "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")
        var tables: [TableInfo] = []
        for name in names {
            let q = SQLBuilder.quote(name)
            let columnRows = try Row.fetchAll(db, sql: "PRAGMA table_info(\(q))")
            let columns = columnRows.map { ColumnInfo(name: $0["name"], declaredType: $0["type"] ?? "", notNull: ($0["notnull"] as Int? ?? 0) != 0) }
            let primaryKey = columnRows.filter { ($0["pk"] as Int? ?? 0) > 0 }
                .sorted { ($0["pk"] as Int) < ($1["pk"] as Int) }.map { $0["name"] as String }
            var fks: [Int: (table: String, from: [String], to: [String?])] = [:]
            for row in try Row.fetchAll(db, sql: "PRAGMA foreign_key_list(\(q))") {
                let id: Int = row["id"]
                var fk = fks[id] ?? (row["table"], [], [])
                fk.from.append(row["from"])
                fk.to.append(row["to"])
                fks[id] = fk
            }
            var foreignKeys: [RetentionStore.ForeignKey] = []
            for (_, fk) in fks.sorted(by: { $0.key < $1.key }) {
                var referenced = fk.to.compactMap { $0 }
                if referenced.count != fk.from.count {
                    referenced = try Row.fetchAll(db, sql: "PRAGMA table_info(\(SQLBuilder.quote(fk.table)))")
                        .filter { ($0["pk"] as Int? ?? 0) > 0 }.sorted { ($0["pk"] as Int) < ($1["pk"] as Int) }.map { $0["name"] as String }
                }
                foreignKeys.append(RetentionStore.ForeignKey(table: name, columns: fk.from, referencedTable: fk.table, referencedColumns: referenced))
            }
            var indexes: [RetentionStore.IndexInfo] = []
            for row in try Row.fetchAll(db, sql: "PRAGMA index_list(\(q))") {
                let indexName: String = row["name"]
                let cols = try Row.fetchAll(db, sql: "PRAGMA index_info(\(SQLBuilder.quote(indexName)))")
                    .sorted { ($0["seqno"] as Int) < ($1["seqno"] as Int) }.compactMap { $0["name"] as String? }
                indexes.append(RetentionStore.IndexInfo(name: indexName, columns: cols, unique: (row["unique"] as Int? ?? 0) != 0))
            }
            tables.append(TableInfo(name: name, columns: columns, primaryKey: primaryKey, foreignKeys: foreignKeys, indexes: indexes))
        }
        return SchemaSnapshot(tables: tables)
    }

    func sample(table: String, column: String, limit: Int) throws -> [SQLValue] {
        let c = SQLBuilder.quote(column)
        return try rows("SELECT \(c) FROM \(SQLBuilder.quote(table)) WHERE \(c) IS NOT NULL LIMIT ?", [.integer(Int64(limit))]).map { $0[0] }
    }

    func rowCount(table: String, filter: [FilterCondition]) throws -> Int {
        var builder = SQLBuilder(dialect: .sqlite)
        let conditions = builder.filter("s", filter)
        let sql = "SELECT count(*) FROM \(SQLBuilder.quote(table)) AS s" + (conditions.isEmpty ? "" : " WHERE " + conditions.joined(separator: " AND "))
        guard case .integer(let n) = try rows(sql, builder.bindings).first?.first else { return 0 }
        return Int(n)
    }

    // MARK: Candidates

    func candidates(_ query: RuleQuery, after: RecordKey?, limit: Int) throws -> [CandidateRow] {
        var builder = SQLBuilder(dialect: .sqlite)
        let sql = builder.candidates(query, after: after, keys: nil, limit: limit)
        return try rows(sql, builder.bindings).map { SQLBuilder.decodeCandidate($0, query: query) }
    }

    func candidates(_ query: RuleQuery, keys: [RecordKey]) throws -> [CandidateRow] {
        guard !keys.isEmpty else { return [] }
        var builder = SQLBuilder(dialect: .sqlite)
        let sql = builder.candidates(query, after: nil, keys: keys, limit: nil)
        return try rows(sql, builder.bindings).map { SQLBuilder.decodeCandidate($0, query: query) }
    }

    func existingKeys(table: String, keyColumns: [String], keys: [RecordKey]) throws -> Set<RecordKey> {
        guard !keys.isEmpty else { return [] }
        var builder = SQLBuilder(dialect: .sqlite)
        let sql = "SELECT " + keyColumns.map { SQLBuilder.qualified("p", $0) }.joined(separator: ", ")
            + " FROM \(SQLBuilder.quote(table)) AS p WHERE " + builder.keyIn("p", keyColumns, keys)
        return Set(try rows(sql, builder.bindings).map(RecordKey.init))
    }

    // MARK: Changes

    func anonymise(table: String, keyColumns: [String], fields: [String], rows: [(RecordKey, [SQLValue])]) throws -> Int {
        guard !rows.isEmpty, !fields.isEmpty else { return 0 }
        var builder = SQLBuilder(dialect: .sqlite)
        let sql = builder.anonymise(table: table, keyColumns: keyColumns, fields: fields, rows: rows)
        return try execute(sql, builder.bindings)
    }

    func purge(table: String, keyColumns: [String], keys: [RecordKey], childPaths: [[ChildLink]]) throws -> (records: Int, children: [String: Int]) {
        guard !keys.isEmpty else { return (0, [:]) }
        var children: [String: Int] = [:]
        for path in childPaths.reversed() {
            var builder = SQLBuilder(dialect: .sqlite)
            let sql = builder.deleteChildren(path, subjectTable: table, keyColumns: keyColumns, keys: keys)
            children[path.last!.table, default: 0] += try execute(sql, builder.bindings)
        }
        var builder = SQLBuilder(dialect: .sqlite)
        let sql = builder.deleteRows(table: table, keyColumns: keyColumns, keys: keys)
        return (try execute(sql, builder.bindings), children)
    }

    // MARK: The tool's own tables

    func toolTablesExist() throws -> Bool {
        try Int.fetchOne(db, sql: "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name IN ('retentiond_audit', 'retentiond_holds')") == 2
    }

    func prepareToolTables() throws {
        try db.execute(sql: """
            CREATE TABLE IF NOT EXISTS retentiond_audit (
                seq INTEGER PRIMARY KEY,
                run_id TEXT NOT NULL,
                at TEXT NOT NULL,
                actor TEXT NOT NULL,
                policy_hash TEXT NOT NULL,
                rule_id TEXT NOT NULL,
                action TEXT NOT NULL,
                table_name TEXT NOT NULL,
                subject_ref TEXT NOT NULL,
                fields TEXT NOT NULL,
                detail TEXT NOT NULL,
                prev_mac TEXT NOT NULL,
                mac TEXT NOT NULL
            );
            CREATE INDEX IF NOT EXISTS retentiond_audit_rule_ref ON retentiond_audit(rule_id, subject_ref);
            CREATE INDEX IF NOT EXISTS retentiond_audit_run ON retentiond_audit(run_id);
            CREATE INDEX IF NOT EXISTS retentiond_audit_ref ON retentiond_audit(subject_ref);
            CREATE TRIGGER IF NOT EXISTS retentiond_audit_append_only_update BEFORE UPDATE ON retentiond_audit
                BEGIN SELECT RAISE(ABORT, 'retentiond_audit is append-only'); END;
            CREATE TRIGGER IF NOT EXISTS retentiond_audit_append_only_delete BEFORE DELETE ON retentiond_audit
                BEGIN SELECT RAISE(ABORT, 'retentiond_audit is append-only'); END;
            CREATE TABLE IF NOT EXISTS retentiond_holds (
                id INTEGER PRIMARY KEY AUTOINCREMENT,
                table_name TEXT NOT NULL,
                record_key TEXT NOT NULL,
                reason TEXT NOT NULL,
                placed_by TEXT NOT NULL,
                placed_at TEXT NOT NULL,
                until TEXT,
                released_by TEXT,
                released_at TEXT
            );
            CREATE INDEX IF NOT EXISTS retentiond_holds_record ON retentiond_holds(table_name, record_key);
            """)
    }

    func auditedReferences(ruleID: String, action: String, references: [String]) throws -> Set<String> {
        guard !references.isEmpty, try toolTablesExist() else { return [] }
        let marks = Array(repeating: "?", count: references.count).joined(separator: ", ")
        let found = try rows("SELECT subject_ref FROM retentiond_audit WHERE rule_id = ? AND action = ? AND subject_ref IN (\(marks))",
                             [.text(ruleID), .text(action)] + references.map { .text($0) })
        return Set(found.compactMap { $0[0].textValue })
    }

    // MARK: Audit

    func auditHead() throws -> AuditHead {
        guard try toolTablesExist(),
              let row = try Row.fetchOne(db, sql: "SELECT seq, mac FROM retentiond_audit ORDER BY seq DESC LIMIT 1") else { return .genesis }
        return AuditHead(seq: row["seq"], mac: row["mac"])
    }

    /// One multi-row INSERT per chunk (13 values a row stay far below SQLite's 32766 variables).
    func appendAudit(_ entries: [AuditEntry]) throws {
        for chunk in stride(from: 0, to: entries.count, by: 1000).map({ entries[$0..<min($0 + 1000, entries.count)] }) {
            let rows = Array(repeating: "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", count: chunk.count).joined(separator: ", ")
            let values: [SQLValue] = chunk.flatMap { e in
                [.integer(e.seq), .text(e.runID), .text(e.at), .text(e.actor), .text(e.policyHash), .text(e.ruleID), .text(e.action),
                 .text(e.table), .text(e.subjectRef), .text(e.fields), .text(e.detail), .text(e.prevMAC), .text(e.mac)]
            }
            _ = try execute("INSERT INTO retentiond_audit (seq, run_id, at, actor, policy_hash, rule_id, action, table_name, subject_ref, fields, detail, prev_mac, mac) VALUES " + rows, values)
        }
    }

    private static func entry(_ row: Row) -> AuditEntry {
        AuditEntry(seq: row["seq"], runID: row["run_id"], at: row["at"], actor: row["actor"], policyHash: row["policy_hash"],
                   ruleID: row["rule_id"], action: row["action"], table: row["table_name"], subjectRef: row["subject_ref"],
                   fields: row["fields"], detail: row["detail"], prevMAC: row["prev_mac"], mac: row["mac"])
    }

    func auditEntries(after: Int64, limit: Int, filter: AuditFilter) throws -> [AuditEntry] {
        guard try toolTablesExist() else { return [] }
        var sql = "SELECT * FROM retentiond_audit WHERE seq > ?"
        var args: [SQLValue] = [.integer(after)]
        if let run = filter.runID { sql += " AND run_id = ?"; args.append(.text(run)) }
        if let rule = filter.ruleID { sql += " AND rule_id = ?"; args.append(.text(rule)) }
        if let ref = filter.subjectRef { sql += " AND subject_ref = ?"; args.append(.text(ref)) }
        sql += " ORDER BY seq LIMIT ?"
        args.append(.integer(Int64(limit)))
        return try Row.fetchAll(db, sql: sql, arguments: StatementArguments(args.map(\.databaseValue))).map(Self.entry)
    }

    func auditEntry(seq: Int64) throws -> AuditEntry? {
        guard try toolTablesExist() else { return nil }
        return try Row.fetchOne(db, sql: "SELECT * FROM retentiond_audit WHERE seq = ?", arguments: [seq]).map(Self.entry)
    }

    func lastCompletedRunTime() throws -> Date? {
        guard try toolTablesExist(),
              let detail = try String.fetchOne(db, sql: "SELECT detail FROM retentiond_audit WHERE action = 'run-completed' ORDER BY seq DESC LIMIT 1"),
              let object = try? JSONSerialization.jsonObject(with: Data(detail.utf8)) as? [String: String],
              let now = object["now"] else { return nil }
        return ISO8601DateFormatter().date(from: now)
    }

    // MARK: Holds

    private static func iso() -> ISO8601DateFormatter {
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime]
        return f
    }

    func insertHold(_ hold: LegalHold) throws -> Int64 {
        let f = Self.iso()
        try db.execute(sql: "INSERT INTO retentiond_holds (table_name, record_key, reason, placed_by, placed_at, until) VALUES (?, ?, ?, ?, ?, ?)",
                       arguments: [hold.table, hold.key.canonical, hold.reason, hold.placedBy, f.string(from: hold.placedAt), hold.until.map { f.string(from: $0) }])
        return db.lastInsertedRowID
    }

    private func hold(_ row: Row) -> LegalHold? {
        let f = Self.iso()
        guard let keyText: String = row["record_key"],
              let key = try? JSONDecoder().decode(RecordKey.self, from: Data(keyText.utf8)) else { return nil }
        return LegalHold(id: row["id"], table: row["table_name"], key: key, reason: row["reason"], placedBy: row["placed_by"],
                         placedAt: f.date(from: row["placed_at"]) ?? Date(timeIntervalSince1970: 0),
                         until: (row["until"] as String?).flatMap { f.date(from: $0) },
                         releasedBy: row["released_by"], releasedAt: (row["released_at"] as String?).flatMap { f.date(from: $0) })
    }

    func holds(includeReleased: Bool) throws -> [LegalHold] {
        guard try toolTablesExist() else { return [] }
        let sql = "SELECT * FROM retentiond_holds" + (includeReleased ? "" : " WHERE released_at IS NULL") + " ORDER BY id"
        return try Row.fetchAll(db, sql: sql).compactMap(hold)
    }

    func releaseHold(id: Int64, by: String, at: Date) throws -> LegalHold? {
        try db.execute(sql: "UPDATE retentiond_holds SET released_by = ?, released_at = ? WHERE id = ? AND released_at IS NULL",
                       arguments: [by, Self.iso().string(from: at), id])
        guard db.changesCount == 1 else { return nil }
        return try Row.fetchOne(db, sql: "SELECT * FROM retentiond_holds WHERE id = ?", arguments: [id]).flatMap(hold)
    }
}
