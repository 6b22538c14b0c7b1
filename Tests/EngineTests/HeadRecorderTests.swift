import Foundation
import RetentionCore
import RetentionStore
import TestSupport
import Testing

@testable import RetentionEngine

/// While batches commit, the trail's head is recorded at most once per interval, and always
/// after the last committed batch — also when the run stops or fails.
@Suite struct HeadRecorderTests {
    /// Six prospects, all due (last seen in 2020).
    static let data = (1...6).map { id in
        "INSERT INTO people VALUES (\(id), 'prospect', 'Prospect \(id)', 'p\(id)@example.fr', NULL, NULL, '2020-01-01', '2019-01-01', NULL, 0)"
    }

    @Test func theFirstBatchIsRecordedAtOnceTheNextWithinTheIntervalOnlyWhenFlushed() async throws {
        let f = try await CRMFixture(.sqlite, data: Self.data, policy: CRMPolicies.anonymise)
        _ = try await f.run()
        let recorded = try #require(StateFiles.readHead(stateDirectory: f.dir.path))
        let genesis = try #require(recorded.genesis)
        func position(_ seq: Int64) -> TrailPosition {
            TrailPosition(head: AuditHead(seq: seq, mac: String(repeating: "\(seq % 10)", count: 64)), genesis: genesis)
        }
        func recordedSeq() -> Int64? { StateFiles.readHead(stateDirectory: f.dir.path)?.seq }

        var head = HeadRecorder(
            anchor: AuditAnchor(store: try await f.reader(), stateDirectory: f.dir.path), interval: .seconds(3600))
        try head.committed(position(recorded.seq + 1))
        #expect(recordedSeq() == recorded.seq + 1, "the first batch of a run is recorded at once")
        try head.committed(position(recorded.seq + 2))
        try head.committed(position(recorded.seq + 3))
        #expect(recordedSeq() == recorded.seq + 1, "within the interval, nothing more is written")
        try head.flush()
        #expect(recordedSeq() == recorded.seq + 3, "flushing records the newest")

        var everyBatch = HeadRecorder(
            anchor: AuditAnchor(store: try await f.reader(), stateDirectory: f.dir.path), interval: .zero)
        try everyBatch.committed(position(recorded.seq + 4))
        try everyBatch.committed(position(recorded.seq + 5))
        #expect(recordedSeq() == recorded.seq + 5)
    }

    /// Batches of two; the third batch's records are refused by the database, which stops the run
    /// after two committed batches. With an interval no run reaches, only the first batch is
    /// recorded on the way: the second is recorded because the run stopped.
    @Test(arguments: Backend.allCases)
    func aRunThatStopsRecordsTheHeadOfItsLastCommittedBatch(_ backend: Backend) async throws {
        let f = try await CRMFixture(backend, data: Self.data, policy: CRMPolicies.anonymise, batchSize: 2)
        switch backend {
        case .sqlite:
            try await f.sql([
                "CREATE TRIGGER refuse BEFORE UPDATE ON people WHEN old.id IN (5, 6) BEGIN SELECT RAISE(ABORT, 'refused'); END"
            ])
        case .postgres:
            try await f.sql([
                "CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS $f$ BEGIN IF OLD.id IN (5, 6) THEN RAISE EXCEPTION 'refused'; END IF; RETURN NEW; END $f$",
                "CREATE TRIGGER refuse BEFORE UPDATE ON people FOR EACH ROW EXECUTE FUNCTION refuse()",
            ])
        case .mariadb:
            try await f.sql([
                "CREATE TRIGGER refuse BEFORE UPDATE ON people FOR EACH ROW IF OLD.id IN (5, 6) THEN SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'refused'; END IF"
            ])
        }
        var enforcer = try await f.enforcer()
        enforcer.headInterval = .seconds(3600)
        let report = try await enforcer.run(now: CRMFixture.now, allowMore: false)
        #expect(report.status == .incomplete)
        #expect(
            report.message?.contains("the database refused every record of a batch") == true, "\(report.message ?? "")")
        #expect(
            try await f.rows("SELECT id FROM people WHERE email IS NULL ORDER BY id").map { $0[0] }
                == (1...4).map { .integer($0) })

        let anonymised = try await f.audit(action: "anonymise")
        #expect(anonymised.count == 4)
        #expect(
            StateFiles.readHead(stateDirectory: f.dir.path)?.seq == anonymised.last?.seq,
            "the second batch's entries are anchored")
        let standing = try await AuditAnchor(store: try await f.reader(), stateDirectory: f.dir.path).check()
        #expect(standing.anchored && standing.entriesPastHead == 0)
        #expect(try await f.trail().verify().isValid)
    }
}
