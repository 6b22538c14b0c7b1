import Foundation
import RetentionCore

/// Child tables: declared (with their discriminators, owned rows and own children) or found by
/// foreign keys for `children: auto`.
extension SchemaValidator {
    /// Paths for a declared child and its declared children; every table referencing a declared
    /// child must itself be declared, or the purge could fail or cascade where nobody looked.
    /// `deletion`: the rows are deleted (not anonymised), so other subjects' rules govern them too.
    mutating func declaredPaths(
        _ child: ChildTable, parent: TableInfo, parentKey: [String], prefix: [ChildLink], deletion: Deletion?
    ) -> [[ChildLink]]? {
        guard let table = tableNamed(child.table) else { return nil }
        guard prefix.count < Self.maxChildDepth else {
            error(
                child.table.location,
                "child `\(table.name)` is \(prefix.count + 1) levels below the subject; at most \(Self.maxChildDepth) are accepted, since each level nests one more subquery in the statements that delete it",
                hint: "purge the deeper rows with a rule of their own on a table nearer to them")
            return nil
        }
        guard child.foreignKey.allSatisfy({ column(table, $0) != nil }) else { return nil }
        var referenced = child.references.map(\.value)
        if referenced.isEmpty {
            let fk = table.foreignKeys.first {
                $0.referencedTable == parent.name && $0.columns == child.foreignKey.map(\.value)
            }
            referenced = fk?.referencedColumns ?? parentKey
        } else if !child.references.allSatisfy({ column(parent, $0) != nil }) {
            return nil
        }
        guard referenced.count == child.foreignKey.count else {
            error(
                child.table.location,
                "child `\(table.name)`: \(child.foreignKey.count) foreign key column(s) for \(referenced.count) referenced column(s) of `\(parent.name)`",
                hint: "give `references` with as many columns as `foreign_key`")
            return nil
        }
        let linkedByForeignKey = table.foreignKeys.contains {
            $0.referencedTable == parent.name && $0.columns == child.foreignKey.map(\.value)
        }
        if !linkedByForeignKey, child.conditions.isEmpty {
            let discriminators = table.columns.map(\.name).filter { Self.looksLikeDiscriminator($0) }
            if !discriminators.isEmpty {
                error(
                    child.table.location,
                    "child `\(table.name)` is matched on (\(child.foreignKey.map(\.value).joined(separator: ", "))) without a foreign key to `\(parent.name)`, and `\(table.name)` has \(discriminators.map { "`\($0)`" }.joined(separator: ", ")): its rows belong to several kinds of object that share those numbers, so this would delete other objects' rows",
                    hint: "add the discriminator, e.g. `where: { \(discriminators[0]): VALUE_FOR_\(parent.name) }`")
                return nil
            }
            diagnostics.append(
                .warning(
                    child.table.location,
                    "child `\(table.name)` is matched on (\(child.foreignKey.map(\.value).joined(separator: ", "))) without a foreign key to `\(parent.name)`: nothing in the database says those columns hold only `\(parent.name)` rows",
                    hint:
                        "if other objects' ids are stored there too, add a `where` with the discriminator (through the child's `relations` if it lives in another table)"
                ))
        }
        guard let relations = resolveRelations(child.relations, of: table),
            let conditions = rowConditions(child.conditions, in: relations.scope, relations: relations)
        else { return nil }
        var columns: [(ColumnInfo, ColumnInfo)] = []
        for (fk, ref) in zip(child.foreignKey, referenced) {
            guard let left = table.column(fk.value), let right = parent.column(ref) else { continue }
            if !comparable(
                left, of: table, right, of: parent, at: fk.location, caseInsensitive: child.caseInsensitive,
                asText: child.asText)
            {
                return nil
            }
            columns.append((left, right))
        }
        let lower = Self.needsLower(child.caseInsensitive, columns)
        let fixed = Self.fixedColumns(child.conditions)
        warnWithoutIndex(
            table, child.foreignKey.map(\.value), fixed: fixed, at: child.table.location, what: "child `\(table.name)`",
            caseInsensitive: lower)
        var link = ChildLink(
            table: table.name, foreignKey: child.foreignKey.map(\.value), referenced: referenced,
            primaryKey: table.primaryKey,
            conditions: conditions, caseInsensitive: lower,
            indexed: table.serves(child.foreignKey.map(\.value), fixed: fixed, caseInsensitive: lower))
        link.parentAsText = child.asText
        let below = deletion?.overriding(child.overrides)
        if let below {
            (link.keptBy, link.overrides) = keepers(
                of: table.name, conditions: child.conditions, deletion: below, at: child.table.location, owned: false)
        }
        // The paths ending in this table: its rows, then (`tree`) each level of rows hanging off them.
        var levels: [[ChildLink]] = [prefix + [link]]
        if let tree = child.tree {
            guard let selfLink = treeLink(tree, of: table, like: link) else { return nil }
            let room = Self.maxChildDepth - prefix.count - 2 - Self.height(child)
            guard room >= 1 else {
                error(
                    tree.location,
                    "child `\(table.name)` is \(prefix.count + 1) levels below the subject with \(Self.height(child)) below it: no level is left for its `tree` (at most \(Self.maxChildDepth) levels in all)",
                    hint: "declare the child nearer to the subject, or purge its rows with a rule of their own")
                return nil
            }
            levels = unrolled(prefix + [link], selfLink, depth: min(tree.depth ?? room, room))
        }
        var paths: [[ChildLink]] = []
        var ok = true
        for level in levels {
            for owned in child.owns {
                guard var ownedLink = ownedLink(owned, pointedFrom: table) else {
                    ok = false
                    continue
                }
                if let below {
                    (ownedLink.keptBy, ownedLink.overrides) = keepers(
                        of: ownedLink.table, conditions: [], deletion: below.overriding(owned.overrides),
                        at: owned.table.location, owned: true)
                }
                paths.append(level + [ownedLink])
            }
            for grandchild in child.children {
                if let sub = declaredPaths(
                    grandchild, parent: table, parentKey: table.primaryKey, prefix: level, deletion: below)
                {
                    paths += sub
                } else {
                    ok = false
                }
            }
            if child.autoChildren, let below {
                paths += foreignKeyPaths(from: table, prefix: level, visited: Set(level.map(\.table)), deletion: below)
            }
        }
        if !child.autoChildren {
            var declared = Set(
                child.children.map { "\($0.table.value)(\($0.foreignKey.map(\.value).joined(separator: ",")))" })
            if let tree = child.tree {
                declared.insert("\(table.name)(\(tree.foreignKey.map(\.value).joined(separator: ",")))")
            }
            for fk in schema.references(to: table.name)
            where !declared.contains("\(fk.table)(\(fk.columns.joined(separator: ",")))") {
                let selfReference = fk.table == table.name
                error(
                    child.table.location,
                    selfReference
                        ? "`\(table.name)`.(\(fk.columns.joined(separator: ", "))) points at other rows of child table `\(table.name)`, which this purge deletes from: rows hanging off a deleted row would be left pointing at nothing (or stop the purge)"
                        : "`\(fk.table)`.(\(fk.columns.joined(separator: ", "))) references child table `\(table.name)`, which this purge deletes from, but is not declared under its `children`",
                    hint: selfReference
                        ? "declare `tree: { foreign_key: \(fk.columns.count == 1 ? fk.columns[0] : "[" + fk.columns.joined(separator: ", ") + "]") }` on the child: rows hanging off its rows go with them, deepest first"
                        : "declare it (its rows go too) or use `children: auto` on the child")
                ok = false
            }
        }
        // Children are deleted before their parent: deepest paths come first when executed in reverse.
        return ok ? levels + paths : nil
    }

