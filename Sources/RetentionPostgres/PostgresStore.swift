import Foundation
import Logging
import NIOCore
import NIOPosix
import NIOSSL
import PostgresNIO
import RetentionCore
import RetentionStore
import Synchronization

/// A PostgreSQL database, through PostgresNIO.
///
/// Sessions are synchronous (see `StoreSession`): each read or transaction runs on the store's own
/// serial queue, outside Swift's cooperative thread pool, and waits on the connection's futures.
/// A read runs in a READ ONLY transaction, so a dry run cannot change anything;
/// `PostgresStore.reader(…)` is typed as a `RecordReader` and only reads.
public final class PostgresStore: RecordStore {
    public let settings: PostgresLocation
    /// The session connection; replaced by a new one when the server or the network dropped it,
    /// so a lost connection costs the run it happened in, not every run after it (`serve`).
    private let current: Mutex<PostgresLink>
    private let password: String?
    private let queue = DispatchQueue(label: "retentiond.postgres")
    private let logger: Logger
    /// How long a batch waits for a lock another session holds (`WritingSession.limitLockWaits`).
    private let lockWait: Duration

    public var location: String { settings.displayName }

    /// `credentialsDirectory`: systemd's (`$CREDENTIALS_DIRECTORY`, read by the command line), where
    /// a `db-password` credential is used when the policy names no password. `lockWait`: how long
    /// a batch's statements wait for a lock another session holds (`lock_timeout`).
    public init(
        settings: PostgresLocation, credentialsDirectory: String? = nil,
        logger: Logger = Logger(label: "retentiond.postgres"), lockWait: Duration = defaultLockWait
    ) async throws {
        self.settings = settings
        self.logger = logger
        self.lockWait = lockWait
        password = try serverPassword(
            given: settings.password, file: settings.passwordFile, environment: settings.passwordEnvironment,
            credentialsDirectory: credentialsDirectory, location: settings.displayName)
        current = Mutex(try await Self.open(settings, password: password, logger: logger))
    }

    /// A connection, with the server process serving it.
    static func open(_ settings: PostgresLocation, password: String?, logger: Logger) async throws -> PostgresLink {
        let connection = try await connect(settings, password: password, logger: logger)
        let rows = try? await connection.query(PostgresQuery(unsafeSQL: "SELECT pg_backend_pid()"), logger: logger)
            .get().rows
        return PostgresLink(connection, backendPID: try? rows?.first?.decode(Int32.self))
    }

    /// `pg_cancel_backend` of this store's connection, from a connection of its own: the statement
    /// under way fails (57014, query_canceled); the connection stays open.
    public func interrupt() async {
        guard let pid = current.withLock({ $0.backendPID }),
            let canceller = try? await Self.connect(settings, password: password, logger: logger)
        else { return }
        _ = try? await canceller.query(PostgresQuery(unsafeSQL: "SELECT pg_cancel_backend(\(pid))"), logger: logger)
            .get()
        // The connection must outlive its close (PostgresNIO checks), so the completion holds it.
        canceller.close().whenComplete { _ in withExtendedLifetime(canceller) {} }
    }

    /// A store that only reads (every session a READ ONLY transaction).
    public static func reader(
        settings: PostgresLocation, credentialsDirectory: String? = nil,
        logger: Logger = Logger(label: "retentiond.postgres")
    ) async throws -> ReadOnlyStore {
        ReadOnlyStore(
            opened: try await PostgresStore(
                settings: settings, credentialsDirectory: credentialsDirectory, logger: logger))
    }

    /// An open connection: the current one, or a new one when it was closed.
    func link() async throws -> PostgresLink {
        let existing = current.withLock { $0 }
        guard existing.isClosed else { return existing }
        logger.notice("reconnecting to PostgreSQL after a lost connection", metadata: ["database": "\(location)"])
        let fresh = try await Self.open(settings, password: password, logger: logger)
        let replaced = current.withLock { link -> PostgresLink in
            defer { link = fresh }
            return link
        }
        let connection = replaced.connection
        connection.close().whenComplete { _ in withExtendedLifetime(connection) {} }
        return fresh
    }

    /// The event loops PostgreSQL connections run on, spread over them in turn: PostgresNIO reads
    /// and decodes a connection's results on its loop, so a large result (a dry run's pages, a
    /// child count) holds up every connection of that loop meanwhile — with a loop per core, a new
    /// connection assigned to a busy one could not even finish connecting in time under load.
    static let loops = MultiThreadedEventLoopGroup(numberOfThreads: max(4, System.coreCount * 2))

