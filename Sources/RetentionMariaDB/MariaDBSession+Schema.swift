import Foundation
import RetentionCore
import RetentionStore

/// What `check` reads of a MariaDB database: its tables, columns, keys and indexes from
/// information_schema, and what the connecting user may do.
extension MariaDBSession {
    func schema() throws -> SchemaSnapshot {
        // With the engine of each table that cannot roll back (MyISAM, Aria, MEMORY…).
        var nonTransactional: [String: String] = [:]
        let tableNames = try rows(
            """
            SELECT t.table_name, CASE WHEN e.transactions = 'YES' THEN NULL ELSE t.engine END
            FROM information_schema.tables AS t LEFT JOIN information_schema.engines AS e ON e.engine = t.engine
            WHERE t.table_schema = DATABASE() AND t.table_type = 'BASE TABLE' ORDER BY t.table_name
            """, []
        ).compactMap { row -> String? in
            guard let name = row[0].textValue else { return nil }
            nonTransactional[name] = row[1].textValue
            return name
        }
        var columns: [String: [ColumnInfo]] = [:]
        for row in try rows(
            """
            SELECT table_name, column_name, data_type, is_nullable, collation_name, LOWER(extra) LIKE '%on update%', column_type FROM information_schema.columns
            WHERE table_schema = DATABASE() ORDER BY table_name, ordinal_position
            """, [])
        {
            let type = row[2].textValue?.lowercased() ?? ""
            // DATETIME holds wall-clock time (as PostgreSQL's timestamp); TIMESTAMP an instant, read in
            // the session's time zone, UTC.
            let native: DateStorage? =
                switch type {
                case "date": .date
                case "datetime": .timestamp
                case "timestamp": .timestamptz
                default: nil
                }
            var column = ColumnInfo(
                name: row[1].textValue ?? "", declaredType: type, notNull: row[3].textValue == "NO",
                nativeDateStorage: native,
                comparesCaseInsensitively: row[4].textValue?.hasSuffix("_ci") == true,
                setOnUpdate: row[5] == .integer(1))
            column.fullType = row[6].textValue
            columns[row[0].textValue ?? "", default: []].append(column)
        }
        // A prefix index (`sub_part`) still finds rows by the column; a unique one keeps the whole column unique.
        var indexes: [String: [String: (unique: Bool, columns: [String])]] = [:]
        for row in try rows(
            """
            SELECT table_name, index_name, non_unique, column_name FROM information_schema.statistics
            WHERE table_schema = DATABASE() ORDER BY table_name, index_name, seq_in_index
            """, [])
        {
            let table = row[0].textValue ?? ""
            let index = row[1].textValue ?? ""
            var entry = indexes[table, default: [:]][index] ?? (row[2] == .integer(0), [])
            entry.columns.append(row[3].textValue ?? "")
            indexes[table, default: [:]][index] = entry
        }
        var foreignKeys: [String: [String: (referenced: String, from: [String], to: [String])]] = [:]
        for row in try rows(
            """
            SELECT constraint_name, table_name, referenced_table_name, column_name, referenced_column_name
            FROM information_schema.key_column_usage
            WHERE table_schema = DATABASE() AND referenced_table_schema = DATABASE() AND referenced_table_name IS NOT NULL
            ORDER BY table_name, constraint_name, ordinal_position
            """, [])
        {
            let name = row[0].textValue ?? ""
            let table = row[1].textValue ?? ""
            var entry = foreignKeys[table, default: [:]][name] ?? (row[2].textValue ?? "", [], [])
            entry.from.append(row[3].textValue ?? "")
            entry.to.append(row[4].textValue ?? "")
            foreignKeys[table, default: [:]][name] = entry
        }
        var snapshot = SchemaSnapshot(
            tables: tableNames.map { name in
                let tableIndexes = indexes[name] ?? [:]
                return TableInfo(
                    name: name, columns: columns[name] ?? [],
                    primaryKey: tableIndexes["PRIMARY"]?.columns ?? [],
                    foreignKeys: (foreignKeys[name] ?? [:]).sorted { $0.key < $1.key }.map {
                        ForeignKey(
                            table: name, columns: $0.value.from, referencedTable: $0.value.referenced,
                            referencedColumns: $0.value.to)
                    },
                    indexes: tableIndexes.sorted { $0.key < $1.key }.map {
                        IndexInfo(name: $0.key, columns: $0.value.columns, unique: $0.value.unique)
                    },
                    nonTransactionalEngine: nonTransactional[name])
            })
        snapshot.advisesBackticks = true
        snapshot.indexesExpressions = false
        return snapshot
    }