    /// How many levels of declared children and owned tables a child has below it.
    static func height(_ child: ChildTable) -> Int {
        if child.autoChildren { return 1 }
        let below = child.children.map { 1 + height($0) } + (child.owns.isEmpty ? [] : [1])
        return below.max() ?? 0
    }

    /// The link from a row of a `tree` table to the rows hanging off it.
    mutating func treeLink(_ tree: ChildTree, of table: TableInfo, like link: ChildLink) -> ChildLink? {
        guard tree.foreignKey.allSatisfy({ column(table, $0) != nil }) else { return nil }
        var referenced = tree.references.map(\.value)
        if referenced.isEmpty {
            let fk = table.foreignKeys.first {
                $0.referencedTable == table.name && $0.columns == tree.foreignKey.map(\.value)
            }
            referenced = fk?.referencedColumns ?? table.primaryKey
        } else if !tree.references.allSatisfy({ column(table, $0) != nil }) {
            return nil
        }
        guard referenced.count == tree.foreignKey.count, !referenced.isEmpty else {
            error(
                tree.location,
                "`tree` of `\(table.name)`: \(tree.foreignKey.count) column(s) pointing at \(referenced.count) column(s)",
                hint: "give `references` with as many columns as `foreign_key` (the columns of the row pointed at)")
            return nil
        }
        for (fk, ref) in zip(tree.foreignKey, referenced) {
            guard let left = table.column(fk.value), let right = table.column(ref) else { continue }
            if !comparable(left, of: table, right, of: table, at: fk.location, caseInsensitive: false) { return nil }
        }
        warnWithoutIndex(
            table, tree.foreignKey.map(\.value), at: tree.location, what: "the `tree` of `\(table.name)`",
            caseInsensitive: false)
        var selfLink = ChildLink(
            table: table.name, foreignKey: tree.foreignKey.map(\.value), referenced: referenced,
            primaryKey: table.primaryKey,
            indexed: table.hasIndex(leadingWith: tree.foreignKey[0].value))
        (selfLink.keptBy, selfLink.overrides) = (link.keptBy, link.overrides)
        return selfLink
    }

    /// `root`, then the paths `depth` levels of `selfLink` below it; the path one level deeper is
    /// recorded as the rule's tree limit.
    mutating func unrolled(_ root: [ChildLink], _ selfLink: ChildLink, depth: Int) -> [[ChildLink]] {
        var levels = [root]
        for _ in 0..<depth { levels.append(levels[levels.count - 1] + [selfLink]) }
        treeLimits.append(levels[levels.count - 1] + [selfLink])
        return levels
    }

