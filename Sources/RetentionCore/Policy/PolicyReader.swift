import Foundation
import Yams

/// A YAML mapping with the keys read so far, so unknown keys can be reported.
struct Map {
    var pairs: [(key: String, keyNode: Node, value: Node)]
    var node: Node

    func value(_ key: String) -> Node? { pairs.first { $0.key == key }?.value }
}

/// Reads one policy document into the model, collecting every problem as a diagnostic at its
/// line and column. This file holds the generic readers (mappings, names, numbers, durations);
/// each section of the document has its own `PolicyReader+Section.swift`.
struct PolicyReader {
    var file: String
    var diagnostics: [Diagnostic] = []
    /// Where each rule id was first seen, to report duplicates even among rules with other errors.
    var ruleIDs: [String: SourceLocation] = [:]
    /// Every rule id an `overrides` names, checked against `ruleIDs` once the whole file is read.
    var overrideReferences: [Name] = []
    /// The relations of the subject being read: `name.column` may name their columns.
    var relationNames: Set<String> = []
    /// The top level's `relations:`, by table: every subject and child on that table has them.
    var sharedRelations: [String: [Relation]] = [:]

    init(file: String) { self.file = file }

    func at(_ node: Node?) -> SourceLocation {
        SourceLocation(file: file, line: node?.mark?.line ?? 1, column: node?.mark?.column ?? 1)
    }

    mutating func error(_ node: Node?, _ message: String, hint: String? = nil) {
        diagnostics.append(.error(at(node), message, hint: hint))
    }

