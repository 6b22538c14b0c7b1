import Foundation

/// Every table and column name of a policy, rewritten: how a policy written with a product's
/// documented spelling (`Tickets`, `Created`) is given the names the database holds (`tickets`,
/// `created`, as PostgreSQL folds unquoted names) — see `SchemaSnapshot.resolvingNames`.
///
/// `table` and `column` return the name to use instead, or nil to keep it. A column of a relation
/// (`state.Name`) has its column part renamed; relation names, rule ids and subject ids are the
/// policy's own and never change.
public struct PolicyRenaming {
    public var table: (String) -> String?
    public var column: (String) -> String?
    /// Told of each name renamed where it is written, with its new spelling.
    public var noticed: (Name, String) -> Void = { _, _ in }

    public init(table: @escaping (String) -> String?, column: @escaping (String) -> String?) {
        self.table = table
        self.column = column
    }

    func table(_ name: Name) -> Name { renamed(name, to: table(name.value) ?? name.value) }
    func column(_ name: Name) -> Name { renamed(name, to: columnRef(name.value)) }

    private func renamed(_ name: Name, to value: String) -> Name {
        if value != name.value { noticed(name, value) }
        return Name(value, at: name.location)
    }
    func columns(_ names: [Name]) -> [Name] { names.map(column) }

    /// `col` or `relation.col`, with the column part renamed.
    func columnRef(_ text: String) -> String {
        let parts = text.split(separator: ".", maxSplits: 1).map(String.init)
        guard parts.count == 2 else { return column(text) ?? text }
        return parts[0] + "." + (column(parts[1]) ?? parts[1])
    }

    func conditions(_ conditions: [FilterCondition]) -> [FilterCondition] {
        conditions.map { condition in
            var condition = condition
            // `relation: { exists: … }` names a relation, not a column.
            if case .exists = condition.test, !condition.column.value.contains(".") { return condition }
            condition.column = column(condition.column)
            return condition
        }
    }

    func relations(_ relations: [Relation]) -> [Relation] {
        relations.map { relation in
            var relation = relation
            relation.table = table(relation.table)
            relation.on = relation.on.map { (column($0.column), column($0.parentColumn)) }
            relation.conditions = conditions(relation.conditions)
            return relation
        }
    }

    func clock(_ clock: RetentionClock) -> RetentionClock {
        var clock = clock
        clock.columns = columns(clock.columns)
        clock.earliest = Set(clock.earliest.map(columnRef))
        clock.entered = Set(clock.entered.map(columnRef))
        return clock
    }

    func exemptions(_ exemptions: Exemptions) -> Exemptions {
        var exemptions = exemptions
        exemptions.consent = exemptions.consent.map { consent in
            var consent = consent
            consent.column = column(consent.column)
            return consent
        }
        exemptions.related = exemptions.related.map { related in
            var related = related
            if case .table(let name, let foreignKey) = related.rows {
                related.rows = .table(table(name), foreignKey: columns(foreignKey))
            }
            related.clock = related.clock.map(clock)
            return related
        }
        return exemptions
    }

    func child(_ child: ChildTable) -> ChildTable {
        var child = child
        child.table = table(child.table)
        child.foreignKey = columns(child.foreignKey)
        child.references = columns(child.references)
        child.relations = relations(child.relations)
        child.conditions = conditions(child.conditions)
        child.owns = child.owns.map { owned in
            var owned = owned
            owned.table = table(owned.table)
            owned.foreignKey = columns(owned.foreignKey)
            owned.references = columns(owned.references)
            return owned
        }
        if case .anonymise(let fields) = child.action { child.action = .anonymise(self.fields(fields)) }
        child.tree = child.tree.map { tree in
            var tree = tree
            tree.foreignKey = columns(tree.foreignKey)
            tree.references = columns(tree.references)
            return tree
        }
        child.children = child.children.map(self.child)
        return child
    }

    func fields(_ fields: [FieldStrategy]) -> [FieldStrategy] {
        fields.map { field in
            var field = field
            field.column = column(field.column)
            return field
        }
    }

    func rule(_ rule: RetentionRule) -> RetentionRule {
        var rule = rule
        rule.clock = clock(rule.clock)
        rule.exemptions = exemptions(rule.exemptions)
        switch rule.action {
        case .flag: break
        case .anonymise(let fields, let children):
            rule.action = .anonymise(self.fields(fields), children: children.map(child))
        case .purge(.declared(let children)): rule.action = .purge(.declared(children.map(child)))
        case .purge(.foreignKeys): break
        }
        rule.copies = rule.copies.map { copy in
            ArchiveCopy(
                table: table(copy.table), foreignKey: columns(copy.foreignKey),
                references: copy.references.map { column($0) })
        }
        return rule
    }

    func subject(_ subject: Subject) -> Subject {
        var subject = subject
        subject.table = table(subject.table)
        subject.key = columns(subject.key)
        subject.relations = relations(subject.relations)
        subject.filter = conditions(subject.filter)
        subject.reviewColumns = columns(subject.reviewColumns)
        subject.rules = subject.rules.map(rule)
        return subject
    }

    public func policy(_ policy: Policy) -> Policy {
        var policy = policy
        policy.subjects = policy.subjects.map(subject)
        policy.applicationHolds = policy.applicationHolds.map { holds in
            var holds = holds
            holds.table = table(holds.table)
            holds.tableColumn = column(holds.tableColumn)
            holds.keyColumn = column(holds.keyColumn)
            holds.until = holds.until.map(column)
            holds.conditions = conditions(holds.conditions)
            return holds
        }
        policy.dateFormats = Dictionary(
            policy.dateFormats.map { key, storage in
                let parts = key.split(separator: ".", maxSplits: 1).map(String.init)
                guard parts.count == 2 else { return (key, storage) }
                return ((table(parts[0]) ?? parts[0]) + "." + (column(parts[1]) ?? parts[1]), storage)
            }, uniquingKeysWith: { a, _ in a })
        return policy
    }
}
