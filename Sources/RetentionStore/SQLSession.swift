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
    /// Whether the table exists (the tool's own tables; unquoted names).
    func tableExists(_ name: String) throws -> Bool
    /// Inserts `rows` (values in `columns` order) into `table`, the way the database takes many
    /// rows fastest (SQLite: one prepared statement stepped per row; PostgreSQL: `COPY`).
    func insert(into table: String, columns: [String], rows: [[SQLValue]]) throws
}

/// The operations both databases share, written once.
extension StoreSession where Self: SQLExecuting {
    public var builder: SQLBuilder { SQLBuilder(dialect: dialect) }

    public func sample(table: String, column: String, limit: Int) throws -> [SQLValue] {
        try rows(
            "SELECT \(ident: column) FROM \(ident: table) WHERE \(ident: column) IS NOT NULL LIMIT \(.integer(Int64(limit)))"
        ).map { $0[0] }
    }

    public func zeroDates(table: String, column: String) throws -> Int {
        let holds = dialect.holdsDate(SQL.quote(column))
        guard holds != "\(SQL.quote(column)) IS NOT NULL" else { return 0 }
        let sql: SQL = "SELECT count(*) FROM \(ident: table) WHERE \(ident: column) IS NOT NULL AND NOT \(raw: holds)"
        guard case .integer(let n) = try rows(sql).first?.first else { return 0 }
        return Int(n)
    }

    public func ambiguousKeys(table: String, keyColumns: [String]) throws -> AmbiguousKeys {
        let columns = keyColumns.map(SQL.quote).joined(separator: ", ")
        let present = keyColumns.map { "\(SQL.quote($0)) IS NOT NULL" }.joined(separator: " AND ")
        let duplicated: SQL =
            "SELECT count(*) FROM (SELECT 1 AS one FROM \(ident: table) WHERE \(raw: present) GROUP BY \(raw: columns) HAVING count(*) > 1) AS d"
        let missing: SQL = "SELECT count(*) FROM \(ident: table) WHERE NOT (\(raw: present))"
        func count(_ sql: SQL) throws -> Int {
            guard case .integer(let n) = try rows(sql).first?.first else { return 0 }
            return Int(n)
        }
        return AmbiguousKeys(duplicated: try count(duplicated), missing: try count(missing))
    }

    public func rowCount(table: String, filter: [RowCondition]) throws -> Int {
        guard !filter.isEmpty else { return try rowCount(table: table) }
        let conditions = filter.map { builder.condition($0, on: "p") }.joined(separator: " AND ")
        guard
            case .integer(let n) = try rows("SELECT count(*) FROM \(ident: table) AS p WHERE \(conditions)").first?
                .first
        else { return 0 }
        return Int(n)
    }

    public func rowCount(table: String) throws -> Int {
        let sql: SQL = "SELECT count(*) FROM \(ident: table)"
        guard case .integer(let n) = try rows(sql).first?.first else { return 0 }
        return Int(n)
    }

    public func candidates(_ query: RuleQuery, after: RecordKey?, limit: Int) throws -> [CandidateRow] {
        try rows(builder.candidates(query, after: after, keys: nil, limit: limit)).map {
            SQLBuilder.decodeCandidate($0, query: query)
        }
    }

    public func candidates(_ query: RuleQuery, keys: [RecordKey], lockingRows: Bool) throws -> [CandidateRow] {
        guard !keys.isEmpty else { return [] }
        if lockingRows && dialect.locksKeysFirst {
            // Exactly the batch's rows, through the key's index, in key order; the re-check then
            // reads them as committed, and no one else can change them until this transaction ends.
            let columns = query.keyColumns.map { SQL.qualified("s", $0) }.joined(separator: ", ")
            _ = try rows(
                "SELECT \(raw: columns) FROM \(ident: query.table) AS s WHERE \(builder.keyIn("s", query.keyColumns, keys)) ORDER BY \(raw: columns) FOR UPDATE"
            )
        }
        let sql =
            builder.candidates(query, after: nil, keys: keys, limit: nil)
            + (lockingRows ? "\(raw: dialect.lockRows)" : "")
        return try rows(sql).map { SQLBuilder.decodeCandidate($0, query: query, keys: true) }
    }

