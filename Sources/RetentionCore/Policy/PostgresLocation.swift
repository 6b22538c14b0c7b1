import Foundation

/// A PostgreSQL server and database. The password never appears in the policy: it is read from
/// a file (or systemd credential) or an environment variable when the connection opens.
public struct PostgresLocation: Sendable, Hashable {
    public enum TLSMode: String, Sendable, Hashable, CaseIterable {
        /// No TLS (the only choice over a Unix socket).
        case disable
        /// TLS if the server offers it, without checking its certificate.
        case prefer
        /// TLS or no connection, without checking the certificate.
        case require
        /// TLS with the certificate checked against the system's trust store and the host name.
        case verifyFull = "verify-full"
    }

    public var host: String
    public var port: Int
    /// The directory of the server's Unix socket (as libpq's `host=/var/run/postgresql`); used instead of host when set.
    public var socketDirectory: String?
    public var database: String
    public var user: String
    public var passwordFile: String?
    public var passwordEnvironment: String?
    /// Set only from a command-line URL (`demo --postgres`), never from a policy file.
    public var password: String?
    public var tls: TLSMode

    public init(
        host: String = "localhost", port: Int = 5432, socketDirectory: String? = nil, database: String, user: String,
        passwordFile: String? = nil, passwordEnvironment: String? = nil, password: String? = nil, tls: TLSMode = .prefer
    ) {
        self.host = host
        self.port = port
        self.socketDirectory = socketDirectory
        self.database = database
        self.user = user
        self.passwordFile = passwordFile
        self.passwordEnvironment = passwordEnvironment
        self.password = password
        self.tls = tls
    }

    /// Where the database is, without credentials: what plans, reports and audit entries name.
    public var displayName: String {
        socketDirectory.map { "postgres://\(user)@[\($0)]:\(port)/\(database)" }
            ?? "postgres://\(user)@\(host):\(port)/\(database)"
    }

    /// Parses `postgres://user[:password]@host[:port]/database[?sslmode=disable|prefer|require|verify-full]`.
    public init?(url text: String) {
        guard let components = URLComponents(string: text), ["postgres", "postgresql"].contains(components.scheme),
            let user = components.user, !user.isEmpty
        else { return nil }
        let database = String(components.path.dropFirst())
        guard !database.isEmpty else { return nil }
        let mode =
            components.queryItems?.first { $0.name == "sslmode" }?.value.flatMap(TLSMode.init(rawValue:)) ?? .prefer
        let host = components.host ?? "localhost"
        self.init(
            host: host.hasPrefix("/") ? "localhost" : host, port: components.port ?? 5432,
            socketDirectory: host.hasPrefix("/") ? host : nil, database: database, user: user,
            password: components.password, tls: host.hasPrefix("/") ? .disable : mode)
    }
}
