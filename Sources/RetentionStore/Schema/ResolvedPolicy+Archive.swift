import Foundation
import RetentionCore

extension ResolvedPolicy {
    /// What the archive rule `rule` moves, from the live schema: the record's table and each of its
    /// declared children's, with their columns, primary keys and the columns they are found by.
    public func archiveShape(of rule: RetentionRule) -> ArchiveShape {
        let (subject, shape) = (self.rule(rule).subject, self.rule(rule).shape)
        let keyColumns = subject.key.map(\.value)
        var tables: [ArchiveTable] = []
        func add(_ name: String, lookup: [String]) {
            if let i = tables.firstIndex(where: { $0.name == name }) {
                if !lookup.isEmpty, !tables[i].lookups.contains(lookup) { tables[i].lookups.append(lookup) }
                return
            }
            guard let info = schema.table(name) else { return }
            tables.append(
                ArchiveTable(
                    name: name, columns: info.columns, primaryKey: info.primaryKey,
                    lookups: lookup.isEmpty ? [] : [lookup]))
        }
        var copied: [ArchiveShape.Copied] = []
        for copy in rule.copies {
            guard let info = schema.table(copy.table.value) else { continue }
            let references = copy.references.isEmpty ? info.primaryKey : copy.references.map(\.value)
            copied.append(
                ArchiveShape.Copied(
                    table: info.name, foreignKey: copy.foreignKey.map(\.value), references: references,
                    primaryKey: info.primaryKey))
            add(info.name, lookup: [])
        }
        add(subject.table.value, lookup: keyColumns)
        for path in shape.childPaths {
            let link = path[path.count - 1]
            add(link.table, lookup: link.foreignKey)
        }
        return ArchiveShape(
            rule: rule.id, table: subject.table.value, keyColumns: keyColumns, childPaths: shape.childPaths,
            copied: copied, tables: tables)
    }

    /// Every table the policy's archive rules move, each once (the archive's tables), parents
    /// before the children that reference them; `archive`: the archive's own policy, whose rules'
    /// clock columns are indexed there.
    public func archivedTables(for archive: Policy) -> [ArchiveTable] {
        var tables = archivedTables
        for (i, table) in tables.enumerated() {
            let earlier = Set(tables[..<i].map(\.name))
            tables[i].foreignKeys = (schema.table(table.name)?.foreignKeys ?? []).filter {
                earlier.contains($0.referencedTable)
            }
            for rule in archive.rules
            where archive.subject(for: rule).table.value.lowercased() == table.name.lowercased() {
                for column in rule.clock.columns
                where !column.value.contains(".") && table.columns.contains(where: { $0.name == column.value }) {
                    if !tables[i].lookups.contains([column.value]) { tables[i].lookups.append([column.value]) }
                }
            }
        }
        return tables
    }

    /// Every table the policy's archive rules move, each once.
    public var archivedTables: [ArchiveTable] {
        var tables: [ArchiveTable] = []
        for resolved in rules where resolved.rule.archives {
            for table in archiveShape(of: resolved.rule).tables {
                if let i = tables.firstIndex(where: { $0.name == table.name }) {
                    for lookup in table.lookups where !tables[i].lookups.contains(lookup) {
                        tables[i].lookups.append(lookup)
                    }
                } else {
                    tables.append(table)
                }
            }
        }
        return tables
    }
}

