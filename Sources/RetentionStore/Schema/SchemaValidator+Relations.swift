import Foundation
import RetentionCore

/// Where names are resolved from: the subject's row, one of its relations (a relation's `where`,
/// a related exemption's clock), or a plain related table (the `table:`/`foreign_key:` form of
/// `related`, which reaches no relation).
struct NameScope {
    var table: TableInfo
    /// The relation whose rows `table` holds; nil for the subject's own row.
    var relation: String?
    var reachesRelations = true
}

/// The relations of a subject (or of a child table) checked against the schema, each turned into
/// the `RelationStep` that reaches its rows from its parent.
struct SubjectRelations {
    var table: TableInfo
    var relations: [String: Relation] = [:]
    var tables: [String: TableInfo] = [:]
    var steps: [String: RelationStep] = [:]

    var scope: NameScope { NameScope(table: table, relation: nil) }

    /// The relations from `scope` down to `relation`, or nil when `relation` does not start
    /// (directly or through others) from the scope's row.
    func chain(to relation: String, from scope: NameScope) -> [String]? {
        var chain: [String] = []
        var current: String? = relation
        while let name = current, name != scope.relation {
            chain.insert(name, at: 0)
            current = relations[name]?.parent
            if chain.count > relations.count { return nil }
        }
        return current == scope.relation ? chain : nil
    }
}

extension SchemaValidator {
    /// Checks the subject's relations (tables, columns, chains, conditions) and builds their steps.
    /// Nil when any is wrong: the errors are reported at their place.
    mutating func resolveRelations(_ declared: [Relation], of table: TableInfo) -> SubjectRelations? {
        var resolved = SubjectRelations(table: table)
        var ok = true
        for relation in declared {
            resolved.relations[relation.name.value] = relation
            guard let related = tableNamed(relation.table) else {
                ok = false
                continue
            }
            resolved.tables[relation.name.value] = related
        }
        // A chain must end at the subject's row: `a` from `b` from `a` reaches nothing.
        for relation in declared where resolved.chain(to: relation.name.value, from: resolved.scope) == nil {
            error(
                relation.name.location,
                "relation `\(relation.name.value)` does not lead back to the subject's row: its chain of `on` columns loops",
                hint:
                    "each relation starts from the subject's columns (`on: { fk_soc: rowid }`) or from another relation's (`on: { id: state.type_id }`)"
            )
            return nil
        }
        // Each step of a chain is one more table joined in every probe that reaches its end.
        for relation in declared {
            guard let steps = resolved.chain(to: relation.name.value, from: resolved.scope)?.count,
                steps > Self.maxRelationSteps
            else { continue }
            error(
                relation.name.location,
                "relation `\(relation.name.value)` is \(steps) steps from the subject's row; at most \(Self.maxRelationSteps) are accepted, since every probe joins each step's table",
                hint: "start it from a relation closer to the subject, or from the subject's own columns")
            ok = false
        }
        // Parents first, so a relation's `on` can be checked against its parent's table.
        let ordered = declared.sorted {
            (resolved.chain(to: $0.name.value, from: resolved.scope)?.count ?? 0)
                < (resolved.chain(to: $1.name.value, from: resolved.scope)?.count ?? 0)
        }
        for relation in ordered {
            // A missing table was reported above; its relation and those chained from it are skipped.
            guard let related = resolved.tables[relation.name.value] else { continue }
            guard let parent = relation.parent.map({ resolved.tables[$0] }) ?? table else { continue }
            var pairs: [RelationStep.Pair] = []
            var columns: [(ColumnInfo, ColumnInfo)] = []
            for (column, parentColumn) in relation.on {
                let parentName = Name(String(parentColumn.value.split(separator: ".").last!), at: parentColumn.location)
                guard let left = self.column(related, column), let right = self.column(parent, parentName) else {
                    ok = false
                    continue
                }
                if !comparable(
                    left, of: related, right, of: parent, at: column.location,
                    caseInsensitive: relation.caseInsensitive, asText: relation.asText)
                {
                    ok = false
                }
                pairs.append(.init(column: column.value, parentColumn: parentName.value))
                columns.append((left, right))
            }
            guard pairs.count == relation.on.count else { continue }
            let lower = Self.needsLower(relation.caseInsensitive, columns)
            let fixed = Self.fixedColumns(relation.conditions)
            warnWithoutIndex(
                related, pairs.map(\.column), fixed: fixed, at: relation.table.location,
                what: "relation `\(relation.name.value)`", caseInsensitive: lower)
            resolved.steps[relation.name.value] = RelationStep(
                table: related.name, on: pairs, caseInsensitive: lower,
                indexed: related.serves(pairs.map(\.column), fixed: fixed, caseInsensitive: lower))
            resolved.steps[relation.name.value]!.parentAsText = relation.asText
        }
        guard ok else { return nil }
        // A relation's conditions may name relations chained from it: deepest first, so each
        // step they reach already carries its own conditions.
        for relation in ordered.reversed() {
            guard let related = resolved.tables[relation.name.value] else { continue }
            let scope = NameScope(table: related, relation: relation.name.value)
            guard let conditions = rowConditions(relation.conditions, in: scope, relations: resolved) else {
                ok = false
                continue
            }
            resolved.steps[relation.name.value]!.conditions = conditions
        }
        return ok ? resolved : nil
    }

