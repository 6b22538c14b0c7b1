import Foundation
import RetentionCore

/// Checks a parsed policy against the live schema, reporting every mismatch at its place in the file.
public struct SchemaValidator {
    public let policy: Policy
    public let schema: SchemaSnapshot
    /// The database the schema is read from, as messages name it (`RecordReader.location`).
    public let database: String
    /// Up to a few hundred stored values of each date column the policy uses, to check their format.
    public let samples: [String: [SQLValue]]
    var diagnostics: [Diagnostic] = []
    /// What `warnWithoutIndex` warned of, for the engine (`ResolvedPolicy.unindexedScans`).
    var unindexedScans: [UnindexedScan] = []
    /// For the rule being validated: the paths one level below the deepest a `tree` follows
    /// (`RuleShape.treeLimits`).
    var treeLimits: [[ChildLink]] = []
    /// For the keys retentiond checks (`SchemaSnapshot.checkedKeys`), what the data holds now.
    public let ambiguousKeys: [String: AmbiguousKeys]

    public init(
        policy: Policy, schema: SchemaSnapshot, database: String, samples: [String: [SQLValue]],
        ambiguousKeys: [String: AmbiguousKeys] = [:]
    ) {
        self.policy = policy
        self.schema = schema
        self.database = database
        self.samples = samples
        self.ambiguousKeys = ambiguousKeys
    }

    /// `table.column` of every date column the policy compares, which the store should sample.
    public static func dateColumns(of policy: Policy) -> [(table: String, column: String)] {
        var result: [(String, String)] = []
        for subject in policy.subjects {
            let relationTables = Dictionary(
                subject.relations.map { ($0.name.value, $0.table.value) }, uniquingKeysWith: { a, _ in a })
            /// `column` of `table`, or `relation.column` of the relation's table.
            func located(_ name: Name, in table: String) -> (String, String)? {
                let parts = name.value.split(separator: ".").map(String.init)
                guard parts.count == 2 else { return (table, name.value) }
                return relationTables[parts[0]].map { ($0, parts[1]) }
            }
            for rule in subject.rules {
                result += rule.clock.columns.compactMap { located($0, in: subject.table.value) }
                result += rule.exemptions.consent.filter { $0.kind == .until }.compactMap {
                    located($0.column, in: subject.table.value)
                }
                for related in rule.exemptions.related {
                    let table: String?
                    switch related.rows {
                    case .relation(let name): table = relationTables[name.value]
                    case .table(let name, _): table = name.value
                    }
                    guard let table else { continue }
                    result += (related.clock?.columns ?? []).compactMap { located($0, in: table) }
                }
                if case .anonymise(let fields, _) = rule.action {
                    result += fields.filter { $0.strategy == .year }.map { (subject.table.value, $0.column.value) }
                }
            }
        }
        result += policy.applicationHolds.compactMap { holds in holds.until.map { (holds.table.value, $0.value) } }
        var seen = Set<String>()
        return result.filter { seen.insert("\($0.0).\($0.1)").inserted }
    }