extension SchemaValidator {
    /// An archive finds its rows again by their primary keys: every table an archive rule moves
    /// must have one, and none may be one of retentiond's own.
    mutating func validateArchive(_ rule: RetentionRule, shape: RuleShape) {
        guard rule.archives else { return }
        let subject = policy.subject(for: rule).table.value
        for copy in rule.copies {
            guard let parent = tableNamed(copy.table), let table = schema.table(subject) else { continue }
            guard copy.foreignKey.allSatisfy({ column(table, $0) != nil }),
                copy.references.allSatisfy({ column(parent, $0) != nil })
            else { continue }
            if parent.primaryKey.isEmpty {
                error(
                    copy.table.location,
                    "rule `\(rule.id)` copies `\(parent.name)`, which has no primary key: the archive keeps one copy of each row, found by it",
                    hint: "add a primary key to `\(parent.name)`")
            } else if (copy.references.isEmpty ? parent.primaryKey.count : copy.references.count)
                != copy.foreignKey.count
            {
                error(
                    copy.table.location,
                    "rule `\(rule.id)` copies `\(parent.name)` through \(copy.foreignKey.count) column(s) of `\(subject)` but names \(copy.references.isEmpty ? parent.primaryKey.count : copy.references.count) of `\(parent.name)`",
                    hint: "give as many `references` (default: its primary key) as `foreign_key` columns")
            } else if parent.name == subject
                || shape.childPaths.contains(where: { $0[$0.count - 1].table == parent.name })
            {
                error(
                    copy.table.location, "rule `\(rule.id)` both moves and copies `\(parent.name)`",
                    hint: "a table the rule moves is in the archive already")
            }
        }
        var tables = [subject]
        for path in shape.childPaths where !tables.contains(path[path.count - 1].table) {
            tables.append(path[path.count - 1].table)
        }
        for name in tables {
            if name.hasPrefix("retentiond_") || name == policy.statisticsTable {
                error(
                    rule.location, "rule `\(rule.id)` would archive `\(name)`, one of retentiond's own tables",
                    hint: "archive the application's tables only")
            } else if let table = schema.table(name), table.primaryKey.isEmpty {
                error(
                    rule.location,
                    "rule `\(rule.id)` archives `\(name)`, which has no primary key: the archive finds its rows again by their primary key",
                    hint: "add a primary key to `\(name)`, or purge instead of archiving")
            }
        }
    }
}

extension SchemaValidator {
    /// Keeping wins across the archive too: a rule whose records are chosen, dated or kept by rows
    /// of another table (its filter, clock, consent or a `related` exemption through a relation)
    /// must not lose those rows to an archive rule — once moved they no longer count here, and a
    /// record they kept would go early. Refused, unless the archive rule copies the rule's own
    /// table into the archive with them (the archive then holds what they kept: `copies`).
    mutating func validateArchiveReaders(_ shapes: [String: RuleShape]) {
        var moved: [String: RetentionRule] = [:]
        for rule in policy.archivingRules {
            guard let shape = shapes[rule.id] else { continue }
            moved[policy.subject(for: rule).table.value] = rule
            for path in shape.childPaths { moved[path[path.count - 1].table] = rule }
        }
        guard !moved.isEmpty else { return }
        for rule in policy.rules {
            guard let shape = shapes[rule.id] else { continue }
            let subject = policy.subject(for: rule).table.value
            for table in Self.tablesReadThrough(shape).sorted() {
                guard let archiving = moved[table], archiving.id != rule.id,
                    !archiving.copies.contains(where: { $0.table.value.lowercased() == subject.lowercased() })
                else { continue }
                error(
                    rule.location,
                    "rule `\(rule.id)` reads `\(table)` (its filter, clock, consent or exemptions), whose rows rule `\(archiving.id)` moves to the archive: once moved they no longer choose, date or keep `\(subject)` records here, and a record they kept would go early",
                    hint:
                        "copy `\(subject)`'s rows into the archive with them (`copies: [{ table: \(subject), foreign_key: … }]` on `\(archiving.id)`: the archive then holds them as they were), or archive no earlier than they must count here (docs/policy.md, \"Archive\")"
                )
            }
        }
    }

    /// The tables a rule's query reaches through relations: its filter, clock, consent and `related` exemptions.
    static func tablesReadThrough(_ shape: RuleShape) -> Set<String> {
        var tables = Set<String>()
        func visit(_ condition: RowCondition) {
            if case .related(let path, let conditions, _) = condition {
                tables.formUnion(path.map(\.table))
                conditions.forEach(visit)
            }
        }
        shape.filter.forEach(visit)
        for column in shape.clock { tables.formUnion(column.path.map(\.table)) }
        for consent in shape.consent {
            switch consent {
            case .until(let path, _), .flag(let path, _): tables.formUnion(path.map(\.table))
            }
        }
        for related in shape.related { tables.formUnion(related.path.map(\.table)) }
        return tables
    }
}
