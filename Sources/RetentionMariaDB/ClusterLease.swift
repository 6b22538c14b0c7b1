import Foundation
import RetentionCore
import RetentionStore

/// The run lock across a Galera cluster. `GET_LOCK` is local to the node that grants it, and row
/// locks are too: two runs on two nodes would both hold it. On a Galera node the run lock is
/// therefore also a lease, a row of `retentiond_run_lease` that names its holder and its node:
///
/// - taken after `GET_LOCK`, in a committed transaction, when nobody holds it, when its holder is
///   on this node (whose `GET_LOCK` this process now holds, so that holder is gone), or when its
///   holder has not renewed it for `ttl` (a process or a node that died);
/// - renewed every `ttl / 6` by the lock's own connection, and written by every batch in its own
///   transaction (`confirm`): Galera certifies a commit against every other node's writes to the
///   same row, so a batch cannot commit once another node's run has taken the lease — it is
///   rolled back, or finds the lease gone and stops the run;
/// - given back at the end of the run.
///
/// The workers that join a run do not take the lock: on a cluster they must reach the node of the
/// run's planner, whose row locks (`SKIP LOCKED`) they share; a worker on another node is refused.
struct ClusterLease: Sendable {
    static let table = "retentiond_run_lease"
    /// Who holds it: one value per acquisition.
    let holder: String
    /// The node it was taken on (`MariaDBConnection.clusterNode`).
    let node: String
    let ttl: Duration

    var renewalInterval: Duration { ttl / 6 }

    /// Takes the lease on `connection` (which holds the node's `GET_LOCK`), or throws
    /// `RunLocked.held` naming the node whose run holds it.
    static func take(on connection: MariaDBConnection, node: String, ttl: Duration, location: String) throws
        -> ClusterLease
    {
        let exists = try connection.run(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name = ?",
            [.text(table)])
        if exists.rows.first?.first == .integer(0) {
            // DDL: replicated to every node in total order, and committed at once.
            try connection.execute(
                """
                CREATE TABLE IF NOT EXISTS \(table) (name VARCHAR(40) PRIMARY KEY, holder VARCHAR(64), node VARCHAR(300), renewed_at DATETIME(6))
                \(MariaDBSession.toolTableOptions)
                """)
        }
        // The lease's row, whoever made the table (or removed the row).
        try connection.execute("INSERT IGNORE INTO \(table) (name) VALUES ('run')")
        try connection.execute("COMMIT")
        let lease = ClusterLease(holder: UUID().uuidString, node: node, ttl: ttl)
        do {
            let row = try connection.execute(
                """
                SELECT holder, node, TIMESTAMPDIFF(MICROSECOND, renewed_at, UTC_TIMESTAMP(6)) FROM \(table) WHERE name = 'run' FOR UPDATE
                """
            ).rows.first
            if let row, row[0] != .null, let other = row[1].textValue, other != node,
                case .integer(let age) = row[2], age < ttl.microseconds
            {
                try connection.execute("ROLLBACK")
                throw RunLocked.leaseHeld(location: location, node: other, renewedSecondsAgo: age / 1_000_000)
            }
            _ = try connection.run(
                "UPDATE \(table) SET holder = ?, node = ?, renewed_at = UTC_TIMESTAMP(6) WHERE name = 'run'",
                [.text(lease.holder), .text(node)])
            try connection.execute("COMMIT")
        } catch let failure as MariaDBConnection.Failure where failure.code == 1213 {
            // Certification failed: another node took it at the same moment.
            _ = try? connection.execute("ROLLBACK")
            throw RunLocked.leaseTakenMeanwhile(location: location)
        }
        return lease
    }

    /// Renews the lease from the lock's connection; false once another run holds it.
    func renew(on connection: MariaDBConnection) throws -> Bool {
        let changed = try connection.run(
            "UPDATE \(Self.table) SET renewed_at = UTC_TIMESTAMP(6) WHERE name = 'run' AND holder = ?", [.text(holder)]
        ).changed
        try connection.execute("COMMIT")
        return changed == 1
    }

    /// Writes the lease in the batch's transaction: the batch commits only while this run holds it.
    func confirm(in session: any SQLExecuting, location: String) throws {
        let changed = try session.execute(
            "UPDATE \(Self.table) SET renewed_at = UTC_TIMESTAMP(6) WHERE name = 'run' AND holder = ?", [.text(holder)])
        guard changed == 1 else {
            throw RunLocked.leaseLost(location: location, ttl: ttl)
        }
    }

    func release(on connection: MariaDBConnection) {
        _ = try? connection.run(
            "UPDATE \(Self.table) SET holder = NULL WHERE name = 'run' AND holder = ?", [.text(holder)])
        _ = try? connection.execute("COMMIT")
    }

    /// A worker joining a run on a cluster must be on the node that holds the lease (its planner's).
    static func refuseAnotherNode(_ session: any SQLExecuting, node: String, location: String) throws {
        guard try session.tableExists(table),
            let lease = try session.rows("SELECT node FROM \(table) WHERE name = 'run' AND holder IS NOT NULL", [])
                .first,
            let planner = lease[0].textValue, planner != node
        else { return }
        throw RunLocked.workerOnAnotherNode(node, planner: planner)
    }
}

extension RunLocked {
    /// Another Galera node's run holds the lease, renewed `age` ago.
    static func leaseHeld(location: String, node: String, renewedSecondsAgo age: Int64) -> RunLocked {
        .held(
            """
            another retentiond run holds the run lock of \(location) on Galera node \(node) (renewed \(age) s ago); \
            nothing was changed. Wait for it to finish, then run again (docs/mariadb.md, "Galera clusters")
            """)
    }

    /// Two nodes took the lease at the same moment: Galera's certification refused this one.
    static func leaseTakenMeanwhile(location: String) -> RunLocked {
        .held(
            """
            another retentiond run took the run lock of \(location) on another Galera node at the same moment; nothing \
            was changed. Run again once it has finished
            """)
    }

    /// The lease lapsed (not renewed for `ttl`) and another node's run took it.
    static func leaseLost(location: String, ttl: Duration) -> RunLocked {
        .lost(
            """
            the run lock of \(location) was taken by a run on another Galera node (this run had not renewed it for \
            \(ttl)); this batch was rolled back and the run stopped, so the two runs cannot overlap
            """)
    }

    /// A worker that reached another node than its run's planner.
    static func workerOnAnotherNode(_ node: String, planner: String) -> RunLocked {
        .held(
            """
            this worker reached Galera node \(node), and the run it would join is planned on node \(planner): the \
            workers of a run must all use the planner's node, whose row locks they share. Point every worker at one \
            node (docs/mariadb.md, "Galera clusters")
            """)
    }
}

extension Duration {
    var microseconds: Int64 { components.seconds * 1_000_000 + components.attoseconds / 1_000_000_000_000 }
}
