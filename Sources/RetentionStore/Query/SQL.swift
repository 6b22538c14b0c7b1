import Foundation
import RetentionCore

/// A piece of SQL with its values, written as the SQL it builds:
///
///     let sql: SQL = "SELECT \(ident: "email") FROM \(ident: table) WHERE id = \(.integer(7))"
///
/// Identifiers are quoted (`\(ident:)`, `\(column:of:)`, and for lists `\(idents:)`,
/// `\(columns:of:)`, `\(row:of:)`); the statement's own aliases and numbers say what they are
/// (`\(alias:)`, `\(literal:)`); a `SQLValue` is bound, never written into the text; fragments
/// nest (`\(other)`) and join. A plain `String` cannot be interpolated: the one text left that is
/// neither is what a dialect renders (`SQLDialect`'s expressions and clauses, a column's declared
/// type), said to be trusted with `\(raw:)`. The dialect numbers the placeholders when the
/// statement is rendered, so fragments combine in any order.
public struct SQL: Sendable, ExpressibleByStringInterpolation, CustomStringConvertible {
    enum Part: Sendable {
        case text(String)
        case value(SQLValue)
        /// Values separated by `, `, kept as one part: a batch's thousands of keys travel through
        /// every fragment that nests them as one array, not a part (and its copies) per key.
        case list([SQLValue])
    }

    var parts: [Part] = []

    public init(stringLiteral value: String) { parts = [.text(value)] }

    public init(stringInterpolation: StringInterpolation) { parts = stringInterpolation.parts }

    init(parts: [Part]) { self.parts = parts }

    public struct StringInterpolation: StringInterpolationProtocol {
        var parts: [Part] = []

        public init(literalCapacity: Int, interpolationCount: Int) { parts.reserveCapacity(interpolationCount * 2 + 1) }

        public mutating func appendLiteral(_ literal: String) { parts.append(.text(literal)) }

        /// A value, bound.
        public mutating func appendInterpolation(_ value: SQLValue) { parts.append(.value(value)) }

        /// Another fragment, with its values.
        public mutating func appendInterpolation(_ fragment: SQL) { parts += fragment.parts }

        /// A table or column name, quoted.
        public mutating func appendInterpolation(ident name: String) { parts.append(.text(SQL.quote(name))) }

        /// `alias."column"`.
        public mutating func appendInterpolation(column name: String, of alias: String) {
            parts.append(.text(SQL.qualified(alias, name)))
        }

        /// `alias."a", alias."b"`: columns of one row, in order.
        public mutating func appendInterpolation(columns names: [String], of alias: String) {
            parts.append(.text(names.map { SQL.qualified(alias, $0) }.joined(separator: ", ")))
        }

        /// `"a", "b"`: names, quoted, in order.
        public mutating func appendInterpolation(idents names: [String]) {
            parts.append(.text(names.map(SQL.quote).joined(separator: ", ")))
        }

        /// `alias."a"`, or `(alias."a", alias."b")`: a row value for one or several columns.
        public mutating func appendInterpolation(row names: [String], of alias: String) {
            parts.append(.text(SQL.row(alias, names)))
        }

        /// A name the code chose for a table in the statement (`s`, `r0_1`, `column2`): letters,
        /// digits and `_` only, so it needs no quotes.
        public mutating func appendInterpolation(alias: String) {
            assert(SQL.isAlias(alias), "not an alias: \(alias)")
            parts.append(.text(alias))
        }

        /// A number the code computed (a weight, a position), written into the text.
        public mutating func appendInterpolation(literal number: Int) { parts.append(.text(String(number))) }

        /// Text the code wrote itself, never data nor a name from outside: what a dialect renders
        /// (`SQLDialect`'s expressions and clauses), whose parts were quoted where it built them.
        public mutating func appendInterpolation(raw text: String) { parts.append(.text(text)) }
    }

    public static func quote(_ identifier: String) -> String {
        "\"" + identifier.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }

    public static func qualified(_ alias: String, _ column: String) -> String { "\(alias).\(quote(column))" }

    /// `alias."a"`, or `(alias."a", alias."b")`.
    public static func row(_ alias: String, _ columns: [String]) -> String {
        let qualified = columns.map { SQL.qualified(alias, $0) }
        return qualified.count == 1 ? qualified[0] : "(" + qualified.joined(separator: ", ") + ")"
    }

    static func isAlias(_ name: String) -> Bool {
        !name.isEmpty && name.utf8.allSatisfy { ($0 >= 97 && $0 <= 122) || ($0 >= 48 && $0 <= 57) || $0 == 95 }
    }

    /// One bound value per element, separated by `, `.
    public static func list(_ values: [SQLValue]) -> SQL {
        SQL(parts: values.isEmpty ? [] : [.list(values)])
    }

    public static func + (lhs: SQL, rhs: SQL) -> SQL { SQL(parts: lhs.parts + rhs.parts) }

    public static func += (lhs: inout SQL, rhs: SQL) { lhs.parts += rhs.parts }

    /// The values in the order they appear.
    public var bindings: [SQLValue] {
        var values: [SQLValue] = []
        for part in parts {
            switch part {
            case .text: break
            case .value(let value): values.append(value)
            case .list(let list): values += list
            }
        }
        return values
    }

    /// The text with placeholders in the dialect's style (`?`, or `$1, $2, …`).
    public func text(for dialect: SQLDialect) -> String {
        var text = ""
        var n = 0
        for part in parts {
            switch part {
            case .text(let t): text += t
            case .value:
                n += 1
                text += dialect.numberedPlaceholders ? "$\(n)" : "?"
            case .list(let values):
                guard dialect.numberedPlaceholders else {
                    text += String(repeating: "?, ", count: values.count - 1) + "?"
                    n += values.count
                    continue
                }
                for i in values.indices {
                    n += 1
                    text += i == 0 ? "$\(n)" : ", $\(n)"
                }
            }
        }
        return text
    }

    /// The text with `?` placeholders: for messages and tests.
    public var description: String {
        text(
            for: .init(
                numberedPlaceholders: false, flagIsSet: { $0 }, canonicalKey: { $0.joined() },
                keyValueKind: { _ in .other }, textOf: { $0 }, lockRows: ""))
    }
}

extension Sequence where Element == SQL {
    public func joined(separator: String) -> SQL {
        var result = SQL(parts: [])
        for (i, fragment) in enumerated() {
            if i > 0 { result.parts.append(.text(separator)) }
            result.parts += fragment.parts
        }
        return result
    }
}

extension SQLReading {
    /// Runs a query built as `SQL` and returns its rows, values in select order.
    public func rows(_ sql: SQL) throws -> [[SQLValue]] { try rows(sql.text(for: dialect), sql.bindings) }
}

extension SQLExecuting {
    /// Runs a statement built as `SQL` and returns the number of rows it changed.
    @discardableResult
    public func execute(_ sql: SQL) throws -> Int { try execute(sql.text(for: dialect), sql.bindings) }
}
