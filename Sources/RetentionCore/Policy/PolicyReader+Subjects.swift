import Foundation
import Yams

/// `subjects:`: a table, a key, a filter.
extension PolicyReader {
    mutating func subject(id: String, keyNode: Node, node: Node, defaultSafety: SafetyLimits) -> Subject? {
        guard let map = mapping(node, "subject `\(id)`") else { return nil }
        checkKeys(map, allowed: Self.subjectKeys, in: "subject `\(id)`")
        let table = name(map.value("table"), "table name")
        if map.value("table") == nil { error(node, "subject `\(id)` needs `table`") }
        let key = names(map.value("key"), "key column")
        if map.value("key") == nil { error(node, "subject `\(id)` needs `key`", hint: "the column(s) that identify one record, e.g. `key: id`") }
        var seen = Set<String>()
        for column in key ?? [] where !seen.insert(column.value).inserted {
            diagnostics.append(.error(column.location, "key names `\(column.value)` twice", hint: "list each key column once, e.g. `key: [country, number]`"))
        }
        var filter: [FilterCondition] = []
        if let f = map.value("filter"), let fm = mapping(f, "filter") {
            for pair in fm.pairs {
                guard let column = name(pair.keyNode, "filter column") else { continue }
                if let condition = filterTest(pair.value) {
                    filter.append(FilterCondition(column: column, test: condition))
                }
            }
        }
        let review = names(map.value("review_columns"), "review column") ?? []
        let exemptions = exemptionList(map.value("exempt"), "subject `\(id)`.exempt") ?? Exemptions()
        var rules: [RetentionRule] = []
        if let r = map.value("rules") {
            if case .sequence(let seq) = r, !seq.isEmpty {
                for ruleNode in seq {
                    if let rule = rule(ruleNode, subjectID: id, subjectExemptions: exemptions, defaultSafety: defaultSafety) {
                        rules.append(rule)
                    }
                }
            } else {
                error(r, "`rules` must be a non-empty list", hint: "each item starts with `- id: …`")
            }
        } else {
            error(node, "subject `\(id)` has no `rules`")
        }
        guard let table, let key else { return nil }
        return Subject(id: id, location: at(keyNode), table: table, key: key, filter: filter, reviewColumns: review, rules: rules)
    }

    mutating func filterTest(_ node: Node) -> FilterCondition.Test? {
        if case .scalar = node { return .equals(value(node)) }
        if case .sequence = node {
            error(node, "a filter value is one value, not a list", hint: "to match any of several values, write `{ in: [ … ] }`")
            return nil
        }
        guard let map = mapping(node, "a filter condition") else { return nil }
        checkKeys(map, allowed: ["equals", "not", "in", "is_null"], in: "a filter condition")
        guard map.pairs.count == 1, let pair = map.pairs.first else {
            error(node, "a filter condition has exactly one of `equals`, `not`, `in`, `is_null`")
            return nil
        }
        switch pair.key {
        case "equals": return .equals(value(pair.value))
        case "not": return .notEquals(value(pair.value))
        case "in":
            guard case .sequence(let seq) = pair.value, !seq.isEmpty else {
                error(pair.value, "`in` takes a non-empty list of values")
                return nil
            }
            return .oneOf(seq.map { value($0) })
        case "is_null":
            guard case .scalar(let s) = pair.value, let b = Bool(s.string) else {
                error(pair.value, "`is_null` takes true or false")
                return nil
            }
            return .isNull(b)
        default: return nil
        }
    }

    static let ruleKeys = ["id", "register", "legal_basis", "clock", "after", "action", "fields", "children", "exempt", "safety"]
}
