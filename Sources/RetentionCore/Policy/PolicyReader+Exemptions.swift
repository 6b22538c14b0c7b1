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
                if let u = m.value("until"), let column = name(u, "consent column") {
                    result.consent.append(Consent(kind: .until, column: column))
                } else if let f = m.value("flag"), let column = name(f, "consent column") {
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
                checkKeys(m, allowed: ["table", "foreign_key", "clock", "within"], in: "a related exemption")
                guard let table = name(m.value("table"), "related table"),
                      let fk = names(m.value("foreign_key"), "foreign key column") else {
                    if m.value("table") == nil || m.value("foreign_key") == nil {
                        error(item, "a related exemption needs `table` and `foreign_key`")
                    }
                    continue
                }
                let clock = self.clock(m.value("clock"), "related `\(table)`")
                let within = duration(m.value("within"), "related `\(table)`.within")
                if (clock == nil) != (within == nil) {
                    error(item, "give both `clock` and `within` (keep while the related row is younger than within), or neither (keep while any related row exists)")
                    continue
                }
                result.related.append(RelatedKeep(table: table, foreignKey: fk, clock: clock, within: within, location: at(item)))
            }
        }
        return result
    }
}
