import Foundation
import RetentionCore

/// Run identifiers: the start time (UTC, to the second) and a random suffix, so two runs started
/// in the same second on two hosts still differ.
enum RunID {
    static func make(at date: Date) -> String {
        let f = DateFormatter()
        f.locale = Locale(identifier: "en_US_POSIX")
        f.timeZone = TimeZone(identifier: "UTC")
        f.dateFormat = "yyyyMMdd'T'HHmmss'Z'"
        return f.string(from: date) + "-" + String(UInt32.random(in: 0...UInt32.max), radix: 16)
    }
}

/// What every report of a run on one policy and database shares: one place assembles them.
struct RunContext: Sendable {
    let policy: Policy
    let database: String

    func report(
        runID: String, mode: RunReport.Mode, status: RunReport.Status, message: String? = nil, now: Date,
        startedAt: Date, finishedAt: Date = Date(), rules: [RuleTally], failure: FailureKind? = nil,
        failures: [RecordFailure] = []
    ) -> RunReport {
        var report = RunReport(
            runID: runID, mode: mode, status: status, message: message, policyPath: policy.path,
            policyHash: policy.hash,
            database: database, now: now, startedAt: startedAt, finishedAt: finishedAt, rules: rules)
        report.failure = failure
        report.failures = failures
        return report
    }
}
