import Foundation
import Logging
import RetentionCore
import RetentionStore
import Synchronization
import TestSupport
import Testing

@testable import RetentionEngine

/// `serve`'s schedule, on a clock that jumps to each time the service waits for: which runs happen
/// when, and what each run sees at its time — days of a schedule in a moment, without a process.
@Suite struct ServiceScheduleTests {
    /// Wall time that starts at `start` and jumps to each deadline waited for. After `waits`
    /// waits it tells `exhausted` and waits until the service shuts down.
    final class JumpingClock: ServiceClock {
        private let state: Mutex<(now: Date, waits: Int)>
        private let waits: Int
        let exhausted = AsyncStream<Void>.makeStream()

        init(start: Date, waits: Int) {
            state = Mutex((start, 0))
            self.waits = waits
        }

        var now: Date { state.withLock { $0.now } }

        func sleep(until deadline: Date) async throws {
            let waited = state.withLock { state -> Int in
                state.waits += 1
                return state.waits
            }
            if waited > waits {
                exhausted.continuation.yield()
                try await Task.sleep(for: .seconds(86_400))  // until the test cancels the loop
            }
            state.withLock { if deadline > $0.now { $0.now = deadline } }
        }
    }

    /// Runs the service's schedule on `clock` until the clock has served its waits, then cancels
    /// it. The loop alone, not `run()`: that traps SIGHUP, which a test process shares with every
    /// other test (the graceful shutdown and SIGHUP are ServiceTests', on the binary).
    func serve(_ f: CRMFixture, clock: JumpingClock, archivePhase: EnforcementService<JumpingClock>.PhaseLoader? = nil)
        async throws
    {
        let enforcer = try await f.enforcer()
        let service = EnforcementService(
            enforcer: enforcer, load: { try await f.enforcer() }, archivePhase: archivePhase, clock: clock,
            notifier: SystemdNotifier(), metricsPath: nil, logger: Logger(label: "test"))
        let running = Task { await service.schedulingLoop() }
        for await _ in clock.exhausted.stream { break }
        running.cancel()
        await running.value
    }

    /// The `now` of each run, from the entries that close them.
    func runTimes(_ f: CRMFixture) async throws -> [String] {
        try await f.audit(action: "run-completed").map { entry in
            let detail = try JSONSerialization.jsonObject(with: Data(entry.detail.utf8)) as? [String: String]
            return detail?["now"] ?? ""
        }
    }