    /// A column as seen from `scope`: its own (`closed_at`), or a related one (`state_type.name`)
    /// with the steps that reach it. Reports an error at the name when it cannot be reached.
    mutating func reach(_ name: Name, from scope: NameScope, relations: SubjectRelations?) -> (
        path: [RelationStep], table: TableInfo, column: Name
    )? {
        let parts = name.value.split(separator: ".").map(String.init)
        guard parts.count == 2 else {
            return column(scope.table, name) != nil ? ([], scope.table, name) : nil
        }
        let column = Name(parts[1], at: name.location)
        guard scope.reachesRelations, let relations, relations.relations[parts[0]] != nil else {
            error(
                name.location,
                "`\(name.value)` cannot be used here: `\(parts[0])` is not a relation reachable from `\(scope.table.name)`",
                hint:
                    "a related table named by `table:`/`foreign_key:` reaches no relation; declare it as a relation and write `relation: NAME`"
            )
            return nil
        }
        guard let chain = relations.chain(to: parts[0], from: scope) else {
            error(
                name.location,
                "relation `\(parts[0])` does not start from `\(scope.relation ?? relations.table.name)`, so `\(name.value)` cannot be used here",
                hint:
                    "only relations chained from this one can be named here: `on: { COLUMN: \(scope.relation ?? "COLUMN").COLUMN }`"
            )
            return nil
        }
        let steps = chain.compactMap { relations.steps[$0] }
        guard steps.count == chain.count, let table = relations.tables[parts[0]] else { return nil }
        return self.column(table, column) != nil ? (steps, table, column) : nil
    }

    /// Filter conditions (or a relation's `where`) as row conditions seen from `scope`.
    mutating func rowConditions(_ conditions: [FilterCondition], in scope: NameScope, relations: SubjectRelations?)
        -> [RowCondition]?
    {
        var result: [RowCondition] = []
        var ok = true
        for condition in conditions {
            if case .exists(let present) = condition.test {
                guard let relations, scope.reachesRelations,
                    let chain = relations.chain(to: condition.column.value, from: scope)
                else {
                    error(
                        condition.column.location,
                        "relation `\(condition.column.value)` does not start from `\(scope.relation ?? scope.table.name)`",
                        hint: "`exists` tests a relation chained from the rows being filtered")
                    ok = false
                    continue
                }
                result.append(.related(chain.map { relations.steps[$0]! }, [], exists: present))
                continue
            }
            guard let (path, table, column) = reach(condition.column, from: scope, relations: relations) else {
                ok = false
                continue
            }
            checkValueType(condition, column: table.column(column.value)!, table: table)
            result.append(.through(path, .column(column.value, .filter(condition.test))))
        }
        return ok ? result : nil
    }

