import Foundation

/// A database value as it travels between a store and the core: always bound, never spliced into SQL.
public enum SQLValue: Sendable, Hashable, Codable, CustomStringConvertible {
    case null
    case integer(Int64)
    case real(Double)
    case text(String)
    case blob(Data)

    public var isNull: Bool { if case .null = self { return true } else { return false } }

    public var textValue: String? {
        switch self {
        case .text(let s): return s
        case .integer(let i): return String(i)
        case .real(let d): return String(d)
        default: return nil
        }
    }

    public var description: String {
        switch self {
        case .null: return "NULL"
        case .integer(let i): return String(i)
        case .real(let d): return String(d)
        case .text(let s): return s
        case .blob(let d): return "<\(d.count) bytes>"
        }
    }

    // Codable as plain JSON scalars so plan files stay readable: 42, "abc", 1.5, null.
    public init(from decoder: Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() {
            self = .null
            return
        }
        if let i = try? container.decode(Int64.self) {
            self = .integer(i)
            return
        }
        if let d = try? container.decode(Double.self) {
            self = .real(d)
            return
        }
        if let s = try? container.decode(String.self) {
            self = .text(s)
            return
        }
        throw DecodingError.dataCorruptedError(in: container, debugDescription: "expected a JSON scalar")
    }

    public func encode(to encoder: Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .null: try container.encodeNil()
        case .integer(let i): try container.encode(i)
        case .real(let d): try container.encode(d)
        case .text(let s): try container.encode(s)
        case .blob(let d): try container.encode(d.base64EncodedString())
        }
    }
}

/// The key of one record: the values of its key columns, in the policy's key order.
public struct RecordKey: Sendable, Hashable, Codable, Comparable, CustomStringConvertible {
    public var values: [SQLValue]

    public init(_ values: [SQLValue]) { self.values = values }

    public init(from decoder: Decoder) throws {
        values = try decoder.singleValueContainer().decode([SQLValue].self)
    }

    public func encode(to encoder: Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(values)
    }

    /// A stable text form (`[42]`, `["FR-1",3]`): what holds store and what pseudonymous references hash.
    public var canonical: String {
        let parts = values.map { value -> String in
            switch value {
            case .null: return "null"
            case .integer(let i): return String(i)
            case .real(let d): return String(d)
            case .text(let s):
                return "\""
                    + s.replacingOccurrences(of: "\\", with: "\\\\")
                    .replacingOccurrences(of: "\"", with: "\\\"") + "\""
            case .blob(let d): return "\"base64:" + d.base64EncodedString() + "\""
            }
        }
        return "[" + parts.joined(separator: ",") + "]"
    }

    public var description: String {
        values.count == 1 ? values[0].description : values.map(\.description).joined(separator: ",")
    }

    public static func < (lhs: RecordKey, rhs: RecordKey) -> Bool {
        for (l, r) in zip(lhs.values, rhs.values) where l != r {
            switch (l, r) {
            case (.integer(let a), .integer(let b)): return a < b
            case (.text(let a), .text(let b)): return a < b
            case (.real(let a), .real(let b)): return a < b
            default: return l.description < r.description
            }
        }
        return lhs.values.count < rhs.values.count
    }
}
