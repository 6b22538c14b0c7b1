import Foundation

/// What tells one server product from another where retentiond names a server: its URL schemes,
/// its default port, and what its socket is. Everything else about a server's location is alike.
public protocol ServerProduct: Sendable {
    /// The URL schemes that name the server; plans, reports and the trail print the first.
    static var schemes: [String] { get }
    static var defaultPort: Int { get }
    /// Whether a location's `socket` is the directory of the server's socket, whose file name
    /// carries the port (PostgreSQL: `/var/run/postgresql/.s.PGSQL.5432`), rather than the file.
    static var socketIsDirectory: Bool { get }
}

/// PostgreSQL: docs/postgresql.md.
public enum PostgresProduct: ServerProduct {
    public static let schemes = ["postgres", "postgresql"]
    public static let defaultPort = 5432
    public static let socketIsDirectory = true
}

/// MariaDB, or MySQL (the same protocol): docs/mariadb.md.
public enum MariaDBProduct: ServerProduct {
    public static let schemes = ["mariadb", "mysql"]
    public static let defaultPort = 3306
    public static let socketIsDirectory = false
}

/// A PostgreSQL server and database.
public typealias PostgresLocation = ServerLocation<PostgresProduct>
/// A MariaDB (or MySQL) server and database.
public typealias MariaDBLocation = ServerLocation<MariaDBProduct>

/// How a connection to a server uses TLS.
public enum ServerTLSMode: String, Sendable, Hashable, CaseIterable {
    /// No TLS (the only choice over a Unix socket).
    case disable
    /// TLS if the server offers it, without checking its certificate.
    case prefer
    /// TLS or no connection, without checking the certificate.
    case require
    /// TLS with the certificate checked against the system's trust store and the host name.
    case verifyFull = "verify-full"
}

/// A server and database, as `database: { postgres: … }` / `{ mariadb: … }` or `--database-url`
/// names it. The password never appears in the policy: it is read from a file (or systemd
/// credential) or an environment variable when the connection opens.
public struct ServerLocation<Product: ServerProduct>: Sendable, Hashable {
    public typealias TLSMode = ServerTLSMode

    public var host: String
    public var port: Int
    /// The server's Unix socket, used instead of host when set: for PostgreSQL the directory that
    /// holds it (as libpq's `host=/var/run/postgresql`), for MariaDB the file
    /// (`/run/mysqld/mysqld.sock`).
    public var socket: String?
    public var database: String
    public var user: String
    public var passwordFile: String?
    public var passwordEnvironment: String?
    /// Set only from a command-line URL (`demo --postgres`, `--database-url`), never from a policy file.
    public var password: String?
    public var tls: TLSMode

    public init(
        host: String = "localhost", port: Int = Product.defaultPort, socket: String? = nil, database: String,
        user: String, passwordFile: String? = nil, passwordEnvironment: String? = nil, password: String? = nil,
        tls: TLSMode = .prefer
    ) {
        self.host = host
        self.port = port
        self.socket = socket
        self.database = database
        self.user = user
        self.passwordFile = passwordFile
        self.passwordEnvironment = passwordEnvironment
        self.password = password
        self.tls = tls
    }

    /// Where the database is, without credentials: what plans, reports and audit entries name.
    public var displayName: String {
        let scheme = Product.schemes[0]
        guard let socket else { return "\(scheme)://\(user)@\(host):\(port)/\(database)" }
        return "\(scheme)://\(user)@[\(socket)]\(Product.socketIsDirectory ? ":\(port)" : "")/\(database)"
    }

    /// Parses `SCHEME://user[:password]@host[:port]/database[?sslmode=disable|prefer|require|verify-full]`
    /// (`ssl-mode` too). The socket is `?socket=PATH` or a host that is a path (libpq's
    /// `postgres://user@%2Fvar%2Frun%2Fpostgresql/database`); a socket connection has no TLS.
    public init?(url text: String) {
        guard let components = URLComponents(string: text), let scheme = components.scheme,
            Product.schemes.contains(scheme), let user = components.user, !user.isEmpty
        else { return nil }
        let database = String(components.path.dropFirst())
        guard !database.isEmpty else { return nil }
        func item(_ names: String...) -> String? { components.queryItems?.first { names.contains($0.name) }?.value }
        let host = components.host ?? "localhost"
        let socket = item("socket") ?? (host.hasPrefix("/") ? host : nil)
        let mode = item("sslmode", "ssl-mode").flatMap { TLSMode(rawValue: $0.lowercased()) } ?? .prefer
        self.init(
            host: host.hasPrefix("/") ? "localhost" : host, port: components.port ?? Product.defaultPort,
            socket: socket,
            database: database, user: user, password: components.password, tls: socket == nil ? mode : .disable)
    }
}
