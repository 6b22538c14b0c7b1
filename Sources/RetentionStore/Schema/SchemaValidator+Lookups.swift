import Foundation
import RetentionCore

/// Tables, columns and date columns looked up by name, each miss said as a diagnostic.
extension SchemaValidator {
    mutating func tableNamed(_ name: Name) -> TableInfo? {
        if let t = schema.table(name.value) { return t }
        let known = schema.tables.keys.filter { !$0.hasPrefix("retentiond_") }.sorted()
        error(
            name.location, "table `\(name.value)` does not exist in \(database)",
            hint: Suggestion.hint(for: name.value, among: known, listing: "tables") ?? "the database has no tables")
        return nil
    }

    mutating func column(_ table: TableInfo, _ name: Name) -> ColumnInfo? {
        if let c = table.column(name.value) { return c }
        if table.columns.isEmpty {
            // Every table has a column: these are hidden (MariaDB lists only the columns a user holds a privilege on).
            error(
                name.location,
                "the columns of `\(table.name)` are hidden from this database user: it holds no privilege on the table",
                hint:
                    "grant it SELECT on the table (\(schema.advisesBackticks ? "GRANT SELECT ON `database`." + schema.quotedForAdvice(table.name) : "GRANT SELECT ON " + schema.quotedForAdvice(table.name)) TO …), then run `check` again: it lists every other privilege the policy needs"
            )
            return nil
        }
        error(
            name.location, "table `\(table.name)` has no column `\(name.value)`",
            hint: Suggestion.hint(for: name.value, among: table.columns.map(\.name), listing: "columns") ?? "")
        return nil
    }

    /// Resolves a date column's storage (policy's `date_formats`, else the declared type) and
    /// checks sampled values against it. Messages give counts, never the values themselves.
    mutating func dateColumn(_ table: TableInfo, _ name: Name, role: String) -> DateColumn? {
        guard let info = column(table, name) else { return nil }
        let ref = "\(table.name).\(name.value)"
        let storage = policy.dateFormats[ref] ?? info.inferredDateStorage
        let values = (samples[ref] ?? []).filter { !$0.isNull }
        let calendar = policy.storageCalendar
        let bad = values.filter { DateCodec.parse($0, storage: storage, calendar: calendar) == nil }.count
        if bad > 0 {
            error(
                name.location,
                "\(bad) of \(values.count) sampled values of `\(ref)` (\(role)) are not \(storage.rawValue) dates",
                hint:
                    "declare the real format under `date_formats: { \(ref): iso8601 | unix | unix_ms | julian }`, or fix the data"
            )
            return nil
        }
        var layout = DateCodec.TextLayout.local(separator: " ")
        if storage == .iso8601 {
            let layouts = Set(
                values.map { DateCodec.layout(of: $0) }.map { l -> DateCodec.TextLayout in
                    l == .date ? .local(separator: " ") : l
                })
            if layouts.count > 1 {
                error(
                    name.location,
                    "`\(ref)` mixes ISO-8601 layouts (`T` or space separators, with or without `Z`), which do not compare correctly as text",
                    hint: "normalise the column to one layout")
                return nil
            }
            layout = layouts.first ?? .local(separator: " ")
            if values.allSatisfy({ DateCodec.layout(of: $0) == .date }) && !values.isEmpty { layout = .date }
        }
        return DateColumn(name: name.value, storage: storage, layout: layout)
    }

    mutating func error(_ at: SourceLocation, _ message: String, hint: String? = nil) {
        diagnostics.append(.error(at, message, hint: hint?.isEmpty == true ? nil : hint))
    }
}