    static func connect(_ settings: PostgresLocation, password: String?, logger: Logger) async throws
        -> PostgresConnection
    {
        var configuration: PostgresConnection.Configuration
        if let directory = settings.socket {
            configuration = .init(
                unixSocketPath: "\(directory)/.s.PGSQL.\(settings.port)", username: settings.user, password: password,
                database: settings.database)
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
            configuration = .init(
                host: settings.host, port: settings.port, username: settings.user, password: password,
                database: settings.database, tls: tls)
        }
        configuration.options.connectTimeout = .seconds(10)
        // A connection attempt that nothing answered in time is made again, twice: a busy host (a
        // server forking backends under load, a SYN lost on the way) answers the next one. Any
        // other failure (refused, authentication, TLS) is said at once.
        var connection: PostgresConnection?
        for attempt in 1...3 where connection == nil {
            do {
                connection = try await PostgresConnection.connect(
                    on: Self.loops.next(), configuration: configuration,
                    id: Int.random(in: 1...Int(Int32.max)), logger: logger)
            } catch ChannelError.connectTimeout where attempt < 3 {
                logger.notice(
                    "no answer from PostgreSQL within 10 s; trying again",
                    metadata: ["database": "\(settings.displayName)", "attempt": "\(attempt)"])
            } catch {
                throw DatabaseUnavailable(location: settings.displayName, reason: PostgresSession.describe(error))
            }
        }
        guard let connection else { throw DatabaseUnavailable(location: settings.displayName, reason: "no connection") }
        do {
            // retentiond's statements are many and short, each with its own parameters: the server's
            // JIT compiled them one by one (100-200 ms each where a plan's estimated cost is high),
            // which cost more than it ever saved (docs/postgresql.md, "JIT"). Off for this session
            // only — set once connected, not as a startup parameter, which PgBouncer refuses.
            _ = try await connection.query(PostgresQuery(unsafeSQL: "SET jit = off"), logger: logger).get()
        } catch {
            try? await connection.close()
            throw DatabaseUnavailable(location: settings.displayName, reason: PostgresSession.describe(error))
        }
        return connection
    }

    /// Refuses a connection pooler that shares server sessions between clients (PgBouncer's
    /// `transaction` and `statement` modes): there, the run lock — a session-level advisory lock —
    /// stays on a server session other clients then use, so two runs could both hold it. A second
    /// connection that reaches the lock's own server process proves it.
    static func sharedSessionProblem(location: String) -> String {
        "the connections to \(location) go through a pooler that hands one server session to several clients (PgBouncer's pool_mode = transaction or statement): the run lock, a session-level advisory lock, cannot hold there, so nothing was changed. Connect retentiond to PostgreSQL directly, or through a pool in session mode (docs/postgresql.md, \"PgBouncer and other poolers\")"
    }

    private func refuseSharedSessions(lockPID: Int32) async throws {
        let probe = try await Self.connect(settings, password: password, logger: logger)
        defer { probe.close().whenComplete { _ in withExtendedLifetime(probe) {} } }
        let rows = try await probe.query(PostgresQuery(unsafeSQL: "SELECT pg_backend_pid()"), logger: logger).get().rows
        guard let row = rows.first else { return }
        if try row.decode(Int32.self) == lockPID {
            throw DatabaseUnavailable(location: location, reason: Self.sharedSessionProblem(location: location))
        }
    }

    deinit {
        let connection = current.withLock { $0.connection }
        // The connection must outlive its close (PostgresNIO checks), so the completion holds it.
        connection.close().whenComplete { _ in withExtendedLifetime(connection) {} }
    }

    public func read<T: Sendable>(_ body: @escaping @Sendable (any StoreSession) throws -> T) async throws -> T {
        try await inTransaction("BEGIN TRANSACTION READ ONLY") { try body($0) }
    }

    public func transaction<T: Sendable>(_ body: @escaping @Sendable (any WritingSession) throws -> T) async throws -> T
    {
        try await inTransaction("BEGIN") { try body($0) }
    }

    private func inTransaction<T: Sendable>(_ begin: String, _ body: @escaping @Sendable (PostgresSession) throws -> T)
        async throws -> T
    {
        let session = PostgresSession(link: try await link(), logger: logger, location: location, lockWait: lockWait)
        let logger = self.logger
        return try await session.transaction(
            on: queue, begin: [begin],
            rollbackFailed: {
                // The transaction is gone with the connection (the server rolls it back); say so.
                logger.warning("ROLLBACK failed", metadata: ["error": "\(PostgresSession.describe($0))"])
            }, body)
    }

    /// PostgreSQL keeps deleted row versions until VACUUM; retentiond leaves that to autovacuum or
    /// the operator (docs/postgresql.md) rather than running it inside enforcement.
    public func scrubFreedSpace() async throws {}

    public func inSuccession<T: Sendable>(_ body: () async throws -> T) async throws -> T { try await body() }

