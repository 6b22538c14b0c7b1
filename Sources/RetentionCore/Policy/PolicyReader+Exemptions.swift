import Foundation
import Yams

/// `exempt:`: consent and related records.
extension PolicyReader {
    mutating func exemptionList(_ node: Node?, _ what: String) -> Exemptions? {
        guard let node, let map = mapping(node, what) else { return nil }
        checkKeys(map, allowed: ["consent", "related"], in: what)
        var result = Exemptions()
        if let c = map.value("consent") {
            let items: [Node] = { if case .sequence(let s) = c { return Array(s) } else { return [c] } }()
            for item in items {
                guard let m = mapping(item, "a consent exemption") else { continue }
                checkKeys(m, allowed: ["until", "flag"], in: "a consent exemption")
                if let u = m.value("until"), let column = columnRef(u, "consent column") {
                    result.consent.append(Consent(kind: .until, column: column))
                } else if let f = m.value("flag"), let column = columnRef(f, "consent column") {
                    result.consent.append(Consent(kind: .flag, column: column))
                } else if m.value("until") == nil && m.value("flag") == nil {
                    error(item, "a consent exemption is `{ until: DATE_COLUMN }` or `{ flag: BOOLEAN_COLUMN }`")
                }
            }
        }
        if let r = map.value("related") {
            guard case .sequence(let seq) = r else {
                error(r, "`related` is a list of `{ table, foreign_key, clock, within }`")
                return result
            }
            for item in seq {
                guard let m = mapping(item, "a related exemption") else { continue }
                checkKeys(
                    m, allowed: ["relation", "table", "foreign_key", "clock", "within", "undated"],
                    in: "a related exemption")
                let rows: RelatedKeep.Rows
                if let r = m.value("relation") {
                    if m.value("table") != nil || m.value("foreign_key") != nil {
                        error(
                            item,
                            "a related exemption names either a `relation` or a `table` with its `foreign_key`, not both"
                        )
                        continue
                    }
                    guard let relation = name(r, "relation name") else { continue }
                    guard relationNames.contains(relation.value) else {
                        error(
                            r, "`\(relation.value)` is not a relation of this subject",
                            hint: Suggestion.hint(
                                for: relation.value, among: relationNames.sorted(), listing: "relations")
                                ?? "declare it under the subject's `relations:`")
                        continue
                    }
                    rows = .relation(relation)
                } else {
                    guard let table = name(m.value("table"), "related table"),
                        let fk = names(m.value("foreign_key"), "foreign key column")
                    else {
                        if m.value("table") == nil || m.value("foreign_key") == nil {
                            error(item, "a related exemption needs a `relation`, or a `table` and its `foreign_key`")
                        }
                        continue
                    }
                    rows = .table(table, foreignKey: fk)
                }
                let label = "related `\(m.value("relation")?.scalar?.string ?? m.value("table")?.scalar?.string ?? "")`"
                let clock = self.clock(m.value("clock"), label)
                let within = duration(m.value("within"), "\(label).within")
                if (clock == nil) != (within == nil) {
                    error(
                        item,
                        "give both `clock` and `within` (keep while the related row is younger than within), or neither (keep while any related row exists)"
                    )
                    continue
                }
                var keepUndated = false
                if let u = m.value("undated"), let text = string(u, "\(label).undated") {
                    switch text {
                    case "keep": keepUndated = true
                    case "ignore": keepUndated = false
                    default:
                        error(
                            u, "unknown value `\(text)` for `undated`",
                            hint: "`ignore` (the default: a related row without a date keeps nothing) or `keep`")
                    }
                    if clock == nil {
                        error(u, "`undated` needs a `clock`: without one, any related row keeps the record")
                    }
                }
                result.related.append(
                    RelatedKeep(rows: rows, clock: clock, within: within, keepUndated: keepUndated, location: at(item)))
            }
        }
        return result
    }
}
