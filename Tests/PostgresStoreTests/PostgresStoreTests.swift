import Foundation
import RetentionCore
import RetentionEngine
import RetentionStore
import Synchronization
import TestSupport
import Testing

/// What only PostgreSQL has: native date types, and a server that can drop the connection mid-run.
@Suite(.tags(.slow), .timeLimit(.minutes(30))) struct PostgresOnlyTests {
    /// The server's JIT compiles statements one by one, which retentiond's many short statements
    /// pay for and never gain from: its sessions turn it off (for themselves only).
    @Test func retentiondsSessionsRunWithoutJIT() async throws {
        let f = try await CRMFixture(.postgres, policy: CRMPolicies.anonymise)
        #expect(try await f.rows("SHOW jit") == [[.text("off")]])
        let other = try await f.rows("SELECT setting FROM pg_settings WHERE name = 'jit' AND source = 'default'")
        #expect(other.isEmpty, "the setting is this session's, not the server's default")
    }

    @Test func nativeDateTimestampAndTimestamptzColumnsWorkAsClocksAndWithYear() async throws {
        let schema = [
            "CREATE TABLE visits (id INTEGER PRIMARY KEY, visitor TEXT NOT NULL, born DATE, seen_on DATE, seen_at TIMESTAMP, seen_tz TIMESTAMPTZ)",
            "CREATE INDEX visits_seen_on ON visits(seen_on)",
            "CREATE INDEX visits_seen_at ON visits(seen_at)",
            "CREATE INDEX visits_seen_tz ON visits(seen_tz)",
            "INSERT INTO visits VALUES (1, 'old', '1980-06-17', '2020-01-01', '2020-01-01 10:00', '2020-01-01 10:00+01')",
            "INSERT INTO visits VALUES (2, 'new', '1990-02-03', '2026-05-30', '2026-05-30 10:00', '2026-05-30 10:00+02')",
            "INSERT INTO visits VALUES (3, 'edge', NULL, '2023-06-01', '2023-05-31 23:59', '2023-05-31 21:59:00+00')",
        ]
        for clock in ["seen_on", "seen_at", "seen_tz"] {
            let policy = """
                subjects:
                  visits:
                    table: visits
                    key: id
                    rules:
                      - id: visits
                        register: "Visits"
                        legal_basis: "legitimate interest"
                        clock: \(clock)
                        after: 3y
                        action: anonymise
                        fields: { visitor: { constant: "gone" }, born: year }
                """
            let f = try await CRMFixture(.postgres, schema: schema, policy: policy)
            let (_, diagnostics) = try await CRMFixture.validate(f)
            #expect(diagnostics.filter { $0.severity == .error }.isEmpty, "\(diagnostics)")
            _ = try await f.run()
            // Now is 2026-06-01 00:00 UTC = 02:00 in Paris; the cutoff is 2023-06-01 02:00 Paris.
            let rows = try await f.rows("SELECT id, visitor, born::text FROM visits ORDER BY id")
            #expect(rows[0][1] == .text("gone"), "\(clock)")
            #expect(rows[0][2] == .text("1980-01-01"), "\(clock)")
            #expect(rows[1][1] == .text("new"), "\(clock)")
            // Record 3 sits just before the cutoff in every representation.
            #expect(rows[2][1] == .text("gone"), "\(clock)")
        }
    }

    @Test func losingTheConnectionMidRunFailsCleanlyAndTheNextRunFinishes() async throws {
        let total = 4000
        let f = try await CRMFixture(
            .postgres, schema: CRMPolicies.contacts(total), policy: "batch_size: 2\n" + CRMPolicies.contactPurge)
        let enforcer = try await f.enforcer()
        let finished = Atomic(false)
        let running = Task {
            defer { finished.store(true, ordering: .releasing) }
            return try await enforcer.run(now: CRMFixture.now, allowMore: false)
        }
        // Once some batches are committed, the server drops every other connection to the database.
        while !finished.load(ordering: .acquiring) {
            let purged =
                try await f.rows("SELECT count(*) FROM pg_class WHERE relname = 'retentiond_audit'").first?.first
                == .integer(1)
                ? try await f.rows("SELECT count(*) FROM retentiond_audit WHERE action = 'purge'").first?.first
                : .integer(0)
            if case .integer(let n)? = purged, n > 0 { break }
            try await Task.sleep(for: .milliseconds(20))
        }
        try await f.sql([
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
        ])
        let report = try await running.value
        #expect(report.status == .incomplete)
        // The run's connection and its lock connection are both gone: the batch under way fails on
        // the dead connection (database unavailable), or, if the store has already connected again,
        // finds its lock lost. Either way the run stops cleanly.
        #expect(
            report.failure == .databaseUnavailable || report.failure == .locked,
            "\(report.failure.map { "\($0)" } ?? "none")")
        #expect(report.message?.contains("unavailable") == true || report.message?.contains("run lock") == true)

        let remaining = try await f.ids("contacts")
        let purged = try await f.audit(action: "purge")
        #expect(!purged.isEmpty && remaining.count > 0)
        #expect(purged.count == total - remaining.count, "committed batches stay, each with its audit entries")
        #expect(purged.count % 2 == 0)

        // In batches of the default size: small ones were for the interrupted run to be caught among them.
        let next = try await f.run(batchSize: RunSettings.defaultBatchSize)
        #expect(next.status == .complete)
        #expect(try await f.ids("contacts").isEmpty)
        let trail = AuditTrail(store: try await f.reader(), key: try f.key, stateDirectory: f.dir.path)
        #expect(try await trail.verify().isValid)
    }

    /// Many rows at once (`insert(into:columns:rows:)`: the audit rows, the archive's copies, the
    /// worker queue) are what an INSERT of the same values as literals makes, type modifiers
    /// included; a value too long for its column is refused, never cut.
    @Test func rowsInsertedManyAtOnceAreWhatAnInsertOfTheirLiteralsMakes() async throws {
        let f = try await CRMFixture(.postgres, policy: CRMPolicies.anonymise)
        let columns = """
            id integer, c char(3), v varchar(4), b bit(3), vb varbit(5), n numeric(5,1), t timestamp(0), d date,
            tz timestamptz, raw bytea, u uuid, j jsonb, a varchar(3)[], ca char(2)[], i integer, big bigint,
            r double precision, txt text
            """
        try await f.sql(
            ["CREATE TABLE many (\(columns))", "CREATE TABLE expected (\(columns))"], asWritten: true)
        let names = [
            "id", "c", "v", "b", "vb", "n", "t", "d", "tz", "raw", "u", "j", "a", "ca", "i", "big", "r", "txt",
        ]
        let rows: [[SQLValue]] = [
            [
                .integer(1), .text("EU"), .text("abcd"), .text("101"), .text("11"), .text("1.26"),
                .text("2020-01-01 10:00:00.7"), .text("2020-02-29"), .text("2020-01-01 10:00:00+02"),
                .blob(Data([0, 1, 0xFE])), .text("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"),
                .text(#"{"k": [1, "\t"]}"#), .text(#"{ab,NULL,"c,d"}"#), .text("{x,yz}"), .integer(-2_147_483_648),
                .integer(Int64.max), .real(0.1), .text("tab\there\nnew line \\ back 'quote' \"dq\" é 🎉 \r"),
            ],
            [.integer(2)] + Array(repeating: SQLValue.null, count: 17),
            [
                .integer(3), .text(""), .text(""), .text("000"), .text(""), .text("-0.04"), .text("infinity"),
                .text("epoch"), .text("2020-06-01T00:00:00Z"), .blob(Data()), .text("A0EEBC999C0B4EF8BB6D6BB9BD380A11"),
                .text("null"), .text("{}"), .text("{}"), .integer(0), .integer(Int64.min), .real(-1e-300), .text(""),
            ],
        ]
        func literal(_ value: SQLValue) -> String {
            switch value {
            case .null: return "NULL"
            case .integer(let n): return "'\(n)'"
            case .real(let d): return "'\(d)'"
            case .text(let s): return "'" + s.replacingOccurrences(of: "'", with: "''") + "'"
            case .blob(let bytes): return "'\\x" + bytes.map { String(format: "%02x", $0) }.joined() + "'"
            }
        }
        try await f.sql(
            rows.map { "INSERT INTO expected VALUES (" + $0.map(literal).joined(separator: ", ") + ")" },
            asWritten: true)
        try await f.executing { try $0.insert(into: "many", columns: names, rows: rows) }
        let written = try await f.rows("SELECT m::text FROM many m ORDER BY id")
        #expect(written.count == 3)
        #expect(written == (try await f.rows("SELECT e::text FROM expected e ORDER BY id")))

        // Each too long for its column: refused, and the statement's other rows with it.
        for (column, value) in [("c", "EURO"), ("v", "abcde"), ("b", "1011"), ("a", "{abcd}"), ("ca", "{abc}")] {
            await #expect(throws: (any Error).self, "\(column) = \(value)") {
                try await f.executing {
                    try $0.insert(
                        into: "many", columns: ["id", column],
                        rows: [[.integer(8), .null], [.integer(9), .text(value)]])
                }
            }
        }
        #expect(try await f.rows("SELECT count(*) FROM many WHERE id > 3") == [[.integer(0)]])
    }

    /// A batch's audit rows go in by one statement: a server that drops the connection while they
    /// are being written fails that transaction like any other statement, and the process goes on.
    /// (Through PostgresNIO's COPY, the process stopped on a precondition — SIGILL — when the
    /// connection closed mid-copy: this test then stopped the whole test run, in one run of two
    /// with six rounds.)
    @Test func aConnectionDroppedWhileAuditRowsAreWrittenFailsOnlyThatTransaction() async throws {
        let f = try await CRMFixture(.postgres, policy: CRMPolicies.anonymise)
        try await f.store().transaction { try $0.prepareToolTables() }
        let watcher = try await f.reader()
        /// Terminates the backends other than the watcher's that are running a statement on the trail.
        @Sendable func terminateWriters() async throws -> Int {
            try await watcher.read { session in
                let rows = try session.rows(
                    """
                    SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
                    WHERE datname = current_database() AND pid <> pg_backend_pid() AND state = 'active'
                      AND query LIKE '%retentiond_audit%'
                    """, [])
                guard case .integer(let n)? = rows.first?.first else { return 0 }
                return Int(n)
            }
        }
        let detail = String(repeating: "x", count: 2000)
        var dropped = 0
        for round in 0..<10 {
            // About 40 MB in one statement: long enough to be caught while it runs.
            let entries = (1...20_000).map { i in
                AuditEntry(
                    seq: Int64(round * 20_000 + i), runID: "run-\(round)", at: "2026-06-01T00:00:00Z", actor: "test",
                    policyHash: "h", ruleID: "rule", action: "purge", table: "people", subjectRef: "\(i)",
                    fields: "", detail: detail, prevMAC: "p", mac: "m")
            }
            let store = try await f.store()
            let writing = Task { try await store.transaction { try $0.appendAudit(entries) } }
            let finished = Atomic(false)
            let watching = Task {
                while !finished.load(ordering: .acquiring) {
                    if try await terminateWriters() > 0 { return true }
                }
                return false
            }
            let result = await writing.result
            finished.store(true, ordering: .releasing)
            let terminated = try await watching.value
            let written = try await watcher.read { session in
                try session.rows(
                    "SELECT count(*) FROM retentiond_audit WHERE run_id = 'run-\(round)'", [])
            }
            switch result {
            case .success:
                #expect(written == [[.integer(20_000)]], "a transaction that committed keeps every row")
            case .failure(let error):
                dropped += 1
                #expect(terminated, "only a dropped connection fails the insert: \(error)")
                #expect(error is DatabaseUnavailable, "\(error)")
                #expect(written == [[.integer(0)]], "the failed transaction left no row")
            }
        }
        #expect(dropped > 0, "at least one insert was cut while it ran")
    }

    /// `check`'s privilege test: a role that may read the people but not delete them or their
    /// children, nor update the anonymised columns, is told everything it lacks at once.
    /// A table PostgreSQL never analyzed (restored, bulk-loaded) gets plans that may scan a related
    /// table once per record: `check` names each such table that has rows, and an enforcing run
    /// analyzes them before planning.
    @Test func tablesWithoutStatisticsAreNamedThenAnalyzedByTheRun() async throws {
        // No orders: an empty table has no statistics even once analyzed, and is not named.
        let f = try await CRMFixture(
            .postgres, data: CRMFixture.data.filter { !$0.hasPrefix("INSERT INTO orders") },
            policy: CRMPolicies.prospectPurge)
        /// The tables the warning names: one warning for all, with one ANALYZE for all.
        func named() async throws -> [String] {
            let warnings = try await f.validate().1.filter {
                $0.severity == .warning && $0.message.contains("no statistics on")
            }
            #expect(warnings.count <= 1)
            guard let warning = warnings.first else { return [] }
            let names = warning.message.components(separatedBy: " (never analyzed")[0].split(separator: "`")
                .enumerated().filter { $0.offset % 2 == 1 }.map { String($0.element) }
            #expect(
                warning.hint?.contains("ANALYZE " + names.map { "\"\($0)\"" }.joined(separator: ", ")) == true,
                "\(warning.hint ?? "")")
            return names.sorted()
        }
        func analyzed() async throws -> Int {
            try await f.count(
                "SELECT count(DISTINCT tablename) FROM pg_stats WHERE schemaname = current_schema() AND tablename IN ('people', 'notes', 'attachments', 'orders')"
            )
        }
        #expect(try await named() == ["attachments", "notes", "people"])
        #expect(try await analyzed() == 0)

        _ = try await f.plan()
        #expect(try await analyzed() == 0, "plan only reads")
        let report = try await f.run()
        #expect(report.succeeded, "\(report.message ?? "")")
        #expect(try await analyzed() == 3)
        #expect(try await named().isEmpty)
    }

    @Test func everyMissingPrivilegeIsListedWithItsGrant() async throws {
        let f = try await CRMFixture(
            .postgres,
            policy: CRMPolicies.prospectPurge + """

                  clients:
                    table: people
                    key: id
                    filter: { kind: client }
                    rules:
                      - id: client-anonymise
                        register: "Clients"
                        legal_basis: "contract"
                        clock: last_seen
                        after: 1y
                        action: anonymise
                        fields:
                          email: null
                          name: keep

                """)
        try await f.sql([
            "CREATE ROLE limited LOGIN", "GRANT SELECT ON people, notes TO limited",
            "GRANT UPDATE (email) ON people TO limited",
        ])
        let policy = try f.policy()
        let (resolved, _) = try await Enforcer.validate(policy, store: try await f.reader())
        let needs = try #require(resolved).privilegesNeeded
        #expect(
            Set(needs.map { "\($0.kind.rawValue) \($0.table)\($0.column.map { ".\($0)" } ?? "")" })
                == [
                    "SELECT people", "SELECT notes", "SELECT attachments", "SELECT orders", "DELETE people",
                    "DELETE notes", "DELETE attachments", "UPDATE people.email",
                    "UPDATE people.id",
                ])
        // The purge's batches lock the rows they re-check: UPDATE on any one column of `people` will do.
        #expect(needs.filter(\.anyColumn).map(\.table) == ["people"])

        guard case .postgres(var location) = try f.settings().database else {
            Issue.record("not PostgreSQL")
            return
        }
        location.user = "limited"
        f.databaseOverride = .postgres(location)
        // The role that may not read `attachments` and `orders` still sees their columns (the
        // catalog, not information_schema, which hides them): `check` lists the grants instead of
        // reporting columns missing, and names no table it cannot read as lacking statistics.
        let (asLimited, diagnostics) = try await Enforcer.validate(policy, store: try await f.reader())
        #expect(asLimited != nil)
        #expect(diagnostics.filter { $0.severity == .error }.map(\.message) == [])
        #expect(
            !diagnostics.contains {
                $0.message.contains("statistics on `attachments`") || $0.message.contains("statistics on `orders`")
            })
        let report = try await f.reader().read { try $0.privileges(needs) }
        #expect(report.role == "limited")

        // A role that may read nothing at all: the date columns are not sampled, the policy still
        // resolves, and every SELECT is listed.
        let nobody = "nothing_\(UInt32.random(in: 0...UInt32.max))"
        f.databaseOverride = nil
        try await f.sql(["CREATE ROLE \(nobody) LOGIN"])
        var bare = location
        bare.user = nobody
        f.databaseOverride = .postgres(bare)
        let (asNothing, _) = try await Enforcer.validate(policy, store: try await f.reader())
        #expect(asNothing != nil)
        #expect(try await f.reader().read { try $0.privileges(needs) }.missing.filter { $0.kind == .select }.count == 4)
        f.databaseOverride = .postgres(location)
        #expect(
            report.missing.map { "\($0.kind.rawValue) \($0.table)" }.sorted() == [
                "DELETE attachments", "DELETE notes", "DELETE people", "SELECT attachments", "SELECT orders",
            ])
        #expect(
            report.grants == [
                "GRANT SELECT, DELETE ON \"attachments\" TO \"limited\";", "GRANT DELETE ON \"notes\" TO \"limited\";",
                "GRANT SELECT ON \"orders\" TO \"limited\";", "GRANT DELETE ON \"people\" TO \"limited\";",
            ])

        // Granted as told (by the owner), nothing is missing.
        f.databaseOverride = nil
        try await f.sql(
            report.grants.map { String($0.dropLast()) }.map {
                $0.replacingOccurrences(of: "\"limited\"", with: "limited")
            })
        f.databaseOverride = .postgres(location)
        #expect(try await f.reader().read { try $0.privileges(needs) }.missing.isEmpty)
    }
}

