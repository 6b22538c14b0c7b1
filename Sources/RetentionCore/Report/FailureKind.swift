/// Why a command or a run stopped, as reports and logs name it. The command line maps each kind
/// to its documented exit status; nothing below it knows those numbers.
public enum FailureKind: String, Codable, Sendable, Hashable {
    case policyInvalid = "policy-invalid"
    case safetyLimit = "safety-limit"
    /// Another run holds the lock, or this run lost it.
    case locked
    case databaseUnavailable = "database-unavailable"
    /// The audit trail, its anchor or the holds it vouches for were changed outside retentiond.
    case auditTampered = "audit-tampered"
    /// Refused before any change: clock, plan mismatch, missing or mismatched audit key.
    case refused
    /// A file retentiond keeps cannot be written.
    case cannotWrite = "cannot-write"
    /// The run reached its `--max-duration` at a batch boundary; the next run continues.
    case timeLimit = "time-limit"
    /// The command named something that is not there: a record by a key no row has, a table, a
    /// hold id. A mistake in the request, not in retentiond.
    case invalidRequest = "invalid-request"
    case failed
}
