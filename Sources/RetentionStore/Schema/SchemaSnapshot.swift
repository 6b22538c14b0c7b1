import Crypto
import Foundation
import RetentionCore

/// What introspection found in the database: tables, columns, keys, foreign keys and indexes.
public struct SchemaSnapshot: Sendable {
    public var tables: [String: TableInfo]
    /// The SQL `check` advises running quotes names with backticks: MariaDB's default SQL mode
    /// (the one an operator's `mariadb` client has) reads "name" as a string.
    public var advisesBackticks = false
    /// Whether an index can be built on an expression such as LOWER(column) (not on MariaDB 10.11).
    public var indexesExpressions = true

    /// `name` quoted for SQL an operator runs in the database's own client.
    public func quotedForAdvice(_ name: String) -> String {
        advisesBackticks ? "`" + name.replacingOccurrences(of: "`", with: "``") + "`" : SQL.quote(name)
    }

    public init(tables: [TableInfo]) {
        self.tables = Dictionary(tables.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
    }

    public func table(_ name: String) -> TableInfo? { tables[name] }

    /// The tables whose key the policy declares and retentiond checks (`key_uniqueness: checked`),
    /// with that key: where the table has no primary key, the key stands in for one (holds, marks
    /// and the audit name its rows by it), once `ambiguousKeys` finds each value on one row.
    public private(set) var checkedKeys: [String: [String]] = [:]

    /// This schema with the keys `policy` declares as checked by retentiond: the key of a table
    /// that has no primary key becomes its primary key here (never in the database).
    public func declaringKeys(of policy: Policy) -> SchemaSnapshot {
        let policy = resolvingNames(of: policy).0
        var schema = self
        for subject in policy.subjects where subject.keyCheckedByRetentiond {
            let name = subject.table.value
            let key = subject.key.map(\.value)
            guard var table = schema.tables[name], !table.isUnique(key), key.allSatisfy({ table.column($0) != nil })
            else { continue }
            schema.checkedKeys[name] = key
            if table.primaryKey.isEmpty {
                table.primaryKey = key
                schema.tables[name] = table
            }
        }
        return schema
    }

    /// Foreign keys of other tables that point at `table` (including self-references).
    public func references(to table: String) -> [ForeignKey] {
        tables.values.flatMap(\.foreignKeys).filter { $0.referencedTable == table }
            .sorted { ($0.table, $0.columns.joined()) < ($1.table, $1.columns.joined()) }
    }

    /// A digest of the user tables' structure (the tool's own tables excluded): a plan made against
    /// one database is refused on another whose schema differs.
    public var fingerprint: String {
        var text = ""
        for table in tables.values.sorted(by: { $0.name < $1.name }) where !table.name.hasPrefix("retentiond_") {
            text +=
                table.name + "(" + table.columns.map { "\($0.name):\($0.declaredType)" }.joined(separator: ",") + ")"
            text += "pk(" + table.primaryKey.joined(separator: ",") + ")"
            for fk in table.foreignKeys.sorted(by: { $0.columns.joined() < $1.columns.joined() }) {
                text +=
                    "fk(\(fk.columns.joined(separator: ","))->\(fk.referencedTable)(\(fk.referencedColumns.joined(separator: ","))))"
            }
            text += ";"
        }
        return SHA256.hash(data: Data(text.utf8)).hexEncoded
    }
}

public struct TableInfo: Sendable {
    public var name: String
    public var columns: [ColumnInfo]
    public var primaryKey: [String]
    public var foreignKeys: [ForeignKey]
    public var indexes: [IndexInfo]
    /// The storage engine of a table whose changes cannot be rolled back (MariaDB's MyISAM, Aria,
    /// MEMORY…); nil where every change is transactional (InnoDB, and always on SQLite and PostgreSQL).
    public var nonTransactionalEngine: String?

    public init(
        name: String, columns: [ColumnInfo], primaryKey: [String], foreignKeys: [ForeignKey], indexes: [IndexInfo],
        nonTransactionalEngine: String? = nil
    ) {
        self.name = name
        self.columns = columns
        self.primaryKey = primaryKey
        self.foreignKeys = foreignKeys
        self.indexes = indexes
        self.nonTransactionalEngine = nonTransactionalEngine
    }

    public func column(_ name: String) -> ColumnInfo? { columns.first { $0.name == name } }

    /// True when these columns identify one row (primary key or unique index, in any order).
    public func isUnique(_ columns: [String]) -> Bool {
        let set = Set(columns)
        if Set(primaryKey) == set, !primaryKey.isEmpty { return true }
        return indexes.contains { $0.unique && Set($0.columns) == set }
    }