extension PostgresOnlyTests {
    /// A role that reviews plans reads the tool's tables too, once a run created them: `check
    /// --for-planning` names them, and a plan without them says where to look.
    @Test func aReviewingRoleIsToldToReadTheToolsTables() async throws {
        let f = try await CRMFixture(.postgres, policy: CRMPolicies.prospectPurge)
        let first = try await f.run()
        #expect(first.succeeded)
        let role = "reviewer_\(UInt32.random(in: 0...UInt32.max))"
        guard case .postgres(var location) = try f.settings().database else {
            Issue.record("not PostgreSQL")
            return
        }
        try await f.sql(["CREATE ROLE \(role) LOGIN", "GRANT SELECT ON people, notes, attachments, orders TO \(role)"])
        location.user = role
        f.databaseOverride = .postgres(location)
        let (resolved, _) = try await Enforcer.validate(try f.policy(), store: try await f.reader())
        let resolvedPolicy = try #require(resolved)
        let needs =
            resolvedPolicy.privilegesNeeded.filter { $0.kind == .select }
            + resolvedPolicy.toolTablePrivileges(enforcing: false)
        let report = try await f.reader().read { try $0.privileges(needs) }
        #expect(
            report.grants
                == ["retentiond_audit", "retentiond_audit_refs", "retentiond_done", "retentiond_holds"].map {
                    "GRANT SELECT ON \"\($0)\" TO \"\(role)\";"
                })
        await #expect {
            _ = try await f.plan()
        } throws: { error in
            "\(error)".contains("permission denied")
                && "\(error)".contains("`retentiond check` lists every privilege the role lacks")
        }

        f.databaseOverride = nil
        try await f.sql(report.grants.map { String($0.dropLast()) })
        f.databaseOverride = .postgres(location)
        #expect(try await f.reader().read { try $0.privileges(needs) }.missing.isEmpty)
        let plan = try await f.plan()
        #expect(plan.totalDue == 0, "the first run did the work; the reviewer sees it done")

        // Without USAGE on the schema, no table is visible at all: said as such, not as missing tables.
        f.databaseOverride = nil
        try await f.sql(["REVOKE USAGE ON SCHEMA public FROM PUBLIC"])
        f.databaseOverride = .postgres(location)
        await #expect {
            _ = try await Enforcer.validate(try f.policy(), store: try await f.reader())
        } throws: { error in
            "\(error)".contains("role `\(role)` may use no schema of its search_path")
                && "\(error)".contains("GRANT USAGE ON SCHEMA public")
        }
    }
}

