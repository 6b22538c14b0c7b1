import Foundation
import RetentionCore

extension ResolvedPolicy {
    /// What the archive rule `rule` moves, from the live schema: the record's table and each of its
    /// declared children's, with their columns, primary keys and the columns they are found by.
    public func archiveShape(of rule: RetentionRule) -> ArchiveShape {
        let subject = policy.subject(for: rule)
        let shape = self.shape(of: rule)
        let keyColumns = subject.key.map(\.value)
        var tables: [ArchiveTable] = []
        func add(_ name: String, lookup: [String]) {
            if let i = tables.firstIndex(where: { $0.name == name }) {
                if !lookup.isEmpty, !tables[i].lookups.contains(lookup) { tables[i].lookups.append(lookup) }
                return
            }
            guard let info = schema.table(name) else { return }
            tables.append(ArchiveTable(name: name, columns: info.columns, primaryKey: info.primaryKey, lookups: lookup.isEmpty ? [] : [lookup]))
        }
        add(subject.table.value, lookup: keyColumns)
        for path in shape.childPaths {
            let link = path[path.count - 1]
            add(link.table, lookup: link.foreignKey)
        }
        return ArchiveShape(rule: rule.id, table: subject.table.value, keyColumns: keyColumns, childPaths: shape.childPaths, tables: tables)
    }

    /// Every table the policy's archive rules move, each once (the archive's tables), parents
    /// before the children that reference them; `archive`: the archive's own policy, whose rules'
    /// clock columns are indexed there.
    public func archivedTables(for archive: Policy) -> [ArchiveTable] {
        var tables = archivedTables
        for (i, table) in tables.enumerated() {
            let earlier = Set(tables[..<i].map(\.name))
            tables[i].foreignKeys = (schema.table(table.name)?.foreignKeys ?? []).filter { earlier.contains($0.referencedTable) }
            for rule in archive.rules where archive.subject(for: rule).table.value.lowercased() == table.name.lowercased() {
                for column in rule.clock.columns where !column.value.contains(".") && table.columns.contains(where: { $0.name == column.value }) {
                    if !tables[i].lookups.contains([column.value]) { tables[i].lookups.append([column.value]) }
                }
            }
        }
        return tables
    }

    /// Every table the policy's archive rules move, each once.
    public var archivedTables: [ArchiveTable] {
        var tables: [ArchiveTable] = []
        for rule in policy.archivingRules where shapes[rule.id] != nil {
            for table in archiveShape(of: rule).tables {
                if let i = tables.firstIndex(where: { $0.name == table.name }) {
                    for lookup in table.lookups where !tables[i].lookups.contains(lookup) { tables[i].lookups.append(lookup) }
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
        var tables = [policy.subject(for: rule).table.value]
        for path in shape.childPaths where !tables.contains(path[path.count - 1].table) { tables.append(path[path.count - 1].table) }
        for name in tables {
            if name.hasPrefix("retentiond_") || name == policy.statisticsTable {
                error(rule.location, "rule `\(rule.id)` would archive `\(name)`, one of retentiond's own tables", hint: "archive the application's tables only")
            } else if let table = schema.table(name), table.primaryKey.isEmpty {
                error(rule.location, "rule `\(rule.id)` archives `\(name)`, which has no primary key: the archive finds its rows again by their primary key",
                      hint: "add a primary key to `\(name)`, or purge instead of archiving")
            }
        }
    }
}
