import Foundation
import Testing
import RetentionCore
import RetentionEngine
import TestSupport

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
        for gone in ["alice.martin@example.fr", "bruno.petit@example.fr", "Alice asked for a quote", "quote-alice.pdf"] {
            #expect(raw.range(of: Data(gone.utf8)) == nil, "\(gone) is still in the database file")
        }
        #expect(raw.range(of: Data("chloe.durand@example.fr".utf8)) != nil, "kept records are still there")

        let g = try await CRMFixture(.sqlite, policy: CRMPolicies.anonymise)
        _ = try await g.run()
        #expect(try g.rawBytes().range(of: Data("alice.martin@example.fr".utf8)) == nil)
    }
}
