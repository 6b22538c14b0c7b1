import Foundation

/// Which database the policy governs.
public enum DatabaseLocation: Sendable, Hashable {
    case sqlite(path: String)
    case postgres(PostgresLocation)
    /// MariaDB, or MySQL (the same protocol): docs/mariadb.md.
    case mariadb(MariaDBLocation)

    /// The kind of database, as the policy names it.
    public var kindName: String {
        switch self {
        case .sqlite: return "sqlite"
        case .postgres: return "postgres"
        case .mariadb: return "mariadb"
        }
    }

    public var displayName: String {
        switch self {
        case .sqlite(let path): return "sqlite:\(path)"
        case .postgres(let location): return location.displayName
        case .mariadb(let location): return location.displayName
        }
    }
}