    /// The link to an owned table, joined from the child's pointing columns, with every foreign
    /// key that may still point at an owned row (the child's own pointer included).
    mutating func ownedLink(_ owned: OwnedTable, pointedFrom child: TableInfo) -> ChildLink? {
        guard let table = tableNamed(owned.table) else { return nil }
        guard owned.foreignKey.allSatisfy({ column(child, $0) != nil }) else { return nil }
        var referenced = owned.references.map(\.value)
        if referenced.isEmpty {
            let fk = child.foreignKeys.first {
                $0.referencedTable == table.name && $0.columns == owned.foreignKey.map(\.value)
            }
            referenced = fk?.referencedColumns ?? table.primaryKey
        } else if !owned.references.allSatisfy({ column(table, $0) != nil }) {
            return nil
        }
        guard referenced.count == owned.foreignKey.count, !referenced.isEmpty else {
            error(
                owned.table.location,
                "owned `\(table.name)`: \(owned.foreignKey.count) pointing column(s) for \(referenced.count) column(s) of `\(table.name)`",
                hint: "give `references` with as many columns as `foreign_key`")
            return nil
        }
        var link = ChildLink(
            table: table.name, foreignKey: referenced, referenced: owned.foreignKey.map(\.value),
            primaryKey: table.primaryKey,
            indexed: table.hasIndex(leadingWith: referenced[0]))
        link.owned = true
        let pointer = ForeignKey(
            table: child.name, columns: owned.foreignKey.map(\.value), referencedTable: table.name,
            referencedColumns: referenced)
        link.stillReferencedBy = [pointer] + schema.references(to: table.name).filter { $0 != pointer }
        return link
    }

    /// `children: auto`: every table referencing `table`, recursively, once per path.
    mutating func foreignKeyPaths(from table: TableInfo, prefix: [ChildLink], visited: Set<String>, deletion: Deletion)
        -> [[ChildLink]]
    {
        var paths: [[ChildLink]] = []
        for fk in schema.references(to: table.name) where !visited.contains(fk.table) {
            guard let child = schema.table(fk.table) else { continue }
            guard prefix.count < Self.maxChildDepth else {
                error(
                    deletion.rule.location,
                    "`children: auto` of rule `\(deletion.rule.id)` reaches `\(child.name)` \(prefix.count + 1) levels below the subject; at most \(Self.maxChildDepth) are accepted, since each level nests one more subquery in the statements that delete it",
                    hint:
                        "declare the children of the levels near the subject, and purge the deeper rows with a rule of their own"
                )
                continue
            }
            var link = ChildLink(
                table: child.name, foreignKey: fk.columns, referenced: fk.referencedColumns,
                primaryKey: child.primaryKey,
                indexed: child.hasIndex(leadingWith: fk.columns[0]))
            (link.keptBy, link.overrides) = keepers(
                of: child.name, conditions: [], deletion: deletion, at: deletion.rule.location, owned: false)
            // A table whose rows point at its own (`parent_id`): the rows hanging off a row go with it,
            // level by level, as a declared `tree` does (through its first such foreign key).
            var levels = [prefix + [link]]
            if let selfReference = child.foreignKeys.first(where: { $0.referencedTable == child.name }) {
                var selfLink = ChildLink(
                    table: child.name, foreignKey: selfReference.columns, referenced: selfReference.referencedColumns,
                    primaryKey: child.primaryKey, indexed: child.hasIndex(leadingWith: selfReference.columns[0]))
                (selfLink.keptBy, selfLink.overrides) = (link.keptBy, link.overrides)
                let room = Self.maxChildDepth - prefix.count - 3
                if room >= 1 {
                    levels = unrolled(prefix + [link], selfLink, depth: room)
                } else {
                    error(
                        deletion.rule.location,
                        "`children: auto` of rule `\(deletion.rule.id)` reaches `\(child.name)`, whose rows point at other rows of it, \(prefix.count + 1) levels below the subject: no level is left to follow them (at most \(Self.maxChildDepth) in all)",
                        hint: "declare the children of the levels near the subject, with `tree:` on `\(child.name)`")
                }
            }
            for level in levels {
                paths.append(level)
                paths += foreignKeyPaths(
                    from: child, prefix: level, visited: visited.union([child.name]), deletion: deletion)
            }
        }
        return paths
    }

    /// The deepest a child may be below its subject: SQLite's parser stops at 13 nested subqueries
    /// (a batch's delete nests one per level), and a level's conditions may nest more.
    static let maxChildDepth = 10

    /// The most steps a relation may be from the subject's row.
    static let maxRelationSteps = 16

    /// A column that says which kind of object a row belongs to (`elementtype`, `object_type`).
    static func looksLikeDiscriminator(_ column: String) -> Bool {
        let name = column.lowercased().replacingOccurrences(of: "_", with: "")
        return ["elementtype", "objecttype", "objecttable", "entitytype", "parenttype", "targettype"].contains(name)
    }
}