    @Test func runsEveryTwoDaysFromTheStartAndEachActsOnWhatIsDueAtItsTime() async throws {
        // 1 is past the three years from the start; 2 only from 2026-06-02 on.
        let data = [
            "INSERT INTO people VALUES (1, 'prospect', 'Early', 'e@example.fr', NULL, NULL, '2020-01-01', '2019-01-01', NULL, 0)",
            "INSERT INTO people VALUES (2, 'prospect', 'Late', 'l@example.fr', NULL, NULL, '2023-06-02', '2019-01-01', NULL, 0)",
        ]
        let f = try await CRMFixture(
            .sqlite, data: data, policy: "schedule: { every: 2d, run_at_start: true }\n" + CRMPolicies.anonymise)
        let start = ISO8601DateFormatter().date(from: "2026-06-01T12:00:00Z")!
        try await serve(f, clock: JumpingClock(start: start, waits: 2))

        #expect(
            try await runTimes(f) == ["2026-06-01T12:00:00Z", "2026-06-03T12:00:00Z", "2026-06-05T12:00:00Z"],
            "at the start, then two days after each run")
        let completed = try await f.audit(action: "run-completed").map(\.runID)
        let anonymised = try await f.audit(action: "anonymise")
        #expect(anonymised.map(\.subjectRef) == [try f.reference("people", 1), try f.reference("people", 2)])
        #expect(
            anonymised.map(\.runID) == Array(completed.prefix(2)),
            "each record by the first run at whose time it is due")
        #expect(try await f.rows("SELECT count(*) FROM people WHERE email IS NULL") == [[.integer(2)]])
        let reports = try FileManager.default.contentsOfDirectory(atPath: f.dir.appendingPathComponent("reports").path)
        #expect(reports.filter { $0.hasSuffix(".json") }.count == 3, "every run writes its report")
    }

    /// With an archive, each scheduled run enforces the archive's rules after the application's
    /// database's: what one run moves, a later one ends there.
    @Test func eachRunEnforcesTheArchiveAfterTheApplicationsDatabase() async throws {
        let data = ["INSERT INTO orders VALUES (1, NULL, '2019-03-01'), (2, NULL, '2024-02-01')"]
        let f = try await CRMFixture(
            .sqlite, data: CRMFixture.data.filter { !$0.contains("INTO orders") } + data, policy: CRMPolicies.anonymise)
        try f.write(
            policy: """
                schedule: { every: 300d, run_at_start: true }
                archive: { sqlite: archive.sqlite }
                subjects:
                  orders:
                    table: orders
                    key: id
                    rules:
                      - { id: order-archive, register: "Sales", legal_basis: "legal obligation", clock: ordered_on, after: 1y, action: archive }
                      - { id: order-end, phase: archive, register: "Sales", legal_basis: "legal obligation", clock: ordered_on, after: 8y, action: purge }

                """)
        let fixture = f
        // As `serve` loads it: the archive's phase, once the first run made the archive.
        let loader: EnforcementService<JumpingClock>.PhaseLoader = {
            guard FileManager.default.fileExists(atPath: fixture.dir.appendingPathComponent("archive.sqlite").path)
            else { return nil }
            let archived = fixture.copy(phase: .archive)
            return try await archived.enforcer()
        }
        try await serve(f, clock: JumpingClock(start: Date.iso("2026-06-01T12:00:00Z"), waits: 2), archivePhase: loader)

        // Run 1 (2026): both orders are past a year: moved; order 1 (2019) past 8 years: ended in the archive.
        // Order 2 (2024) ends there in 2032; runs 2 and 3 (2027, 2028) leave it.
        #expect(try await f.ids("orders") == [])
        let archived = f.copy(phase: .archive)
        #expect(try await archived.ids("orders") == [2])
        #expect(try await archived.audit(action: "purge").count == 1)
        #expect(
            try await archived.audit(action: "run-completed").count == 3,
            "the archive's rules ran after each of the three runs")
        #expect(try await f.audit(action: "archive").count == 2)
    }

    /// A policy changed to make more records due is refused by every scheduled run (a report says
    /// why and how to accept it), and the schedule goes on: `serve` never stops for it.
    @Test func aPolicyChangeThatMakesMoreDueIsRefusedAndTheScheduleGoesOn() async throws {
        let data = [
            "INSERT INTO people VALUES (1, 'prospect', 'Early', 'e@example.fr', NULL, NULL, '2020-01-01', '2019-01-01', NULL, 0)",
            "INSERT INTO people VALUES (2, 'prospect', 'Recent', 'r@example.fr', NULL, NULL, '2025-01-01', '2019-01-01', NULL, 0)",
        ]
        let schedule = "schedule: { every: 1d, run_at_start: true }\n"
        let f = try await CRMFixture(.sqlite, data: data, policy: schedule + CRMPolicies.anonymise)
        _ = try await f.run()
        #expect(try await f.rows("SELECT id FROM people WHERE email IS NULL") == [[.integer(1)]])
        // Three years become one: 2, seen in January 2025, becomes due.
        try f.write(policy: schedule + CRMPolicies.anonymise.replacingOccurrences(of: "after: 3y", with: "after: 1y"))
        let start = ISO8601DateFormatter().date(from: "2026-06-01T12:00:00Z")!
        try await serve(f, clock: JumpingClock(start: start, waits: 2))

        #expect(
            try await f.rows("SELECT id FROM people WHERE email IS NULL") == [[.integer(1)]], "nothing more changed")
        #expect(try await runTimes(f).count == 1, "only the run before the change completed")
        let reports = try FileManager.default.contentsOfDirectory(atPath: f.dir.appendingPathComponent("reports").path)
            .filter { $0.hasSuffix(".json") }
        let refused = try reports.compactMap { name -> String? in
            let object =
                try JSONSerialization.jsonObject(
                    with: Data(contentsOf: f.dir.appendingPathComponent("reports/" + name))) as? [String: Any]
            return object?["status"] as? String == "refused" ? object?["message"] as? String : nil
        }
        #expect(refused.count == 3, "the run at the start and one each day after: \(reports)")
        #expect(refused.allSatisfy { $0.contains("--accept-policy-change") }, "\(refused)")
    }

    @Test func aDailyScheduleRunsAtItsTimeInThePolicysTimeZone() async throws {
        // The fixture's policies are in Europe/Paris.
        let f = try await CRMFixture(
            .sqlite, data: [], policy: "schedule: { daily: \"03:00\" }\n" + CRMPolicies.anonymise)
        let start = ISO8601DateFormatter().date(from: "2026-06-01T12:00:00Z")!
        try await serve(f, clock: JumpingClock(start: start, waits: 2))
        // 03:00 in Paris in June is 01:00 UTC; no run at the start.
        #expect(try await runTimes(f) == ["2026-06-02T01:00:00Z", "2026-06-03T01:00:00Z"])
    }
}