    /// A session-level advisory lock, held on a connection of its own for as long as the handle lives;
    /// the server releases it if the process dies.
    public func acquireRunLock() async throws -> any RunLockHandle {
        let lockConnection = try await Self.connect(settings, password: password, logger: logger)
        let key = "retentiond:\(settings.database)"
        var bindings = PostgresBindings()
        bindings.append(key)
        let acquired: Bool
        let pid: Int32
        do {
            // The lock connection sits idle for the whole run: a server-wide idle_session_timeout must not close it.
            _ = try await lockConnection.query(PostgresQuery(unsafeSQL: "SET idle_session_timeout = 0"), logger: logger)
                .get()
            let rows = try await lockConnection.query(
                PostgresQuery(
                    unsafeSQL: "SELECT pg_try_advisory_lock(hashtext($1)), pg_backend_pid()", binds: bindings),
                logger: logger
            ).get().rows
            guard let row = rows.first else {
                throw DatabaseUnavailable(location: location, reason: "the advisory lock query returned nothing")
            }
            (acquired, pid) = try row.decode((Bool, Int32).self)
        } catch {
            // PostgresNIO asserts if a connection is freed before its close completes: close it on every way out.
            try? await lockConnection.close()
            throw PostgresSession.translate(error, location: location)
        }
        guard acquired else {
            try? await lockConnection.close()
            throw RunLocked.heldByAnotherRun("the advisory lock on \(location)")
        }
        let lock = AdvisoryLock(
            connection: lockConnection, backendPID: pid, location: location, key: key, logger: logger)
        do {
            try await refuseSharedSessions(lockPID: pid)
        } catch {
            await lock.release()
            throw error
        }
        return lock
    }
}

extension PostgresStore: WorkQueueStore {
    public func readQueue<T: Sendable>(_ body: @escaping @Sendable (any WorkQueueReading) throws -> T) async throws -> T
    {
        try await inTransaction("BEGIN TRANSACTION READ ONLY") { try body($0) }
    }

    public func queueTransaction<T: Sendable>(_ body: @escaping @Sendable (any WorkQueueSession) throws -> T)
        async throws -> T
    {
        try await inTransaction("BEGIN") { try body($0) }
    }
}

/// Holds a PostgreSQL advisory lock; closing its connection releases it.
final class AdvisoryLock: RunLockHandle {
    let connection: PostgresConnection
    /// The server process of the lock connection: the lock is held while it holds it.
    let backendPID: Int32
    let location: String

    /// Hashed into the lock's number (`hashtext`).
    let key: String
    let logger: Logger

    init(connection: PostgresConnection, backendPID: Int32, location: String, key: String, logger: Logger) {
        self.connection = connection
        self.backendPID = backendPID
        self.location = location
        self.key = key
        self.logger = logger
    }

    /// Asks the server, in the batch's own transaction, whether the lock connection still holds the
    /// lock: a terminated or timed-out lock connection is noticed before the batch commits.
    func confirm(in session: any WritingSession) throws {
        let held = try session.rows(
            "SELECT count(*), pg_backend_pid() FROM pg_locks WHERE locktype = 'advisory' AND granted AND pid = $1",
            [.integer(Int64(backendPID))])
        guard held.first?.first != .integer(0) else {
            throw RunLocked.connectionClosed(location: location, how: "terminated")
        }
        // The batch on the lock's own server session: a pooler shares sessions (see `sharedSessionProblem`).
        if held.first?.last == .integer(Int64(backendPID)) {
            throw RunLocked.lost(
                PostgresStore.sharedSessionProblem(location: location) + "; this batch was rolled back")
        }
    }

    /// The server releases a session's advisory lock when it notices the connection closed,
    /// some time after the close: unlocking first, and waiting for the answer, frees it now.
    /// Neither answer is waited for beyond a few seconds: a connection the server drops while
    /// the unlock is in flight may never answer it (a `serve` once waited forever there), and the
    /// server releases the lock of a closed connection anyway.
    func release() async {
        guard !connection.isClosed else { return }
        var bindings = PostgresBindings()
        bindings.append(key)
        _ = await Self.answer(
            connection.query(
                PostgresQuery(unsafeSQL: "SELECT pg_advisory_unlock(hashtext($1))", binds: bindings), logger: logger),
            within: .seconds(5))
        _ = await Self.answer(connection.close(), within: .seconds(5))
    }

    /// `future`'s value, or nil if it failed or did not complete within `limit`.
    static func answer<T: Sendable>(_ future: EventLoopFuture<T>, within limit: Duration) async -> T? {
        let outcome = Outcome<T?>()
        future.whenComplete { outcome.set(.success(try? $0.get())) }
        DispatchQueue.global().asyncAfter(deadline: .now() + .milliseconds(Int(limit.milliseconds))) {
            outcome.set(.success(nil))
        }
        return await withCheckedContinuation { continuation in
            DispatchQueue.global().async { continuation.resume(returning: (try? outcome.wait().get()) ?? nil) }
        }
    }

    /// Without `release()` (a task cancelled mid-way): the close alone, which releases the lock soon.
    deinit {
        let connection = self.connection
        connection.close().whenComplete { _ in withExtendedLifetime(connection) {} }
    }
}
