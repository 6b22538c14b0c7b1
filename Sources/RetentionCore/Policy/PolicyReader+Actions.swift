import Foundation
import Yams

/// What a rule does: anonymisation strategies, child tables of a purge.
extension PolicyReader {
    mutating func fieldStrategies(_ node: Node, _ what: String) -> [FieldStrategy]? {
        guard let map = mapping(node, "\(what).fields") else { return nil }
        if map.pairs.isEmpty { error(node, "\(what).fields is empty") }
        var result: [FieldStrategy] = []
        for pair in map.pairs {
            guard let column = name(pair.keyNode, "column name") else { continue }
            if let s = strategy(pair.value) { result.append(FieldStrategy(column: column, strategy: s)) }
        }
        return result.count == map.pairs.count ? result : nil
    }

    static let strategyHint =
        "use null, keep, year, pseudonym, { constant: VALUE }, { pseudonym: { prefix: P, length: N } } or { mask: { keep_first: N, keep_last: N, keep_domain: BOOL } }"

    mutating func strategy(_ node: Node) -> AnonymisationStrategy? {
        if case .scalar(let s) = node {
            switch s.string {
            case "null", "~", "": return .null
            case "keep": return .keep
            case "year": return .year
            case "pseudonym": return .pseudonym(prefix: "", length: 16)
            case "mask": return .mask(keepFirst: 1, keepLast: 0, character: "*", keepDomain: false)
            default:
                error(node, "unknown anonymisation strategy `\(s.string)`", hint: Self.strategyHint)
                return nil
            }
        }
        guard let map = mapping(node, "a strategy"), map.pairs.count == 1, let pair = map.pairs.first else {
            error(node, "a strategy is one word or a mapping with one key", hint: Self.strategyHint)
            return nil
        }
        switch pair.key {
        case "constant":
            return .constant(value(pair.value))
        case "pseudonym":
            guard let options = mapping(pair.value, "pseudonym options") else { return nil }
            checkKeys(options, allowed: ["prefix", "length"], in: "pseudonym")
            let prefix = options.value("prefix").flatMap { string($0, "prefix") } ?? ""
            let length = options.value("length").flatMap { int($0, "length", min: 8, max: 64) } ?? 16
            return .pseudonym(prefix: prefix, length: length)
        case "mask":
            guard let options = mapping(pair.value, "mask options") else { return nil }
            checkKeys(options, allowed: ["keep_first", "keep_last", "keep_domain", "character"], in: "mask")
            let first = options.value("keep_first").flatMap { int($0, "keep_first", max: 1000) } ?? 0
            let last = options.value("keep_last").flatMap { int($0, "keep_last", max: 1000) } ?? 0
            var keepDomain = false
            if let d = options.value("keep_domain") {
                if case .scalar(let s) = d, let b = Bool(s.string) {
                    keepDomain = b
                } else {
                    error(d, "keep_domain takes true or false")
                }
            }
            var character: Character = "*"
            if let c = options.value("character"), let text = string(c, "character") {
                if text.count == 1 { character = text.first! } else { error(c, "character is a single character") }
            }
            return .mask(keepFirst: first, keepLast: last, character: character, keepDomain: keepDomain)
        default:
            error(map.pairs[0].keyNode, "unknown anonymisation strategy `\(pair.key)`", hint: Self.strategyHint)
            return nil
        }
    }