    /// The kind of values a column holds, as far as comparing two columns is concerned.
    static func typeFamily(_ column: ColumnInfo) -> String? {
        if column.nativeDateStorage != nil { return "date" }
        let t = column.declaredType.uppercased()
        if ["INT", "NUMERIC", "DECIMAL", "REAL", "DOUBLE", "FLOAT", "SERIAL"].contains(where: t.contains) {
            return "number"
        }
        if ["CHAR", "TEXT", "CLOB"].contains(where: t.contains) { return "text" }
        return nil
    }

    /// Whether a case-insensitive match (`match: case_insensitive`) is written with LOWER(…): not
    /// where the database's own `=` already ignores case on every column compared (MariaDB's
    /// `_ci` collations, under which LOWER changes nothing), so that a plain index serves it.
    static func needsLower(_ caseInsensitive: Bool, _ columns: [(ColumnInfo, ColumnInfo)]) -> Bool {
        caseInsensitive && !columns.allSatisfy { $0.0.comparesCaseInsensitively && $0.1.comparesCaseInsensitively }
    }

    /// Two columns a relation or a child compares must hold the same kind of values: PostgreSQL
    /// refuses `integer = text` at plan time, and SQLite would compare them and never match.
    /// Reports the mismatch where it is written; true when they compare.
    ///
    /// With `asText` (`as: text`), `left` (the probed side: the related or child table's column)
    /// must hold text and `right` (the starting row's) numbers: the numbers are read as text, so
    /// an index on `left` serves. The other way round no index could: the link must be declared
    /// from the other table.
    mutating func comparable(
        _ left: ColumnInfo, of leftTable: TableInfo, _ right: ColumnInfo, of rightTable: TableInfo,
        at location: SourceLocation, caseInsensitive: Bool, asText: Bool = false
    ) -> Bool {
        let a = Self.typeFamily(left)
        let b = Self.typeFamily(right)
        if asText {
            guard a == "text", b == "number" else {
                let hint =
                    a == "number" && b == "text"
                    ? "here the starting row holds the text: reading `\(leftTable.name).\(left.name)` as text instead would leave no index to find its rows; link from the table holding the numbers to the one holding the text"
                    : "`as: text` is for a text column holding the starting row's numbers; remove it"
                error(
                    location,
                    "`as: text` reads the starting row's `\(rightTable.name).\(right.name)` (\(right.declaredType)) as text to compare it with `\(leftTable.name).\(left.name)` (\(left.declaredType)): it needs a number there and text here",
                    hint: hint)
                return false
            }
            return true
        }
        if caseInsensitive, a != "text" || b != "text", a != nil, b != nil {
            error(
                location,
                "`match: case_insensitive` compares text, but `\(leftTable.name).\(left.name)` is \(left.declaredType) and `\(rightTable.name).\(right.name)` is \(right.declaredType)",
                hint: "use `match: exact` for numbers and dates")
            return false
        }
        guard let a, let b, a != b else { return true }
        let converts =
            a == "text" && b == "number" ? " — or, if this text column holds those numbers as text, add `as: text`" : ""
        error(
            location,
            "`\(leftTable.name).\(left.name)` (\(left.declaredType)) is compared with `\(rightTable.name).\(right.name)` (\(right.declaredType)): they hold different kinds of values",
            hint: "link the columns that hold the same identifier (a \(a) column with a \(a) column)\(converts)")
        return false
    }

