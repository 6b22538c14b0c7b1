import Foundation

/// A MariaDB (or MySQL) server and database, as `database: { mariadb: … }` or
/// `--database-url mariadb://…` names it. As for PostgreSQL, the password never appears in the
/// policy: a file (or systemd credential) or an environment variable gives it.
public struct MariaDBLocation: Sendable, Hashable {
    public typealias TLSMode = PostgresLocation.TLSMode

    public var host: String
    public var port: Int
    /// The server's Unix socket file (`/run/mysqld/mysqld.sock`); used instead of host when set.
    public var socket: String?
    public var database: String
    public var user: String
    public var passwordFile: String?
    public var passwordEnvironment: String?
    /// Set only from a command-line URL (`demo --mariadb`), never from a policy file.
    public var password: String?
    public var tls: TLSMode

    public init(
        host: String = "localhost", port: Int = 3306, socket: String? = nil, database: String, user: String,
        passwordFile: String? = nil, passwordEnvironment: String? = nil, password: String? = nil, tls: TLSMode = .prefer
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
        socket.map { "mariadb://\(user)@[\($0)]/\(database)" } ?? "mariadb://\(user)@\(host):\(port)/\(database)"
    }

    /// Parses `mariadb://user[:password]@host[:port]/database[?ssl-mode=disable|prefer|require|verify-full]`
    /// (or `mysql://`); `?socket=/run/mysqld/mysqld.sock` connects through the socket instead.
    public init?(url text: String) {
        guard let components = URLComponents(string: text), ["mariadb", "mysql"].contains(components.scheme),
            let user = components.user, !user.isEmpty
        else { return nil }
        let database = String(components.path.dropFirst())
        guard !database.isEmpty else { return nil }
        func item(_ names: String...) -> String? { components.queryItems?.first { names.contains($0.name) }?.value }
        let socket = item("socket")
        let mode = item("ssl-mode", "sslmode").flatMap { TLSMode(rawValue: $0.lowercased()) } ?? .prefer
        self.init(
            host: components.host ?? "localhost", port: components.port ?? 3306, socket: socket, database: database,
            user: user,
            password: components.password, tls: socket == nil ? mode : .disable)
    }
}
