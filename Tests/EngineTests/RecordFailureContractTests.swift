import Foundation
import RetentionCore
import RetentionEngine
import RetentionStore
import TestSupport
import Testing

/// A record the database refuses to change is isolated from its batch and reported; the rest of
/// the run — the batch's other records, later batches, later rules — goes on. On both databases.
@Suite struct RecordFailureContractTests {
    /// Prospects anonymised, then clients flagged: a second rule that must still run.
    static let twoRules =
        CRMPolicies.anonymise + """

              clients:
                table: people
                key: id
                filter: { kind: client }
                rules:
                  - id: client-flag
                    register: "Clients"
                    legal_basis: "contract"
                    clock: last_seen
                    after: 3y
                    action: flag
            """

    func references(_ f: CRMFixture, _ ids: [Int64]) throws -> [String] {
        try ids.map { try f.reference("people", $0) }
    }

    @Test(arguments: Backend.allCases)
    func aRecordTheDatabaseRefusesIsIsolatedAndEverythingElseIsDone(_ backend: Backend) async throws {
        let f = try await CRMFixture(backend, policy: Self.twoRules)
        try await f.refuseUpdates(of: 4)
        let report = try await f.run()
        #expect(report.status == .complete)
        #expect(!report.succeeded)
        #expect(report.failures.map(\.rule) == ["prospect-anonymise"])
        #expect(report.failures.map(\.reference) == (try references(f, [4])))
        #expect(report.failures.first?.reason.contains("refused") == true)
        // Prospects 1, 2, 4 and 5 are due (one batch); 4 is refused, the others are done.
        #expect(report.rules[0].anonymised == 3)
        #expect(
            try await f.rows("SELECT id FROM people WHERE email IS NULL ORDER BY id").map { $0[0] } == [
                .integer(1), .integer(2), .integer(5),
            ])
        #expect(
            try await f.audit(action: "anonymise").map(\.subjectRef) == (try references(f, [1, 2, 5])),
            "no entry for the refused record")
        #expect(report.rules[1].flagged == 1, "the later rule ran")
        #expect(try await f.audit(action: "run-completed").count == 1)

        try await f.allowUpdates()
        let next = try await f.run(now: CRMFixture.now.addingTimeInterval(60))
        #expect(next.succeeded)
        #expect(next.rules[0].anonymised == 1)
        #expect(
            try await AuditTrail(store: try await f.reader(), key: try f.key, stateDirectory: f.dir.path).verify()
                .isValid)
    }

    /// MariaDB has no trigger that skips a row: an UPDATE either changes every row it matches or fails.
    @Test(arguments: [Backend.sqlite, .postgres])
    func aChangeTheDatabaseSilentlySkippedIsNeverAudited(_ backend: Backend) async throws {
        let f = try await CRMFixture(backend, policy: CRMPolicies.anonymise)
        try await f.skipUpdates(of: 2)
        let report = try await f.run()
        #expect(report.failures.count == 1)
        #expect(report.failures.first?.reason.contains("changed 0 row(s) of `people` but would audit 1") == true)
        #expect(
            try await f.rows("SELECT id FROM people WHERE email IS NULL ORDER BY id").map { $0[0] } == [
                .integer(1), .integer(4), .integer(5),
            ])
        #expect(try await f.audit(action: "anonymise").map(\.subjectRef) == (try references(f, [1, 4, 5])))
    }

    @Test(arguments: Backend.allCases)
    func aBatchRefusedForEveryRecordStopsTheRunAndNamesTheRule(_ backend: Backend) async throws {
        let f = try await CRMFixture(backend, policy: Self.twoRules)
        // As with a missing grant or a broken table: no record of the batch can be changed.
        switch backend {
        case .sqlite:
            try await f.sql([
                "CREATE TRIGGER refuse_all BEFORE UPDATE ON people BEGIN SELECT RAISE(ABORT, 'no updates today'); END"
            ])
        case .postgres:
            try await f.sql([
                "CREATE FUNCTION refuse_all() RETURNS trigger LANGUAGE plpgsql AS $f$ BEGIN RAISE EXCEPTION 'no updates today'; END $f$",
                "CREATE TRIGGER refuse_all BEFORE UPDATE ON people FOR EACH ROW EXECUTE FUNCTION refuse_all()",
            ])
        case .mariadb:
            try await f.sql([
                "CREATE TRIGGER refuse_all BEFORE UPDATE ON people FOR EACH ROW SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'no updates today'"
            ])
        }
        let report = try await f.run()
        #expect(report.status == .incomplete)
        #expect(
            report.message?.contains(
                "rule `prospect-anonymise` (table `people`): the database refused every record of a batch") == true,
            "\(report.message ?? "")")
        #expect(
            report.message?.hasSuffix(
                "committed batches stay, and once the cause is fixed the next run finishes the work") == true,
            "\(report.message ?? "")")
        #expect(try await f.audit(action: "anonymise").isEmpty)
        #expect(try await f.rows("SELECT count(*) FROM people WHERE email IS NULL") == [[.integer(0)]])
    }
}
