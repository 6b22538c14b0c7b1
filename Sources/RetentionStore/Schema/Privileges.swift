import Foundation
import RetentionCore

/// One thing the database role must be allowed to do for a policy to run to its end.
public struct PrivilegeNeed: Sendable, Hashable, Comparable {
    /// In the order a `GRANT` lists them.
    public enum Kind: String, Sendable, Hashable, Comparable, CaseIterable {
        case select = "SELECT"
        case insert = "INSERT"
        case update = "UPDATE"
        case delete = "DELETE"
        case create = "CREATE"
        case usage = "USAGE"
        public static func < (a: Kind, b: Kind) -> Bool { allCases.firstIndex(of: a)! < allCases.firstIndex(of: b)! }
    }
    /// What the privilege is granted on: a table, a sequence (`USAGE`), or a schema (`CREATE`).
    public enum Object: String, Sendable, Hashable, Comparable {
        case table = "TABLE"
        case sequence = "SEQUENCE"
        case schema = "SCHEMA"
        public static func < (a: Object, b: Object) -> Bool { a.rawValue < b.rawValue }
    }
    /// The table's name (or the sequence's, or the schema's: empty for the connection's current schema).
    public var table: String
    public var kind: Kind
    /// For `UPDATE`: the column (anonymised fields are granted column by column).
    public var column: String?
    public var object: Object
    /// `UPDATE` on any one column of the table will do, `column` being the one to grant: PostgreSQL
    /// asks for it to lock rows (`SELECT … FOR UPDATE`), which every batch does to the records it
    /// re-checks, also for rules that change no column of the table (purge, flag).
    public var anyColumn: Bool

    public init(table: String, kind: Kind, column: String? = nil, object: Object = .table, anyColumn: Bool = false) {
        self.table = table
        self.kind = kind
        self.column = column
        self.object = object
        self.anyColumn = anyColumn
    }

    public static func < (a: PrivilegeNeed, b: PrivilegeNeed) -> Bool {
        (a.object, a.table, a.kind, a.column ?? "") < (b.object, b.table, b.kind, b.column ?? "")
    }

    /// What the role may not do: "SELECT `orders`", "UPDATE column `email` of `people`",
    /// "use sequence `retentiond_holds_id_seq` (USAGE)", "CREATE in schema `public`".
    public var description: String {
        switch object {
        case .table where anyColumn:
            return
                "\(kind.rawValue) any column of `\(table)` (a batch locks the rows it re-checks: SELECT … FOR UPDATE)"
        case .table: return "\(kind.rawValue) \(column.map { "column `\($0)` of " } ?? "")`\(table)`"
        case .sequence: return "use sequence `\(table)` (\(kind.rawValue))"
        case .schema: return "\(kind.rawValue) in schema `\(table)`"
        }
    }

    /// The tool's own tables (docs/postgresql.md, "Privileges"): while one every enforcing command
    /// creates is missing, `CREATE` on the schema; for each that exists (created by this role or by
    /// another), what the commands do to it. `enforcing: false`: what `plan` reads, for a reviewing
    /// role. `statisticsTable`: the policy's, when its rules keep statistics.
    public static func toolTables(existing schema: SchemaSnapshot, enforcing: Bool, statisticsTable: String? = nil)
        -> [PrivilegeNeed]
    {
        var tables: [(name: String, enforcing: [Kind], planning: [Kind], createdByEveryRun: Bool)] = [
            ("retentiond_audit", [.select, .insert], [.select], true),
            ("retentiond_audit_refs", [.select, .insert, .delete], [.select], true),
            ("retentiond_holds", [.select, .insert, .update], [.select], true),
            ("retentiond_done", [.select, .insert, .delete], [.select], true),
            // `run --worker`'s queue, created by the first worker run; claiming a batch locks it
            // (`FOR UPDATE SKIP LOCKED`), which asks for UPDATE.
            ("retentiond_runs", [.select, .insert, .update, .delete], [], false),
            ("retentiond_batches", [.select, .insert, .update, .delete], [], false),
            // MariaDB's: the rows a batch locks for the audit chain and holds, and a Galera
            // cluster's run lease (`ClusterLease`).
            ("retentiond_locks", [.select], [.select], false),
            ("retentiond_run_lease", [.select, .insert, .update], [], false),
        ]
        // Each batch replaces the rows it adds to (DELETE then INSERT).
        if let statisticsTable { tables.append((statisticsTable, [.select, .insert, .delete], [.select], true)) }
        var needs: [PrivilegeNeed] = []
        for table in tables where schema.table(table.name) != nil {
            needs += (enforcing ? table.enforcing : table.planning).map { PrivilegeNeed(table: table.name, kind: $0) }
        }
        // `hold add` numbers holds from the table's sequence.
        if enforcing && schema.table("retentiond_holds") != nil {
            needs.append(PrivilegeNeed(table: "retentiond_holds_id_seq", kind: .usage, object: .sequence))
        }
        if enforcing && tables.contains(where: { $0.createdByEveryRun && schema.table($0.name) == nil }) {
            needs.append(PrivilegeNeed(table: "", kind: .create, object: .schema))
        }
        return needs
    }
}

