import Foundation
import RetentionCore

/// A rule as it maps onto the live schema: its date columns' storage, the child tables a purge
/// reaches, and the references a purge must respect.
public struct RuleShape: Sendable {
    public var clock: [DateColumn]
    public var consentUntil: [DateColumn]
    public var related: [(table: String, foreignKey: [String], clock: [DateColumn]?)]
    public var childPaths: [[ChildLink]]
    public var undeclaredReferences: [ForeignKey]
    /// Storage of each anonymised field that is a date (for `year`).
    public var fieldDates: [String: DateColumn]
}

/// The policy checked against the schema: only this lets the engine build queries.
public struct ResolvedPolicy: Sendable {
    public var policy: Policy
    public var schema: SchemaSnapshot
    public var shapes: [String: RuleShape]

    public func shape(of rule: RetentionRule) -> RuleShape { shapes[rule.id]! }

    /// The store query for `rule` at `now`.
    public func query(for rule: RetentionRule, now: Date, toolTablesExist: Bool) throws(Cutoff.Unavailable) -> RuleQuery {
        let subject = policy.subject(for: rule)
        let shape = shape(of: rule)
        let calendar = policy.calendar
        let cutoff = try Cutoff(rule: rule, policy: policy, now: now)
        let clock = ClockPredicate(columns: shape.clock, combination: rule.clock.combination, bound: cutoff.clockBound, calendar: calendar)
        let consentUntil = shape.consentUntil.map { ($0.name, DateCodec.render(now, storage: $0.storage, layout: $0.layout, calendar: calendar), $0.storage.sqlCast) }
        let consentFlags = rule.exemptions.consent.filter { $0.kind == .flag }.map(\.column.value)
        var related: [(table: String, foreignKey: [String], clock: ClockPredicate?)] = []
        for (keep, resolved) in zip(rule.exemptions.related, shape.related) {
            var predicate: ClockPredicate?
            if let columns = resolved.clock, let clock = keep.clock, let within = keep.within {
                do {
                    let bound = try Cutoff(now: now, duration: within, fiscalYearEnd: clock.fiscalYearEnd,
                                           fiscalYearStart: policy.fiscalYearStart, calendar: calendar).clockBound
                    predicate = ClockPredicate(columns: columns, combination: clock.combination, bound: bound, calendar: calendar)
                } catch {
                    var named = error
                    named.rule = rule.id
                    throw named
                }
            }
            related.append((resolved.table, resolved.foreignKey, predicate))
        }
        var fields: [String] = []
        if case .anonymise(let strategies) = rule.action { fields = strategies.map(\.column.value) }
        return RuleQuery(ruleID: rule.id, table: subject.table.value, keyColumns: subject.key.map(\.value),
                         holdKeyColumns: schema.table(subject.table.value)?.primaryKey ?? [], filter: subject.filter,
                         clock: clock, consentUntil: consentUntil, consentFlags: consentFlags, related: related,
                         childPaths: shape.childPaths, undeclaredReferences: shape.undeclaredReferences,
                         fieldColumns: fields, reviewColumns: subject.reviewColumns.map(\.value),
                         toolTablesExist: toolTablesExist, holdTime: now)
    }
}

/// Checks a parsed policy against the live schema, reporting every mismatch at its place in the file.
public struct SchemaValidator {
    public let policy: Policy
    public let schema: SchemaSnapshot
    /// Up to a few hundred stored values of each date column the policy uses, to check their format.
    public let samples: [String: [SQLValue]]
    private var diagnostics: [Diagnostic] = []

    public init(policy: Policy, schema: SchemaSnapshot, samples: [String: [SQLValue]]) {
        self.policy = policy
        self.schema = schema
        self.samples = samples
    }

    /// `table.column` of every date column the policy compares, which the store should sample.
    public static func dateColumns(of policy: Policy) -> [(table: String, column: String)] {
        var result: [(String, String)] = []
        for subject in policy.subjects {
            for rule in subject.rules {
                result += rule.clock.columns.map { (subject.table.value, $0.value) }
                result += rule.exemptions.consent.filter { $0.kind == .until }.map { (subject.table.value, $0.column.value) }
                for related in rule.exemptions.related {
                    result += (related.clock?.columns ?? []).map { (related.table.value, $0.value) }
                }
                if case .anonymise(let fields) = rule.action {
                    result += fields.filter { $0.strategy == .year }.map { (subject.table.value, $0.column.value) }
                }
            }
        }
        var seen = Set<String>()
        return result.filter { seen.insert("\($0.0).\($0.1)").inserted }
    }