/// docs/postgresql.md's stricter separation: the tool's tables created by another role, the
/// enforcing role given only the grants the page lists — runs, holds, statistics and the trail's
/// check work.
@Suite struct PostgresSeparateOwnerTests {
    static let policy = CRMPolicies.prospectPurge + "\n        statistics: { period: year }\n"

    @Test func anEnforcingRoleWithTheDocumentedGrantsRunsOnTablesAnotherRoleCreated() async throws {
        let owner = try await CRMFixture(.postgres, policy: Self.policy)
        _ = try await owner.run()
        let expected = try await owner.ids("people")

        let f = try await CRMFixture(.postgres, policy: Self.policy)
        let before = try await f.ids("people")
        let role = "enforcer_\(UInt32.random(in: 0...UInt32.max))"
        guard case .postgres(var location) = try f.settings().database else {
            Issue.record("not PostgreSQL")
            return
        }
        try await f.sql([
            "CREATE ROLE \(role) LOGIN",
            "GRANT CONNECT ON DATABASE \(location.database) TO \(role)",
            "GRANT USAGE ON SCHEMA public TO \(role)",
            "GRANT SELECT, UPDATE, DELETE ON people, notes, attachments, orders TO \(role)",
        ])
        let asOwner = f.databaseOverride
        location.user = role
        // What `check` asks of the role: the policy's privileges and the tool's tables'.
        func missing() async throws -> PrivilegeReport {
            f.databaseOverride = .postgres(location)
            defer { f.databaseOverride = asOwner }
            let (resolved, _) = try await Enforcer.validate(try f.policy(), store: try await f.reader())
            let resolvedPolicy = try #require(resolved)
            return try await f.reader().read {
                try $0.privileges(resolvedPolicy.privilegesNeeded + resolvedPolicy.toolTablePrivileges(enforcing: true))
            }
        }
        // Before the tool's tables exist: CREATE, for the first run to create them (PostgreSQL 15
        // grants no one CREATE on public).
        #expect(try await missing().grants == ["GRANT CREATE ON SCHEMA \"public\" TO \"\(role)\";"])

        // Created by their owner instead: the grants docs/postgresql.md lists for the tool's tables,
        // and no CREATE (each is created only when missing).
        try await f.store().transaction {
            try $0.prepareToolTables()
            try $0.prepareStatisticsTable(Policy.defaultStatisticsTable)
        }
        try await (f.store() as! any WorkQueueStore).queueTransaction { try $0.prepareWorkQueue() }
        let report = try await missing()
        #expect(
            Set(report.missing.map { "\($0.kind.rawValue) \($0.table)" }) == [
                "SELECT retentiond_runs", "INSERT retentiond_runs", "UPDATE retentiond_runs", "DELETE retentiond_runs",
                "SELECT retentiond_batches", "INSERT retentiond_batches", "UPDATE retentiond_batches",
                "DELETE retentiond_batches",
                "SELECT retentiond_audit", "INSERT retentiond_audit",
                "SELECT retentiond_audit_refs", "INSERT retentiond_audit_refs", "DELETE retentiond_audit_refs",
                "SELECT retentiond_holds", "INSERT retentiond_holds", "UPDATE retentiond_holds",
                "USAGE retentiond_holds_id_seq",
                "SELECT retentiond_done", "INSERT retentiond_done", "DELETE retentiond_done",
                "SELECT retentiond_statistics", "INSERT retentiond_statistics", "DELETE retentiond_statistics",
            ])
        try await f.sql(report.grants.map { String($0.dropLast()) })
        #expect(try await missing().missing.isEmpty)
        f.databaseOverride = .postgres(location)
        _ = try await f.holds().add(
            table: "people", keyText: "1", reason: "case 1", by: "dpo", until: nil, now: CRMFixture.now)
        // A worker run: the queue's tables, too, as their owner made them.
        let worked = try await f.enforcer().runAsWorker(now: CRMFixture.now, allowMore: false)
        #expect(worked.status == .complete, "\(worked.message ?? "")")
        // Only a table's owner may analyze it: the run went on without, and `check` still says so.
        #expect(
            try await f.validate().1.contains {
                $0.message.contains("no statistics on") && $0.message.contains("`people`")
            })
        #expect(
            try await f.ids("people") == (expected + [1]).sorted(), "what the owner's run purged, but the held record")
        #expect(expected.count < before.count - 1, "the owner's run purged more than the held record")
        #expect(try await f.audit(action: "purge").count == before.count - expected.count - 1)
        let counted = try await f.rows("SELECT CAST(sum(records) AS BIGINT) FROM retentiond_statistics").first?.first
        #expect(
            counted == .integer(Int64(before.count - expected.count - 1)), "each purge counted, in the owner's table")
        #expect(try await f.trail().verify().isValid)
    }
}