/// What the role of a session lacks, of what was asked.
public struct PrivilegeReport: Sendable {
    /// The role the session runs as; nil where the database has no roles (SQLite: the file's
    /// permissions decide, and opening it for writing fails before anything changes).
    public var role: String?
    public var missing: [PrivilegeNeed]
    /// Whose `GRANT` syntax the statements are written in.
    public var grantTarget: GrantTarget

    /// PostgreSQL grants to a role; MariaDB to `'user'@'host'`, on `database.table`, names in backticks.
    public enum GrantTarget: Sendable, Equatable {
        case postgres
        case mariadb(database: String)
    }

    public init(role: String?, missing: [PrivilegeNeed], grantTarget: GrantTarget = .postgres) {
        self.role = role
        self.missing = missing
        self.grantTarget = grantTarget
    }

    /// The `GRANT` statements that give the role what it lacks, one per table (or sequence, or
    /// schema): `GRANT SELECT, INSERT, UPDATE ("email") ON "people" TO "role";`.
    public var grants: [String] {
        guard let role else { return [] }
        // Granting the other columns also gives the "any column" an UPDATE lock asks for.
        let granted = missing.filter { need in
            !(need.anyColumn && missing.contains { $0.table == need.table && $0.kind == .update && !$0.anyColumn })
        }
        let byObject = Dictionary(grouping: granted) { "\($0.object.rawValue)\u{0}\($0.table)" }
        return byObject.values.map { $0.sorted() }.sorted { $0[0] < $1[0] }.map { needs in
            let byKind = Dictionary(grouping: needs, by: \.kind)
            let what = PrivilegeNeed.Kind.allCases.compactMap { kind -> String? in
                guard let needs = byKind[kind] else { return nil }
                let columns = needs.compactMap(\.column)
                // A column list only when no need asks for the whole table.
                return columns.count < needs.count
                    ? kind.rawValue : "\(kind.rawValue) (\(columns.map(quote).joined(separator: ", ")))"
            }.joined(separator: ", ")
            return "GRANT \(what) ON \(object(needs[0])) TO \(grantee(role));"
        }
    }
}

extension PrivilegeReport {
    private func quote(_ name: String) -> String {
        switch grantTarget {
        case .postgres: return SQL.quote(name)
        case .mariadb: return "`" + name.replacingOccurrences(of: "`", with: "``") + "`"
        }
    }

    /// `"people"`, `SEQUENCE "…"`, `SCHEMA "public"`; on MariaDB `` `crm`.`people` `` or `` `crm`.* ``.
    private func object(_ need: PrivilegeNeed) -> String {
        switch grantTarget {
        case .postgres: return (need.object == .table ? "" : need.object.rawValue + " ") + SQL.quote(need.table)
        case .mariadb(let database): return quote(database) + "." + (need.object == .schema ? "*" : quote(need.table))
        }
    }

    /// `"role"`, or `'user'@'host'` from MariaDB's `CURRENT_USER()` (`user@host`).
    private func grantee(_ role: String) -> String {
        guard case .mariadb = grantTarget, let at = role.lastIndex(of: "@") else { return SQL.quote(role) }
        func literal(_ s: Substring) -> String { "'" + s.replacingOccurrences(of: "'", with: "''") + "'" }
        return literal(role[..<at]) + "@" + literal(role[role.index(after: at)...])
    }
}