    /// Whether the user holds each privilege: on every database (`*.*`), on this one (`db.*`), on
    /// the table, or — for an `UPDATE` of one column — on that column, as information_schema lists
    /// the grants of the current user, or as its enabled role holds it (`SET DEFAULT ROLE`), whose
    /// grants information_schema does not list: read from `SHOW GRANTS FOR CURRENT_ROLE`. MariaDB
    /// numbers rows with AUTO_INCREMENT (no sequence to grant), and locks rows with SELECT alone
    /// (no UPDATE asked for `FOR UPDATE`).
    /// The accounts and roles granted SELECT on every table (globally), on this database or on one
    /// of `tables`, as information_schema shows them to the connecting account (all of them to one
    /// that may read the `mysql` database; its own grants only, otherwise).
    func readers(of tables: [String]) throws -> [TableReader] {
        guard !tables.isEmpty else { return [] }
        let sql: SQL = """
            SELECT GRANTEE, 1 FROM information_schema.USER_PRIVILEGES WHERE PRIVILEGE_TYPE = 'SELECT'
            UNION SELECT GRANTEE, 0 FROM information_schema.SCHEMA_PRIVILEGES WHERE TABLE_SCHEMA = DATABASE() AND PRIVILEGE_TYPE = 'SELECT'
            UNION SELECT GRANTEE, 0 FROM information_schema.TABLE_PRIVILEGES
                WHERE TABLE_SCHEMA = DATABASE() AND PRIVILEGE_TYPE = 'SELECT' AND TABLE_NAME IN (\(SQL.list(tables.map(SQLValue.text))))
            """
        var found: [String: Bool] = [:]
        for row in try rows(sql) {
            guard let name = row[0].textValue else { continue }
            found[name] = (found[name] ?? false) || row[1] == .integer(1)
        }
        return found.sorted { $0.key < $1.key }.map { TableReader(name: $0.key, everything: $0.value) }
    }

    func privileges(_ needs: [PrivilegeNeed]) throws -> PrivilegeReport {
        var needs = needs.filter { !$0.anyColumn && $0.object != .sequence }
        // A done mark written twice is kept once by `INSERT … ON DUPLICATE KEY UPDATE`, which asks for UPDATE.
        if needs.contains(PrivilegeNeed(table: "retentiond_done", kind: .insert)) {
            needs.append(PrivilegeNeed(table: "retentiond_done", kind: .update))
        }
        guard let current = try rows("SELECT CURRENT_USER(), DATABASE(), CURRENT_ROLE()", []).first,
            let user = current[0].textValue,
            let database = current[1].textValue, let at = user.lastIndex(of: "@")
        else {
            return PrivilegeReport(role: nil, missing: [])
        }
        let grantee = "'\(user[..<at])'@'\(user[user.index(after: at)...])'"
        var held = HeldPrivileges()
        held.everywhere = Set(
            try rows(
                "SELECT privilege_type FROM information_schema.user_privileges WHERE grantee = ?", [.text(grantee)]
            ).compactMap { $0[0].textValue })
        held.onDatabase = Set(
            try rows(
                "SELECT privilege_type FROM information_schema.schema_privileges WHERE grantee = ? AND table_schema = ?",
                [.text(grantee), .text(database)]
            ).compactMap { $0[0].textValue })
        for row in try rows(
            "SELECT table_name, privilege_type FROM information_schema.table_privileges WHERE grantee = ? AND table_schema = ?",
            [.text(grantee), .text(database)])
        {
            held.onTable[row[0].textValue ?? "", default: []].insert(row[1].textValue ?? "")
        }
        for row in try rows(
            "SELECT table_name, column_name, privilege_type FROM information_schema.column_privileges WHERE grantee = ? AND table_schema = ?",
            [.text(grantee), .text(database)])
        {
            held.onColumn["\(row[0].textValue ?? "")\u{0}\(row[1].textValue ?? "")", default: []].insert(
                row[2].textValue ?? "")
        }
        // MariaDB's syntax (MySQL 8 says `SHOW GRANTS … USING role` and `NONE` for no role): where
        // the server refuses it, the role's grants are not read, and `check` lists them as missing.
        if current[2] != .null, let grants = try? connection.execute("SHOW GRANTS FOR CURRENT_ROLE").rows {
            for row in grants {
                if let line = row.first?.textValue, let grant = Self.grant(line) { held.add(grant, database: database) }
            }
        }
        let missing = needs.filter { !held.holds($0) }
        return PrivilegeReport(role: user, missing: missing, grantTarget: .mariadb(database: database))
    }