    public mutating func validate() -> (diagnostics: [Diagnostic], resolved: ResolvedPolicy?) {
        var shapes: [String: RuleShape] = [:]
        for subject in policy.subjects {
            guard let table = tableNamed(subject.table) else { continue }
            let keyOK = subject.key.allSatisfy { column(table, $0) != nil }
            if keyOK, !table.isUnique(subject.key.map(\.value)) {
                error(subject.key[0].location, "key (\(subject.key.map(\.value).joined(separator: ", "))) does not identify one row of `\(table.name)`: it is neither the primary key nor a unique index",
                      hint: "use the primary key\(table.primaryKey.isEmpty ? "" : " (\(table.primaryKey.joined(separator: ", ")))") or add a unique index")
            }
            if table.primaryKey.isEmpty {
                diagnostics.append(.warning(subject.table.location, "`\(table.name)` has no primary key: legal holds name rows by their primary key, so its records cannot be held one by one",
                                            hint: "add a primary key to `\(table.name)` before relying on legal holds for subject `\(subject.id)`"))
            }
            for key in subject.key {
                if let c = table.column(key.value), c.inferredDateStorage == .julian {
                    error(key.location, "key column `\(key.value)` holds real numbers, which cannot identify records reliably", hint: "use an integer or text key")
                }
            }
            for condition in subject.filter { _ = column(table, condition.column) }
            for review in subject.reviewColumns { _ = column(table, review) }
            for rule in subject.rules {
                if let shape = validate(rule, subject: subject, table: table) { shapes[rule.id] = shape }
            }
        }
        let hasErrors = diagnostics.contains { $0.severity == .error }
        return (diagnostics, hasErrors ? nil : ResolvedPolicy(policy: policy, schema: schema, shapes: shapes))
    }

