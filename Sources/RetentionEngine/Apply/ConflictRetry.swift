import Logging
import RetentionStore

/// A batch the database rolled back to break a deadlock with another transaction is run again.
/// InnoDB locks every index record a statement passes through, not only the rows it changes: two
/// workers whose batches are a large share of one table (a delete by key list the optimizer does
/// as a scan) wait on each other's rows, and the server rolls one back (error 1213). Its own
/// documented remedy is to run the transaction again; PostgreSQL's deadlock and serialisation
/// failures (40P01, 40001) are handled the same way.
///
/// Only for a transaction that reads everything it acts on inside itself — a batch re-checks its
/// records, re-reads holds, confirms the run lock (a Galera lease taken meanwhile stops it) and
/// locks the chain's head — so that running it again is running it afresh. After `attempts`, the
/// conflict stops the run as any unavailable database does: committed batches stay.
enum ConflictRetry {
    static let attempts = 10

    static func run<T>(logger: Logger, _ transaction: () async throws -> T) async throws -> T {
        var attempt = 1
        while true {
            do {
                return try await transaction()
            } catch let conflict as DatabaseUnavailable where conflict.conflict && attempt < attempts {
                logger.notice(
                    "the database rolled a batch back to break a deadlock; running it again",
                    metadata: [
                        "attempt": "\(attempt + 1) of \(attempts)", "error": "\(conflict.reason)",
                    ])
                // A pause that differs between the two sides and doubles with each attempt (at
                // most about 2.5 s), so the transactions that met do not start again in step.
                try await Task.sleep(for: .milliseconds(Int.random(in: 10...50) << min(attempt - 1, 6)))
                attempt += 1
            }
        }
    }
}