extension ResolvedPolicy {
    /// Everything the policy reads, deletes from and updates: every table a rule, a relation, a
    /// child (including what `children: auto` found) or an application hold table names.
    public var privilegesNeeded: [PrivilegeNeed] {
        var needs = Set(rules.flatMap(privilegesNeeded(by:)))
        for source in holdSources { needs.insert(.init(table: source.source.table, kind: .select)) }
        return needs.sorted()
    }

    /// What the tool's own tables need of the role (`PrivilegeNeed.toolTables`), with the policy's
    /// statistics table when its rules keep statistics.
    public func toolTablePrivileges(enforcing: Bool) -> [PrivilegeNeed] {
        PrivilegeNeed.toolTables(
            existing: schema, enforcing: enforcing,
            statisticsTable: policy.statisticsRules.isEmpty ? nil : policy.statisticsTable)
    }

    /// Every table the policy reads (`SELECT` in `privilegesNeeded`), in name order.
    public var tablesRead: [String] {
        Set(privilegesNeeded.filter { $0.kind == .select }.map(\.table)).sorted()
    }

    /// What one rule reads, deletes from and updates.
    public func privilegesNeeded(by resolved: ResolvedRule) -> Set<PrivilegeNeed> {
        let (rule, shape, table) = (resolved.rule, resolved.shape, resolved.table)
        var needs = Set<PrivilegeNeed>()
        func read(_ path: [RelationStep]) {
            for step in path {
                needs.insert(.init(table: step.table, kind: .select))
                step.conditions.forEach(read)
            }
        }
        func read(_ condition: RowCondition) {
            switch condition {
            case .column: break
            case .related(let path, let conditions, _):
                read(path)
                conditions.forEach(read)
            case .recentClock(let clock, _):
                clock.columns.forEach { read($0.path) }
            case .entersSet(let entry):
                entry.conditions.forEach(read)
            }
        }
        /// The tables a child path goes through, read to find its rows.
        func reach(_ path: [ChildLink]) {
            for link in path {
                needs.insert(.init(table: link.table, kind: .select))
                link.conditions.forEach(read)
            }
        }
        /// An anonymisation keeps the columns the database sets on every UPDATE by assigning them.
        func keepsSetOnUpdate(_ table: String) {
            for column in schema.table(table)?.columns ?? [] where column.setOnUpdate {
                needs.insert(.init(table: table, kind: .update, column: column.name))
            }
        }
        needs.insert(.init(table: table, kind: .select))
        shape.filter.forEach(read)
        shape.clock.forEach { read($0.path) }
        for consent in shape.consent {
            switch consent {
            case .until(let path, _), .flag(let path, _): read(path)
            }
        }
        for related in shape.related {
            read(related.path)
            related.clock?.forEach { read($0.path) }
        }
        switch rule.action {
        case .flag:
            break
        case .anonymise(let fields, _):
            for field in fields where field.strategy != .keep {
                needs.insert(.init(table: table, kind: .update, column: field.column.value))
            }
            keepsSetOnUpdate(table)
            // What it does to children: rows deleted, or their own fields anonymised.
            for work in shape.childWork {
                switch work {
                case .purge(let path):
                    reach(path)
                    needs.insert(.init(table: path[path.count - 1].table, kind: .delete))
                case .anonymise(let path, let fields, _, _):
                    reach(path)
                    for field in fields where field.strategy != .keep {
                        needs.insert(
                            .init(table: path[path.count - 1].table, kind: .update, column: field.column.value))
                    }
                    keepsSetOnUpdate(path[path.count - 1].table)
                }
            }
        case .purge:
            needs.insert(.init(table: table, kind: .delete))
            for path in shape.childPaths {
                reach(path)
                needs.insert(.init(table: path[path.count - 1].table, kind: .delete))
            }
            for reference in shape.undeclaredReferences { needs.insert(.init(table: reference.table, kind: .select)) }
        }
        if !needs.contains(where: { $0.table == table && $0.kind == .update }),
            let key = resolved.subject.key.first
        {
            needs.insert(.init(table: table, kind: .update, column: key.value, anyColumn: true))
        }
        return needs
    }
}
