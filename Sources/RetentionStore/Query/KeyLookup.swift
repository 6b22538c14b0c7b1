import Foundation
import RetentionCore

/// How a key column's values are typed, decided from its declared type: what an operator types
/// for it (`hold add --key`) must parse as that type, so a hold names exactly one stored value.
public enum KeyValueKind: Sendable, Equatable {
    /// Whole numbers only: `2` names the row whose key is 2; `2.0` or `02` are refused.
    case integer
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
        case .integer:
            // Strict: an optional minus sign and digits, no leading zeros, no spaces, no fraction.
            guard let number = Int64(text), String(number) == text else { return nil }
            return .integer(number)
        case .text, .other:
            return .text(text)
        }
    }
}
