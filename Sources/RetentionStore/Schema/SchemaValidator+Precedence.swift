import Foundation
import RetentionCore

/// "Keeping wins" (docs/policy.md, "Precedence"): which subjects' rules must also let go of each
/// row a rule deletes, declared overrides, and the warnings that show every overlap.
extension SchemaValidator {
    /// What a rule deletes through a path: the rule, and the rules whose keeping the path's
    /// declarations (the rule's, each child's on the way down, an owned table's) override.
    struct Deletion {
        var rule: RetentionRule
        var overrides: Set<String>

        func overriding(_ names: [Name]) -> Deletion {
            Deletion(rule: rule, overrides: overrides.union(names.map(\.value)))
        }
    }

    /// The most subjects one rule's deletions may answer to: each is a bit of the candidates
    /// query's fact mask (`SQLBuilder.factMask`), after the four other facts.
    static let keepersPerRule = 58

    /// The subjects whose rules govern the rows of `table` that `deletion` deletes — every subject
    /// on the table whose filter may select the same rows as `conditions`, except `excluded` and
    /// those an override names — each with a warning at `location`. Overridden subjects are
    /// returned second, for `check` to say.
    mutating func keepers(
        of table: String, conditions: [FilterCondition], deletion: Deletion, excluded: String? = nil,
        at location: SourceLocation, owned: Bool
    ) -> (kept: [String], overridden: [String]) {
        var kept: [String] = []
        var overridden: [String] = []
        for subject in policy.subjects where subject.table.value == table && subject.id != excluded {
            guard !Self.disjoint(subject.filter, conditions) else { continue }
            let named = subject.rules.map(\.id).filter { deletion.overrides.contains($0) }
            if !named.isEmpty {
                overridden += named
                continue
            }
            kept.append(subject.id)
            let keeper = subject.rules.first { if case .purge = $0.action { return true } else { return false } }
            let decides =
                keeper.map { "its rule `\($0.id)` (\($0.location)) lets a row go only once it is due there" }
                ?? "it has no purge rule, so its rules keep its rows (`\(subject.rules[subject.rules.count - 1].id)`, \(subject.rules[subject.rules.count - 1].location))"
            let what =
                excluded != nil
                ? "records of `\(table)` that rule `\(deletion.rule.id)` purges may also be subject `\(subject.id)`'s"
                : "rows of `\(table)` that rule `\(deletion.rule.id)` deletes \(owned ? "as owned rows" : "with its records") are also subject `\(subject.id)`'s"
            let outcome =
                owned ? "an owned row it keeps stays" : "a record is kept (kept_by_rule) while one of those rows is"
            diagnostics.append(
                .warning(
                    location, "\(what): \(decides); keeping wins, so \(outcome)",
                    hint:
                        "if `\(deletion.rule.id)` must delete them anyway, declare it: `overrides: [\(keeper?.id ?? subject.rules[0].id)]`"
                ))
        }
        return (kept, overridden)
    }

    /// Checks that each rule an `overrides` names governs a table the rule deletes from.
    mutating func checkOverrides(of rule: RetentionRule, reached: Set<String>) {
        for name in Self.overrideNames(of: rule) {
            guard let named = policy.rules.first(where: { $0.id == name.value }) else { continue }
            let table = policy.subject(for: named).table.value
            if !reached.contains(table) {
                diagnostics.append(
                    .warning(
                        name.location,
                        "rule `\(rule.id)` overrides `\(named.id)`, but deletes nothing from `\(table)`, the table `\(named.id)` governs",
                        hint: "remove it from `overrides`, or name the rule of a table the purge reaches"))
            }
        }
    }

    /// Every `overrides` entry of a rule: its own, its children's at any depth, their owned tables'.
    static func overrideNames(of rule: RetentionRule) -> [Name] {
        func walk(_ children: [ChildTable]) -> [Name] {
            children.flatMap { $0.overrides + $0.owns.flatMap(\.overrides) + walk($0.children) }
        }
        switch rule.action {
        case .flag: return rule.overrides
        case .anonymise(_, let children): return rule.overrides + walk(children)
        case .purge(.declared(let children)): return rule.overrides + walk(children)
        case .purge(.foreignKeys): return rule.overrides
        }
    }

    /// Whether no row can meet both sets of conditions, as far as their plain equality tests on one
    /// column tell (`kind: prospect` against `kind: client`). When unsure, they may overlap: the
    /// other subject is then asked, which only ever keeps more.
    static func disjoint(_ a: [FilterCondition], _ b: [FilterCondition]) -> Bool {
        func values(_ test: FilterCondition.Test) -> Set<String>? {
            switch test {
            case .equals(let v): return [normalised(v)]
            case .oneOf(let vs): return Set(vs.map(normalised))
            case .isNull(true): return [normalised(.null)]
            default: return nil
            }
        }
        for x in a where !x.column.value.contains(".") {
            guard let left = values(x.test) else { continue }
            for y in b where y.column.value == x.column.value {
                if let right = values(y.test), left.isDisjoint(with: right) { return true }
            }
        }
        return false
    }

    /// A value as a comparison may see it whatever its type or case: 2, 2.0 and "2" alike.
    private static func normalised(_ value: SQLValue) -> String {
        switch value {
        case .null: return "\u{0}null"
        case .real(let d) where d == d.rounded() && abs(d) < 1e15: return String(Int64(d))
        default: return value.description.lowercased().trimmingCharacters(in: .whitespaces)
        }
    }
}