    public mutating func validate() -> (diagnostics: [Diagnostic], resolved: ResolvedPolicy?) {
        var shapes: [String: RuleShape] = [:]
        for subject in policy.subjects {
            guard let table = tableNamed(subject.table) else { continue }
            let keyOK = subject.key.allSatisfy { column(table, $0) != nil }
            let key = subject.key.map(\.value)
            if keyOK, schema.checkedKeys[table.name] == key {
                // The database does not enforce it: retentiond does, on the data as it is now.
                if let found = ambiguousKeys[table.name], !found.isEmpty {
                    error(
                        subject.key[0].location,
                        "key (\(key.joined(separator: ", "))) of subject `\(subject.id)` does not name one row per record: \(found.describe(table.name, key)); nothing is done to this table's records while it does not",
                        hint:
                            "find them with SELECT \(key.joined(separator: ", ")), count(*) FROM \(table.name) GROUP BY \(key.joined(separator: ", ")) HAVING count(*) <> 1, and correct those rows (or choose a key that is unique)"
                    )
                }
            } else if keyOK, !table.isUnique(key) {
                error(
                    subject.key[0].location,
                    "key (\(key.joined(separator: ", "))) does not identify one row of `\(table.name)`: it is neither the primary key nor a unique index",
                    hint:
                        "use the primary key\(table.primaryKey.isEmpty ? "" : " (\(table.primaryKey.joined(separator: ", ")))") or add a unique index; if the product's schema has none and the column is unique all the same, declare `key_uniqueness: checked` and retentiond checks it instead"
                )
            } else if keyOK, subject.keyCheckedByRetentiond {
                diagnostics.append(
                    .warning(
                        subject.key[0].location,
                        "`key_uniqueness: checked` is not needed: the database already enforces (\(key.joined(separator: ", "))) as a key of `\(table.name)`",
                        hint: "remove `key_uniqueness`"))
            }
            if table.primaryKey.isEmpty {
                diagnostics.append(
                    .warning(
                        subject.table.location,
                        "`\(table.name)` has no primary key: legal holds name rows by their primary key, so its records cannot be held one by one",
                        hint:
                            "add a primary key to `\(table.name)` before relying on legal holds for subject `\(subject.id)`"
                    ))
            }
            for key in subject.key {
                if let c = table.column(key.value), c.inferredDateStorage == .julian {
                    error(
                        key.location,
                        "key column `\(key.value)` holds real numbers, which cannot identify records reliably",
                        hint: "use an integer or text key")
                }
            }
            for review in subject.reviewColumns { _ = column(table, review) }
            guard let relations = resolveRelations(subject.relations, of: table) else { continue }
            let filter = rowConditions(subject.filter, in: relations.scope, relations: relations)
            for rule in subject.rules {
                if var shape = validate(rule, subject: subject, relations: relations), let filter {
                    validateArchive(rule, shape: shape)
                    shape.filter = filter
                    shapes[rule.id] = shape
                }
            }
        }
        let holdSources = policy.applicationHolds.compactMap { applicationHolds($0) }
        // The application's holds name a row by one key value: tables with a composite primary key cannot be held through them.
        if let first = policy.applicationHolds.first {
            var tables = Set(policy.subjects.map(\.table.value))
            for shape in shapes.values { for path in shape.childPaths { tables.insert(path[path.count - 1].table) } }
            for name in tables.sorted() {
                guard let table = schema.table(name), table.primaryKey.count > 1 else { continue }
                diagnostics.append(
                    .warning(
                        first.table.location,
                        "`\(name)` has a primary key of \(table.primaryKey.count) columns: the application's hold tables name one key value, so they cannot hold its rows",
                        hint: "hold its rows with `retentiond hold add`, which names every key column"))
            }
        }
        validateStatisticsTable()
        validateArchiveReaders(shapes)
        var resolved = ResolvedPolicy(policy: policy, schema: schema, shapes: shapes)
        resolved.holdSources = holdSources
        var seen = Set<UnindexedScan>()
        resolved.unindexedScans = unindexedScans.filter { seen.insert($0).inserted }
        refuseNonTransactionalChanges(resolved)
        let hasErrors = diagnostics.contains { $0.severity == .error }
        return (diagnostics, hasErrors ? nil : resolved)
    }

    /// A batch changes its rows and writes their audit entries in one transaction: on a table
    /// whose engine cannot roll back (MariaDB's MyISAM or Aria), a failed batch would leave rows
    /// changed with no entry saying so. Every table a rule deletes from or updates must be
    /// transactional.
    private mutating func refuseNonTransactionalChanges(_ resolved: ResolvedPolicy) {
        for resolvedRule in resolved.rules {
            let rule = resolvedRule.rule
            let changed = Set(
                resolved.privilegesNeeded(by: resolvedRule).filter {
                    ($0.kind == .delete || $0.kind == .update) && !$0.anyColumn
                }.map(\.table))
            for name in changed.sorted() {
                guard let engine = schema.table(name)?.nonTransactionalEngine else { continue }
                error(
                    rule.location,
                    "rule `\(rule.id)` changes `\(name)`, a table on the \(engine) engine, which cannot roll back a failed batch: its rows could change with no audit entry",
                    hint:
                        "convert it to InnoDB first (`ALTER TABLE \(schema.quotedForAdvice(name)) ENGINE=InnoDB`, docs/mariadb.md), or leave it out of the policy"
                )
            }
        }
    }