    /// Columns that name one row: the primary key, else a unique index of columns that cannot be
    /// NULL (MariaDB tables of Znuny's have one instead of a primary key); empty without either.
    public var rowIdentity: [String] {
        if !primaryKey.isEmpty { return primaryKey }
        return indexes.first { index in
            index.unique && !index.columns.isEmpty && index.columns.allSatisfy { column($0)?.notNull == true }
        }?.columns ?? []
    }

    /// True when `column` alone must hold distinct values.
    public func isUniqueColumn(_ column: String) -> Bool {
        primaryKey == [column] || indexes.contains { $0.unique && $0.columns == [column] }
    }

    /// True when an index starts with `column`, so `column < ?` need not scan the table.
    public func hasIndex(leadingWith column: String) -> Bool {
        primaryKey.first == column || indexes.contains { $0.columns.first == column }
    }

    /// True when an index finds the rows matching on `columns` where the `fixed` columns are each
    /// compared with given values: its leading columns, up to one of `columns`, are all among
    /// them — `(elementtype, fk_element)` serves `fk_element = ? AND elementtype = 'societe'`.
    public func hasIndex(on columns: [String], fixed: Set<String>) -> Bool {
        let probed = fixed.union(columns)
        return ([primaryKey] + indexes.map(\.columns)).contains { key in
            key.prefix { probed.contains($0) }.contains { columns.contains($0) }
        }
    }

    /// True when an index starts with `LOWER(column)`, which serves a case-insensitive match.
    public func hasLowerIndex(leadingWith column: String) -> Bool {
        indexes.contains { $0.columns.first == IndexInfo.lower(column) }
    }

    /// True when an index finds the rows matching on `columns` (compared as is, or with `LOWER`),
    /// with the `fixed` columns each compared with given values (`hasIndex(on:fixed:)`).
    public func serves(_ columns: [String], fixed: Set<String> = [], caseInsensitive: Bool) -> Bool {
        guard let first = columns.first else { return false }
        return caseInsensitive ? hasLowerIndex(leadingWith: first) : hasIndex(on: columns, fixed: fixed)
    }
}

public struct ColumnInfo: Sendable {
    public var name: String
    public var declaredType: String
    public var notNull: Bool
    /// Set by stores whose columns have real date types (PostgreSQL's date, timestamp, timestamptz).
    public var nativeDateStorage: DateStorage?
    /// The database's own `=` on this column ignores case (MariaDB's `_ci` collations).
    public var comparesCaseInsensitively: Bool
    /// The database sets it on every UPDATE of its row (MariaDB's `ON UPDATE CURRENT_TIMESTAMP`):
    /// an anonymisation assigns it its own value to keep it, which takes UPDATE on it.
    public var setOnUpdate: Bool
    /// The type as a `CREATE TABLE` of the same kind of database writes it, length and precision
    /// included (`varchar(255)`, `numeric(24,8)`): what the archive's copy of the table is made with.
    public var fullType: String?

    /// The most characters the column holds, when its type bounds them (`varchar(n)`, `char(n)`,
    /// from `fullType`); nil when it does not, or the database does not say (SQLite keeps a
    /// declared length as a comment).
    public var maximumCharacters: Int? {
        guard let type = fullType?.lowercased(), let open = type.firstIndex(of: "("), type.hasSuffix(")") else {
            return nil
        }
        let base = type[..<open].trimmingCharacters(in: .whitespaces)
        guard ["character varying", "varchar", "character", "char", "nvarchar", "nchar"].contains(base) else {
            return nil
        }
        return Int(type[type.index(after: open)..<type.index(before: type.endIndex)])
    }

    public init(
        name: String, declaredType: String, notNull: Bool, nativeDateStorage: DateStorage? = nil,
        comparesCaseInsensitively: Bool = false,
        setOnUpdate: Bool = false
    ) {
        self.name = name
        self.declaredType = declaredType
        self.notNull = notNull
        self.nativeDateStorage = nativeDateStorage
        self.comparesCaseInsensitively = comparesCaseInsensitively
        self.setOnUpdate = setOnUpdate
    }

    /// How a date in this column is stored when the policy does not say: integers are Unix
    /// seconds, reals Julian days, and everything else ISO-8601 text.
    public var inferredDateStorage: DateStorage {
        if let nativeDateStorage { return nativeDateStorage }
        let t = declaredType.uppercased()
        if t.contains("INT") { return .unix }
        if t.contains("REAL") || t.contains("DOUB") || t.contains("FLOA") { return .julian }
        return .iso8601
    }
}

public struct ForeignKey: Sendable, Hashable {
    /// The referencing table.
    public var table: String
    public var columns: [String]
    public var referencedTable: String
    public var referencedColumns: [String]

