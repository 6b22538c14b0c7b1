import Foundation
import RetentionCore
import RetentionStore

/// Why a batch was rolled back: its counts did not add up, its rows moved, or the database refused
/// it. The engine isolates the records of a batch that fails so (`Applier`).
extension StoreFailure {
    /// A child's rows changed by the batch's statement and those it found to audit differ.
    static func childRowsMiscounted(rule: String, child: String, changed: Int, found: Int) -> StoreFailure {
        StoreFailure(
            """
            rule `\(rule)`: the batch changed \(changed) row(s) of child `\(child)` but found \(found); it was rolled \
            back so the trail matches the data
            """)
    }

    /// Rows of a table changed by the batch's statement and the entries it would audit differ.
    static func rowsMiscounted(rule: String, table: String, changed: Int, audited: Int) -> StoreFailure {
        StoreFailure(
            """
            rule `\(rule)`: the batch changed \(changed) row(s) of `\(table)` but would audit \(audited); it was \
            rolled back so the trail matches the data
            """)
    }

    /// An archive rule's rows changed between their copy into the archive and their deletion.
    static func changedSinceArchived(rule: String) -> StoreFailure {
        StoreFailure(
            """
            rule `\(rule)`: rows of the batch changed between their copy into the archive and their deletion here; \
            nothing was deleted (the next attempt copies them again)
            """)
    }

    /// Rows of a `tree` deeper than it follows below the rows a batch deletes.
    static func treeDeeperThanFollowed(rule: String, table: String, rows: Int, followed: Int) -> StoreFailure {
        StoreFailure(
            """
            rule `\(rule)`: \(rows) row(s) of `\(table)` hang more than \(followed) level(s) below the rows deleted \
            with the record, deeper than its `tree` follows; nothing was changed. Raise the tree's `depth` (at most 8, \
            less where the child is deep), or remove those rows first
            """)
    }

    /// The database refused every record of a batch, one by one: the cause is not a record.
    static func everyRecordRefused(rule: String, table: String, failure: StoreFailure) -> StoreFailure {
        StoreFailure(
            """
            rule `\(rule)` (table `\(table)`): the database refused every record of a batch, so the cause is not one \
            record: \(failure.message)
            """)
    }

    /// A database error in a rule's query, named by the rule and where the policy declares it (the SQL
    /// and its values are never shown: they could hold personal data).
    static func inRule(_ rule: RetentionRule, _ failure: StoreFailure) -> StoreFailure {
        StoreFailure("rule `\(rule.id)` (\(rule.location)): \(failure.message)")
    }
}
