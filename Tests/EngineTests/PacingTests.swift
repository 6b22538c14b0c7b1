import Foundation
import RetentionCore
import RetentionEngine
import RetentionStore
import TestSupport
import Testing

/// A paced run stops at a batch boundary after its maximum duration, on both databases.
@Suite struct PacingTests {
    @Test(arguments: Backend.allCases)
    func aRunPastItsMaximumDurationStopsBetweenBatchesAndTheNextFinishes(_ backend: Backend) async throws {
        let f = try await CRMFixture(backend, policy: CRMPolicies.anonymise, batchSize: 1)
        var enforcer = try await f.enforcer()
        // The pause after the first batch is longer than the whole allowance: exactly one batch runs.
        enforcer.pacing = Pacing(pause: .milliseconds(5), maxDuration: .milliseconds(1))
        let report = try await enforcer.run(now: CRMFixture.now, allowMore: false)
        #expect(report.status == .incomplete && report.failure == .timeLimit)
        #expect(report.rules[0].anonymised == 1)
        #expect(try await f.count("SELECT count(*) FROM people WHERE email IS NULL") == 1)
        #expect(try await f.audit(action: "anonymise").count == 1)
        #expect(try await f.audit(action: "run-completed").isEmpty)

        let next = try await f.run(now: CRMFixture.now.addingTimeInterval(60))
        #expect(next.succeeded && next.rules[0].anonymised == 3 && next.rules[0].alreadyDone == 1)
        #expect(try await f.count("SELECT count(*) FROM people WHERE email IS NULL") == 4)
        #expect(try await f.trail().verify().isValid)
    }
}

/// A batch that meets a lock the application holds waits `--lock-wait`, then is rolled back and
/// the run stops (database unavailable): it never holds the run, or `hold add`, without end.
@Suite(.timeLimit(.minutes(30))) struct LockWaitTests {
    /// Six prospects, all due (last seen in 2020), each with a note.
    static let data = (1...6).flatMap { id in
        [
            "INSERT INTO people VALUES (\(id), 'prospect', 'Prospect \(id)', 'p\(id)@example.fr', NULL, NULL, '2020-01-01', '2019-01-01', NULL, 0)",
            "INSERT INTO notes VALUES (\(10 + id), \(id), 'note \(id)')",
        ]
    }

    @Test(arguments: Backend.allCases)
    func aBatchBlockedByTheApplicationGivesUpAfterTheLockWait(_ backend: Backend) async throws {
        let f = try await CRMFixture(backend, data: Self.data, policy: CRMPolicies.prospectPurge, batchSize: 2)
        // the tool's tables, nothing due yet
        _ = try await f.run(now: CRMFixture.now.addingTimeInterval(-86_400 * 3650))

        // The application changes prospect 3 and keeps its transaction open: on PostgreSQL it locks
        // that row (the second batch's), on SQLite the whole database.
        let (release, open) = try await f.store().transactionKeptOpen { session in
            _ = try session.execute(
                "UPDATE people SET phone = '+33 1 00 00 00 03' WHERE id = 3", [])
        }

        // PostgreSQL: the second batch meets the row lock, and the run ends incomplete. SQLite: the
        // run's first transaction meets the database's lock, and the run stops before any batch.
        let stopped: (kind: FailureKind?, message: String)
        do {
            let report = try await f.enforcer(lockWait: .milliseconds(300)).run(now: CRMFixture.now, allowMore: false)
            #expect(report.status == .incomplete)
            stopped = (report.failure, report.message ?? "")
        } catch {
            stopped = (EnforcementError.from(error).kind, "\(error)")
        }
        release.signal()
        try await open.value
        #expect(stopped.kind == .databaseUnavailable, "\(stopped)")
        #expect(stopped.message.contains("for longer than the lock wait, 300ms"), "\(stopped.message)")
        // PostgreSQL: the first batch (prospects 1 and 2) committed before the second met the
        // row lock. SQLite: the first batch already waited for the database.
        let purgedFirst: [Int64] = backend == .postgres ? [1, 2] : []
        #expect(try await f.ids("people") == [1, 2, 3, 4, 5, 6].filter { !purgedFirst.contains($0) })
        #expect(try await f.ids("notes") == [11, 12, 13, 14, 15, 16].filter { !purgedFirst.contains($0 - 10) })
        let audited = Set(try await f.audit(action: "purge").map(\.subjectRef))
        #expect(audited == Set(try purgedFirst.map { try f.reference("people", $0) }))
        // The application's own change committed whole, untouched by the failed batch.
        #expect(try await f.texts("SELECT phone FROM people WHERE id = 3") == ["+33 1 00 00 00 03"])

        // Once the application let go, the next run finishes the work.
        let next = try await f.run()
        #expect(next.succeeded, "\(next.message ?? "")")
        #expect(try await f.ids("people").isEmpty)
        #expect(try await f.ids("notes").isEmpty)
        let all = Set(try await f.audit(action: "purge").map(\.subjectRef))
        #expect(all == Set(try (1...6).map { try f.reference("people", Int64($0)) }))
        #expect(try await f.trail().verify().isValid)
    }

    /// The lock wait bounds waits on the application's locks, not on retentiond's own: a batch
    /// whose trail entries wait behind another retentiond transaction's — a worker's batch, a hold
    /// placed — waits for its commit, however long, and the run completes (a worker of a shared run
    /// had stopped, under load, because its sibling's batch took longer than the lock wait).
    @Test(arguments: [Backend.postgres, .mariadb])
    func aBatchWaitsForAnotherRetentiondTransactionOnTheTrailBeyondTheLockWait(_ backend: Backend) async throws {
        let f = try await CRMFixture(backend, data: Self.data, policy: CRMPolicies.prospectPurge, batchSize: 2)
        // the tool's tables, nothing due yet
        _ = try await f.run(now: CRMFixture.now.addingTimeInterval(-86_400 * 3650))

        // Another session holds the trail's lock, as a batch appending to it does until its commit:
        // from a client process of the server's own, so that no thread of this process waits with it
        // (a MariaDB session blocks the thread it runs on).
        let holder = try await TrailLockHolder(f, backend)

        let lockWait = Duration.milliseconds(300)
        let ended = Finished()
        let run = Task {
            defer { ended.set() }
            return try await f.enforcer(lockWait: lockWait).run(now: CRMFixture.now, allowMore: false)
        }
        // The run's first batch waits for the trail (seen on the server: on MariaDB, as the session
        // running the lock's statement), then longer than its lock wait (on MariaDB, whose wait is
        // in whole seconds, one second).
        let waiting =
            backend == .postgres
            ? "SELECT count(*) FROM pg_locks JOIN pg_database AS d ON d.oid = database WHERE locktype = 'advisory' AND NOT granted AND d.datname = current_database()"
            : "SELECT count(*) FROM information_schema.processlist WHERE db = DATABASE() AND info LIKE '%FROM retentiond_locks%FOR UPDATE'"
        while !ended.isSet, try await f.count(waiting) == 0 { try await Task.sleep(for: .milliseconds(20)) }
        if !ended.isSet { try await Task.sleep(for: .seconds(3)) }
        #expect(!ended.isSet, "the run waits for the other session's commit")
        try await holder.release()

        let report = try await run.value
        #expect(report.succeeded, "\(report.message ?? "")")
        #expect(try await f.ids("people").isEmpty)
        #expect(try await f.ids("notes").isEmpty)
        let audited = Set(try await f.audit(action: "purge").map(\.subjectRef))
        #expect(audited == Set(try (1...6).map { try f.reference("people", Int64($0)) }))
        #expect(try await f.trail().verify().isValid)
    }
}