    private mutating func validate(_ rule: RetentionRule, subject: Subject, table: TableInfo) -> RuleShape? {
        var ok = true
        var clock: [DateColumn] = []
        for name in rule.clock.columns {
            guard let date = dateColumn(table, name, role: "clock of rule `\(rule.id)`") else { ok = false; continue }
            clock.append(date)
            if !table.hasIndex(leadingWith: name.value) {
                diagnostics.append(.warning(name.location, "no index starts with `\(table.name).\(name.value)`: finding due records scans the whole table",
                                            hint: "CREATE INDEX ON \(table.name)(\(name.value))"))
            }
        }
        var consentUntil: [DateColumn] = []
        for consent in rule.exemptions.consent {
            switch consent.kind {
            case .until:
                if let date = dateColumn(table, consent.column, role: "consent of rule `\(rule.id)`") { consentUntil.append(date) } else { ok = false }
            case .flag:
                if column(table, consent.column) == nil { ok = false }
            }
        }
        var related: [(table: String, foreignKey: [String], clock: [DateColumn]?)] = []
        for keep in rule.exemptions.related {
            guard let other = tableNamed(keep.table) else { ok = false; continue }
            guard keep.foreignKey.allSatisfy({ column(other, $0) != nil }) else { ok = false; continue }
            if keep.foreignKey.count != subject.key.count {
                error(keep.location, "`\(other.name)`.(\(keep.foreignKey.map(\.value).joined(separator: ", "))) has \(keep.foreignKey.count) column(s) but the key of `\(subject.id)` has \(subject.key.count)",
                      hint: "list the related table's columns that hold the subject's key, in key order")
                ok = false
                continue
            }
            var columns: [DateColumn]?
            if let c = keep.clock {
                columns = c.columns.compactMap { dateColumn(other, $0, role: "related clock") }
                if columns!.count != c.columns.count { ok = false }
            }
            related.append((other.name, keep.foreignKey.map(\.value), columns))
        }
        var fieldDates: [String: DateColumn] = [:]
        var childPaths: [[ChildLink]] = []
        var undeclared: [ForeignKey] = []
        switch rule.action {
        case .flag:
            break
        case .anonymise(let fields):
            for field in fields {
                guard let c = column(table, field.column) else { ok = false; continue }
                if subject.key.contains(where: { $0.value == field.column.value }) {
                    error(field.column.location, "`\(field.column.value)` is part of the key of `\(subject.id)` and cannot be anonymised",
                          hint: "records are found by their key; purge the record instead")
                    ok = false
                }
                if c.notNull, field.strategy == .null {
                    error(field.column.location, "`\(table.name).\(field.column.value)` is NOT NULL, so it cannot be set to null",
                          hint: "use `{ constant: \"…\" }` or `pseudonym`")
                    ok = false
                }
                if table.isUniqueColumn(field.column.value), Self.collides(field.strategy) {
                    error(field.column.location, "`\(table.name).\(field.column.value)` has a unique index, and `\(field.strategy.name)` gives many records the same value, so the update would fail",
                          hint: "use `null` or `pseudonym` for unique columns")
                    ok = false
                }
                if field.strategy == .year {
                    if let date = dateColumn(table, field.column, role: "year strategy") { fieldDates[field.column.value] = date } else { ok = false }
                }
            }
        case .purge(let selection):
            switch selection {
            case .declared(let children):
                for child in children {
                    guard let paths = declaredPaths(child, parent: table, parentKey: subject.key.map(\.value), prefix: []) else { ok = false; continue }
                    childPaths += paths
                }
            case .foreignKeys:
                childPaths = foreignKeyPaths(from: table, prefix: [], visited: [table.name])
            }
            let direct = Set(childPaths.filter { $0.count == 1 }.map { "\($0[0].table)(\($0[0].foreignKey.joined(separator: ",")))" })
            undeclared = schema.references(to: table.name).filter { !direct.contains("\($0.table)(\($0.columns.joined(separator: ",")))") }
            for fk in undeclared {
                diagnostics.append(.warning(rule.location, "`\(fk.table)`.(\(fk.columns.joined(separator: ", "))) references `\(table.name)` but is not a declared child of purge rule `\(rule.id)`: records still referenced from it are kept, never purged",
                                            hint: "declare it under `children` if its rows must go with the record, or leave it to protect them"))
            }
        }
        return ok ? RuleShape(clock: clock, consentUntil: consentUntil, related: related, childPaths: childPaths,
                              undeclaredReferences: undeclared, fieldDates: fieldDates) : nil
    }

    /// Paths for a declared child and its declared children; every table referencing a declared
    /// child must itself be declared, or the purge could fail or cascade where nobody looked.
    private mutating func declaredPaths(_ child: ChildTable, parent: TableInfo, parentKey: [String], prefix: [ChildLink]) -> [[ChildLink]]? {
        guard let table = tableNamed(child.table) else { return nil }
        guard child.foreignKey.allSatisfy({ column(table, $0) != nil }) else { return nil }
        var referenced = child.references.map(\.value)
        if referenced.isEmpty {
            let fk = table.foreignKeys.first { $0.referencedTable == parent.name && $0.columns == child.foreignKey.map(\.value) }
            referenced = fk?.referencedColumns ?? parentKey
        } else if !child.references.allSatisfy({ column(parent, $0) != nil }) {
            return nil
        }
        guard referenced.count == child.foreignKey.count else {
            error(child.table.location, "child `\(table.name)`: \(child.foreignKey.count) foreign key column(s) for \(referenced.count) referenced column(s) of `\(parent.name)`",
                  hint: "give `references` with as many columns as `foreign_key`")
            return nil
        }
        let link = ChildLink(table: table.name, foreignKey: child.foreignKey.map(\.value), referenced: referenced, primaryKey: table.primaryKey)
        var paths: [[ChildLink]] = []
        var ok = true
        for grandchild in child.children {
            if let sub = declaredPaths(grandchild, parent: table, parentKey: table.primaryKey, prefix: prefix + [link]) { paths += sub } else { ok = false }
        }
        let declared = Set(child.children.map { "\($0.table.value)(\($0.foreignKey.map(\.value).joined(separator: ",")))" })
        for fk in schema.references(to: table.name) where !declared.contains("\(fk.table)(\(fk.columns.joined(separator: ",")))") {
            error(child.table.location, "`\(fk.table)`.(\(fk.columns.joined(separator: ", "))) references child table `\(table.name)`, which this purge deletes from, but is not declared under its `children`",
                  hint: "declare it (its rows go too) or use `children: auto`")
            ok = false
        }
        // Children are deleted before their parent: deepest paths come first when executed in reverse.
        return ok ? [prefix + [link]] + paths : nil
    }

