import Foundation
import RetentionCore
import RetentionStore

/// What `check` reads of a MariaDB database: its tables, columns, keys and indexes from
/// information_schema, and what the connecting user may do.
extension MariaDBSession {
    func schema() throws -> SchemaSnapshot {
        // With the engine of each table that cannot roll back (MyISAM, Aria, MEMORY…).
        var nonTransactional: [String: String] = [:]
        let tableNames = try rows("""
            SELECT t.table_name, CASE WHEN e.transactions = 'YES' THEN NULL ELSE t.engine END
            FROM information_schema.tables AS t LEFT JOIN information_schema.engines AS e ON e.engine = t.engine
            WHERE t.table_schema = DATABASE() AND t.table_type = 'BASE TABLE' ORDER BY t.table_name
            """, []).compactMap { row -> String? in
            guard let name = row[0].textValue else { return nil }
            nonTransactional[name] = row[1].textValue
            return name
        }
        var columns: [String: [ColumnInfo]] = [:]
        for row in try rows("""
            SELECT table_name, column_name, data_type, is_nullable, collation_name FROM information_schema.columns
            WHERE table_schema = DATABASE() ORDER BY table_name, ordinal_position
            """, []) {
            let type = row[2].textValue?.lowercased() ?? ""
            // DATETIME holds wall-clock time (as PostgreSQL's timestamp); TIMESTAMP an instant, read in
            // the session's time zone, UTC.
            let native: DateStorage? = switch type {
            case "date": .date
            case "datetime": .timestamp
            case "timestamp": .timestamptz
            default: nil
            }
            columns[row[0].textValue ?? "", default: []].append(
                ColumnInfo(name: row[1].textValue ?? "", declaredType: type, notNull: row[3].textValue == "NO", nativeDateStorage: native,
                           comparesCaseInsensitively: row[4].textValue?.hasSuffix("_ci") == true))
        }
        // A prefix index (`sub_part`) still finds rows by the column; a unique one keeps the whole column unique.
        var indexes: [String: [String: (unique: Bool, columns: [String])]] = [:]
        for row in try rows("""
            SELECT table_name, index_name, non_unique, column_name FROM information_schema.statistics
            WHERE table_schema = DATABASE() ORDER BY table_name, index_name, seq_in_index
            """, []) {
            let table = row[0].textValue ?? "", index = row[1].textValue ?? ""
            var entry = indexes[table, default: [:]][index] ?? (row[2] == .integer(0), [])
            entry.columns.append(row[3].textValue ?? "")
            indexes[table, default: [:]][index] = entry
        }
        var foreignKeys: [String: [String: (referenced: String, from: [String], to: [String])]] = [:]
        for row in try rows("""
            SELECT constraint_name, table_name, referenced_table_name, column_name, referenced_column_name
            FROM information_schema.key_column_usage
            WHERE table_schema = DATABASE() AND referenced_table_schema = DATABASE() AND referenced_table_name IS NOT NULL
            ORDER BY table_name, constraint_name, ordinal_position
            """, []) {
            let name = row[0].textValue ?? "", table = row[1].textValue ?? ""
            var entry = foreignKeys[table, default: [:]][name] ?? (row[2].textValue ?? "", [], [])
            entry.from.append(row[3].textValue ?? "")
            entry.to.append(row[4].textValue ?? "")
            foreignKeys[table, default: [:]][name] = entry
        }
        var snapshot = SchemaSnapshot(tables: tableNames.map { name in
            let tableIndexes = indexes[name] ?? [:]
            return TableInfo(
                name: name, columns: columns[name] ?? [],
                primaryKey: tableIndexes["PRIMARY"]?.columns ?? [],
                foreignKeys: (foreignKeys[name] ?? [:]).sorted { $0.key < $1.key }.map {
                    ForeignKey(table: name, columns: $0.value.from, referencedTable: $0.value.referenced, referencedColumns: $0.value.to)
                },
                indexes: tableIndexes.sorted { $0.key < $1.key }.map { IndexInfo(name: $0.key, columns: $0.value.columns, unique: $0.value.unique) },
                nonTransactionalEngine: nonTransactional[name])
        })
        snapshot.advisesBackticks = true
        snapshot.indexesExpressions = false
        return snapshot
    }

    /// Whether the user holds each privilege: on every database (`*.*`), on this one (`db.*`), on
    /// the table, or — for an `UPDATE` of one column — on that column, as information_schema lists
    /// the grants of the current user. MariaDB numbers rows with AUTO_INCREMENT: no sequence to grant.
    func privileges(_ needs: [PrivilegeNeed]) throws -> PrivilegeReport {
        guard let current = try rows("SELECT CURRENT_USER(), DATABASE()", []).first, let user = current[0].textValue,
              let database = current[1].textValue, let at = user.lastIndex(of: "@") else {
            return PrivilegeReport(role: nil, missing: [])
        }
        let grantee = "'\(user[..<at])'@'\(user[user.index(after: at)...])'"
        let global = Set(try rows("SELECT privilege_type FROM information_schema.user_privileges WHERE grantee = ?", [.text(grantee)]).compactMap { $0[0].textValue })
        let onDatabase = Set(try rows("SELECT privilege_type FROM information_schema.schema_privileges WHERE grantee = ? AND table_schema = ?",
                                      [.text(grantee), .text(database)]).compactMap { $0[0].textValue })
        var onTable: [String: Set<String>] = [:]
        for row in try rows("SELECT table_name, privilege_type FROM information_schema.table_privileges WHERE grantee = ? AND table_schema = ?", [.text(grantee), .text(database)]) {
            onTable[row[0].textValue ?? "", default: []].insert(row[1].textValue ?? "")
        }
        var onColumn: [String: Set<String>] = [:]
        for row in try rows("SELECT table_name, column_name, privilege_type FROM information_schema.column_privileges WHERE grantee = ? AND table_schema = ?", [.text(grantee), .text(database)]) {
            onColumn["\(row[0].textValue ?? "")\u{0}\(row[1].textValue ?? "")", default: []].insert(row[2].textValue ?? "")
        }
        let missing = needs.filter { need in
            let kind = need.kind.rawValue
            if global.contains(kind) || onDatabase.contains(kind) { return false }
            switch need.object {
            case .sequence: return false
            case .schema: return true
            case .table:
                if onTable[need.table]?.contains(kind) == true { return false }
                if need.anyColumn { return !onColumn.contains { $0.key.hasPrefix(need.table + "\u{0}") && $0.value.contains(kind) } }
                if let column = need.column { return onColumn["\(need.table)\u{0}\(column)"]?.contains(kind) != true }
                return true
            }
        }
        return PrivilegeReport(role: user, missing: missing, grantTarget: .mariadb(database: database))
    }
}
