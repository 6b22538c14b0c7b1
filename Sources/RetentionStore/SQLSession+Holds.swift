import Foundation
import RetentionCore

/// Legal holds (`retentiond_holds`) in SQL.
extension StoreSession {
    /// The holds table's columns, in the order `hold(_:)` reads them.
    public static var holdColumns: [String] {
        ["id", "table_name", "record_key", "reason", "placed_by", "placed_at", "until", "released_by", "released_at"]
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

    /// How key values of a column with this declared type are typed.
    public var keyValueKind: @Sendable (String) -> KeyValueKind { dialect.keyValueKind }

    /// The canonical key texts (`RecordKey.canonical` of `keyColumns`, computed by the database as
    /// hold matching does) of the rows of `table` whose columns equal what an operator typed; at most two.
    public func canonicalKeys(table: String, keyColumns: [String], matching lookup: [KeyLookup]) throws -> [String] {
        var conditions: [SQL] = []
        for item in lookup {
            guard let value = item.value else {
                throw StoreFailure("`\(item.text)` is not a value of the \(item.kind) column `\(item.column)`")
            }
            let column: SQL = "\(column: item.column, of: "p")"
            let asText: SQL = "\(raw: dialect.textOf(SQL.qualified("p", item.column)))"
            switch (item.kind, value) {
            case (.other, _):
                conditions.append("\(asText) = \(value)")
            case (.integerOrText, .text):
                // SQLite compares `02` with an INTEGER column as the number 2: only text stored as typed names the row.
                conditions.append("\(column) = \(value) AND \(asText) = \(value)")
            default:
                conditions.append("\(column) = \(value)")
            }
        }
        let key = dialect.canonicalKey(keyColumns.map { SQL.qualified("p", $0) })
        return try rows(
            "SELECT \(raw: key) FROM \(ident: table) AS p WHERE \(conditions.joined(separator: " AND ")) LIMIT 2"
        )
        .compactMap { $0.first?.textValue }
    }

    /// Every `hold-add`, `hold-release` and `audit-key-rotated` entry of the trail, oldest first
    /// (a rotation restates every hold after it, under the new key).
    public func holdAuditEntries() throws -> [AuditEntry] {
        guard try toolTables().audit else { return [] }
        let actions = SQL.list([AuditAction.holdAdd, .holdRelease, .keyRotated].map { .text($0.rawValue) })
        return try rows(
            "SELECT \(idents: Self.auditColumnNames) FROM retentiond_audit WHERE action IN (\(actions)) ORDER BY seq"
        ).compactMap(Self.auditEntry)
    }

    public func holds(includeReleased: Bool) throws -> [LegalHold] {
        guard try toolTables().holds else { return [] }
        let sql: SQL =
            "SELECT \(idents: Self.holdColumns) FROM retentiond_holds"
            + (includeReleased ? "" : " WHERE released_at IS NULL") + " ORDER BY id"
        return try rows(sql).compactMap(Self.hold)
    }

    /// The tables with a retentiond hold in force at `time` (none before the tool's tables exist).
    public func heldTables(at time: Date) throws -> Set<String> {
        guard try toolTables().holds else { return [] }
        let now = SQLValue.text(SQLBuilder.holdTime(time))
        let sql: SQL =
            "SELECT DISTINCT table_name FROM retentiond_holds WHERE released_at IS NULL AND (until IS NULL OR until > \(now))"
        return Set(try rows(sql).compactMap { $0[0].textValue })
    }

}

extension WritingSession {
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

    public func releaseHold(id: Int64, by: String, at: Date) throws -> LegalHold? {
        let sql: SQL =
            "UPDATE retentiond_holds SET released_by = \(.text(by)), released_at = \(.text(SQLBuilder.holdTime(at)))"
            + " WHERE id = \(.integer(id)) AND released_at IS NULL RETURNING \(idents: Self.holdColumns)"
        return try rows(sql).first.flatMap(Self.hold)
    }
}