    /// A filter value that the column's type cannot hold is refused by `check`, not by the
    /// database in the middle of `plan` (`'closed successful'` against a `smallint`).
    mutating func checkValueType(_ condition: FilterCondition, column: ColumnInfo, table: TableInfo) {
        let type = column.declaredType.lowercased()
        guard
            type.contains("int") || type == "numeric" || type.hasPrefix("numeric(") || type.contains("real")
                || type.contains("double")
        else { return }
        let values: [SQLValue]
        switch condition.test {
        case .equals(let v), .notEquals(let v): values = [v]
        case .oneOf(let vs): values = vs
        case .isNull, .exists: values = []
        }
        for case .text(let text) in values where Double(text) == nil {
            error(
                condition.column.location,
                "`\(table.name).\(column.name)` is \(column.declaredType), but the filter compares it with the text \"\(text)\"",
                hint:
                    "compare with a number, or test the related table that holds the name through a relation (`state_type.name: { in: [closed] }`)"
            )
        }
    }

    /// The columns of the table itself that `conditions` compare with given values (`kind: x`,
    /// `in: [...]`): an index leading with them still finds a link's rows (`hasIndex(on:fixed:)`).
    static func fixedColumns(_ conditions: [FilterCondition]) -> Set<String> {
        Set(
            conditions.filter { condition in
                guard !condition.column.value.contains(".") else { return false }
                switch condition.test {
                case .equals, .oneOf: return true
                case .notEquals, .isNull, .exists: return false
                }
            }.map(\.column.value))
    }

    /// Warns when no index finds the rows by the columns a relation or child is matched on (with
    /// its conditions' fixed columns): each probe would scan the table. The hint is a
    /// `CREATE INDEX` for this database (named).
    mutating func warnWithoutIndex(
        _ table: TableInfo, _ columns: [String], fixed: Set<String> = [], at location: SourceLocation, what: String,
        caseInsensitive: Bool
    ) {
        guard let first = columns.first else { return }
        if caseInsensitive {
            guard !table.hasLowerIndex(leadingWith: first) else { return }
            let message =
                "\(what) compares `\(table.name)`.(\(columns.joined(separator: ", "))) case-insensitively: only an index on LOWER(…) serves it"
            guard schema.indexesExpressions else {
                // MariaDB indexes no expression; a case-insensitive collation makes `=` ignore case, and a plain index serves it.
                let hint =
                    "MariaDB has no index on LOWER(…): if the application allows it, give the compared columns a case-insensitive collation (`ALTER TABLE \(schema.quotedForAdvice(table.name)) MODIFY … COLLATE utf8mb4_general_ci`, then index them); otherwise each probe scans the table"
                diagnostics.append(.warning(location, message, hint: hint))
                unindexedScans.append(UnindexedScan(table: table.name, what: what, location: location, remedy: hint))
                return
            }
            let hint = createIndex(table.name, columns, lower: true, suffix: columns.joined(separator: "_") + "_lower")
            diagnostics.append(.warning(location, message, hint: hint))
            unindexedScans.append(UnindexedScan(table: table.name, what: what, location: location, remedy: hint))
        } else if !table.hasIndex(on: columns, fixed: fixed) {
            let hint = createIndex(table.name, columns, suffix: columns.joined(separator: "_"))
            diagnostics.append(
                .warning(
                    location,
                    "no index starts with `\(table.name).\(first)`: \(what) scans `\(table.name)` for every record",
                    hint: hint))
            unindexedScans.append(UnindexedScan(table: table.name, what: what, location: location, remedy: hint))
        }
    }

    /// `CREATE INDEX name ON table (columns)` in this database's quoting: SQLite needs the name,
    /// PostgreSQL and MariaDB accept it. `lower`: on LOWER(column) of each column.
    func createIndex(_ table: String, _ columns: [String], lower: Bool = false, suffix: String) -> String {
        let keys = columns.map { lower ? "LOWER(\(schema.quotedForAdvice($0)))" : schema.quotedForAdvice($0) }
        return
            "CREATE INDEX \(schema.quotedForAdvice("\(table)_\(suffix)_idx")) ON \(schema.quotedForAdvice(table)) (\(keys.joined(separator: ", ")))"
    }
}
