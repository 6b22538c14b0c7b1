import Foundation

/// The demo's and the tests' schemas are written once, in the SQL SQLite and PostgreSQL share;
/// this says them in MariaDB's terms, as those applications declare such columns there.
public enum MariaDBTerms {
    /// - `TEXT` columns become `VARCHAR(255)`, which MariaDB indexes without a prefix length;
    /// - `TIMESTAMP` (PostgreSQL's wall-clock time without time zone) becomes `DATETIME` (MariaDB's
    ///   TIMESTAMP is an instant);
    /// - an index on `lower(column)` (MariaDB 10.11 has no expression index) becomes one on the
    ///   column, whose case-insensitive collation already compares as LOWER does;
    /// - a generated `WITH RECURSIVE … INSERT INTO t SELECT …` is written `INSERT INTO t WITH RECURSIVE … SELECT …`;
    /// - `CAST(… AS TEXT)` is `CAST(… AS CHAR)`.
    public static func statement(_ statement: String) -> String {
        var statement = statement
        let upper = statement.uppercased()
        if upper.hasPrefix("CREATE TABLE") {
            statement = statement.replacingOccurrences(
                of: #"\bTEXT\b"#, with: "VARCHAR(255)", options: [.regularExpression, .caseInsensitive])
            statement = statement.replacingOccurrences(
                of: #"\bTIMESTAMP\b"#, with: "DATETIME", options: [.regularExpression, .caseInsensitive])
        }
        if upper.hasPrefix("CREATE INDEX") || upper.hasPrefix("CREATE UNIQUE INDEX") {
            statement = statement.replacingOccurrences(
                of: #"\blower\((\w+)\)"#, with: "$1", options: [.regularExpression, .caseInsensitive])
        }
        if upper.hasPrefix("WITH RECURSIVE"),
            let insert = statement.range(of: #"\s*INSERT INTO \w+\s*"#, options: .regularExpression)
        {
            statement =
                statement[insert].trimmingCharacters(in: .whitespaces) + " " + statement[..<insert.lowerBound] + " "
                + statement[insert.upperBound...]
        }
        return statement.replacingOccurrences(of: " AS TEXT)", with: " AS CHAR)")
    }
}
