import Foundation

/// How a date column stores its values; SQLite has no date type of its own.
public enum DateStorage: String, Sendable, Hashable, Codable, CaseIterable {
    /// ISO-8601 text (`2024-05-01`, `2024-05-01 13:45:00`, `2024-05-01T13:45:00Z`).
    case iso8601
    /// Seconds since 1970-01-01 UTC, as an integer.
    case unix
    /// Milliseconds since 1970-01-01 UTC, as an integer.
    case unixMilliseconds = "unix_ms"
    /// Julian day number, as a real.
    case julian
    /// SQL `date` (PostgreSQL): a calendar day, local to the policy's time zone.
    case date
    /// SQL `timestamp without time zone` (PostgreSQL): wall-clock time in the policy's time zone.
    case timestamp
    /// SQL `timestamp with time zone` (PostgreSQL): an instant.
    case timestamptz

    /// The SQL type a bound cutoff is cast to for comparison with a native date column (the
    /// column itself is never cast, so its index still serves); nil where values compare as they are.
    public var sqlCast: String? {
        switch self {
        case .date, .timestamp: return "timestamp"
        case .timestamptz: return "timestamptz"
        case .iso8601, .unix, .unixMilliseconds, .julian: return nil
        }
    }
}