    public func existingKeys(table: String, keyColumns: [String], keys: [RecordKey]) throws -> Set<RecordKey> {
        guard !keys.isEmpty else { return [] }
        let columns = keyColumns.map { SQL.qualified("p", $0) }.joined(separator: ", ")
        return Set(
            try rows("SELECT \(raw: columns) FROM \(ident: table) AS p WHERE \(builder.keyIn("p", keyColumns, keys))")
                .map(RecordKey.init))
    }

    public func anonymise(
        table: String, keyColumns: [String], fields: [String], rows updates: [(RecordKey, [SQLValue])]
    ) throws -> Int {
        guard !updates.isEmpty, !fields.isEmpty else { return 0 }
        return try execute(builder.anonymise(table: table, keyColumns: keyColumns, fields: fields, rows: updates))
    }

    public func purge(
        table: String, keyColumns: [String], keys: [RecordKey], childPaths: [[ChildLink]], keepers: [RowKeeper]
    ) throws -> (records: Int, children: [String: Int]) {
        guard !keys.isEmpty else { return (0, [:]) }
        let children = try deleteChildren(
            table: table, keyColumns: keyColumns, keys: keys, childPaths: childPaths, keepers: keepers)
        return (try execute(builder.deleteRows(table: table, keyColumns: keyColumns, keys: keys)), children)
    }

    public func deleteChildren(
        table: String, keyColumns: [String], keys: [RecordKey], childPaths: [[ChildLink]], keepers: [RowKeeper]
    ) throws -> [String: Int] {
        guard !keys.isEmpty else { return [:] }
        var children: [String: Int] = [:]
        // Owned rows are found before the rows pointing at them go, and deleted after them.
        var owned: [(link: ChildLink, keys: [RecordKey])] = []
        for path in childPaths where path[path.count - 1].owned {
            let link = path[path.count - 1]
            let pointers = try rows(
                builder.selectChildren(
                    Array(path.dropLast()), subjectTable: table, keyColumns: keyColumns, keys: keys,
                    columns: link.referenced, order: link.referenced))
            owned.append((link, Array(Set(pointers.filter { !$0.contains(.null) }.map(RecordKey.init)))))
        }
        // Paths list parents before their children: deleted in reverse, deepest first.
        for path in childPaths.reversed() where !path[path.count - 1].owned {
            let last = path[path.count - 1]
            // A level of a tree (its table reached again): the rows are read first, then deleted by
            // key — MariaDB deletes from no table that the statement's own subquery reads (error 1093).
            if path.dropLast().contains(where: { $0.table == last.table }), !last.primaryKey.isEmpty {
                let found = try rows(
                    builder.selectChildren(
                        path, subjectTable: table, keyColumns: keyColumns, keys: keys,
                        columns: last.primaryKey, order: last.primaryKey)
                ).map(RecordKey.init)
                if !found.isEmpty {
                    children[last.table, default: 0] += try execute(
                        builder.deleteRows(table: last.table, keyColumns: last.primaryKey, keys: found))
                }
                continue
            }
            children[last.table, default: 0] += try execute(
                builder.deleteChildren(path, subjectTable: table, keyColumns: keyColumns, keys: keys))
        }
        for (link, ownedKeys) in owned where !ownedKeys.isEmpty {
            children[link.table, default: 0] += try execute(
                builder.deleteOwned(link, keys: ownedKeys, keepers: keepers))
        }
        return children
    }

