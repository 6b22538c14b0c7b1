import Foundation
import Yams

/// `database: { postgres: … }` and `database: { mariadb: … }`: a server, read the same way.
extension PolicyReader {
    mutating func postgres(_ node: Node, stateDir: String) -> PostgresLocation? {
        server(node, section: "database.postgres", stateDir: stateDir)
    }

    mutating func mariadb(_ node: Node, stateDir: String) -> MariaDBLocation? {
        server(node, section: "database.mariadb", stateDir: stateDir)
    }

    private mutating func server<Product>(_ node: Node, section: String, stateDir: String) -> ServerLocation<Product>? {
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
        var tls = ServerTLSMode.prefer
        if let t = map.value("tls"), let text = string(t, "tls") {
            if let mode = ServerTLSMode(rawValue: text) {
                tls = mode
            } else {
                error(t, "unknown tls mode `\(text)`", hint: "use disable, prefer, require or verify-full")
            }
        }
        let socket = map.value("socket").flatMap { string($0, "socket") }
        guard let database, let user else { return nil }
        return ServerLocation(
            host: map.value("host").flatMap { string($0, "host") } ?? "localhost",
            port: map.value("port").flatMap { int($0, "port", min: 1, max: 65535) } ?? Product.defaultPort,
            socket: socket, database: database, user: user,
            passwordFile: map.value("password_file").flatMap { string($0, "password_file") }.map {
                resolve($0, against: stateDir)
            },
            passwordEnvironment: map.value("password_env").flatMap { string($0, "password_env") },
            tls: socket == nil ? tls : .disable)
    }
}
