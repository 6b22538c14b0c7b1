import Foundation
import Yams

/// `database: { postgres: … }`.
extension PolicyReader {
    mutating func postgres(_ node: Node, stateDir: String) -> PostgresLocation? {
        guard let map = mapping(node, "database.postgres") else { return nil }
        checkKeys(map, allowed: Self.postgresKeys + ["password"], in: "database.postgres")
        if map.value("password") != nil {
            error(map.pairs.first { $0.key == "password" }!.keyNode, "a password never goes in the policy file",
                  hint: "use `password_file: PATH` (or a systemd credential named db-password) or `password_env: VARIABLE`")
        }
        let database = string(map.value("database"), "database.postgres.database")
        let user = string(map.value("user"), "database.postgres.user")
        if map.value("database") == nil { error(node, "database.postgres needs `database`") }
        if map.value("user") == nil { error(node, "database.postgres needs `user`") }
        var tls = PostgresLocation.TLSMode.prefer
        if let t = map.value("tls"), let text = string(t, "tls") {
            if let mode = PostgresLocation.TLSMode(rawValue: text) { tls = mode } else {
                error(t, "unknown tls mode `\(text)`", hint: "use disable, prefer, require or verify-full")
            }
        }
        let socket = map.value("socket").flatMap { string($0, "socket") }
        guard let database, let user else { return nil }
        return PostgresLocation(host: map.value("host").flatMap { string($0, "host") } ?? "localhost",
                                port: map.value("port").flatMap { int($0, "port", min: 1, max: 65535) } ?? 5432,
                                socketDirectory: socket, database: database, user: user,
                                passwordFile: map.value("password_file").flatMap { string($0, "password_file") }.map { resolve($0, against: stateDir) },
                                passwordEnvironment: map.value("password_env").flatMap { string($0, "password_env") },
                                tls: socket == nil ? tls : .disable)
    }
}
