import Foundation
import RetentionCore

/// Where the SQL the databases speak differs.
public struct SQLDialect: Sendable {
    /// `?` for SQLite and MariaDB, `$1, $2, …` for PostgreSQL.
    public var numberedPlaceholders: Bool
    /// SQL text that is true when a consent flag column is set.
    public var flagIsSet: @Sendable (_ column: String) -> String
    /// SQL text giving a row's key in `RecordKey.canonical` form, to match stored legal holds.
    public var canonicalKey: @Sendable (_ qualifiedColumns: [String]) -> String
    /// How values of a column with this declared type are typed in keys.
    public var keyValueKind: @Sendable (_ declaredType: String) -> KeyValueKind
    /// SQL text giving a column's value as text, to compare a `KeyValueKind.other` key with what was typed.
    public var textOf: @Sendable (_ qualifiedColumn: String) -> String
    /// Appended to a candidates query to lock the subject rows it returns until the transaction
    /// ends (empty where the transaction already excludes every other writer, or where
    /// `locksKeysFirst`).
    public var lockRows: String
    /// Whether a batch locks its records by their keys alone, in key order, before re-checking
    /// them (MariaDB): InnoDB locks every index record a locking read passes through, and a
    /// re-check read through the clock's index locked other batches' rows — two workers deadlocked.
    public var locksKeysFirst: Bool
    /// Whether a batch's child rows are matched with `column = ANY (ARRAY(subquery))` rather than
    /// `column IN (subquery)` (PostgreSQL): see `belongsToBatch`.
    public var matchesThroughArrays: Bool
    /// Appended to a mark's `EXISTS` subquery so it stays one index probe per row (PostgreSQL's
    /// ` OFFSET 0`): see `doneMark`.
    public var probeEachRow: String
    /// A bound value compared with a native date column, given the SQL type it is read as
    /// (`DateStorage.sqlCast`): PostgreSQL's `$1::timestamp`, MariaDB's `CAST(? AS DATETIME)`.
    public var castValue: @Sendable (_ placeholder: SQL, _ type: String) -> SQL
    /// The column side of a test against a value from the policy (`kind: prospect`, `in: […]`):
    /// MariaDB's default collations ignore case and trailing spaces, and a policy's values are
    /// exact unless it says otherwise.
    public var exactly: @Sendable (_ qualifiedColumn: String) -> String
    /// Ends an `INSERT` that leaves out rows whose key is already there.
    public var ignoringDuplicates: String
    /// Whether a single-table `DELETE` names its alias first (`DELETE x FROM t AS x`: MariaDB
    /// takes no alias otherwise).
    public var deletesNameTheirAlias: Bool
    /// Whether an `UPDATE` takes its rows' new values by joining them (MariaDB) rather than `FROM`
    /// a `VALUES` list (PostgreSQL, SQLite).
    public var updatesByJoin: Bool
    /// SQL that is true when a native date column (`DateStorage.sqlCast` set) holds a date:
    /// `IS NOT NULL`, and on MariaDB not a zero date (`0000-00-00`, which compares as older than
    /// every date: a record holding one must not be due by it).
    public var holdsDate: @Sendable (_ qualifiedColumn: String) -> String
    /// Whether several-column keys are listed as `IN (VALUES (…), …)` (SQLite, PostgreSQL) or as
    /// `IN ((…), …)` (MariaDB, whose `VALUES` table names its columns after the first row's values).
    public var listsRowsAsValues: Bool
    /// A number column read as text, for a link declared `as: text` (a text column holding ids):
    /// the number's side is converted, so the text column's index still serves the probe.
    public var numberAsText: @Sendable (_ qualifiedColumn: String) -> String
    /// A column as an archive copies it: read so that writing the value back into a column of the
    /// same type gives the same value (PostgreSQL's text form, which `COPY` reads back by the
    /// column's type; MariaDB's for exact numbers and dates; SQLite's values as they are).
    public var copyOut: @Sendable (_ qualifiedColumn: String, _ declaredType: String) -> String

    public init(
        numberedPlaceholders: Bool, flagIsSet: @escaping @Sendable (String) -> String,
        canonicalKey: @escaping @Sendable ([String]) -> String,
        keyValueKind: @escaping @Sendable (String) -> KeyValueKind,
        textOf: @escaping @Sendable (String) -> String, lockRows: String, matchesThroughArrays: Bool = false,
        probeEachRow: String = "",
        castValue: @escaping @Sendable (SQL, String) -> SQL = { value, type in "\(value)::\(raw: type)" },
        exactly: @escaping @Sendable (String) -> String = { $0 },
        ignoringDuplicates: String = " ON CONFLICT DO NOTHING", deletesNameTheirAlias: Bool = false,
        updatesByJoin: Bool = false,
        listsRowsAsValues: Bool = true, holdsDate: @escaping @Sendable (String) -> String = { "\($0) IS NOT NULL" },
        locksKeysFirst: Bool = false, numberAsText: @escaping @Sendable (String) -> String = { "CAST(\($0) AS TEXT)" },
        copyOut: @escaping @Sendable (String, String) -> String = { column, _ in column }
    ) {
        self.copyOut = copyOut
        self.numberedPlaceholders = numberedPlaceholders
        self.flagIsSet = flagIsSet
        self.canonicalKey = canonicalKey
        self.keyValueKind = keyValueKind
        self.textOf = textOf
        self.lockRows = lockRows
        self.matchesThroughArrays = matchesThroughArrays
        self.probeEachRow = probeEachRow
        self.castValue = castValue
        self.exactly = exactly
        self.ignoringDuplicates = ignoringDuplicates
        self.deletesNameTheirAlias = deletesNameTheirAlias
        self.updatesByJoin = updatesByJoin
        self.listsRowsAsValues = listsRowsAsValues
        self.holdsDate = holdsDate
        self.locksKeysFirst = locksKeysFirst
        self.numberAsText = numberAsText
    }

    /// `value`, read as `type` when one is given (a native date column's).
    public func bound(_ value: SQLValue, as type: String?) -> SQL {
        type.map { castValue("\(value)", $0) } ?? "\(value)"
    }

    /// `DELETE FROM table AS alias`, or `DELETE alias FROM table AS alias`.
    public func deleteFrom(_ table: String, as alias: String) -> SQL {
        deletesNameTheirAlias
            ? "DELETE \(alias: alias) FROM \(ident: table) AS \(alias: alias)"
            : "DELETE FROM \(ident: table) AS \(alias: alias)"
    }
}
