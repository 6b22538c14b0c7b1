import Foundation
import RetentionCore

/// What a backend must provide to get every `StoreSession` operation that is plain SQL: running a
/// statement with bound values. The SQL is built by `SQLBuilder` in the backend's dialect.
public protocol SQLExecuting {
    var dialect: SQLDialect { get }
    /// Runs a query and returns its rows, values in select order.
    func rows(_ sql: String, _ bindings: [SQLValue]) throws -> [[SQLValue]]
    /// Runs a statement and returns the number of rows it changed.
    func execute(_ sql: String, _ bindings: [SQLValue]) throws -> Int
}

/// The operations both databases share, written once.
extension StoreSession where Self: SQLExecuting {
    public func sample(table: String, column: String, limit: Int) throws -> [SQLValue] {
        var b = SQLBuilder(dialect: dialect)
        let c = SQLBuilder.quote(column)
        let sql = "SELECT \(c) FROM \(SQLBuilder.quote(table)) WHERE \(c) IS NOT NULL LIMIT \(b.bind(.integer(Int64(limit))))"
        return try rows(sql, b.bindings).map { $0[0] }
    }

    public func rowCount(table: String, filter: [FilterCondition]) throws -> Int {
        var b = SQLBuilder(dialect: dialect)
        let conditions = b.filter("s", filter)
        let sql = "SELECT count(*) FROM \(SQLBuilder.quote(table)) AS s" + (conditions.isEmpty ? "" : " WHERE " + conditions.joined(separator: " AND "))
        guard case .integer(let n) = try rows(sql, b.bindings).first?.first else { return 0 }
        return Int(n)
    }

    public func candidates(_ query: RuleQuery, after: RecordKey?, limit: Int) throws -> [CandidateRow] {
        var b = SQLBuilder(dialect: dialect)
        let sql = b.candidates(query, after: after, keys: nil, limit: limit)
        return try rows(sql, b.bindings).map { SQLBuilder.decodeCandidate($0, query: query) }
    }

    public func candidates(_ query: RuleQuery, keys: [RecordKey], lockingRows: Bool) throws -> [CandidateRow] {
        guard !keys.isEmpty else { return [] }
        var b = SQLBuilder(dialect: dialect)
        let sql = b.candidates(query, after: nil, keys: keys, limit: nil) + (lockingRows ? dialect.lockRows : "")
        return try rows(sql, b.bindings).map { SQLBuilder.decodeCandidate($0, query: query) }
    }

    public func existingKeys(table: String, keyColumns: [String], keys: [RecordKey]) throws -> Set<RecordKey> {
        guard !keys.isEmpty else { return [] }
        var b = SQLBuilder(dialect: dialect)
        let sql = "SELECT " + keyColumns.map { SQLBuilder.qualified("p", $0) }.joined(separator: ", ")
            + " FROM \(SQLBuilder.quote(table)) AS p WHERE " + b.keyIn("p", keyColumns, keys)
        return Set(try rows(sql, b.bindings).map(RecordKey.init))
    }

    public func anonymise(table: String, keyColumns: [String], fields: [String], rows updates: [(RecordKey, [SQLValue])]) throws -> Int {
        guard !updates.isEmpty, !fields.isEmpty else { return 0 }
        var b = SQLBuilder(dialect: dialect)
        let sql = b.anonymise(table: table, keyColumns: keyColumns, fields: fields, rows: updates)
        return try execute(sql, b.bindings)
    }

    public func purge(table: String, keyColumns: [String], keys: [RecordKey], childPaths: [[ChildLink]]) throws -> (records: Int, children: [String: Int]) {
        guard !keys.isEmpty else { return (0, [:]) }
        var children: [String: Int] = [:]
        for path in childPaths.reversed() {
            var b = SQLBuilder(dialect: dialect)
            let sql = b.deleteChildren(path, subjectTable: table, keyColumns: keyColumns, keys: keys)
            children[path.last!.table, default: 0] += try execute(sql, b.bindings)
        }
        var b = SQLBuilder(dialect: dialect)
        let sql = b.deleteRows(table: table, keyColumns: keyColumns, keys: keys)
        return (try execute(sql, b.bindings), children)
    }

