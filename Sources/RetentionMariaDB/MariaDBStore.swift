import Foundation
import Logging
import RetentionCore
import RetentionStore
import Synchronization

/// A MariaDB (or MySQL) database, through MariaDB Connector/C.
///
/// Sessions are synchronous (see `StoreSession`): each read or transaction runs on the store's own
/// serial queue, outside Swift's cooperative thread pool. A read is a READ ONLY transaction on a
/// consistent snapshot; a writing transaction is READ COMMITTED, as on PostgreSQL.
public final class MariaDBStore: RecordStore, WorkQueueStore {
    public let settings: MariaDBLocation
    private let password: String?
    /// The session connection; replaced by a new one once the server or the network dropped it.
    private let current: Mutex<MariaDBConnection>
    private let queue = DispatchQueue(label: "retentiond.mariadb")
    private let logger: Logger
    private let lockWait: Duration
    /// On a Galera cluster, how long a run lock's lease outlives its last renewal (`ClusterLease`).
    private let clusterLeaseTTL: Duration

    public var location: String { settings.displayName }

    public init(
        settings: MariaDBLocation, credentialsDirectory: String? = nil,
        logger: Logger = Logger(label: "retentiond.mariadb"), lockWait: Duration = defaultLockWait,
        clusterLeaseTTL: Duration = .seconds(60)
    ) async throws {
        self.settings = settings
        self.logger = logger
        self.lockWait = lockWait
        self.clusterLeaseTTL = clusterLeaseTTL
        password = try serverPassword(
            given: settings.password, file: settings.passwordFile, environment: settings.passwordEnvironment,
            credentialsDirectory: credentialsDirectory, location: settings.displayName)
        current = Mutex(try await Self.connect(settings, password: password, on: queue))
    }

    /// A store that only reads (every session a READ ONLY transaction).
    public static func reader(
        settings: MariaDBLocation, credentialsDirectory: String? = nil,
        logger: Logger = Logger(label: "retentiond.mariadb")
    ) async throws -> ReadOnlyStore {
        ReadOnlyStore(
            opened: try await MariaDBStore(
                settings: settings, credentialsDirectory: credentialsDirectory, logger: logger))
    }

    /// Connects on `queue` (Connector/C blocks until the server answers or the timeout).
    /// `KILL QUERY` of this store's connection, from a connection of its own (the statement under
    /// way fails with error 1317; the connection stays open).
    public func interrupt() async {
        let id = current.withLock { $0.id }
        let (settings, password) = (self.settings, self.password)
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            DispatchQueue.global().async {
                _ = try? MariaDBConnection(settings, password: password).execute("KILL QUERY \(id)")
                continuation.resume()
            }
        }
    }

    static func connect(_ settings: MariaDBLocation, password: String?, on queue: DispatchQueue) async throws
        -> MariaDBConnection
    {
        try await withCheckedThrowingContinuation { continuation in
            queue.async {
                do {
                    continuation.resume(returning: try MariaDBConnection(settings, password: password))
                } catch let failure as MariaDBConnection.Failure {
                    continuation.resume(
                        throwing: DatabaseUnavailable(location: settings.displayName, reason: Self.reason(failure)))
                } catch {
                    continuation.resume(throwing: error)
                }
            }
        }
    }

    /// Why the server could not be reached or refused the login, as an operator reads it.
    static func reason(_ failure: MariaDBConnection.Failure) -> String {
        switch failure.code {
        case 1045: return "the server refused the login (\(failure.message)): check `user` and the password file"
        case 1049: return "the database does not exist (\(failure.message))"
        case 2002, 2003:
            return
                "no server answers there (\(failure.message)): check `host`, `port` or `socket`, and that MariaDB runs"
        case 2005: return "no such host (\(failure.message))"
        default: return "\(failure)"
        }
    }

    /// An open connection: the current one, or a new one after a lost connection.
    private func connection() async throws -> MariaDBConnection {
        let existing = current.withLock { $0 }
        guard existing.isLost else { return existing }
        logger.notice("reconnecting to MariaDB after a lost connection", metadata: ["database": "\(location)"])
        let fresh = try await Self.connect(settings, password: password, on: queue)
        current.withLock { $0 = fresh }
        return fresh
    }

    public func read<T: Sendable>(_ body: @escaping @Sendable (any StoreSession) throws -> T) async throws -> T {
        try await inTransaction(readOnly: true) { try body($0) }
    }

    public func transaction<T: Sendable>(_ body: @escaping @Sendable (any WritingSession) throws -> T) async throws -> T
    {
        try await inTransaction(readOnly: false) { try body($0) }
    }

    public func readQueue<T: Sendable>(_ body: @escaping @Sendable (any WorkQueueReading) throws -> T) async throws -> T
    {
        try await inTransaction(readOnly: true) { try body($0) }
    }

    public func queueTransaction<T: Sendable>(_ body: @escaping @Sendable (any WorkQueueSession) throws -> T)
        async throws -> T
    {
        try await inTransaction(readOnly: false) { try body($0) }
    }

    /// A read that reached a table whose definition changed since its snapshot began is run again
    /// on a new snapshot (reads change nothing), a few times; the error then stays.
    private func inTransaction<T: Sendable>(readOnly: Bool, _ body: @escaping @Sendable (MariaDBSession) throws -> T)
        async throws -> T
    {
        var attempts = 0
        while true {
            do {
                return try await inTransactionOnce(readOnly: readOnly, body)
            } catch let outdated as SnapshotOutdated where readOnly {
                attempts += 1
                guard attempts < 3 else { throw StoreFailure(outdated.description) }
                logger.debug(
                    "a table changed definition during a read; reading again", metadata: ["error": "\(outdated)"])
            }
        }
    }

    private func inTransactionOnce<T: Sendable>(
        readOnly: Bool, _ body: @escaping @Sendable (MariaDBSession) throws -> T
    ) async throws -> T {
        let session = MariaDBSession(connection: try await connection(), location: location, lockWait: lockWait)
        let logger = self.logger
        // A read: one snapshot for every statement of it.
        let begin =
            readOnly
            ? [
                "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ",
                "START TRANSACTION READ ONLY, WITH CONSISTENT SNAPSHOT",
            ]
            : ["START TRANSACTION"]
        return try await session.transaction(
            on: queue, begin: begin,
            rollbackFailed: { logger.warning("ROLLBACK failed", metadata: ["error": "\($0)"]) }, body)
    }

    /// InnoDB reuses freed pages and purges old row versions itself; what stays on disk, and what
    /// to configure (binary logs above all), is in docs/mariadb.md.
    public func scrubFreedSpace() async throws {}

    public func inSuccession<T: Sendable>(_ body: () async throws -> T) async throws -> T { try await body() }

    /// `GET_LOCK` on a connection of its own, held for as long as the handle lives; the server
    /// releases it when that connection ends (the process died). On a Galera node, also the
    /// cluster's lease (`ClusterLease`), since `GET_LOCK` holds on one node only.
    public func acquireRunLock() async throws -> any RunLockHandle {
        let lockQueue = DispatchQueue(label: "retentiond.mariadb.lock")
        let connection = try await Self.connect(settings, password: password, on: lockQueue)
        let name = "retentiond:\(settings.database)"
        let (location, ttl) = (self.location, clusterLeaseTTL)
        let lease: ClusterLease? = try await withCheckedThrowingContinuation { continuation in
            lockQueue.async {
                do {
                    // The lock connection sits idle for the whole run: the server's wait_timeout must not close it.
                    try connection.execute("SET SESSION wait_timeout = 31536000")
                    guard try connection.run("SELECT GET_LOCK(?, 0)", [.text(name)]).rows.first?.first == .integer(1)
                    else {
                        throw RunLocked.heldByAnotherRun("the run lock on \(location)")
                    }
                    do {
                        continuation.resume(
                            returning: try connection.clusterNode.map {
                                try ClusterLease.take(on: connection, node: $0, ttl: ttl, location: location)
                            })
                    } catch {
                        _ = try? connection.run("SELECT RELEASE_LOCK(?)", [.text(name)])
                        throw error
                    }
                } catch let refusal as RunLocked {
                    continuation.resume(throwing: refusal)
                } catch {
                    continuation.resume(throwing: DatabaseUnavailable(location: location, reason: "\(error)"))
                }
            }
        }
        if let lease {
            logger.info("Galera cluster: the run lock is also the cluster's lease", metadata: ["node": "\(lease.node)"])
        }
        return NamedLock(connection: connection, queue: lockQueue, name: name, location: location, lease: lease)
    }
}