/// A PostgreSQL run holds its lock where its loss is noticed, and locks the rows it re-checks.
@Suite struct PostgresLockingTests {
    static let anonymiseOneByOne = CRMPolicies.anonymise.replacingOccurrences(
        of: "subjects:", with: "batch_size: 1\nsubjects:")

    @Test func aRunThatLosesItsLockStopsBeforeItsNextBatchCommits() async throws {
        let f = try await CRMFixture(.postgres, policy: Self.anonymiseOneByOne)
        // While the first batch runs, the lock connection is terminated (as by an administrator, or
        // idle_session_timeout): nobody watches that connection, so the batches must ask.
        try await f.sql([
            """
            CREATE FUNCTION drop_lock() RETURNS trigger LANGUAGE plpgsql AS $f$ BEGIN
                PERFORM pg_terminate_backend(pid, 10000) FROM pg_locks
                WHERE locktype = 'advisory' AND granted AND pid <> pg_backend_pid()
                  AND database = (SELECT oid FROM pg_database WHERE datname = current_database());
                RETURN NEW;
            END $f$
            """,
            "CREATE TRIGGER drop_lock BEFORE UPDATE ON people FOR EACH ROW EXECUTE FUNCTION drop_lock()",
        ])
        let report = try await f.run()
        #expect(report.status == .incomplete)
        #expect(report.failure == .locked)
        #expect(report.message?.contains("the run lock on") == true, "\(report.message ?? "")")
        #expect(
            report.message?.lowercased().components(separatedBy: "committed batches stay").count == 2,
            "said once: \(report.message ?? "")")
        #expect(try await f.audit(action: "anonymise").count == 1, "only the batch that ran under the lock")
        #expect(try await f.rows("SELECT count(*) FROM people WHERE email IS NULL") == [[.integer(1)]])