    public func auditedReferences(ruleID: String, action: AuditAction, references: [String]) throws -> Set<String> {
        guard !references.isEmpty, try toolTables().audit else { return [] }
        var b = SQLBuilder(dialect: dialect)
        let sql = "SELECT subject_ref FROM retentiond_audit WHERE rule_id = \(b.bind(.text(ruleID))) AND action = \(b.bind(.text(action.rawValue))) AND subject_ref IN ("
            + references.map { b.bind(.text($0)) }.joined(separator: ", ") + ")"
        return Set(try rows(sql, b.bindings).compactMap { $0[0].textValue })
    }

    // MARK: Audit

    static var auditColumns: String { "seq, run_id, at, actor, policy_hash, rule_id, action, table_name, subject_ref, fields, detail, prev_mac, mac" }

    static func auditEntry(_ row: [SQLValue]) -> AuditEntry? {
        guard row.count == 13, case .integer(let seq) = row[0] else { return nil }
        let t = row.dropFirst().map { $0.textValue ?? "" }
        return AuditEntry(seq: seq, runID: t[0], at: t[1], actor: t[2], policyHash: t[3], ruleID: t[4], action: t[5], table: t[6],
                          subjectRef: t[7], fields: t[8], detail: t[9], prevMAC: t[10], mac: t[11])
    }

    public func auditHead() throws -> AuditHead {
        guard try toolTables().audit,
              let row = try rows("SELECT seq, mac FROM retentiond_audit ORDER BY seq DESC LIMIT 1", []).first,
              case .integer(let seq) = row[0], let mac = row[1].textValue else { return .genesis }
        return AuditHead(seq: seq, mac: mac)
    }

    /// One multi-row INSERT per chunk (13 values a row stay far below either database's parameter limit).
    public func appendAudit(_ entries: [AuditEntry]) throws {
        for start in stride(from: 0, to: entries.count, by: 1000) {
            var b = SQLBuilder(dialect: dialect)
            let values = entries[start..<min(start + 1000, entries.count)].map { e in
                "(" + ([.integer(e.seq)] + [e.runID, e.at, e.actor, e.policyHash, e.ruleID, e.action, e.table, e.subjectRef, e.fields, e.detail, e.prevMAC, e.mac]
                    .map { SQLValue.text($0) }).map { b.bind($0) }.joined(separator: ", ") + ")"
            }
            _ = try execute("INSERT INTO retentiond_audit (\(Self.auditColumns)) VALUES " + values.joined(separator: ", "), b.bindings)
        }
    }

    public func auditEntries(after: Int64, limit: Int, filter: AuditFilter) throws -> [AuditEntry] {
        guard try toolTables().audit else { return [] }
        var b = SQLBuilder(dialect: dialect)
        var sql = "SELECT \(Self.auditColumns) FROM retentiond_audit WHERE seq > \(b.bind(.integer(after)))"
        if let run = filter.runID { sql += " AND run_id = \(b.bind(.text(run)))" }
        if let rule = filter.ruleID { sql += " AND rule_id = \(b.bind(.text(rule)))" }
        if let ref = filter.subjectRef { sql += " AND subject_ref = \(b.bind(.text(ref)))" }
        sql += " ORDER BY seq LIMIT \(b.bind(.integer(Int64(limit))))"
        return try rows(sql, b.bindings).compactMap(Self.auditEntry)
    }

    public func auditEntry(seq: Int64) throws -> AuditEntry? {
        guard try toolTables().audit else { return nil }
        var b = SQLBuilder(dialect: dialect)
        return try rows("SELECT \(Self.auditColumns) FROM retentiond_audit WHERE seq = \(b.bind(.integer(seq)))", b.bindings).first.flatMap(Self.auditEntry)
    }

    public func lastCompletedRunTime() throws -> Date? {
        guard try toolTables().audit,
              let detail = try rows("SELECT detail FROM retentiond_audit WHERE action = \(dialect.numberedPlaceholders ? "$1" : "?") ORDER BY seq DESC LIMIT 1",
                                    [.text(AuditAction.runCompleted.rawValue)]).first?.first?.textValue,
              let object = try? JSONSerialization.jsonObject(with: Data(detail.utf8)) as? [String: String],
              let now = object["now"] else { return nil }
        return ISO8601DateFormatter().date(from: now)
    }