    public func forecast(_ query: RuleQuery, boundaries: [ClockPredicate], keptAt: [RuleQuery]) throws -> (
        passed: [Int], kept: [Int]
    ) {
        guard !boundaries.isEmpty else { return ([], []) }
        // Counted by first boundary passed; a boundary's total is every count up to it.
        var first = [Int](repeating: 0, count: boundaries.count)
        var kept = first
        for row in try rows(builder.forecast(query, boundaries: boundaries, keptAt: keptAt)) {
            guard row.count == 3, case .integer(let bucket) = row[0], first.indices.contains(Int(bucket)),
                case .integer(let n) = row[2]
            else { continue }
            first[Int(bucket)] += Int(n)
            if case .integer(let k) = row[1], k != 0 { kept[Int(bucket)] += Int(n) }
        }
        func running(_ counts: [Int]) -> [Int] {
            var total = 0
            return counts.map {
                total += $0
                return total
            }
        }
        return (running(first), running(kept))
    }

    public func forecastUndated(_ query: RuleQuery) throws -> Int {
        guard case .integer(let n)? = try rows(builder.forecastUndated(query)).first?.first else { return 0 }
        return Int(n)
    }

    public func standing(_ query: RuleQuery, key: RecordKey, marksKept: Bool) throws -> [SQLValue]? {
        try rows(builder.standing(query, key: key, marksKept: marksKept)).first
    }

    public func relatedRecords(
        _ path: [RelationStep], table: String, keyColumns: [String], key: RecordKey, conditions: [RowCondition],
        columns: [String], limit: Int
    ) throws -> [[SQLValue]] {
        try rows(
            builder.relatedRecords(
                path, subjectTable: table, keyColumns: keyColumns, key: key, conditions: conditions, columns: columns,
                limit: limit))
    }

    public func childRowCount(_ paths: [[ChildLink]], table: String, keyColumns: [String], keys: [RecordKey]) throws
        -> Int
    {
        guard !keys.isEmpty, !paths.isEmpty else { return 0 }
        guard
            case .integer(let count) = try rows(
                builder.countChildren(paths, subjectTable: table, keyColumns: keyColumns, keys: keys)
            ).first?.first
        else { return 0 }
        return Int(count)
    }

    public func childRecords(
        _ path: [ChildLink], table: String, keyColumns: [String], keys: [RecordKey], columns: [String], order: [String]
    ) throws -> [[SQLValue]] {
        guard !keys.isEmpty else { return [] }
        return try rows(
            builder.selectChildren(
                path, subjectTable: table, keyColumns: keyColumns, keys: keys, columns: columns, order: order))
    }

    public func childRowsPerRecord(_ groups: [[[ChildLink]]], table: String, keyColumns: [String], keys: [RecordKey])
        throws -> [RecordKey: [Int]]
    {
        guard !keys.isEmpty, !groups.isEmpty else { return [:] }
        var counts: [RecordKey: [Int]] = [:]
        for row in try rows(builder.childRowsPerRecord(groups, subjectTable: table, keyColumns: keyColumns, keys: keys))
        {
            counts[RecordKey(Array(row[..<keyColumns.count]))] = row[keyColumns.count...].map {
                if case .integer(let n) = $0 { Int(n) } else { 0 }
            }
        }
        return counts
    }

    public func ownedRows(_ link: ChildLink, keys: [RecordKey], keepers: [RowKeeper], columns: [String]) throws
        -> [[SQLValue]]
    {
        guard !keys.isEmpty else { return [] }
        return try rows(builder.selectOwned(link, keys: keys, keepers: keepers, columns: columns))
    }

    public func referencingRows(_ reference: ForeignKey, values: [RecordKey], columns: [String]) throws -> [[SQLValue]]
    {
        guard !values.isEmpty else { return [] }
        let list = columns.map { SQL.qualified("r", $0) }.joined(separator: ", ")
        return try rows(
            "SELECT \(raw: list) FROM \(ident: reference.table) AS r WHERE \(builder.keyIn("r", reference.columns, values))"
        )
    }