    /// A rule's `children`. Under a purge every child is deleted; under an anonymisation
    /// (`anonymising`) each says `action: purge` or `action: anonymise` with its `fields`.
    mutating func childTables(_ node: Node, _ what: String, anonymising: Bool) -> [ChildTable]? {
        guard case .sequence(let seq) = node else {
            error(node, "\(what).children is `auto` or a list of `{ table, foreign_key }`")
            return nil
        }
        var result: [ChildTable] = []
        for item in seq {
            guard let map = mapping(item, "a child table") else { continue }
            checkKeys(
                map,
                allowed: [
                    "table", "foreign_key", "references", "relations", "where", "match", "as", "action", "fields",
                    "owns", "children", "overrides", "tree",
                ],
                in: "a child table")
            guard let table = name(map.value("table"), "child table") else {
                if map.value("table") == nil { error(item, "a child needs `table`") }
                continue
            }
            guard let fk = names(map.value("foreign_key"), "foreign key column") else {
                if map.value("foreign_key") == nil {
                    error(
                        item, "child `\(table)` needs `foreign_key`",
                        hint: "the column(s) of \(table) that point at the parent row")
                }
                continue
            }
            let references = map.value("references").flatMap { names($0, "referenced column") } ?? []
            var childAction = ChildAction.purge
            if let a = map.value("action"), let text = string(a, "child `\(table)`.action") {
                switch (text, anonymising) {
                case ("purge", _): break
                case ("anonymise", true), ("anonymize", true):
                    if let f = map.value("fields") {
                        guard let fields = fieldStrategies(f, "child `\(table)`") else { continue }
                        childAction = .anonymise(fields)
                    } else {
                        error(
                            a, "child `\(table)` is anonymised but lists no `fields`",
                            hint: "add `fields: { email: null, … }`")
                        continue
                    }
                case ("anonymise", false), ("anonymize", false):
                    error(
                        a, "the children of a purge are deleted with it",
                        hint: "anonymise them in a rule of their own, or remove `action`")
                    continue
                default:
                    error(a, "unknown child action `\(text)`", hint: "use purge or anonymise")
                    continue
                }
            } else if anonymising {
                error(
                    item, "child `\(table)` of an anonymise rule needs an `action`",
                    hint:
                        "`action: anonymise` with its `fields`, or `action: purge` to delete its rows with the anonymisation"
                )
                continue
            }
            if map.value("fields") != nil, case .purge = childAction {
                error(map.value("fields"), "`fields` is for a child with `action: anonymise`")
            }
            // Below a deleted child everything is deleted; an anonymised child keeps its own children.
            if case .anonymise = childAction, let c = map.value("children") {
                error(
                    c, "an anonymised child keeps its rows, so it has no `children` to delete",
                    hint: "declare them as children of the rule, or anonymise them in a rule of their own")
                continue
            }
            var autoChildren = false
            let children: [ChildTable]
            if case .scalar(let s) = map.value("children"), s.string == "auto" {
                (autoChildren, children) = (true, [])
            } else {
                children = map.value("children").flatMap { childTables($0, what, anonymising: false) } ?? []
            }
            // A child's `where` reaches the child's own relations, not the subject's.
            let outer = relationNames
            relationNames = []
            let relations = relations(map.value("relations"), of: table)
            let conditions = map.value("where").map { filterConditions($0, "child `\(table)`.where") } ?? []
            relationNames = outer
            let caseInsensitive = matchesCaseInsensitively(map.value("match"), "child `\(table)`.match")
            var child = ChildTable(
                table: table, foreignKey: fk, references: references, conditions: conditions,
                caseInsensitive: caseInsensitive, children: children)
            child.relations = relations
            child.autoChildren = autoChildren
            child.asText = readsAsText(map, "child `\(table)`")
            if let t = map.value("tree") {
                if case .anonymise = childAction {
                    error(t, "an anonymised child keeps its rows: `tree` is for rows that are deleted")
                } else {
                    child.tree = childTree(t, "child `\(table)`.tree")
                }
            }
            child.action = childAction
            if let o = map.value("overrides") {
                if case .anonymise = childAction {
                    error(o, "an anonymised child keeps its rows: `overrides` is for rows that are deleted")
                } else {
                    child.overrides = ruleReferences(o, "child `\(table)`.overrides") ?? []
                }
            }
            if let o = map.value("owns") {
                if case .anonymise = childAction {
                    error(o, "an anonymised child keeps its rows, so it owns nothing that would go with them")
                } else if let owned = ownedTables(o) {
                    child.owns = owned
                }
            }
            result.append(child)
        }
        return result.count == seq.count ? result : nil
    }

    /// `tree: { foreign_key: parent_id, references: [id], depth: 5 }`.
    mutating func childTree(_ node: Node, _ what: String) -> ChildTree? {
        guard let map = mapping(node, what) else { return nil }
        checkKeys(map, allowed: ["foreign_key", "references", "depth"], in: what)
        guard let fk = names(map.value("foreign_key"), "foreign key column") else {
            if map.value("foreign_key") == nil {
                error(
                    node, "\(what) needs `foreign_key`",
                    hint:
                        "the column(s) of the table that point at another of its rows, e.g. `tree: { foreign_key: parent_id }`"
                )
            }
            return nil
        }
        let references = map.value("references").flatMap { names($0, "referenced column") } ?? []
        let depth = map.value("depth").flatMap { int($0, "\(what).depth", min: 1, max: 8) }
        return ChildTree(foreignKey: fk, references: references, depth: depth, location: at(node))
    }

    /// `overrides: [rule-id, …]`: rules named by id (checked to exist once every rule is read).
    mutating func ruleReferences(_ node: Node, _ what: String) -> [Name]? {
        let items: [Node]
        if case .sequence(let seq) = node { items = Array(seq) } else { items = [node] }
        if items.isEmpty {
            error(
                node, "\(what) is empty",
                hint: "list the ids of the rules whose keeping this deletion overrides, or remove it")
        }
        let ids = items.compactMap { item in string(item, "a rule id in \(what)").map { Name($0, at: at(item)) } }
        guard ids.count == items.count, !ids.isEmpty else { return nil }
        overrideReferences += ids
        return ids
    }

    /// `owns:`: `[{ table, foreign_key, references }]`, rows the child's rows point to.
    mutating func ownedTables(_ node: Node) -> [OwnedTable]? {
        guard case .sequence(let seq) = node else {
            error(
                node, "`owns` is a list of `{ table, foreign_key, references }`",
                hint: "foreign_key: the child's columns that point at the owned row")
            return nil
        }
        var result: [OwnedTable] = []
        for item in seq {
            guard let map = mapping(item, "an owned table") else { continue }
            checkKeys(map, allowed: ["table", "foreign_key", "references", "overrides"], in: "an owned table")
            guard let table = name(map.value("table"), "owned table"),
                let fk = names(map.value("foreign_key"), "foreign key column")
            else {
                if map.value("table") == nil || map.value("foreign_key") == nil {
                    error(item, "an owned table needs `table` and `foreign_key` (the child's columns that point at it)")
                }
                continue
            }
            var owned = OwnedTable(
                table: table, foreignKey: fk,
                references: map.value("references").flatMap { names($0, "referenced column") } ?? [])
            owned.overrides = map.value("overrides").flatMap { ruleReferences($0, "owned `\(table)`.overrides") } ?? []
            result.append(owned)
        }
        return result.count == seq.count ? result : nil
    }
}
