import Foundation
import RetentionCore

/// How a key column's values are typed, decided from its declared type: what an operator types
/// for it (`hold add --key`) must parse as that type, so a hold names exactly one stored value.
public enum KeyValueKind: Sendable, Equatable {
    /// Whole numbers only: `2` names the row whose key is 2; `2.0` or `02` are refused.
    case integer
    /// A whole number, else the text as typed: SQLite keeps text that does not read as a number
    /// as text even in an INTEGER column (all but a rowid table's `INTEGER PRIMARY KEY`), so a
    /// key `abc` there names a record that must be holdable like any other.
    case integerOrText
    /// The text exactly as typed: `007` and `10042` are text, never numbers.
    case text
    /// Any other type (uuid, numeric, date…): compared with the column's own text form.
    case other
}

/// One column of a key, with the value an operator typed for it.
public struct KeyLookup: Sendable, Equatable {
    public var column: String
    public var kind: KeyValueKind
    public var text: String

    public init(column: String, kind: KeyValueKind, text: String) {
        self.column = column
        self.kind = kind
        self.text = text
    }

    /// The value to bind: an integer for integer columns, else the text as typed. Nil when the
    /// text does not parse for the column's type.
    public var value: SQLValue? {
        switch kind {
        case .integer, .integerOrText:
            // Strict: an optional minus sign and digits, no leading zeros, no spaces, no fraction.
            guard let number = Int64(text), String(number) == text else {
                return kind == .integerOrText ? .text(text) : nil
            }
            return .integer(number)
        case .text, .other:
            return .text(text)
        }
    }
}

extension KeyLookup {
    /// Why what an operator typed is not a key.
    public enum ParseError: Error, Sendable {
        /// Not as many comma-separated values as key columns.
        case count(expected: Int)
        /// A value that does not parse for its column's type (only whole-number columns refuse).
        case notAValue(column: String, text: String)
    }

    /// What an operator typed for the key `columns` of `table` (`A,B` for several columns, or a
    /// JSON array, `["a,b", 3]`, when a value holds a comma), each value read by its column's
    /// declared type: the one reading `hold add`, `explain`, `erase` and `audit show` share.
    public static func parse(
        _ text: String, columns: [String], of table: TableInfo,
        kindOf: (String) -> KeyValueKind
    ) throws(ParseError) -> [KeyLookup] {
        let parts: [Substring]
        if columns.count > 1, text.hasPrefix("["), let array = jsonArray(text) {
            parts = array.map { Substring($0) }
        } else {
            parts =
                columns.count == 1 ? [Substring(text)] : text.split(separator: ",", omittingEmptySubsequences: false)
        }
        guard parts.count == columns.count else { throw .count(expected: columns.count) }
        var lookups: [KeyLookup] = []
        for (column, part) in zip(columns, parts) {
            let item = KeyLookup(
                column: column, kind: kindOf(table.column(column)?.declaredType ?? ""), text: String(part))
            guard item.value != nil else { throw .notAValue(column: column, text: item.text) }
            lookups.append(item)
        }
        return lookups
    }

    /// A JSON array of strings and whole numbers, as text per element; nil for anything else.
    static func jsonArray(_ text: String) -> [String]? {
        struct Element: Decodable {
            let text: String
            init(from decoder: any Decoder) throws {
                let value = try decoder.singleValueContainer()
                if let string = try? value.decode(String.self) {
                    text = string
                } else {
                    text = String(try value.decode(Int64.self))
                }
            }
        }
        return (try? JSONDecoder().decode([Element].self, from: Data(text.utf8)))?.map(\.text)
    }
}
