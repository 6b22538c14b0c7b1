import Foundation
import Testing
import TestSupport

/// The binary against a real PostgreSQL server: the demo, and two runs started at once.
@Suite struct PostgresCommandLineTests {
    func freshDatabase() throws -> String {
        let server = try PostgresServer.shared.get()
        return server.url(database: try server.createDatabase())
    }

    @Test func theDemoRunsOnPostgreSQL() throws {
        let url = try freshDatabase()
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("retentiond-pgdemo-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        let result = try BinaryRunner.run(["demo", "--seed", "11", "--dir", dir.path, "--postgres", url, "--now", "2026-11-23T10:00:00Z"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("verified intact"))
        #expect(result.stdout.contains("complete"))
        // Loading twice into the same database is refused rather than mixed.
        let again = try BinaryRunner.run(["demo", "--seed", "11", "--dir", dir.path, "--postgres", url])
        #expect(again.status == 1)
        #expect(again.stderr.contains("already has a third_parties table"))
    }

    @Test func twoRunsStartedAtOnceOneActsTheOtherReportsTheLock() throws {
        let url = try freshDatabase()
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("retentiond-pgtwo-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        let now = "2026-11-23T10:00:00Z"
        let created = try BinaryRunner.run(["demo", "--seed", "3", "--dir", dir.path, "--postgres", url, "--no-run", "--now", now])
        #expect(created.status == 0, "\(created.stderr)")
        let common = ["--config", "etc/retentiond/retentiond.yaml", "--state-dir", dir.path, "--database-url", url, "--now", now]
        #expect(try BinaryRunner.run(["check"] + common).status == 0)
        #expect(try BinaryRunner.run(["plan"] + common).status == 2)

        // Small batches make the run that wins the lock last long enough for the other to meet it.
        let results = ManagedResults()
        DispatchQueue.concurrentPerform(iterations: 2) { i in
            let result = try? BinaryRunner.run(["run", "--batch-size", "1", "--actor", "worker-\(i)"] + common)
            results.append(result)
        }
        let statuses = results.values.compactMap { $0?.status }.sorted()
        #expect(statuses == [0, 5], "\(results.values.map { $0?.stderr ?? "" })")
        #expect(results.values.contains { $0?.stderr.contains("another retentiond run holds the advisory lock") == true })

        let verify = try BinaryRunner.run(["audit", "verify"] + common.dropLast(2))
        #expect(verify.status == 0, "\(verify.stderr)")
    }
}

/// Results gathered from concurrent threads.
final class ManagedResults: @unchecked Sendable {
    private let lock = NSLock()
    private(set) var values: [BinaryRunner.Result?] = []
    func append(_ value: BinaryRunner.Result?) { lock.withLock { values.append(value) } }
}
