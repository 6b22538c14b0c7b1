import Foundation

/// Why a command that names a record, a table or a hold refused it: each message says what to
/// type instead.
extension EnforcementError {
    /// An operator named a table the database does not have (or one of the tool's).
    static func noSuchTable(_ table: String, in location: String) -> EnforcementError {
        .invalidRequest("table `\(table)` does not exist in \(location)")
    }

    /// A key given with the wrong number of values.
    static func keyValueCount(described: String, columns: [String], expected: Int) -> EnforcementError {
        .invalidRequest(
            "\(described) is (\(columns.joined(separator: ", "))): give \(expected) value(s) separated by commas")
    }

    /// A value given for a column of whole numbers that is not one.
    static func notAWholeNumber(_ value: String, table: String, column: String) -> EnforcementError {
        .invalidRequest(
            """
            `\(value)` is not a value of `\(table).\(column)`, which holds whole numbers: type the key exactly as \
            stored, e.g. 42
            """)
    }

    /// A value that names several records.
    static func namesSeveralRecords(_ text: String, table: String, keyColumns: [String]) -> EnforcementError {
        .invalidRequest(
            "`\(text)` names more than one record of `\(table)`: use its key (\(keyColumns.joined(separator: ", ")))")
    }

    /// No record has the key given; `numeric` names the columns of whole numbers it was read against.
    static func noSuchRecord(table: String, key: String, numeric: [String] = []) -> EnforcementError {
        .invalidRequest(
            "no record of `\(table)` has key \(key)"
                + (numeric.isEmpty
                    ? ""
                    : " (\(numeric.joined(separator: ", ")), and text only where a value does not read as one: "
                        + "type the key exactly as stored, e.g. 42)"))
    }

    /// A record whose key values cannot be written on a command line.
    static func keyNotNameable(keyColumns: [String]) -> EnforcementError {
        .invalidRequest(
            """
            the record's key (\(keyColumns.joined(separator: ", "))) holds values that are neither integers nor text, \
            so it cannot be named
            """)
    }

    /// A checked key (`key_uniqueness: checked`) that does not name one row per record.
    static func keysNotUnique(_ problems: [String]) -> EnforcementError {
        .refused(
            "a key retentiond checks (key_uniqueness: checked) does not name one row per record, so nothing was changed: "
                + problems.joined(separator: "; ")
                + ". Correct those rows, then run again (`retentiond check` shows the query that finds them)")
    }

    /// Legal holds that do not match the audit trail (a finding each).
    static func holdsDoNotMatchTrail(_ findings: [String]) -> EnforcementError {
        .auditTampered(
            "legal holds do not match the audit trail, so a held record could be touched; nothing was changed:\n"
                + findings.map { "  \($0)" }.joined(separator: "\n")
                + "\nrestore retentiond_holds from a backup (docs/operations.md, \"Legal holds\")")
    }

    /// A hold on a table without a primary key.
    static func cannotHoldRows(of table: String) -> EnforcementError {
        .invalidRequest("table `\(table)` has no primary key, so its rows cannot be held individually")
    }

    /// A release naming no active hold.
    static func noActiveHold(id: Int64) -> EnforcementError {
        .invalidRequest("no active hold has id \(id); see `retentiond hold list`")
    }
}
