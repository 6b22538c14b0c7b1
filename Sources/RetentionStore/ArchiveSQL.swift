import Crypto
import Foundation
import RetentionCore

/// One table as the archive holds it: the live table's columns with the types a `CREATE TABLE`
/// of the same kind of database writes, its primary key (how an archived row is found again), and
/// the columns its rows are reached by from their parent (indexed in the archive).
public struct ArchiveTable: Sendable {
    public var name: String
    public var columns: [ColumnInfo]
    public var primaryKey: [String]
    public var lookups: [[String]]
    /// The live table's foreign keys to tables archived before it: the archive keeps a child row
    /// to its archived parent as the live database does.
    public var foreignKeys: [ForeignKey] = []
}

/// What an archive rule moves per record: the record's row, and its declared children's rows along
/// their paths (the same paths a purge deletes, on the same tables in the archive).
public struct ArchiveShape: Sendable {
    public var rule: String
    public var table: String
    public var keyColumns: [String]
    public var childPaths: [[ChildLink]]
    /// Rows the records point to, copied with them and left in the live database (`copies`).
    public var copied: [Copied] = []
    /// The copied tables first, then the subject's table, then each child table once.
    public var tables: [ArchiveTable]

    public struct Copied: Sendable {
        public var table: String
        /// Columns of the subject's table…
        public var foreignKey: [String]
        /// …pointing at these columns of the copied table.
        public var references: [String]
        /// The copied table's primary key, by which a copy already in the archive is found.
        public var primaryKey: [String]
    }

    public init(
        rule: String, table: String, keyColumns: [String], childPaths: [[ChildLink]], copied: [Copied] = [],
        tables: [ArchiveTable]
    ) {
        self.rule = rule
        self.table = table
        self.keyColumns = keyColumns
        self.childPaths = childPaths
        self.copied = copied
        self.tables = tables
    }
}

/// The rows of a batch's records as copied, per table, each row's values in the table's column order.
public struct ArchivedRows: Sendable, Equatable {
    public var tables: [String: Set<[SQLValue]>]

    public init(tables: [String: Set<[SQLValue]>] = [:]) { self.tables = tables }

    /// The rows of the copied tables (`ArchiveShape.copied`), by their primary key as the
    /// database types it: they stay in the live database, and are not compared.
    public var copiedRows: [String: [RecordKey: [SQLValue]]] = [:]

    /// Every moved row of `current` is among these, value for value: the copy holds the rows as they are now.
    public func hold(_ current: ArchivedRows) -> Bool {
        current.tables.allSatisfy { table, rows in rows.isSubset(of: tables[table] ?? []) }
    }
}

/// The records copied into the archive whose deletion from the live database is not yet known to
/// have committed: written with the copy, removed once the live batch ended either way. A run
/// that finds some (a crash between the two) completes them before anything else.
public enum ArchivePending {
    public static let table = "retentiond_archive_pending"

    /// The text a record's key is kept as: its values as a JSON array.
    public static func text(_ key: RecordKey) -> String {
        String(decoding: (try? JSONEncoder().encode(key.values)) ?? Data("[]".utf8), as: UTF8.self)
    }

    public static func key(_ text: String) -> RecordKey? {
        (try? JSONDecoder().decode([SQLValue].self, from: Data(text.utf8))).map(RecordKey.init)
    }
}