    /// An application's hold table: its columns exist, `until` is a date column.
    private mutating func applicationHolds(_ holds: ApplicationHolds) -> (
        source: ApplicationHoldSource, until: DateColumn?
    )? {
        guard let table = tableNamed(holds.table) else { return nil }
        guard column(table, holds.tableColumn) != nil, column(table, holds.keyColumn) != nil else { return nil }
        var until: DateColumn?
        if let name = holds.until {
            guard let date = dateColumn(table, name, role: "end of an application hold") else { return nil }
            until = date
        }
        guard
            let conditions = rowConditions(
                holds.conditions, in: NameScope(table: table, relation: nil, reachesRelations: false), relations: nil)
        else { return nil }
        if !table.hasIndex(leadingWith: holds.tableColumn.value) && !table.hasIndex(leadingWith: holds.keyColumn.value)
        {
            diagnostics.append(
                .warning(
                    holds.table.location,
                    "no index on `\(table.name)`.(\(holds.tableColumn.value), \(holds.keyColumn.value)): every hold check reads the whole table",
                    hint: createIndex(
                        table.name, [holds.tableColumn.value, holds.keyColumn.value],
                        suffix: "\(holds.tableColumn.value)_\(holds.keyColumn.value)")))
        }
        return (
            ApplicationHoldSource(
                table: table.name, tableColumn: holds.tableColumn.value, keyColumn: holds.keyColumn.value, until: nil,
                conditions: conditions), until
        )
    }

