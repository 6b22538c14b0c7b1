import RetentionCore
import RetentionStore

/// What the connecting role may do, asked of the server before a run needs it: `check` lists
/// every privilege missing at once, with the GRANT statements to run.
extension PostgresSession {
    /// Asks the server, need by need, whether the current role holds the privilege (table
    /// privileges, column privileges for updates, a sequence's or a schema's).
    func privileges(_ needs: [PrivilegeNeed]) throws -> PrivilegeReport {
        let current = try rows("SELECT current_user::text, current_schema()::text").first
        let role = current?[0].textValue ?? "current_user"
        var missing: [PrivilegeNeed] = []
        for var need in needs {
            if need.object == .schema && need.table.isEmpty { need.table = current?[1].textValue ?? "public" }
            let name = SQLValue.text(SQL.quote(need.table))
            let kind = SQLValue.text(need.kind.rawValue)
            let sql: SQL =
                switch (need.object, need.column) {
                case (.table, _) where need.anyColumn: "SELECT has_any_column_privilege(\(name), \(kind))::int"
                case (.table, let column?): "SELECT has_column_privilege(\(name), \(.text(column)), \(kind))::int"
                case (.table, nil): "SELECT has_table_privilege(\(name), \(kind))::int"
                case (.sequence, _): "SELECT has_sequence_privilege(\(name), \(kind))::int"
                case (.schema, _): "SELECT has_schema_privilege(\(.text(need.table)), \(kind))::int"
                }
            if try rows(sql).first?.first != .integer(1) { missing.append(need) }
        }
        return PrivilegeReport(role: role, missing: missing)
    }

    /// The roles that can log in and may SELECT from one of `tables` (of the current schema), by
    /// a grant, a membership or ownership; superusers, who may read everything, marked so.
    func readers(of tables: [String]) throws -> [TableReader] {
        guard !tables.isEmpty else { return [] }
        let names = SQL.list(tables.map { SQLValue.text(SQL.quote($0)) })
        let sql: SQL = """
            SELECT r.rolname::text, r.rolsuper::int FROM pg_roles AS r
            WHERE r.rolcanlogin AND (r.rolsuper OR EXISTS (
                SELECT 1 FROM unnest(ARRAY[\(names)]::text[]) AS t(name)
                WHERE to_regclass(t.name) IS NOT NULL AND has_table_privilege(r.oid, to_regclass(t.name), 'SELECT')))
            ORDER BY r.rolname
            """
        return try rows(sql).map { TableReader(name: $0[0].textValue ?? "?", everything: $0[1] == .integer(1)) }
    }
}
