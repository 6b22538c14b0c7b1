import Foundation
import Logging
import NIOCore
import PostgresNIO
import RetentionCore
import RetentionStore

/// The live schema as `check` and planning see it, from the catalog.
extension PostgresSession {
    func schema() throws -> SchemaSnapshot {
        // The search path leaves out every schema the role may not use: without USAGE on the one
        // holding the tables, there is no current schema, and every table would seem missing.
        let current = try rows("SELECT current_schema()::text, current_user::text, current_setting('search_path')", [])
            .first
        guard current?[0].textValue != nil else {
            let role = current?[1].textValue ?? "?"
            let path = current?[2].textValue ?? "?"
            throw StoreFailure(
                "role `\(role)` may use no schema of its search_path (\(path)), so it sees no table: grant it USAGE on the schema holding the tables, as their owner (`GRANT USAGE ON SCHEMA public TO \(SQL.quote(role))`), then run `retentiond check` for the rest"
            )
        }
        let tableNames = try rows(
            """
            SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p') ORDER BY c.relname
            """, []
        ).compactMap { $0[0].textValue }
        var columns: [String: [ColumnInfo]] = [:]
        // From the catalog, which every role may read: information_schema.columns hides the columns
        // of a table the role holds no privilege on, and `check` would report them missing instead of
        // listing the GRANT it needs. The type is named as information_schema's `data_type` names it.
        for row in try rows(
            """
            SELECT c.relname::text, a.attname::text,
                   CASE WHEN b.typelem <> 0 AND b.typlen = -1 THEN 'ARRAY'
                        WHEN bn.nspname = 'pg_catalog' THEN format_type(b.oid, NULL)
                        ELSE 'USER-DEFINED' END,
                   CASE WHEN a.attnotnull OR (t.typtype = 'd' AND t.typnotnull) THEN 'NO' ELSE 'YES' END,
                   CASE WHEN bn.nspname = 'pg_catalog' THEN format_type(b.oid, CASE WHEN t.typtype = 'd' THEN t.typtypmod ELSE a.atttypmod END)
                        ELSE 'text' END
            FROM pg_attribute AS a
            JOIN pg_class AS c ON c.oid = a.attrelid
            JOIN pg_namespace AS n ON n.oid = c.relnamespace
            JOIN pg_type AS t ON t.oid = a.atttypid
            JOIN pg_type AS b ON b.oid = CASE WHEN t.typtype = 'd' THEN t.typbasetype ELSE t.oid END
            JOIN pg_namespace AS bn ON bn.oid = b.typnamespace
            WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p') AND a.attnum > 0 AND NOT a.attisdropped
            ORDER BY c.relname, a.attnum
            """, [])
        {
            let type = row[2].textValue ?? ""
            let native: DateStorage? =
                switch type {
                case "date": .date
                case "timestamp without time zone": .timestamp
                case "timestamp with time zone": .timestamptz
                default: nil
                }
            var column = ColumnInfo(
                name: row[1].textValue ?? "", declaredType: type, notNull: row[3].textValue == "NO",
                nativeDateStorage: native)
            // A type of the application's own (an enum, a composite) is archived as its text form.
            column.fullType = row[4].textValue
            columns[row[0].textValue ?? "", default: []].append(column)
        }
        var indexes: [String: [String: (unique: Bool, primary: Bool, columns: [String])]] = [:]
        for row in try rows(
            """
            SELECT t.relname::text, i.relname::text, ix.indisunique, ix.indisprimary, a.attname::text,
                   CASE WHEN k.attnum = 0 THEN pg_get_indexdef(ix.indexrelid, k.ord::int, true) END
            FROM pg_index ix
            JOIN pg_class t ON t.oid = ix.indrelid
            JOIN pg_class i ON i.oid = ix.indexrelid
            JOIN pg_namespace n ON n.oid = t.relnamespace
            CROSS JOIN LATERAL unnest(ix.indkey) WITH ORDINALITY AS k(attnum, ord)
            LEFT JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.attnum AND k.attnum > 0
            WHERE n.nspname = current_schema()
            ORDER BY t.relname, i.relname, k.ord
            """, [])
        {
            let table = row[0].textValue ?? ""
            let index = row[1].textValue ?? ""
            var entry = indexes[table, default: [:]][index] ?? (row[2] == .integer(1), row[3] == .integer(1), [])
            // An expression key (attnum 0): only LOWER(column) is kept; the index's later keys are
            // then left out as well, since a key that is not kept ends what the index is known to serve.
            if let column = row[4].textValue {
                entry.columns.append(column)
            } else if let key = row[5].textValue.flatMap(IndexInfo.lowerKey), entry.columns.isEmpty {
                entry.columns.append(IndexInfo.lower(key))
            } else {
                entry.columns.append("")
            }
            indexes[table, default: [:]][index] = entry
        }
        var foreignKeys: [String: [String: (referenced: String, from: [String], to: [String])]] = [:]
        for row in try rows(
            """
            SELECT con.conname::text, t.relname::text, rt.relname::text, a.attname::text, ra.attname::text
            FROM pg_constraint con
            JOIN pg_class t ON t.oid = con.conrelid
            JOIN pg_class rt ON rt.oid = con.confrelid
            JOIN pg_namespace n ON n.oid = t.relnamespace
            CROSS JOIN LATERAL unnest(con.conkey, con.confkey) WITH ORDINALITY AS k(attnum, rattnum, ord)
            JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.attnum
            JOIN pg_attribute ra ON ra.attrelid = rt.oid AND ra.attnum = k.rattnum
            WHERE con.contype = 'f' AND n.nspname = current_schema()
            ORDER BY con.conname, k.ord
            """, [])
        {
            let name = row[0].textValue ?? ""
            let table = row[1].textValue ?? ""
            var entry = foreignKeys[table, default: [:]][name] ?? (row[2].textValue ?? "", [], [])
            entry.from.append(row[3].textValue ?? "")
            entry.to.append(row[4].textValue ?? "")
            foreignKeys[table, default: [:]][name] = entry
        }
        return SchemaSnapshot(
            tables: tableNames.map { name in
                let tableIndexes = indexes[name] ?? [:]
                return TableInfo(
                    name: name, columns: columns[name] ?? [],
                    primaryKey: tableIndexes.values.first { $0.primary }?.columns ?? [],
                    foreignKeys: (foreignKeys[name] ?? [:]).sorted { $0.key < $1.key }.map {
                        RetentionStore.ForeignKey(
                            table: name, columns: $0.value.from, referencedTable: $0.value.referenced,
                            referencedColumns: $0.value.to)
                    },
                    indexes: tableIndexes.sorted { $0.key < $1.key }.map {
                        IndexInfo(name: $0.key, columns: $0.value.columns, unique: $0.value.unique)
                    })
            })
    }
}
