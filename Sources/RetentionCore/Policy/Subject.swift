import Foundation

/// A category of people (prospects, clients, support users) mapped onto rows of one table.
public struct Subject: Sendable {
    public var id: String
    public var location: SourceLocation
    public var table: Name
    public var key: [Name]
    /// Tables related to the subject's rows, by name; filters, clocks and exemptions reach their
    /// columns as `relation.column`.
    public var relations: [Relation] = []
    public var filter: [FilterCondition]
    /// Columns an operator may see in reports and `plan --detail`; nothing else of a record is shown.
    public var reviewColumns: [Name]
    public var rules: [RetentionRule]
    /// Set (`key_uniqueness: checked`) where the database does not enforce the key — no primary
    /// key or unique index on it —: retentiond checks that it names one row per value at `check`
    /// and before each plan, and refuses to act while it does not.
    public var keyCheckedByRetentiond = false
}

extension Subject {
    /// This subject with only the relations its filter, review columns and rules name (and those
    /// they start from): what the archive's phase keeps of relations declared for a whole table.
    func keepingUsedRelations() -> Subject {
        var names = Set<String>()
        func add(_ reference: String) {
            if let dot = reference.firstIndex(of: ".") {
                names.insert(String(reference[..<dot]))
            } else {
                names.insert(reference)
            }
        }
        func add(_ conditions: [FilterCondition]) { conditions.forEach { add($0.column.value) } }
        add(filter)
        reviewColumns.forEach { add($0.value) }
        for rule in rules {
            rule.clock.columns.forEach { add($0.value) }
            rule.exemptions.consent.forEach { add($0.column.value) }
            for related in rule.exemptions.related {
                if case .relation(let name) = related.rows { add(name.value) }
                related.clock?.columns.forEach { add($0.value) }
            }
        }
        var kept = relations.filter { names.contains($0.name.value) }
        // A relation chained from another (`parent`), or whose conditions name another, needs it too.
        var changed = true
        while changed {
            changed = false
            for relation in relations where !kept.contains(where: { $0.name.value == relation.name.value }) {
                let needed = kept.contains {
                    $0.parent == relation.name.value
                        || $0.conditions.contains {
                            $0.column.value.hasPrefix(relation.name.value + ".")
                                || $0.column.value == relation.name.value
                        }
                }
                if needed {
                    kept.append(relation)
                    changed = true
                }
            }
        }
        var subject = self
        subject.relations = relations.filter { relation in kept.contains { $0.name.value == relation.name.value } }
        return subject
    }
}
