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
        if map.value("key") == nil {
            error(node, "subject `\(id)` needs `key`", hint: "the column(s) that identify one record, e.g. `key: id`")
        }
        var seen = Set<String>()
        for column in key ?? [] where !seen.insert(column.value).inserted {
            diagnostics.append(
                .error(
                    column.location, "key names `\(column.value)` twice",
                    hint: "list each key column once, e.g. `key: [country, number]`"))
        }
        let relations = relations(map.value("relations"), of: table)
        relationNames = Set(relations.map(\.name.value))
        defer { relationNames = [] }
        let filter = map.value("filter").map { filterConditions($0, "filter") } ?? []
        let review = names(map.value("review_columns"), "review column") ?? []
        let exemptions = exemptionList(map.value("exempt"), "subject `\(id)`.exempt") ?? Exemptions()
        var rules: [RetentionRule] = []
        if let r = map.value("rules") {
            if case .sequence(let seq) = r, !seq.isEmpty {
                for ruleNode in seq {
                    if let rule = rule(
                        ruleNode, subjectID: id, subjectExemptions: exemptions, defaultSafety: defaultSafety)
                    {
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
        var subject = Subject(
            id: id, location: at(keyNode), table: table, key: key, filter: filter, reviewColumns: review, rules: rules)
        subject.relations = relations
        if let u = map.value("key_uniqueness"), let text = string(u, "key_uniqueness") {
            switch text {
            case "enforced": break
            case "checked": subject.keyCheckedByRetentiond = true
            default:
                error(
                    u, "unknown key_uniqueness `\(text)`",
                    hint:
                        "`enforced` (the default: a primary key or unique index) or `checked` (the database does not enforce it; retentiond checks it)"
                )
            }
        }
        return subject
    }

    /// A subject's or child's relations on `table`: those the top level declares for that table,
    /// then its own `relations:` (`node`), which may start from the shared ones. A name declared in
    /// both is refused rather than one silently replacing the other. Their names are then the ones
    /// `name.column` may use (`relationNames`).
    mutating func relations(_ node: Node?, of table: Name?) -> [Relation] {
        let shared = table.flatMap { sharedRelations[$0.value] } ?? []
        var all = shared
        if let node {
            for relation in relations(node, inheriting: shared) {
                guard !shared.contains(where: { $0.name.value == relation.name.value }) else {
                    diagnostics.append(
                        .error(
                            relation.name.location,
                            "relation `\(relation.name.value)` is already declared for table `\(table?.value ?? "")` at the top level (`relations:`)",
                            hint: "use the shared one, or give this one another name"))
                    continue
                }
                all.append(relation)
            }
        }
        relationNames = Set(all.map(\.name.value))
        return all
    }

    /// `relations:`: a map from a relation's name to `{ table, on, where, match }`. `inheriting`:
    /// relations already declared for the same table, which these may start from.
    mutating func relations(_ node: Node, inheriting shared: [Relation] = []) -> [Relation] {
        guard let map = mapping(node, "relations") else { return [] }
        // Every name is known before any `on` or `where` refers to it, in whatever order they are written.
        relationNames = Set(map.pairs.map(\.key) + shared.map(\.name.value))
        var result: [Relation] = []
        for pair in map.pairs {
            guard let name = name(pair.keyNode, "relation name"), let m = mapping(pair.value, "relation `\(pair.key)`")
            else { continue }
            let what = "relation `\(pair.key)`"
            checkKeys(m, allowed: ["table", "on", "where", "match", "as"], in: what)
            let table = self.name(m.value("table"), "\(what).table")
            if m.value("table") == nil { error(pair.value, "\(what) needs `table`") }
            var on: [(column: Name, parentColumn: Name)] = []
            var parents = Set<String?>()
            var onComplete = m.value("on") != nil
            if let o = m.value("on"), let om = mapping(o, "\(what).on") {
                for link in om.pairs {
                    guard let column = self.name(link.keyNode, "column of `\(table?.value ?? pair.key)`"),
                        let parentColumn = columnRef(link.value, "column the relation starts from")
                    else {
                        onComplete = false
                        continue
                    }
                    let parts = parentColumn.value.split(separator: ".")
                    parents.insert(parts.count == 2 ? String(parts[0]) : nil)
                    on.append((column, parentColumn))
                }
                if om.pairs.isEmpty { error(o, "\(what).on is empty") }
            } else if m.value("on") == nil {
                error(
                    pair.value, "\(what) needs `on`",
                    hint:
                        "columns of `\(table?.value ?? pair.key)` and the columns they equal, e.g. `on: { fk_soc: rowid }`"
                )
            }
            if parents.count > 1 {
                error(
                    m.value("on"), "\(what).on mixes columns of the subject's table and of other relations",
                    hint:
                        "a relation starts from one row: either this table's columns (`rowid`) or one relation's (`state.type_id`)"
                )
            }
            let caseInsensitive = matchesCaseInsensitively(m.value("match"), "\(what).match")
            let conditions = m.value("where").map { filterConditions($0, "\(what).where") } ?? []
            guard let table, onComplete, parents.count == 1 else { continue }
            var relation = Relation(
                name: name, table: table, on: on, parent: parents.first!, conditions: conditions,
                caseInsensitive: caseInsensitive)
            relation.asText = readsAsText(m, what)
            result.append(relation)
        }
        return result
    }

    /// `match: exact` (the default) or `match: case_insensitive`, for the columns a relation or a child is matched on.
    /// `as: text`: the link reads the starting (parent) row's columns as text. Refused beside
    /// `match: case_insensitive` (digits have no case).
    mutating func readsAsText(_ map: Map, _ what: String) -> Bool {
        guard let node = map.value("as"), let text = string(node, "\(what).as") else { return false }
        guard text == "text" else {
            error(
                node, "unknown conversion `as: \(text)`",
                hint: "`as: text` reads the other side's numbers as text; it is the only conversion")
            return false
        }
        if case .scalar(let match) = map.value("match"), match.string == "case_insensitive" {
            error(
                node, "`as: text` compares numbers written as text, which have no case",
                hint: "remove `match: case_insensitive`")
            return false
        }
        return true
    }

    mutating func matchesCaseInsensitively(_ node: Node?, _ what: String) -> Bool {
        guard let node, let text = string(node, what) else { return false }
        switch text {
        case "exact": return false
        case "case_insensitive": return true
        default:
            error(node, "unknown match `\(text)`", hint: "use `exact` (the default) or `case_insensitive`")
            return false
        }
    }

    /// A filter or a relation's `where`: a map from a column (or `relation.column`, or a relation
    /// for `exists`) to a condition.
    mutating func filterConditions(_ node: Node, _ what: String) -> [FilterCondition] {
        guard let fm = mapping(node, what) else { return [] }
        var result: [FilterCondition] = []
        for pair in fm.pairs {
            guard let column = columnRef(pair.keyNode, "filter column"), let test = filterTest(pair.value) else {
                continue
            }
            if case .exists = test, column.value.contains(".") || !relationNames.contains(column.value) {
                error(
                    pair.keyNode, "`exists` tests a relation, and `\(column.value)` is not one",
                    hint:
                        "declare it under the subject's `relations:` and write `\(column.value.split(separator: ".")[0]): { exists: true }`"
                )
                continue
            }
            if case .exists = test {
            } else if !column.value.contains("."), relationNames.contains(column.value) {
                error(
                    pair.keyNode,
                    "`\(column.value)` is a relation: test one of its columns (`\(column.value).COLUMN`) or whether it has rows (`{ exists: true }`)"
                )
                continue
            }
            result.append(FilterCondition(column: column, test: test))
        }
        return result
    }

    mutating func filterTest(_ node: Node) -> FilterCondition.Test? {
        if case .scalar = node { return .equals(value(node)) }
        if case .sequence = node {
            error(
                node, "a filter value is one value, not a list",
                hint: "to match any of several values, write `{ in: [ … ] }`")
            return nil
        }
        guard let map = mapping(node, "a filter condition") else { return nil }
        checkKeys(map, allowed: ["equals", "not", "in", "is_null", "exists"], in: "a filter condition")
        guard map.pairs.count == 1, let pair = map.pairs.first else {
            error(node, "a filter condition has exactly one of `equals`, `not`, `in`, `is_null`, `exists`")
            return nil
        }
        if pair.key == "equals" || pair.key == "not", !Self.isScalar(pair.value) {
            // `value` reads anything but a scalar as null: `equals: [a, b]` would test IS NULL.
            error(
                pair.value,
                "`\(pair.key)` takes one plain value; this is a \(Self.isMapping(pair.value) ? "mapping" : "list")",
                hint: pair.key == "equals"
                    ? "for several values write `in: [a, b]`" : "write the value on its own, e.g. `not: closed`")
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
            // Each value is bound in every statement the condition is part of, beside a batch's keys:
            // a database takes only so many (SQLite 32,766 per statement).
            guard seq.count <= Self.maxListValues else {
                error(
                    pair.value,
                    "`in` lists \(seq.count) values; at most \(Self.maxListValues) are accepted, since each is bound in every statement that tests it",
                    hint:
                        "test a column that groups them (a state type rather than every state), or keep the values in a table and reach it through a relation"
                )
                return nil
            }
            if let item = seq.first(where: { !Self.isScalar($0) }) {
                error(
                    item,
                    "`in` takes plain values; this item is a \(Self.isMapping(item) ? "mapping" : "list"), which no value equals",
                    hint: "write each value on its own, e.g. `in: [closed, merged]`")
                return nil
            }
            return .oneOf(seq.map { value($0) })
        case "is_null":
            guard case .scalar(let s) = pair.value, let b = Bool(s.string) else {
                error(pair.value, "`is_null` takes true or false")
                return nil
            }
            return .isNull(b)
        case "exists":
            guard case .scalar(let s) = pair.value, let b = Bool(s.string) else {
                error(pair.value, "`exists` takes true or false")
                return nil
            }
            return .exists(b)
        default: return nil
        }
    }

    static let ruleKeys = [
        "id", "register", "legal_basis", "clock", "after", "action", "fields", "children", "exempt", "safety",
        "overrides", "statistics", "phase", "copies",
    ]
}