    public init(table: String, columns: [String], referencedTable: String, referencedColumns: [String]) {
        self.table = table
        self.columns = columns
        self.referencedTable = referencedTable
        self.referencedColumns = referencedColumns
    }
}

public struct IndexInfo: Sendable {
    public var name: String
    /// Column names; an index key on `LOWER(column)` is written `IndexInfo.lower(column)`, and
    /// other expressions are left out.
    public var columns: [String]
    public var unique: Bool

    /// How a key on `LOWER(column)` is named in `columns`.
    public static func lower(_ column: String) -> String { "LOWER(\(column))" }

    /// The column of an index key written `lower(column)` as databases print it back
    /// (`lower((customer_user_id)::text)`, `LOWER("user_id")`), or nil for any other expression.
    public static func lowerKey(_ expression: String) -> String? {
        var text = expression.trimmingCharacters(in: .whitespaces)
        guard text.lowercased().hasPrefix("lower("), text.hasSuffix(")") else { return nil }
        text = String(text.dropFirst(6).dropLast())
        // A cast PostgreSQL adds for a varchar column, and the parentheses around what it casts.
        if let cast = text.range(of: "::") { text = String(text[..<cast.lowerBound]) }
        text = text.trimmingCharacters(in: CharacterSet(charactersIn: "() "))
        if text.hasPrefix("\""), text.hasSuffix("\""), text.count >= 2 {
            text = String(text.dropFirst().dropLast()).replacingOccurrences(of: "\"\"", with: "\"")
        }
        guard !text.isEmpty, text.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" || $0 == "$" }) else {
            return nil
        }
        return text
    }

    public init(name: String, columns: [String], unique: Bool) {
        self.name = name
        self.columns = columns
        self.unique = unique
    }
}

extension SchemaSnapshot {
    /// `policy` with each table or column name that the database does not hold as written, but
    /// holds in exactly one other case, spelled as the database holds it — a product's tables
    /// created unquoted on PostgreSQL (`CREATE TABLE Tickets`) are `tickets`, while its
    /// documentation, and so the policy, says `Tickets` — and a warning naming them, once. A
    /// column is resolved among every table's columns: `Created` becomes `created` where no table
    /// has a column `Created` and every column spelled so in another case is `created`. A name that
    /// two spellings fit is left as written, for `check` to report with both.
    /// A table name as typed (`hold add --table Tickets`): as written when the database has it,
    /// else the one table spelled so in another case, if there is one.
    public func resolvedTableName(_ typed: String) -> String {
        guard tables[typed] == nil else { return typed }
        let fits = tables.keys.filter { !$0.hasPrefix("retentiond_") && $0.lowercased() == typed.lowercased() }
        return fits.count == 1 ? fits[0] : typed
    }

    public func resolvingNames(of policy: Policy) -> (Policy, Diagnostic?) {
        let userTables = tables.keys.filter { !$0.hasPrefix("retentiond_") }
        let tableFolds = Dictionary(grouping: userTables, by: { $0.lowercased() })
        let allColumns = Set(
            tables.filter { !$0.key.hasPrefix("retentiond_") }.values.flatMap { $0.columns.map(\.name) })
        let columnFolds = Dictionary(grouping: allColumns, by: { $0.lowercased() })
        let exactTables = Set(userTables)
        func fold(_ name: String, exact: Set<String>, folds: [String: [String]]) -> String? {
            guard !exact.contains(name), let fits = folds[name.lowercased()], fits.count == 1 else { return nil }
            return fits[0]
        }
        final class Seen { var names: [(Name, String)] = [] }
        let seen = Seen()
        var renaming = PolicyRenaming(
            table: { fold($0, exact: exactTables, folds: tableFolds) },
            column: { fold($0, exact: allColumns, folds: columnFolds) })
        renaming.noticed = { seen.names.append(($0, $1)) }
        let renamed = renaming.policy(policy)
        guard let first = seen.names.first else { return (policy, nil) }
        var said = Set<String>()
        let pairs = seen.names.filter { said.insert($0.0.value).inserted }.map { "`\($0.0.value)` as `\($0.1)`" }
        return (
            renamed,
            .warning(
                first.0.location,
                "the database spells these names otherwise, and retentiond uses its spelling: \(pairs.joined(separator: ", "))",
                hint:
                    "the policy works as written (the database folds unquoted names: PostgreSQL to lower case, MariaDB's tables with lower_case_table_names); write the names as the database holds them to silence this"
            )
        )
    }
}