/// Holds a MariaDB named lock (`GET_LOCK`), and on a Galera node the cluster's lease, which its
/// holder renews (`keepHeld`) until it releases both; closing its connection releases the named lock.
final class NamedLock: RunLockHandle, @unchecked Sendable {
    private var connection: MariaDBConnection?
    private let queue: DispatchQueue
    let name: String
    let location: String
    /// The lock connection's id: the lock is held while `IS_USED_LOCK` names it.
    let holder: Int64
    let lease: ClusterLease?

    init(
        connection: MariaDBConnection, queue: DispatchQueue, name: String, location: String, lease: ClusterLease? = nil
    ) {
        self.connection = connection
        self.queue = queue
        self.name = name
        self.location = location
        self.lease = lease
        holder = connection.id
    }

    /// Renews the cluster's lease every `renewalInterval` from the lock's connection, until
    /// cancelled; the named lock itself lasts as long as its connection.
    func keepHeld() async {
        guard let lease else { return }
        while (try? await Task.sleep(for: lease.renewalInterval)) != nil {
            await onLockConnection { connection in _ = try? lease.renew(on: connection) }
        }
    }

    private func onLockConnection(_ body: @escaping @Sendable (MariaDBConnection) -> Void) async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            queue.async {
                if let connection = self.connection, !connection.isLost { body(connection) }
                continuation.resume()
            }
        }
    }

    /// Asks the server, in the batch's own transaction, whether the lock connection still holds the
    /// lock: a killed or timed-out lock connection is noticed before the batch commits. On a
    /// cluster the batch also writes the lease, so that it cannot commit once another node's run took it.
    func confirm(in session: any WritingSession) throws {
        let held = try session.rows("SELECT IS_USED_LOCK(?)", [.text(name)]).first?.first
        guard held == .integer(holder) else {
            throw RunLocked.connectionClosed(location: location, how: "killed")
        }
        try lease?.confirm(in: session, location: location)
    }

    func release() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            queue.async {
                if let connection = self.connection, !connection.isLost {
                    self.lease?.release(on: connection)
                    _ = try? connection.run("SELECT RELEASE_LOCK(?)", [.text(self.name)])
                }
                self.connection = nil
                continuation.resume()
            }
        }
    }
}
