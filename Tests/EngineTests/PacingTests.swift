import Foundation
import Testing
import RetentionCore
import RetentionEngine
import RetentionStore
import TestSupport

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
