import Foundation
import RetentionCore

/// A rule's anonymised fields against the table they change.
extension SchemaValidator {
    /// Anonymised fields of `table`: they exist, are not part of `key`, and their strategy fits
    /// the column (NOT NULL, unique, date). Returns the storage of the `year` fields.
    mutating func validateFields(_ fields: [FieldStrategy], of table: TableInfo, key: [String], owner: String)
        -> [String: DateColumn]?
    {
        var ok = true
        var fieldDates: [String: DateColumn] = [:]
        for field in fields {
            guard let c = column(table, field.column) else {
                ok = false
                continue
            }
            if key.contains(field.column.value) {
                error(
                    field.column.location, "`\(field.column.value)` is part of \(owner) and cannot be anonymised",
                    hint: "records are found by their key; purge the record instead")
                ok = false
            }
            if c.notNull, field.strategy == .null {
                error(
                    field.column.location,
                    "`\(table.name).\(field.column.value)` is NOT NULL, so it cannot be set to null",
                    hint: "use `{ constant: \"…\" }` or `pseudonym`")
                ok = false
            }
            if table.isUniqueColumn(field.column.value), Self.collides(field.strategy) {
                error(
                    field.column.location,
                    "`\(table.name).\(field.column.value)` has a unique index, and `\(field.strategy.name)` gives many records the same value, so the update would fail",
                    hint: "use `null` or `pseudonym` for unique columns")
                ok = false
            }
            if let most = c.maximumCharacters, let written = Self.charactersWritten(by: field.strategy),
                written > most
            {
                error(
                    field.column.location,
                    "`\(table.name).\(field.column.value)` holds at most \(most) characters (\(c.fullType ?? "")), and `\(field.strategy.name)` writes \(written): PostgreSQL would cut the value to fit, MariaDB refuse it and stop the run",
                    hint: field.strategy.name == "pseudonym"
                        ? "shorten the pseudonym's prefix or length to \(most) characters together, or widen the column"
                        : "use a constant of at most \(most) characters, or `null`")
                ok = false
            }
            if field.strategy == .year {
                if let date = dateColumn(table, field.column, role: "year strategy") {
                    fieldDates[field.column.value] = date
                } else {
                    ok = false
                }
            }
        }
        return ok ? fieldDates : nil
    }

    /// How many characters a strategy writes whatever the value it replaces, when that is fixed.
    static func charactersWritten(by strategy: AnonymisationStrategy) -> Int? {
        switch strategy {
        case .constant(let value): return value.textValue.map { $0.unicodeScalars.count }
        case .pseudonym(let prefix, let length): return prefix.unicodeScalars.count + length
        case .null, .mask, .year, .keep: return nil
        }
    }

    /// Strategies that map different values to the same one.
    static func collides(_ strategy: AnonymisationStrategy) -> Bool {
        switch strategy {
        case .constant, .mask, .year: return true
        case .null, .pseudonym, .keep: return false
        }
    }
}
