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