extension StoreSession {
    /// The rows an archive rule moves for the records `keys`: theirs and their children's, every
    /// column read as `SQLDialect.copyOut` reads it.
    public func rowsToArchive(_ shape: ArchiveShape, keys: [RecordKey]) throws -> ArchivedRows {
        guard !keys.isEmpty else { return ArchivedRows() }
        let tables = Dictionary(shape.tables.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        func list(_ table: ArchiveTable) -> String {
            table.columns.map { dialect.copyOut(SQL.qualified("x", $0.name), $0.declaredType) }.joined(separator: ", ")
        }
        var found = ArchivedRows()
        guard let subject = tables[shape.table] else { return found }
        found.tables[subject.name] = Set(
            try rows(
                "SELECT \(raw: list(subject)) FROM \(ident: subject.name) AS x WHERE \(builder.keyIn("x", shape.keyColumns, keys))"
            ))
        for copy in shape.copied {
            guard let parent = tables[copy.table] else { continue }
            // The primary key as the database types it (to find a copy already in the archive), then the row.
            let sql: SQL =
                "SELECT \(columns: copy.primaryKey, of: "x"), \(raw: list(parent)) FROM \(ident: parent.name) AS x WHERE \(row: copy.references, of: "x") IN (SELECT \(columns: copy.foreignKey, of: "s") FROM \(ident: shape.table) AS s WHERE \(builder.keyIn("s", shape.keyColumns, keys)))"
            for row in try rows(sql) {
                found.copiedRows[parent.name, default: [:]][RecordKey(Array(row[..<copy.primaryKey.count]))] = Array(
                    row[copy.primaryKey.count...])
            }
        }
        for path in shape.childPaths {
            guard let child = tables[path[path.count - 1].table] else { continue }
            let sql: SQL =
                "SELECT \(raw: list(child)) FROM \(ident: child.name) AS x WHERE \(builder.belongsToBatch(path, subjectTable: shape.table, keyColumns: shape.keyColumns, keys: keys))"
            found.tables[child.name, default: []].formUnion(try rows(sql))
        }
        return found
    }

    /// In an archive: the records copied whose live batch's end is not yet recorded (`ArchivePending`).
    public func pendingArchived() throws -> [(rule: String, key: RecordKey)] {
        guard try tableExists(ArchivePending.table) else { return [] }
        return try rows("SELECT rule_id, record_key FROM \(ident: ArchivePending.table)").compactMap { row in
            guard let rule = row[0].textValue, let text = row[1].textValue, let key = ArchivePending.key(text) else {
                return nil
            }
            return (rule, key)
        }
    }
}

extension WritingSession {
    /// Creates the archived tables that are missing, with their primary keys and an index on each
    /// lookup, and the pending list. An existing table must have every column the live one has.
    public func prepareArchive(_ tables: [ArchiveTable]) throws {
        let existing = try schema()
        for table in tables {
            if let there = existing.table(table.name) {
                let missing = table.columns.filter { column in there.column(column.name) == nil }
                if !missing.isEmpty {
                    let add = missing.map {
                        "ALTER TABLE \(existing.quotedForAdvice(table.name)) ADD COLUMN \(existing.quotedForAdvice($0.name)) \($0.fullType ?? $0.declaredType)"
                    }
                    throw StoreFailure.archiveLacksColumns(table: table.name, missing: missing.map(\.name), add: add)
                }
                continue
            }
            // Each column with the type the live database declares for it.
            let columns = table.columns.map { "\(ident: $0.name) \(raw: $0.fullType ?? $0.declaredType)" as SQL }
            let references = table.foreignKeys.map { fk -> SQL in
                ", FOREIGN KEY (\(idents: fk.columns)) REFERENCES \(ident: fk.referencedTable) (\(idents: fk.referencedColumns))"
            }
            try execute(
                "CREATE TABLE \(ident: table.name) (\(columns.joined(separator: ", ")), PRIMARY KEY (\(idents: table.primaryKey))\(references.joined(separator: "")))"
            )
            for lookup in table.lookups where lookup != Array(table.primaryKey.prefix(lookup.count)) {
                let digest = SHA256.hash(data: Data((table.name + "\u{0}" + lookup.joined(separator: "\u{0}")).utf8))
                    .hexEncoded.prefix(16)
                try execute(
                    "CREATE INDEX \(ident: "retentiond_archive_\(digest)") ON \(ident: table.name) (\(idents: lookup))"
                )
            }
        }
        if try !tableExists(ArchivePending.table) {
            try execute(
                "CREATE TABLE \(ident: ArchivePending.table) (rule_id VARCHAR(200) NOT NULL, record_key VARCHAR(2000) NOT NULL)"
            )
        }
    }

    /// Writes a batch's copies: any earlier copy of these records is replaced (removed with its
    /// children, then inserted as the live rows are now), the archive's own rules see them as new
    /// (`unmarking`), and the records are listed as pending until the live batch has ended.
    public func storeArchived(_ copies: ArchivedRows, shape: ArchiveShape, keys: [RecordKey], unmarking: [String])
        throws
    {
        guard !keys.isEmpty else { return }
        _ = try purge(
            table: shape.table, keyColumns: shape.keyColumns, keys: keys, childPaths: shape.childPaths, keepers: [])
        if try doneTableExists() {
            try unmarkDone(ruleIDs: unmarking, table: shape.table, keyColumns: shape.keyColumns, keys: keys)
        }
        for table in shape.tables {
            if let copy = shape.copied.first(where: { $0.table == table.name }) {
                // A copied row already in the archive (another record's) stays as it was first copied.
                let found = copies.copiedRows[table.name] ?? [:]
                let there = try existingKeys(table: table.name, keyColumns: copy.primaryKey, keys: Array(found.keys))
                let rows = found.filter { !there.contains($0.key) }.sorted { $0.key < $1.key }.map(\.value)
                if !rows.isEmpty { try insert(into: table.name, columns: table.columns.map(\.name), rows: rows) }
                continue
            }
            guard let rows = copies.tables[table.name], !rows.isEmpty else { continue }
            try insert(into: table.name, columns: table.columns.map(\.name), rows: Array(rows))
        }
        try insert(
            into: ArchivePending.table, columns: ["rule_id", "record_key"],
            rows: keys.map { [.text(shape.rule), .text(ArchivePending.text($0))] })
    }

    /// After the live batch ended: the copies of `removing` (records it did not delete) are
    /// removed, and every record of `keys` is no longer pending.
    public func settleArchived(shape: ArchiveShape, keys: [RecordKey], removing: [RecordKey]) throws {
        _ = try purge(
            table: shape.table, keyColumns: shape.keyColumns, keys: removing, childPaths: shape.childPaths, keepers: [])
        for chunk in stride(from: 0, to: keys.count, by: 1000).map({ keys[$0..<min(keys.count, $0 + 1000)] }) {
            let texts = chunk.map { SQLValue.text(ArchivePending.text($0)) }
            try execute(
                "DELETE FROM \(ident: ArchivePending.table) WHERE rule_id = \(.text(shape.rule)) AND record_key IN (\(SQL.list(texts)))"
            )
        }
    }
}