    // MARK: Holds

    static var holdColumns: String { "id, table_name, record_key, reason, placed_by, placed_at, until, released_by, released_at" }

    static func hold(_ row: [SQLValue]) -> LegalHold? {
        let f = ISO8601DateFormatter()
        guard row.count == 9, case .integer(let id) = row[0], let keyText = row[2].textValue,
              let key = try? JSONDecoder().decode(RecordKey.self, from: Data(keyText.utf8)) else { return nil }
        return LegalHold(id: id, table: row[1].textValue ?? "", key: key, reason: row[3].textValue ?? "", placedBy: row[4].textValue ?? "",
                         placedAt: row[5].textValue.flatMap { f.date(from: $0) } ?? Date(timeIntervalSince1970: 0),
                         until: row[6].textValue.flatMap { f.date(from: $0) }, releasedBy: row[7].textValue,
                         releasedAt: row[8].textValue.flatMap { f.date(from: $0) })
    }

    public var keyValueKind: @Sendable (String) -> KeyValueKind { dialect.keyValueKind }

    public func canonicalKeys(table: String, keyColumns: [String], matching lookup: [KeyLookup]) throws -> [String] {
        var b = SQLBuilder(dialect: dialect)
        var conditions: [String] = []
        for item in lookup {
            guard let value = item.value else { throw StoreFailure("`\(item.text)` is not a value of the \(item.kind) column `\(item.column)`") }
            let column = SQLBuilder.qualified("p", item.column)
            conditions.append((item.kind == .other ? dialect.textOf(column) : column) + " = " + b.bind(value))
        }
        let sql = "SELECT \(dialect.canonicalKey(keyColumns.map { SQLBuilder.qualified("p", $0) })) FROM \(SQLBuilder.quote(table)) AS p WHERE "
            + conditions.joined(separator: " AND ") + " LIMIT 2"
        return try rows(sql, b.bindings).compactMap { $0.first?.textValue }
    }

    public func holdAuditEntries() throws -> [AuditEntry] {
        guard try toolTables().audit else { return [] }
        var b = SQLBuilder(dialect: dialect)
        let actions = [AuditAction.holdAdd, .holdRelease].map { b.bind(.text($0.rawValue)) }.joined(separator: ", ")
        return try rows("SELECT \(Self.auditColumns) FROM retentiond_audit WHERE action IN (\(actions)) ORDER BY seq", b.bindings)
            .compactMap(Self.auditEntry)
    }

    public func insertHold(_ hold: LegalHold) throws -> Int64 {
        var b = SQLBuilder(dialect: dialect)
        let values = [SQLValue.text(hold.table), .text(hold.key.canonical), .text(hold.reason), .text(hold.placedBy),
                      .text(SQLBuilder.holdTime(hold.placedAt)), hold.until.map { .text(SQLBuilder.holdTime($0)) } ?? .null]
        let sql = "INSERT INTO retentiond_holds (table_name, record_key, reason, placed_by, placed_at, until) VALUES ("
            + values.map { b.bind($0) }.joined(separator: ", ") + ") RETURNING id"
        guard case .integer(let id) = try rows(sql, b.bindings).first?.first else { throw StoreFailure("the new hold has no id") }
        return id
    }

    public func holds(includeReleased: Bool) throws -> [LegalHold] {
        guard try toolTables().holds else { return [] }
        let sql = "SELECT \(Self.holdColumns) FROM retentiond_holds" + (includeReleased ? "" : " WHERE released_at IS NULL") + " ORDER BY id"
        return try rows(sql, []).compactMap(Self.hold)
    }

    public func releaseHold(id: Int64, by: String, at: Date) throws -> LegalHold? {
        var b = SQLBuilder(dialect: dialect)
        let sql = "UPDATE retentiond_holds SET released_by = \(b.bind(.text(by))), released_at = \(b.bind(.text(SQLBuilder.holdTime(at)))) "
            + "WHERE id = \(b.bind(.integer(id))) AND released_at IS NULL RETURNING \(Self.holdColumns)"
        return try rows(sql, b.bindings).first.flatMap(Self.hold)
    }
}
