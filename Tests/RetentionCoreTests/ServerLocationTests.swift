import Foundation
import Testing

@testable import RetentionCore

/// PostgreSQL's and MariaDB's locations are one type (`ServerLocation`), told apart by their
/// product: its schemes, its default port, and whether its socket is a directory or a file.
@Suite struct ServerLocationTests {
    @Test func aURLGivesTheServerTheDatabaseAndTheUserWithEachProductsDefaultPort() throws {
        let postgres = try #require(PostgresLocation(url: "postgres://app:secret@db.example:6543/crm?sslmode=require"))
        #expect(postgres.host == "db.example")
        #expect(postgres.port == 6543)
        #expect(postgres.database == "crm")
        #expect(postgres.user == "app")
        #expect(postgres.password == "secret")
        #expect(postgres.tls == .require)
        #expect(postgres.socket == nil)
        #expect(postgres.displayName == "postgres://app@db.example:6543/crm")

        #expect(PostgresLocation(url: "postgresql://app@db/crm")?.port == 5432)
        #expect(PostgresLocation(url: "postgresql://app@db/crm")?.tls == .prefer)
        #expect(MariaDBLocation(url: "mysql://app@db/crm")?.port == 3306)
        let mariadb = try #require(MariaDBLocation(url: "mariadb://app@db:3307/crm?ssl-mode=VERIFY-FULL"))
        #expect(mariadb.tls == .verifyFull)
        #expect(mariadb.displayName == "mariadb://app@db:3307/crm")
    }

    @Test func aSocketIsADirectoryForPostgreSQLAndAFileForMariaDBAndHasNoTLS() throws {
        let postgres = try #require(
            PostgresLocation(url: "postgres://app@%2Fvar%2Frun%2Fpostgresql:5433/crm?sslmode=require"))
        #expect(postgres.socket == "/var/run/postgresql")
        #expect(postgres.host == "localhost")
        #expect(postgres.tls == .disable)
        // The port names the socket file in the directory (`.s.PGSQL.5433`): it stays in the name.
        #expect(postgres.displayName == "postgres://app@[/var/run/postgresql]:5433/crm")

        let mariadb = try #require(MariaDBLocation(url: "mariadb://app@localhost/crm?socket=/run/mysqld/mysqld.sock"))
        #expect(mariadb.socket == "/run/mysqld/mysqld.sock")
        #expect(mariadb.tls == .disable)
        #expect(mariadb.displayName == "mariadb://app@[/run/mysqld/mysqld.sock]/crm")
    }

    @Test func aURLOfAnotherProductOrWithoutUserOrDatabaseIsRefused() {
        #expect(PostgresLocation(url: "mariadb://app@db/crm") == nil)
        #expect(MariaDBLocation(url: "postgres://app@db/crm") == nil)
        #expect(PostgresLocation(url: "postgres://db/crm") == nil)
        #expect(MariaDBLocation(url: "mariadb://app@db/") == nil)
        #expect(PostgresLocation(url: "sqlite:crm.sqlite") == nil)
    }

    @Test func thePolicyFileNamesEitherServerTheSameWay() throws {
        func database(_ section: String) throws -> DatabaseLocation {
            let text = """
                version: 1
                time_zone: Europe/Paris
                state_dir: /srv/retention
                database: \(section)
                subjects:
                  clients:
                    table: clients
                    key: id
                    rules:
                      - { id: r, register: "Clients", legal_basis: "contract", clock: { column: ended_at }, after: 1y, action: flag }
                """
            return try PolicyParser(path: "/etc/retentiond/policy.yaml").parse(text, hash: "h").1.database
        }
        let socketed = try database(
            "{ postgres: { socket: /var/run/postgresql, database: crm, user: app, tls: require } }")
        #expect(
            socketed
                == .postgres(
                    PostgresLocation(socket: "/var/run/postgresql", database: "crm", user: "app", tls: .disable)))
        let networked = try database(
            "{ mariadb: { host: db, database: crm, user: app, password_file: secret, tls: verify-full } }")
        #expect(
            networked
                == .mariadb(
                    MariaDBLocation(
                        host: "db", port: 3306, database: "crm", user: "app", passwordFile: "/srv/retention/secret",
                        tls: .verifyFull)))
    }
}