    func yamlDiagnostic(_ error: YamlError) -> Diagnostic {
        switch error {
        case .scanner(let context, let problem, let mark, _),
            .parser(let context, let problem, let mark, _),
            .composer(let context, let problem, let mark, _):
            let position = SourceLocation(file: file, line: mark.line, column: mark.column)
            let ctx = context.map { "\($0.text) " } ?? ""
            return .error(
                position, "YAML syntax: \(ctx)\(problem)", hint: "fix the indentation or quoting at this position")
        case .duplicatedKeysInMapping(let duplicates, let context):
            // Yams marks the key's first occurrence; the mistake is the next one at the same indentation.
            let first = context.mark
            let lines = context.text.split(separator: "\n", omittingEmptySubsequences: false)
            let indent = String(repeating: " ", count: max(first.column - 1, 0))
            let again = duplicates.first.flatMap { key in
                lines.indices.dropFirst(first.line).first { lines[$0].hasPrefix(indent + key + ":") }
            }
            return .error(
                SourceLocation(file: file, line: again.map { $0 + 1 } ?? first.line, column: first.column),
                "\(duplicates.map { "`\($0)`" }.joined(separator: ", ")) is given twice in the same mapping (first at line \(first.line))",
                hint: "keep one")
        case .reader(let problem, let offset, _, let yaml):
            // The reader names a byte of the file: counted into a line and a column (in characters).
            let before = yaml.utf8.prefix(max(offset ?? 0, 0))
            let line = before.filter { $0 == UInt8(ascii: "\n") }.count + 1
            let column =
                (String(
                    decoding: before.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false).last ?? [],
                    as: UTF8.self)).count + 1
            return .error(
                SourceLocation(file: file, line: line, column: column), "YAML: \(problem)",
                hint: "remove the character at this position (a policy is text: no NUL or other control character)")
        default:
            return .error(SourceLocation(file: file, line: 1, column: 1), "YAML: \(error)")
        }
    }

    // MARK: Node shapes

    mutating func mapping(_ node: Node, _ what: String) -> Map? {
        guard case .mapping(let mapping) = node else {
            error(node, "\(what) must be a mapping (`key: value` lines)")
            return nil
        }
        var pairs: [(String, Node, Node)] = []
        var seen = Set<String>()
        for (k, v) in mapping {
            guard let key = k.scalar?.string else {
                error(k, "keys must be plain names")
                continue
            }
            if !seen.insert(key).inserted {
                error(k, "`\(key)` is given twice in \(what)", hint: "keep one")
                continue
            }
            pairs.append((key, k, v))
        }
        return Map(pairs: pairs, node: node)
    }

    mutating func checkKeys(_ map: Map, allowed: [String], in what: String) {
        for pair in map.pairs where !allowed.contains(pair.key) {
            error(
                pair.keyNode, "unknown key `\(pair.key)` in \(what)",
                hint: Suggestion.hint(for: pair.key, among: allowed, listing: "allowed keys"))
        }
    }

    mutating func string(_ node: Node?, _ what: String) -> String? {
        guard let node else { return nil }
        guard case .scalar(let scalar) = node, !scalar.string.isEmpty else {
            error(node, "\(what) must be a non-empty text value")
            return nil
        }
        return scalar.string
    }

    mutating func name(_ node: Node?, _ what: String) -> Name? {
        guard let node, let text = string(node, what) else { return nil }
        guard Self.isIdentifier(text) else {
            error(
                node, "`\(text)` is not a valid \(what)",
                hint: "use letters, digits and underscores, starting with a letter or underscore")
            return nil
        }
        return Name(text, at: at(node))
    }

    /// A column of the row (`closed_at`) or of a relation (`state_type.name`). A dotted name whose
    /// first part is not a relation is refused here, with how to declare one.
    mutating func columnRef(_ node: Node?, _ what: String) -> Name? {
        guard let node, let text = string(node, what) else { return nil }
        let parts = text.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
        guard parts.count <= 2, parts.allSatisfy(Self.isIdentifier) else {
            error(
                node, "`\(text)` is not a valid \(what)",
                hint:
                    "a column (`closed_at`) or a relation's column (`state_type.name`): letters, digits and underscores"
            )
            return nil
        }
        if parts.count == 2, !relationNames.contains(parts[0]) {
            error(
                node, "`\(text)` names a column of another table, but `\(parts[0])` is not a relation of this subject",
                hint:
                    "related tables are reached through relations: declare `relations: { \(parts[0]): { table: \(parts[0]), on: { COLUMN_OF_\(parts[0]): COLUMN_OF_THIS_TABLE } } }` on the subject, then write `\(text)`"
            )
            return nil
        }
        return Name(text, at: at(node))
    }

    static func isIdentifier(_ text: String) -> Bool {
        guard let first = text.unicodeScalars.first,
            first == "_" || (first.isASCII && CharacterSet.letters.contains(first))
        else { return false }
        return text.unicodeScalars.allSatisfy { $0 == "_" || ($0.isASCII && CharacterSet.alphanumerics.contains($0)) }
            && text.count <= 63
    }

    /// A name or a list of names: `id` or `[country, number]`.
    mutating func names(_ node: Node?, _ what: String) -> [Name]? {
        guard let node else { return nil }
        if case .sequence(let seq) = node {
            let result = seq.compactMap { name($0, what) }
            if result.isEmpty { error(node, "\(what) list is empty") }
            return result.count == seq.count && !result.isEmpty ? result : nil
        }
        return name(node, what).map { [$0] }
    }

    /// A whole number within `min...max` (every count in a policy has a documented bound).
    mutating func int(_ node: Node?, _ what: String, min: Int = 0, max: Int) -> Int? {
        guard let node else { return nil }
        guard case .scalar(let scalar) = node, let value = Int(scalar.string), (min...max).contains(value) else {
            error(node, "\(what) must be a whole number from \(min) to \(max)")
            return nil
        }
        return value
    }

    mutating func double(_ node: Node?, _ what: String, range: ClosedRange<Double>) -> Double? {
        guard let node else { return nil }
        guard case .scalar(let scalar) = node,
            let value = Double(scalar.string.replacingOccurrences(of: "%", with: "")),
            range.contains(value)
        else {
            error(node, "\(what) must be a number from \(range.lowerBound) to \(range.upperBound)")
            return nil
        }
        return value
    }

    mutating func duration(_ node: Node?, _ what: String) -> RetentionDuration? {
        guard let node, let text = string(node, what) else { return nil }
        do {
            return try RetentionDuration(parsing: text)
        } catch {
            self.error(node, "\(what): \(error)")
            return nil
        }
    }

    func value(_ node: Node) -> SQLValue {
        guard case .scalar(let scalar) = node else { return .null }
        if scalar.style == .plain {
            if scalar.string == "null" || scalar.string == "~" { return .null }
            if let i = Int64(scalar.string) { return .integer(i) }
            if let d = Double(scalar.string), scalar.string.contains(".") { return .real(d) }
            if scalar.string == "true" { return .integer(1) }
            if scalar.string == "false" { return .integer(0) }
        }
        return .text(scalar.string)
    }
}