/// A session of another client process that holds retentiond's audit-chain lock (as a batch does
/// while it appends to the trail) until `release` ends it.
struct TrailLockHolder {
    let backend: Backend
    let database: String
    let holding: Task<String, Error>
    /// The session sleeps this many seconds holding the lock, unless released before.
    static let marker = "600"

    init(_ f: CRMFixture, _ backend: Backend) async throws {
        self.backend = backend
        let ended = Finished()
        switch try f.settings().database {
        case .postgres(let location):
            database = location.database
            let server = try await PostgresServer.start()
            holding = Task { [database] in
                defer { ended.set() }
                return try await server.psql(
                    database,
                    "BEGIN; SELECT pg_advisory_xact_lock(hashtext('retentiond:audit-chain')); SELECT pg_sleep(\(Self.marker)); COMMIT;"
                )
            }
        case .mariadb(let location):
            database = location.database
            let server = try await MariaDBServer.start()
            holding = Task { [database] in
                defer { ended.set() }
                return try await server.sql(
                    database,
                    "START TRANSACTION; SELECT name FROM retentiond_locks WHERE name = 'audit-chain' FOR UPDATE; SELECT SLEEP(\(Self.marker)); COMMIT"
                )
            }
        case .sqlite:
            throw StoreFailure("SQLite has no lock of the trail apart from its database's")
        }
        // Held once the session sleeps, its lock taken.
        while try await f.count(Self.sessions(backend)) == 0 {
            if ended.isSet { _ = try await holding.value }  // the client failed: its error
            try await Task.sleep(for: .milliseconds(20))
        }
    }

    static func sessions(_ backend: Backend) -> String {
        backend == .postgres
            ? "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND query LIKE '%pg_sleep(\(marker))%' AND pid <> pg_backend_pid()"
            : "SELECT count(*) FROM information_schema.processlist WHERE db = DATABASE() AND info = 'SELECT SLEEP(\(marker))'"
    }

    /// Ends the holding session (its transaction rolls back, the lock is free).
    func release() async throws {
        switch backend {
        case .postgres:
            let server = try await PostgresServer.start()
            try await server.psql(
                database,
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND query LIKE '%pg_sleep(\(Self.marker))%' AND pid <> pg_backend_pid()"
            )
        default:
            let server = try await MariaDBServer.start()
            let id = try await server.sql(
                database,
                "SELECT id FROM information_schema.processlist WHERE db = DATABASE() AND info = 'SELECT SLEEP(\(Self.marker))'"
            )
            for id in id.split(separator: "\n") { try await server.sql(database, "KILL \(id)") }
        }
        _ = try? await holding.value
    }
}
