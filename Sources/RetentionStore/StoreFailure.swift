/// A database error reported without SQL text or bound values (which could hold personal data).
public struct StoreFailure: Error, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// Thrown by stores when the database cannot be opened or answered.
public struct DatabaseUnavailable: Error, CustomStringConvertible {
    public var location: String
    public var reason: String
    /// The database rolled the transaction back to break a deadlock (or a serialisation conflict)
    /// with another one: nothing of it stays, and running it again is the database's own remedy —
    /// which the engine takes for its batches (`ConflictRetry`) before reporting it as unavailable.
    public var conflict: Bool
    public init(location: String, reason: String, conflict: Bool = false) {
        self.location = location
        self.reason = reason
        self.conflict = conflict
    }
    public var description: String { "database \(location) is unavailable: \(reason)" }
}

extension DatabaseUnavailable {
    /// The transaction gave up waiting for another session's lock after `wait`, and was rolled
    /// back; `detail` is the server's own words.
    public static func lockWaitExceeded(location: String, wait: Duration, detail: String) -> DatabaseUnavailable {
        DatabaseUnavailable(
            location: location,
            reason: """
                another session held a lock this transaction needed (a row the application is changing; on SQLite, \
                the database) for longer than the lock wait, \(wait.lockWaitText), and the transaction was rolled \
                back; `run`, `apply` and `serve` wait longer with `--lock-wait` (\(detail))
                """)
    }

    /// The connection closed under a statement (`detail`: the client library's words, if any).
    public static func connectionLost(location: String, detail: String? = nil) -> DatabaseUnavailable {
        DatabaseUnavailable(
            location: location, reason: "the connection to the server was lost" + (detail.map { ": \($0)" } ?? ""))
    }
}

extension StoreFailure {
    /// The server refused a statement for a privilege its `account` ("user", "role") lacks;
    /// `guide`: the page that says which to grant.
    public static func privilegeMissing(_ detail: String, account: String, guide: String) -> StoreFailure {
        StoreFailure(
            "\(detail); `retentiond check` lists every privilege the \(account) lacks, with the GRANT statements to run "
                + "(\(guide), \"Privileges\")")
    }
}

extension StoreFailure {
    /// The archive's copy of a table lacks columns the live table has; `add` are the statements
    /// that add them.
    public static func archiveLacksColumns(table: String, missing: [String], add: [String]) -> StoreFailure {
        StoreFailure(
            "the archive's table `\(table)` lacks column(s) \(missing.map { "`\($0)`" }.joined(separator: ", ")) that "
                + "the live table has (its schema changed since the archive was made); nothing was archived. "
                + "Add them to the archive: \(add.joined(separator: "; "))")
    }

    /// A row of the statistics table that retentiond did not write.
    public static func foreignStatisticsRow(table: String, rule: String) -> StoreFailure {
        StoreFailure(
            """
            `\(table)` holds a row of rule `\(rule)` that retentiond did not write (its columns are not what \
            statistics rows hold); restore the table or remove that row
            """)
    }

    /// A statistics group whose `by` values are longer than a statistics row holds.
    public static func statisticsGroupTooLong(rule: String) -> StoreFailure {
        StoreFailure(
            """
            rule `\(rule)`: the values of its `statistics.by` columns take more than \(StatisticsTable.groupLimit) \
            characters for one group, more than a statistics row holds; the batch was rolled back. Group by shorter, \
            coarser columns
            """)
    }
}