    /// The privileges a user holds, from wherever they come.
    struct HeldPrivileges {
        var everywhere: Set<String> = [], onDatabase: Set<String> = []
        var onTable: [String: Set<String>] = [:], onColumn: [String: Set<String>] = [:]

        mutating func add(
            _ grant: (privileges: [(kind: String, columns: [String])], database: String, table: String),
            database: String
        ) {
            guard grant.database == "*" || grant.database == database else { return }
            for (kind, columns) in grant.privileges {
                let kinds =
                    kind == "ALL PRIVILEGES" || kind == "ALL"
                    ? Set(PrivilegeNeed.Kind.allCases.map(\.rawValue)) : [kind]
                switch (grant.database, grant.table) {
                case ("*", _): everywhere.formUnion(kinds)
                case (_, "*"): onDatabase.formUnion(kinds)
                case (_, let table) where columns.isEmpty: onTable[table, default: []].formUnion(kinds)
                case (_, let table):
                    for column in columns { onColumn["\(table)\u{0}\(column)", default: []].formUnion(kinds) }
                }
            }
        }

        func holds(_ need: PrivilegeNeed) -> Bool {
            let kind = need.kind.rawValue
            if everywhere.contains(kind) || onDatabase.contains(kind) { return true }
            switch need.object {
            case .sequence: return true
            case .schema: return false
            case .table:
                if onTable[need.table]?.contains(kind) == true { return true }
                guard let column = need.column else { return false }
                return onColumn["\(need.table)\u{0}\(column)"]?.contains(kind) == true
            }
        }
    }

    /// One line of `SHOW GRANTS`: ``GRANT SELECT, UPDATE (`a`, `b`) ON `db`.`t` TO `role` `` (names
    /// in double quotes under the session's ANSI mode) as its privileges (with their columns) and
    /// object (`*` for all); nil for other lines (roles granted, `SET DEFAULT ROLE`).
    static func grant(_ line: String) -> (
        privileges: [(kind: String, columns: [String])], database: String, table: String
    )? {
        let c = Array(line)
        guard line.hasPrefix("GRANT ") else { return nil }
        var i = 6
        /// A quoted name at `i` (the quote doubled inside), unquoted; `*` as is.
        func name() -> String? {
            if i < c.count, c[i] == "*" {
                i += 1
                return "*"
            }
            guard i < c.count, c[i] == "`" || c[i] == "\"" else { return nil }
            let quote = c[i]
            var text = ""
            i += 1
            while i < c.count {
                if c[i] == quote {
                    if i + 1 < c.count, c[i + 1] == quote {
                        text.append(quote)
                        i += 2
                        continue
                    }
                    i += 1
                    return text
                }
                text.append(c[i])
                i += 1
            }
            return nil
        }
        var privileges: [(kind: String, columns: [String])] = []
        var kind = ""
        var columns: [String] = []
        var inColumns = false
        while i < c.count {
            if !inColumns, String(c[i..<min(i + 4, c.count)]) == " ON " {
                privileges.append((kind.trimmingCharacters(in: .whitespaces), columns))
                i += 4
                guard let database = name(), i < c.count, c[i] == "." else { return nil }
                i += 1
                guard let table = name(), !privileges.contains(where: { $0.kind.isEmpty }) else { return nil }
                return (privileges, database, table)
            }
            switch c[i] {
            case "`" where inColumns, "\"" where inColumns:
                guard let column = name() else { return nil }
                columns.append(column)
                continue
            case "(": inColumns = true
            case ")": inColumns = false
            case "," where !inColumns:
                privileges.append((kind.trimmingCharacters(in: .whitespaces), columns))
                (kind, columns) = ("", [])
            default: if !inColumns { kind.append(c[i]) }
            }
            i += 1
        }
        return nil
    }
}
