import RetentionCore
import RetentionStore

/// Planner statistics. PostgreSQL chooses each statement's plan from them; a table never analyzed
/// (just restored or bulk-loaded, before autovacuum came by) is taken for nearly empty, and a
/// relation's `NOT EXISTS` may then be planned as a scan of the related table once per record:
/// seconds become hours as tables grow.
extension PostgresSession {
    /// Only tables the role may read: pg_stats hides the others' statistics, and the privilege
    /// check names what is missing there.
    func tablesWithoutStatistics(among tables: [String]) throws -> [String] {
        guard !tables.isEmpty else { return [] }
        let never = try rows(
            """
            SELECT c.relname::text FROM pg_class AS c JOIN pg_namespace AS n ON n.oid = c.relnamespace
            WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p') AND c.relname IN (\(SQL.list(tables.map { .text($0) })))
            AND has_any_column_privilege(c.oid, 'SELECT')
            AND NOT EXISTS (SELECT 1 FROM pg_stats AS s WHERE s.schemaname = n.nspname AND s.tablename = c.relname)
            ORDER BY 1
            """
        ).compactMap { $0.first?.textValue }
        // An empty table has no column statistics even once analyzed, and nothing to mislead with.
        return try never.filter {
            try rows("SELECT EXISTS (SELECT 1 FROM \(ident: $0))::int").first?.first == .integer(1)
        }
    }

    /// `ANALYZE`: reads a sample of each table and changes no row. Only a table's owner may; for
    /// another role PostgreSQL skips the table with a warning, and it stays without statistics.
    func analyze(tables: [String]) throws {
        guard !tables.isEmpty else { return }
        _ = try execute("ANALYZE " + tables.map(SQL.quote).joined(separator: ", "), [])
    }
}
