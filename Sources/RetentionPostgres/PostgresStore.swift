import Foundation
import Logging
import NIOCore
import NIOPosix
import NIOSSL
import PostgresNIO
import RetentionCore
import RetentionStore

/// A PostgreSQL database, through PostgresNIO.
///
/// Sessions are synchronous (see `StoreSession`): each read or transaction runs on the store's own
/// serial queue, outside Swift's cooperative thread pool, and waits on the connection's futures.
/// A read runs in a READ ONLY transaction, so a dry run cannot change anything.
public final class PostgresStore: RecordStore {
    public let settings: PostgresLocation
    public let readOnly: Bool
    let connection: PostgresConnection
    private let password: String?
    private let queue = DispatchQueue(label: "retentiond.postgres")
    private let logger: Logger

    public var location: String { settings.displayName }

    public init(settings: PostgresLocation, readOnly: Bool, logger: Logger = Logger(label: "retentiond.postgres")) async throws {
        self.settings = settings
        self.readOnly = readOnly
        self.logger = logger
        password = try Self.password(for: settings)
        connection = try await Self.connect(settings, password: password, logger: logger)
    }

    static func password(for settings: PostgresLocation) throws -> String? {
        if let password = settings.password { return password }
        var file = settings.passwordFile
        if file == nil, let credentials = ProcessInfo.processInfo.environment["CREDENTIALS_DIRECTORY"],
           FileManager.default.fileExists(atPath: credentials + "/db-password") {
            file = credentials + "/db-password"
        }
        if let file {
            guard let data = FileManager.default.contents(atPath: file), let text = String(data: data, encoding: .utf8) else {
                throw DatabaseUnavailable(location: settings.displayName, reason: "cannot read the password file \(file)")
            }
            return text.trimmingCharacters(in: .newlines)
        }
        if let variable = settings.passwordEnvironment {
            guard let value = ProcessInfo.processInfo.environment[variable] else {
                throw DatabaseUnavailable(location: settings.displayName, reason: "the environment variable \(variable) (password_env) is not set")
            }
            return value
        }
        return nil
    }

    static func connect(_ settings: PostgresLocation, password: String?, logger: Logger) async throws -> PostgresConnection {
        var configuration: PostgresConnection.Configuration
        if let directory = settings.socketDirectory {
            configuration = .init(unixSocketPath: "\(directory)/.s.PGSQL.\(settings.port)", username: settings.user, password: password, database: settings.database)
        } else {
            let tls: PostgresConnection.Configuration.TLS
            switch settings.tls {
            case .disable:
                tls = .disable
            case .prefer, .require, .verifyFull:
                var tlsConfiguration = TLSConfiguration.makeClientConfiguration()
                if settings.tls != .verifyFull { tlsConfiguration.certificateVerification = .none }
                let context = try NIOSSLContext(configuration: tlsConfiguration)
                tls = settings.tls == .prefer ? .prefer(context) : .require(context)
            }
            configuration = .init(host: settings.host, port: settings.port, username: settings.user, password: password,
                                  database: settings.database, tls: tls)
        }
        configuration.options.connectTimeout = .seconds(10)
        do {
            return try await PostgresConnection.connect(on: MultiThreadedEventLoopGroup.singleton.any(), configuration: configuration,
                                                        id: Int.random(in: 1...Int(Int32.max)), logger: logger)
        } catch {
            throw DatabaseUnavailable(location: settings.displayName, reason: PostgresSession.describe(error))
        }
    }

    deinit {
        let connection = self.connection
        // The connection must outlive its close (PostgresNIO checks), so the completion holds it.
        connection.close().whenComplete { _ in withExtendedLifetime(connection) {} }
    }

    public func read<T: Sendable>(_ body: @escaping @Sendable (any StoreSession) throws -> T) async throws -> T {
        try await inTransaction("BEGIN TRANSACTION READ ONLY", body)
    }

    public func transaction<T: Sendable>(_ body: @escaping @Sendable (any StoreSession) throws -> T) async throws -> T {
        precondition(!readOnly, "transaction on a read-only store")
        return try await inTransaction("BEGIN", body)
    }

    private func inTransaction<T: Sendable>(_ begin: String, _ body: @escaping @Sendable (any StoreSession) throws -> T) async throws -> T {
        let session = PostgresSession(connection: connection, logger: logger, location: location)
        return try await withCheckedThrowingContinuation { continuation in
            queue.async {
                do {
                    _ = try session.execute(begin, [])
                    let result = try body(session)
                    _ = try session.execute("COMMIT", [])
                    continuation.resume(returning: result)
                } catch {
                    _ = try? session.execute("ROLLBACK", [])
                    continuation.resume(throwing: error)
                }
            }
        }
    }

    /// PostgreSQL keeps deleted row versions until VACUUM; retentiond leaves that to autovacuum or
    /// the operator (docs/postgresql.md) rather than running it inside enforcement.
    public func scrubFreedSpace() async throws {}

    /// A session-level advisory lock, held on a connection of its own for as long as the handle lives;
    /// the server releases it if the process dies.
    public func acquireRunLock() async throws -> any RunLockHandle {
        let lockConnection = try await Self.connect(settings, password: password, logger: logger)
        var bindings = PostgresBindings()
        bindings.append("retentiond:\(settings.database)")
        let rows = try await lockConnection.query(PostgresQuery(unsafeSQL: "SELECT pg_try_advisory_lock(hashtext($1))", binds: bindings), logger: logger).get().rows
        guard let acquired = try rows.first?.decode(Bool.self), acquired else {
            try? await lockConnection.close()
            throw RunLocked.held("another retentiond run holds the advisory lock on \(location); nothing was changed. Wait for it to finish, then run again")
        }
        return AdvisoryLock(connection: lockConnection)
    }
}

/// Holds a PostgreSQL advisory lock; closing its connection releases it.
final class AdvisoryLock: RunLockHandle {
    let connection: PostgresConnection
    init(connection: PostgresConnection) { self.connection = connection }
    deinit {
        let connection = self.connection
        connection.close().whenComplete { _ in withExtendedLifetime(connection) {} }
    }
}
