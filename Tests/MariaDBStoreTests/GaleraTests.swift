import Foundation
import RetentionCore
import RetentionMariaDB
import RetentionStore
import TestSupport
import Testing

/// On a Galera cluster (two nodes the suite starts), where `GET_LOCK` and row locks hold on one
/// node only: the run lock is also the cluster's lease (docs/mariadb.md, "Galera clusters").
@Suite(.tags(.slow), .timeLimit(.minutes(30))) struct GaleraTests {
    /// The same new database through each node; `ttl`: the lease's (a long one never lapses here).
    func stores(ttl: Duration = .seconds(3600)) async throws -> (
        MariaDBStore, MariaDBStore, database: String, nodes: (MariaDBServer, MariaDBServer)
    ) {
        let nodes = try await MariaDBServer.startGaleraCluster()
        let database = try await nodes.0.createDatabase()
        // Galera certifies a commit on every node at once but applies it on the others after:
        // the second node has the database once its applier got there (a loaded machine lags).
        // `wsrep_sync_wait` makes this read wait for everything committed before it.
        let seen = try await nodes.1.sql(
            "mysql",
            "SET SESSION wsrep_sync_wait = 1; SELECT count(*) FROM information_schema.schemata WHERE schema_name = '\(database)'"
        )
        #expect(seen == "1", "the second node has the database")
        func store(_ node: MariaDBServer) async throws -> MariaDBStore {
            try await MariaDBStore(
                settings: MariaDBLocation(
                    host: "127.0.0.1", port: node.port, database: database, user: "root", tls: .disable),
                clusterLeaseTTL: ttl)
        }
        return (try await store(nodes.0), try await store(nodes.1), database, nodes)
    }

    func refusal(_ body: () async throws -> Void) async -> String? {
        do {
            try await body()
            return nil
        } catch {
            return "\(error)"
        }
    }

    @Test func theRunLockHoldsAcrossTheNodes() async throws {
        let (first, second, _, _) = try await stores()
        let lock = try await first.acquireRunLock()
        // node2's GET_LOCK is free (its own node's), the lease is not.
        let held = await refusal { _ = try await second.acquireRunLock() }
        #expect(
            held?.contains("holds the run lock") == true && held?.contains("on Galera node node1") == true,
            "\(held ?? "taken")")
        await lock.release()
        let other = try await second.acquireRunLock()
        let back = await refusal { _ = try await first.acquireRunLock() }
        #expect(back?.contains("on Galera node node2") == true, "\(back ?? "taken")")
        await other.release()
        let again = try await first.acquireRunLock()
        await again.release()
    }

    /// A holder that died: on its own node the next run takes over at once (its `GET_LOCK` went
    /// with its connection); another node waits until the lease lapses, then takes it — and the
    /// old holder, if it still runs, can commit no batch after that.
    @Test func aDeadHoldersLeaseIsTakenOnItsNodeAtOnceAndElsewhereOnceItLapses() async throws {
        let (first, second, database, nodes) = try await stores()
        let lock = try await first.acquireRunLock()
        // A second process on node1 is refused while the first holds GET_LOCK…
        let sameNode = try await MariaDBStore(
            settings: MariaDBLocation(
                host: "127.0.0.1", port: nodes.0.port, database: database, user: "root", tls: .disable),
            clusterLeaseTTL: .seconds(3600))
        #expect(await refusal { _ = try await sameNode.acquireRunLock() }?.contains("holds the run lock") == true)
        // …and takes over as soon as the first's lock connection is gone (its process died).
        let holder = try await nodes.0.sql("mysql", "SELECT IS_USED_LOCK('retentiond:\(database)')")
        try await nodes.0.sql("mysql", "KILL \(holder)")
        let successor = try await sameNode.acquireRunLock()
        // node2 is still refused: the lease was renewed by node1's successor.
        #expect(await refusal { _ = try await second.acquireRunLock() }?.contains("on Galera node node1") == true)
        // The successor stops renewing (as if its node died): once the lease has lapsed, node2 takes it…
        try await nodes.1.sql(database, "UPDATE retentiond_run_lease SET renewed_at = renewed_at - INTERVAL 2 HOUR")
        let taken = try await second.acquireRunLock()
        // …and a batch of the successor, were it still running, cannot commit.
        let lost = await refusal { try await sameNode.transaction { try successor.confirm(in: $0) } }
        #expect(lost?.contains("taken by a run on another Galera node") == true, "\(lost ?? "confirmed")")
        await taken.release()
        await successor.release()
        await lock.release()
    }

    /// A run longer than the lease's lifetime keeps it: its holder renews it beside the work
    /// (`RunLockHandle.holding`), so another node is still refused once `ttl` has passed since it
    /// was taken, and the renewal ends with the lock.
    @Test func aRunLongerThanTheLeaseKeepsItRenewed() async throws {
        let ttl = 12
        let (first, second, database, nodes) = try await stores(ttl: .seconds(ttl))
        try await first.withRunLock { _ in
            let taken = try await nodes.0.sql(database, "SELECT renewed_at FROM retentiond_run_lease")
            // Wait for a renewal later than the lease's lifetime after it was taken (they come every
            // ttl / 6, later on a loaded machine): on the server's clock, for ten lifetimes at most.
            let renewedSince = "SELECT TIMESTAMPDIFF(SECOND, '\(taken)', renewed_at) FROM retentiond_run_lease"
            let elapsed = "SELECT TIMESTAMPDIFF(SECOND, '\(taken)', UTC_TIMESTAMP(6))"
            while try await Int(nodes.0.sql(database, renewedSince)) ?? 0 <= ttl {
                guard try await Int(nodes.0.sql(database, elapsed)) ?? 0 <= 10 * ttl else {
                    Issue.record("the lease taken at \(taken) was not renewed past its lifetime")
                    return
                }
                try await Task.sleep(for: .milliseconds(200))
            }
            // Just renewed: another node is refused.
            let refused = await refusal { _ = try await second.acquireRunLock() }
            #expect(refused?.contains("on Galera node node1") == true, "\(refused ?? "taken")")
        }
        let holder = try await nodes.0.sql(database, "SELECT COALESCE(holder, 'none') FROM retentiond_run_lease")
        #expect(holder == "none", "released with the lock")
        let next = try await second.acquireRunLock()
        await next.release()
    }

    /// The workers of a run share its planner's row locks: on another node they are refused.
    @Test func aWorkerOnAnotherNodeThanThePlannersIsRefused() async throws {
        let (first, second, _, _) = try await stores()
        let lock = try await first.acquireRunLock()
        try await first.queueTransaction { try $0.prepareWorkQueue() }
        #expect(
            try await first.queueTransaction { try $0.claim(runID: "r") } == nil,
            "on the planner's node a worker claims")
        let refused = await refusal { _ = try await second.queueTransaction { try $0.claim(runID: "r") } }
        #expect(
            refused?.contains("this worker reached Galera node node2") == true
                && refused?.contains("planned on node node1") == true, "\(refused ?? "claimed")")
        await lock.release()
    }
}