    private mutating func validate(_ rule: RetentionRule, subject: Subject, relations: SubjectRelations) -> RuleShape? {
        let table = relations.table
        var ok = true
        let clock = clockColumns(
            rule.clock, from: relations.scope, relations: relations, role: "clock of rule `\(rule.id)`")
        if clock == nil { ok = false }
        for (column, name) in zip(clock ?? [], rule.clock.columns)
        where column.path.isEmpty && !table.hasIndex(leadingWith: column.name) {
            diagnostics.append(
                .warning(
                    name.location,
                    "no index starts with `\(table.name).\(column.name)`: finding due records scans the whole table",
                    hint: createIndex(table.name, [column.name], suffix: column.name)))
        }
        var consent: [RuleShape.ConsentShape] = []
        for exemption in rule.exemptions.consent {
            guard let (path, target, column) = reach(exemption.column, from: relations.scope, relations: relations)
            else {
                ok = false
                continue
            }
            switch exemption.kind {
            case .until:
                if let date = dateColumn(target, column, role: "consent of rule `\(rule.id)`") {
                    consent.append(.until(path, date))
                } else {
                    ok = false
                }
            case .flag:
                consent.append(.flag(path, column.value))
            }
        }
        var related: [RuleShape.Related] = []
        for keep in rule.exemptions.related {
            let path: [RelationStep]
            let scope: NameScope
            switch keep.rows {
            case .relation(let name):
                guard let chain = relations.chain(to: name.value, from: relations.scope),
                    let other = relations.tables[name.value]
                else {
                    ok = false
                    continue
                }
                path = chain.map { relations.steps[$0]! }
                scope = NameScope(table: other, relation: name.value)
            case .table(let name, let foreignKey):
                guard let other = tableNamed(name) else {
                    ok = false
                    continue
                }
                guard foreignKey.allSatisfy({ column(other, $0) != nil }) else {
                    ok = false
                    continue
                }
                if foreignKey.count != subject.key.count {
                    error(
                        keep.location,
                        "`\(other.name)`.(\(foreignKey.map(\.value).joined(separator: ", "))) has \(foreignKey.count) column(s) but the key of `\(subject.id)` has \(subject.key.count)",
                        hint: "list the related table's columns that hold the subject's key, in key order")
                    ok = false
                    continue
                }
                // The same kinds of values on both sides, as a relation's `on` (PostgreSQL refuses `varchar = integer` at plan time).
                var kinds = true
                for (fk, key) in zip(foreignKey, subject.key) {
                    guard let left = other.column(fk.value), let right = relations.scope.table.column(key.value) else {
                        continue
                    }
                    if !comparable(
                        left, of: other, right, of: relations.scope.table, at: fk.location, caseInsensitive: false)
                    {
                        kinds = false
                    }
                }
                guard kinds else {
                    ok = false
                    continue
                }
                path = [
                    RelationStep(
                        table: other.name,
                        on: zip(foreignKey, subject.key).map { .init(column: $0.value, parentColumn: $1.value) })
                ]
                scope = NameScope(table: other, relation: nil, reachesRelations: false)
            }
            var columns: [DateColumn]?
            if let c = keep.clock {
                columns = clockColumns(c, from: scope, relations: relations, role: "related clock")
                if columns == nil { ok = false }
            }
            related.append(RuleShape.Related(keep: keep, path: path, clock: columns))
        }
        var fieldDates: [String: DateColumn] = [:]
        let deletion = Deletion(rule: rule, overrides: Set(rule.overrides.map(\.value)))
        var subjectKeptBy: [String] = []
        var subjectOverrides: [String] = []
        var childPaths: [[ChildLink]] = []
        treeLimits = []
        var childWork: [RuleShape.ChildWork] = []
        var undeclared: [ForeignKey] = []
        switch rule.action {
        case .flag:
            break
        case .anonymise(let fields, let children):
            if let dates = validateFields(
                fields, of: table, key: subject.key.map(\.value), owner: "the key of `\(subject.id)`")
            {
                fieldDates = dates
            } else {
                ok = false
            }
            for child in children {
                let deleted: Deletion?
                if case .purge = child.action { deleted = deletion } else { deleted = nil }
                guard
                    let paths = declaredPaths(
                        child, parent: table, parentKey: subject.key.map(\.value), prefix: [], deletion: deleted)
                else {
                    ok = false
                    continue
                }
                childPaths += paths
                let link = paths[0][0]
                switch child.action {
                case .purge:
                    childWork += paths.map { .purge($0) }
                case .anonymise(let childFields):
                    guard let childTable = schema.table(link.table), !childTable.primaryKey.isEmpty else {
                        error(
                            child.table.location,
                            "child `\(link.table)` has no primary key, so its rows cannot be anonymised one by one",
                            hint: "give it a primary key, or purge its rows")
                        ok = false
                        continue
                    }
                    guard
                        let dates = validateFields(
                            childFields, of: childTable, key: childTable.primaryKey,
                            owner: "the primary key of `\(childTable.name)`")
                    else {
                        ok = false
                        continue
                    }
                    childWork.append(
                        .anonymise(paths[0], fields: childFields, keyColumns: childTable.primaryKey, fieldDates: dates))
                }
            }
        case .purge(let selection):
            switch selection {
            case .declared(let children):
                for child in children {
                    guard
                        let paths = declaredPaths(
                            child, parent: table, parentKey: subject.key.map(\.value), prefix: [], deletion: deletion)
                    else {
                        ok = false
                        continue
                    }
                    childPaths += paths
                }
            case .foreignKeys:
                childPaths = foreignKeyPaths(from: table, prefix: [], visited: [table.name], deletion: deletion)
            }
            (subjectKeptBy, subjectOverrides) = keepers(
                of: table.name, conditions: subject.filter, deletion: deletion, excluded: subject.id,
                at: rule.location, owned: false)
            // What the policy declares, whether or not it resolved: a declared child with an error of
            // its own is reported there, not also as an undeclared reference.
            var direct = Set(
                childPaths.filter { $0.count == 1 }.map { "\($0[0].table)(\($0[0].foreignKey.joined(separator: ",")))" }
            )
            if case .declared(let children) = selection {
                direct.formUnion(
                    children.map { "\($0.table.value)(\($0.foreignKey.map(\.value).joined(separator: ",")))" })
            }
            undeclared = schema.references(to: table.name).filter {
                !direct.contains("\($0.table)(\($0.columns.joined(separator: ",")))")
            }
            for fk in undeclared {
                diagnostics.append(
                    .warning(
                        rule.location,
                        "`\(fk.table)`.(\(fk.columns.joined(separator: ", "))) references `\(table.name)` but is not a declared child of purge rule `\(rule.id)`: records still referenced from it are kept, never purged",
                        hint:
                            "declare it under `children` if its rows must go with the record, or leave it to protect them"
                    ))
            }
        }
        checkOverrides(of: rule, reached: Set([table.name] + childPaths.map { $0[$0.count - 1].table }))
        let governing = Set(subjectKeptBy + childPaths.flatMap { $0.flatMap(\.keptBy) })
        if governing.count > Self.keepersPerRule {
            error(
                rule.location,
                "rule `\(rule.id)` deletes rows that \(governing.count) other subjects govern; at most \(Self.keepersPerRule) can be weighed in one rule",
                hint: "split the purge, or declare the intended deletions with `overrides`")
            ok = false
        }
        if !validateStatistics(rule, subject: subject, table: table) { ok = false }
        guard ok, let clock else { return nil }
        var shape = RuleShape(
            filter: [], clock: clock, consent: consent, related: related, childPaths: childPaths,
            undeclaredReferences: undeclared, fieldDates: fieldDates)
        shape.childWork = childWork
        shape.treeLimits = treeLimits
        shape.subjectKeptBy = subjectKeptBy
        shape.subjectOverrides = subjectOverrides
        return shape
    }
}
