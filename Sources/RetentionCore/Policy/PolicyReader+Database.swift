import Foundation
import Yams

/// `database: { postgres: … }` and `database: { mariadb: … }`: a server, read the same way.
extension PolicyReader {
    mutating func postgres(_ node: Node, stateDir: String) -> PostgresLocation? {
        guard let s = server(node, section: "database.postgres", defaultPort: 5432, stateDir: stateDir) else {
            return nil
        }
        return PostgresLocation(
            host: s.host, port: s.port, socketDirectory: s.socket, database: s.database, user: s.user,
            passwordFile: s.passwordFile, passwordEnvironment: s.passwordEnvironment,
            tls: s.socket == nil ? s.tls : .disable)
    }

    mutating func mariadb(_ node: Node, stateDir: String) -> MariaDBLocation? {
        guard let s = server(node, section: "database.mariadb", defaultPort: 3306, stateDir: stateDir) else {
            return nil
        }
        return MariaDBLocation(
            host: s.host, port: s.port, socket: s.socket, database: s.database, user: s.user,
            passwordFile: s.passwordFile, passwordEnvironment: s.passwordEnvironment,
            tls: s.socket == nil ? s.tls : .disable)
    }

    private mutating func server(_ node: Node, section: String, defaultPort: Int, stateDir: String)
        -> (
            host: String, port: Int, socket: String?, database: String, user: String, passwordFile: String?,
            passwordEnvironment: String?, tls: PostgresLocation.TLSMode
        )?
    {
        guard let map = mapping(node, section) else { return nil }
        checkKeys(map, allowed: Self.serverKeys + ["password"], in: section)
        if map.value("password") != nil {
            error(
                map.pairs.first { $0.key == "password" }!.keyNode, "a password never goes in the policy file",
                hint:
                    "use `password_file: PATH` (or a systemd credential named db-password) or `password_env: VARIABLE`")
        }
        let database = string(map.value("database"), "\(section).database")
        let user = string(map.value("user"), "\(section).user")
        if map.value("database") == nil { error(node, "\(section) needs `database`") }
        if map.value("user") == nil { error(node, "\(section) needs `user`") }
        var tls = PostgresLocation.TLSMode.prefer
        if let t = map.value("tls"), let text = string(t, "tls") {
            if let mode = PostgresLocation.TLSMode(rawValue: text) {
                tls = mode
            } else {
                error(t, "unknown tls mode `\(text)`", hint: "use disable, prefer, require or verify-full")
            }
        }
        let socket = map.value("socket").flatMap { string($0, "socket") }
        guard let database, let user else { return nil }
        return (
            map.value("host").flatMap { string($0, "host") } ?? "localhost",
            map.value("port").flatMap { int($0, "port", min: 1, max: 65535) } ?? defaultPort,
            socket, database, user,
            map.value("password_file").flatMap { string($0, "password_file") }.map { resolve($0, against: stateDir) },
            map.value("password_env").flatMap { string($0, "password_env") }, tls
        )
    }
}