        try await f.sql(["DROP TRIGGER drop_lock ON people"])
        let next = try await f.run(now: CRMFixture.now.addingTimeInterval(60))
        #expect(next.succeeded)
        #expect(next.rules[0].anonymised == 3)
        #expect(
            try await AuditTrail(store: try await f.reader(), key: try f.key, stateDirectory: f.dir.path).verify()
                .isValid)
    }

    @Test func aConcurrentUpdateCannotSlipBetweenTheRecheckAndTheChange() async throws {
        let f = try await CRMFixture(.postgres, policy: CRMPolicies.anonymise)
        // The CRM's own transaction: Alice comes back (no longer due), not yet committed.
        let updated = DispatchSemaphore(value: 0)
        let commit = DispatchSemaphore(value: 0)
        let application = Task {
            try await f.executing { sql in
                _ = try sql.execute("UPDATE people SET last_seen = '2026-05-01' WHERE id = 1", [])
                updated.signal()
                commit.wait()
            }
        }
        await withCheckedContinuation { continuation in
            DispatchQueue.global().async {
                updated.wait()
                continuation.resume()
            }
        }

        // The batch waits for Alice's row as long as the application takes to commit: on a loaded
        // machine, seeing it wait and letting the application commit took more than the default
        // lock wait (10 s), and the batch gave up first. How long a batch waits is PacingTests'.
        let running = Task {
            try await f.enforcer(lockWait: .seconds(3600)).run(now: CRMFixture.now, allowMore: false)
        }
        // Wait until the run's batch waits for Alice's row, then let the application commit.
        while try await f.count(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'")
            == 0
        {
            try await Task.sleep(for: .milliseconds(10))
        }
        commit.signal()
        try await application.value
        let report = try await running.value

        #expect(report.rules[0].stale == 1, "re-checked on the committed row: no longer due")
        #expect(report.rules[0].anonymised == 3)
        #expect(try await f.rows("SELECT name FROM people WHERE id = 1") == [[.text("Alice Martin")]])
        #expect(!(try await f.audit(action: "anonymise").map(\.subjectRef).contains(try f.reference("people", 1))))
    }
}

extension CRMFixture {
    static func validate(_ f: CRMFixture) async throws -> (ResolvedPolicy?, [Diagnostic]) {
        try await Enforcer.validate(try f.policy(), store: try await f.reader())
    }
}
