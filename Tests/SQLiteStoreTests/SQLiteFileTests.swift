import Foundation
import GRDB
import RetentionCore
import RetentionEngine
import TestSupport
import Testing

/// What SQLite keeps in its file: a dry run must not change a byte, and purged or anonymised
/// values must not linger in free pages or journals (`secure_delete`, WAL checkpoint).
@Suite struct SQLiteFileTests {
    @Test func theDryRunLeavesTheFileByteIdentical() async throws {
        let f = try await CRMFixture(.sqlite, policy: CRMPolicies.prospectPurge)
        let digest = try f.fileDigest()
        let plan = try await f.plan(out: f.dir.appendingPathComponent("p.plan").path)
        #expect(plan.totalDue == 2)
        #expect(try f.fileDigest() == digest)

        // Also once the tool's own tables exist and records were already processed.
        _ = try await f.run()
        let afterRun = try f.fileDigest()
        let again = try await f.plan(now: CRMFixture.now.addingTimeInterval(86_400 * 400))
        #expect(again.totalDue > 0)
        #expect(try f.fileDigest() == afterRun)
    }

    @Test func purgedAndAnonymisedValuesDoNotLingerInTheFile() async throws {
        let f = try await CRMFixture(.sqlite, policy: CRMPolicies.prospectPurge)
        #expect(try f.rawBytes().range(of: Data("alice.martin@example.fr".utf8)) != nil)
        _ = try await f.run()
        let raw = try f.rawBytes()
        for gone in ["alice.martin@example.fr", "bruno.petit@example.fr", "Alice asked for a quote", "quote-alice.pdf"]
        {
            #expect(raw.range(of: Data(gone.utf8)) == nil, "\(gone) is still in the database file")
        }
        #expect(raw.range(of: Data("chloe.durand@example.fr".utf8)) != nil, "kept records are still there")

        let g = try await CRMFixture(.sqlite, policy: CRMPolicies.anonymise)
        _ = try await g.run()
        #expect(try g.rawBytes().range(of: Data("alice.martin@example.fr".utf8)) == nil)
    }

    /// A run keeps SQLite's rollback journal between its batches (PERSIST) and deletes it at the end:
    /// it holds pages as they were before the last batches, the values they removed included.
    @Test func aRunLeavesNoJournalBesideTheDatabase() async throws {
        let f = try await CRMFixture(.sqlite, policy: CRMPolicies.prospectPurge)
        let report = try await f.run()
        #expect(report.rules.reduce(0) { $0 + $1.purged } == 2)
        #expect(!FileManager.default.fileExists(atPath: f.dbPath + "-journal"))

        // Also when a batch is refused and the run stops incomplete.
        let g = try await CRMFixture(.sqlite, policy: CRMPolicies.anonymise)
        try await g.sql([
            "CREATE TRIGGER refuse_all BEFORE UPDATE ON people BEGIN SELECT RAISE(ABORT, 'no updates today'); END"
        ])
        #expect(try await g.run().status == .incomplete)
        #expect(!FileManager.default.fileExists(atPath: g.dbPath + "-journal"))
    }

    /// A database in WAL mode stays in it (WAL is a property of the file; the run changes nothing of it).
    @Test func aWALDatabaseStaysInWALMode() async throws {
        let f = try await CRMFixture(.sqlite, policy: CRMPolicies.prospectPurge)
        // WAL is set outside a transaction, as an application would.
        try await DatabaseQueue(path: f.dbPath).writeWithoutTransaction {
            try $0.execute(sql: "PRAGMA journal_mode = WAL")
        }
        let before = try await f.rows("SELECT count(*) FROM people")
        _ = try await f.run()
        #expect(try await f.rows("SELECT count(*) + 2 FROM people") == before)
        #expect(try await f.rows("PRAGMA journal_mode") == [[.text("wal")]])
        let raw = try f.rawBytes()
        #expect(raw.range(of: Data("alice.martin@example.fr".utf8)) == nil)
    }
}