    private func foreignKeyPaths(from table: TableInfo, prefix: [ChildLink], visited: Set<String>) -> [[ChildLink]] {
        var paths: [[ChildLink]] = []
        for fk in schema.references(to: table.name) where !visited.contains(fk.table) {
            guard let child = schema.table(fk.table) else { continue }
            let link = ChildLink(table: child.name, foreignKey: fk.columns, referenced: fk.referencedColumns, primaryKey: child.primaryKey)
            paths.append(prefix + [link])
            paths += foreignKeyPaths(from: child, prefix: prefix + [link], visited: visited.union([child.name]))
        }
        return paths
    }

    /// Strategies that map different values to the same one.
    static func collides(_ strategy: AnonymisationStrategy) -> Bool {
        switch strategy {
        case .constant, .mask, .year: return true
        case .null, .pseudonym, .keep: return false
        }
    }

    // MARK: Lookups with diagnostics

    private mutating func tableNamed(_ name: Name) -> TableInfo? {
        if let t = schema.table(name.value) { return t }
        let known = schema.tables.keys.filter { !$0.hasPrefix("retentiond_") }.sorted()
        error(name.location, "table `\(name.value)` does not exist in \(policy.database.displayName)",
              hint: Suggestion.hint(for: name.value, among: known, listing: "tables") ?? "the database has no tables")
        return nil
    }

    private mutating func column(_ table: TableInfo, _ name: Name) -> ColumnInfo? {
        if let c = table.column(name.value) { return c }
        error(name.location, "table `\(table.name)` has no column `\(name.value)`",
              hint: Suggestion.hint(for: name.value, among: table.columns.map(\.name), listing: "columns") ?? "")
        return nil
    }

    /// Resolves a date column's storage (policy's `date_formats`, else the declared type) and
    /// checks sampled values against it. Messages give counts, never the values themselves.
    private mutating func dateColumn(_ table: TableInfo, _ name: Name, role: String) -> DateColumn? {
        guard let info = column(table, name) else { return nil }
        let ref = "\(table.name).\(name.value)"
        let storage = policy.dateFormats[ref] ?? info.inferredDateStorage
        let values = (samples[ref] ?? []).filter { !$0.isNull }
        let calendar = policy.calendar
        let bad = values.filter { DateCodec.parse($0, storage: storage, calendar: calendar) == nil }.count
        if bad > 0 {
            error(name.location, "\(bad) of \(values.count) sampled values of `\(ref)` (\(role)) are not \(storage.rawValue) dates",
                  hint: "declare the real format under `date_formats: { \(ref): iso8601 | unix | unix_ms | julian }`, or fix the data")
            return nil
        }
        var layout = DateCodec.TextLayout.local(separator: " ")
        if storage == .iso8601 {
            let layouts = Set(values.map { DateCodec.layout(of: $0) }.map { l -> DateCodec.TextLayout in l == .date ? .local(separator: " ") : l })
            if layouts.count > 1 {
                error(name.location, "`\(ref)` mixes ISO-8601 layouts (`T` or space separators, with or without `Z`), which do not compare correctly as text",
                      hint: "normalise the column to one layout")
                return nil
            }
            layout = layouts.first ?? .local(separator: " ")
            if values.allSatisfy({ DateCodec.layout(of: $0) == .date }) && !values.isEmpty { layout = .date }
        }
        return DateColumn(name: name.value, storage: storage, layout: layout)
    }

    private mutating func error(_ at: SourceLocation, _ message: String, hint: String? = nil) {
        diagnostics.append(.error(at, message, hint: hint?.isEmpty == true ? nil : hint))
    }
}