    public func auditedReferences(ruleID: String, action: AuditAction, references: [String]) throws -> Set<String> {
        guard !references.isEmpty, try toolTables().audit else { return [] }
        let sql = builder.auditedReferences(
            rule: ruleID, action: action.rawValue, references: references, indexed: try auditRefsExist())
        return Set(try rows(sql).compactMap { $0[0].textValue })
    }

    public func doneTableExists() throws -> Bool { try tableExists("retentiond_done") }

    /// Whether `retentiond_audit_refs` exists: it does once a writing command ran this version.
    func auditRefsExist() throws -> Bool { try tableExists("retentiond_audit_refs") }

    public func refileAuditRefs() throws {
        try execute("DELETE FROM retentiond_audit_refs")
        try execute(builder.fileExistingAuditRefs)
    }

    public func auditRefsMismatch() throws -> (missing: Int, extra: Int) {
        guard try toolTables().audit, try auditRefsExist() else { return (0, 0) }
        func count(_ sql: SQL) throws -> Int {
            guard case .integer(let n)? = try rows(sql).first?.first else { return 0 }
            return Int(n)
        }
        return (try count(builder.unfiledAuditEntries), try count(builder.strayAuditRefs))
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

    // MARK: Audit

    static var auditColumns: String { SQLBuilder.auditColumns }

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

    /// The entries, then their references filed as one segment of `retentiond_audit_refs`.
    public func appendAudit(_ entries: [AuditEntry]) throws {
        try insert(
            into: "retentiond_audit", columns: Self.auditColumns.components(separatedBy: ", "),
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

    public func auditEntries(after: Int64, limit: Int, filter: AuditFilter) throws -> [AuditEntry] {
        guard try toolTables().audit else { return [] }
        let indexed = try filter.subjectRef != nil && auditRefsExist()
        return try rows(builder.auditEntries(after: after, limit: limit, filter: filter, indexed: indexed)).compactMap(
            Self.auditEntry)
    }

    public func auditEntry(seq: Int64) throws -> AuditEntry? {
        guard try toolTables().audit else { return nil }
        return try rows("SELECT \(raw: Self.auditColumns) FROM retentiond_audit WHERE seq = \(.integer(seq))").first
            .flatMap(Self.auditEntry)
    }

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

    public func lastKeyRotation() throws -> Int64? {
        guard try toolTables().audit,
            case .integer(let seq)? = try rows(
                "SELECT max(seq) FROM retentiond_audit WHERE action = \(.text(AuditAction.keyRotated.rawValue))"
            ).first?.first
        else { return nil }
        return seq
    }

    public func trailNamesHeadFile(_ identity: String) throws -> Bool {
        guard try toolTables().audit else { return false }
        let actions = SQL.list([AuditAction.runCompleted, .reanchored, .keyRotated].map { .text($0.rawValue) })
        // The detail is JSON with sorted keys and no spaces; the identity is hexadecimal (no LIKE wildcard).
        let pattern = SQLValue.text("%\"head_file\":\"\(identity)\"%")
        return try !rows(
            "SELECT 1 FROM retentiond_audit WHERE action IN (\(actions)) AND detail LIKE \(pattern) LIMIT 1"
        ).isEmpty
    }

    public func hasAuditEntries(ruleID: String, action: AuditAction) throws -> Bool {
        guard try toolTables().audit else { return false }
        return try !rows(
            "SELECT 1 FROM retentiond_audit WHERE action = \(.text(action.rawValue)) AND rule_id = \(.text(ruleID)) LIMIT 1"
        ).isEmpty
    }

    // MARK: Done marks

    /// The row that says a rule's marks are complete; no canonical key is `*` (they start with `[`).
    static var completeMark: SQLValue { .text("*") }

    public func rulesWithCompleteMarks(among rules: [String]) throws -> Set<String> {
        guard !rules.isEmpty, try doneTableExists() else { return [] }
        // By rule: the key's first column (a scan of every mark otherwise).
        let sql: SQL =
            "SELECT rule_id FROM retentiond_done WHERE rule_id IN (\(SQL.list(rules.map { .text($0) }))) AND record_key = \(Self.completeMark)"
        return Set(try rows(sql).compactMap { $0[0].textValue })
    }

    public func doneCount(ruleID: String) throws -> Int {
        guard try doneTableExists(),
            case .integer(let n)? = try rows(
                "SELECT count(*) FROM retentiond_done WHERE rule_id = \(.text(ruleID)) AND record_key <> \(Self.completeMark)"
            ).first?.first
        else { return 0 }
        return Int(n)
    }

    public func markedRecords(
        ruleID: String, table: String, keyColumns: [String], columns: [String], after: RecordKey?, limit: Int
    ) throws -> [[SQLValue]] {
        guard try doneTableExists() else { return [] }
        let s = "s"
        let select = (keyColumns + columns).map { SQL.qualified(s, $0) }.joined(separator: ", ")
        var sql: SQL =
            "SELECT \(raw: select) FROM \(ident: table) AS s WHERE \(builder.doneMark(rule: ruleID, keyColumns: keyColumns.map { SQL.qualified(s, $0) }))"
        if let after { sql += " AND \(builder.keyAfter(s, keyColumns, after))" }
        sql +=
            " ORDER BY \(raw: keyColumns.map { SQL.qualified(s, $0) }.joined(separator: ", ")) LIMIT \(.integer(Int64(limit)))"
        return try rows(sql)
    }

    public func keys(table: String, keyColumns: [String], after: RecordKey?, limit: Int) throws -> [RecordKey] {
        let columns = keyColumns.map { SQL.qualified("k", $0) }.joined(separator: ", ")
        var sql: SQL = "SELECT \(raw: columns) FROM \(ident: table) AS k"
        if let after { sql += " WHERE \(builder.keyAfter("k", keyColumns, after))" }
        sql += " ORDER BY \(raw: columns) LIMIT \(.integer(Int64(limit)))"
        return try rows(sql).map(RecordKey.init)
    }

    public func markDone(ruleID: String, table: String, keyColumns: [String], keys: [RecordKey]) throws {
        guard !keys.isEmpty else { return }
        try execute(builder.markDone(rule: ruleID, table: table, keyColumns: keyColumns, keys: keys))
    }

    public func unmarkDone(ruleIDs: [String], table: String, keyColumns: [String], keys: [RecordKey]) throws {
        guard !keys.isEmpty, !ruleIDs.isEmpty else { return }
        try execute(builder.unmarkDone(rules: ruleIDs, table: table, keyColumns: keyColumns, keys: keys))
    }

    public func clearDoneMarks() throws {
        if try doneTableExists() { try execute("DELETE FROM retentiond_done") }
    }

    public func completeMarks(ruleID: String) throws {
        try execute(
            "INSERT INTO retentiond_done (rule_id, record_key) VALUES (\(.text(ruleID)), \(Self.completeMark))\(raw: dialect.ignoringDuplicates)"
        )
    }

    // MARK: Holds

    public static var holdColumns: String {
        "id, table_name, record_key, reason, placed_by, placed_at, until, released_by, released_at"
    }

    public static func hold(_ row: [SQLValue]) -> LegalHold? {
        let f = ISO8601DateFormatter()
        guard row.count == 9, case .integer(let id) = row[0], let keyText = row[2].textValue,
            let key = try? JSONDecoder().decode(RecordKey.self, from: Data(keyText.utf8))
        else { return nil }
        return LegalHold(
            id: id, table: row[1].textValue ?? "", key: key, reason: row[3].textValue ?? "",
            placedBy: row[4].textValue ?? "",
            placedAt: row[5].textValue.flatMap { f.date(from: $0) } ?? Date(timeIntervalSince1970: 0),
            until: row[6].textValue.flatMap { f.date(from: $0) }, releasedBy: row[7].textValue,
            releasedAt: row[8].textValue.flatMap { f.date(from: $0) })
    }

    public var keyValueKind: @Sendable (String) -> KeyValueKind { dialect.keyValueKind }

    public func canonicalKeys(table: String, keyColumns: [String], matching lookup: [KeyLookup]) throws -> [String] {
        var conditions: [SQL] = []
        for item in lookup {
            guard let value = item.value else {
                throw StoreFailure("`\(item.text)` is not a value of the \(item.kind) column `\(item.column)`")
            }
            let column = SQL.qualified("p", item.column)
            switch (item.kind, value) {
            case (.other, _):
                conditions.append("\(raw: dialect.textOf(column)) = \(value)")
            case (.integerOrText, .text):
                // SQLite compares `02` with an INTEGER column as the number 2: only text stored as typed names the row.
                conditions.append("\(raw: column) = \(value) AND \(raw: dialect.textOf(column)) = \(value)")
            default:
                conditions.append("\(raw: column) = \(value)")
            }
        }
        let key = dialect.canonicalKey(keyColumns.map { SQL.qualified("p", $0) })
        return try rows(
            "SELECT \(raw: key) FROM \(ident: table) AS p WHERE \(conditions.joined(separator: " AND ")) LIMIT 2"
        )
        .compactMap { $0.first?.textValue }
    }

    public func holdAuditEntries() throws -> [AuditEntry] {
        guard try toolTables().audit else { return [] }
        let actions = SQL.list([AuditAction.holdAdd, .holdRelease, .keyRotated].map { .text($0.rawValue) })
        return try rows(
            "SELECT \(raw: Self.auditColumns) FROM retentiond_audit WHERE action IN (\(actions)) ORDER BY seq"
        ).compactMap(Self.auditEntry)
    }

    public func insertHold(_ hold: LegalHold) throws -> Int64 {
        let values = [
            SQLValue.text(hold.table), .text(hold.key.canonical), .text(hold.reason), .text(hold.placedBy),
            .text(SQLBuilder.holdTime(hold.placedAt)), hold.until.map { .text(SQLBuilder.holdTime($0)) } ?? .null,
        ]
        let sql: SQL =
            "INSERT INTO retentiond_holds (table_name, record_key, reason, placed_by, placed_at, until) VALUES (\(SQL.list(values))) RETURNING id"
        guard case .integer(let id) = try rows(sql).first?.first else { throw StoreFailure("the new hold has no id") }
        return id
    }

    public func holds(includeReleased: Bool) throws -> [LegalHold] {
        guard try toolTables().holds else { return [] }
        let sql =
            "SELECT \(Self.holdColumns) FROM retentiond_holds" + (includeReleased ? "" : " WHERE released_at IS NULL")
            + " ORDER BY id"
        return try rows(sql, []).compactMap(Self.hold)
    }

    public func heldTables(at time: Date) throws -> Set<String> {
        guard try toolTables().holds else { return [] }
        let now = SQLValue.text(SQLBuilder.holdTime(time))
        let sql: SQL =
            "SELECT DISTINCT table_name FROM retentiond_holds WHERE released_at IS NULL AND (until IS NULL OR until > \(now))"
        return Set(try rows(sql).compactMap { $0[0].textValue })
    }

    public func releaseHold(id: Int64, by: String, at: Date) throws -> LegalHold? {
        let sql: SQL =
            "UPDATE retentiond_holds SET released_by = \(.text(by)), released_at = \(.text(SQLBuilder.holdTime(at)))"
            + " WHERE id = \(.integer(id)) AND released_at IS NULL RETURNING \(raw: Self.holdColumns)"
        return try rows(sql).first.flatMap(Self.hold)
    }
}
