import Foundation
import RetentionCore
import RetentionStore

/// Finds the one record an operator names by typing its key (`hold add`, `explain`, `erase`).
///
/// Each comma-separated value must parse for its column's declared type: `2.0` is not an integer
/// key, `007` on a text key is the text `007`. A value that names no record, or several, is
/// refused with what to type instead.
struct RecordLocator: Sendable {
    let reader: any RecordReader
    /// The policy whose checked keys stand in for a primary key (`SchemaSnapshot.declaringKeys`).
    var policy: Policy?

    /// The record of `table` whose `columns` hold `text`, as its key over `keyOf(table)`.
    /// `described` names the columns for messages ("subject `clients`'s key").
    func locate(
        table: String, text: String, columns: @Sendable (TableInfo) -> [String], described: String,
        keyOf: @Sendable (TableInfo) -> [String]
    ) async throws -> RecordKey {
        let (live, kindOf) = try await reader.read { (try $0.schema(), $0.keyValueKind) }
        let schema = policy.map(live.declaringKeys(of:)) ?? live
        guard let info = schema.table(table), !table.hasPrefix("retentiond_") else {
            throw EnforcementError.noSuchTable(table, in: reader.location)
        }
        let lookupColumns = columns(info)
        let lookup: [KeyLookup]
        do {
            lookup = try KeyLookup.parse(text, columns: lookupColumns, of: info, kindOf: kindOf)
        } catch .count(let expected) {
            throw EnforcementError.keyValueCount(described: described, columns: lookupColumns, expected: expected)
        } catch .notAValue(let column, let value) {
            throw EnforcementError.notAWholeNumber(value, table: table, column: column)
        }
        let keyColumns = keyOf(info)
        let found = try await reader.read {
            try $0.canonicalKeys(table: table, keyColumns: keyColumns, matching: lookup)
        }
        guard found.count == 1, let canonical = found.first,
            let key = try? JSONDecoder().decode(RecordKey.self, from: Data(canonical.utf8)),
            key.values.count == keyColumns.count, !key.values.contains(where: \.isNull)
        else {
            if found.count > 1 {
                throw EnforcementError.namesSeveralRecords(text, table: table, keyColumns: keyColumns)
            }
            if found.isEmpty {
                // SQLite: `07` typed for an INTEGER column was looked up as text, which such a column cannot hold.
                let numeric = lookup.filter { $0.kind == .integerOrText && $0.value?.textValue != nil }.map {
                    "`\(table).\($0.column)` holds whole numbers"
                }
                throw EnforcementError.noSuchRecord(table: table, key: text, numeric: numeric)
            }
            throw EnforcementError.keyNotNameable(keyColumns: keyColumns)
        }
        return key
    }
}
