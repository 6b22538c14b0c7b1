import Foundation
import Logging
import RetentionCore
import RetentionStore

extension Applier.Outcome {
    /// Records why applying stopped: on request (between batches) or on a failure.
    mutating func stopped(by error: Error, logger: Logger, runID: String, resumeHint: String) {
        status = .incomplete
        if error is StopRequest.Stopped {
            message = "stopped on request between batches; committed batches stay, \(resumeHint)"
            logger.notice("run stopped at a batch boundary", metadata: ["run": "\(runID)"])
        } else if error is Pacing.TimeLimitReached {
            failure = .timeLimit
            message = "stopped at a batch boundary after --max-duration; committed batches stay, \(resumeHint)"
            logger.notice("run reached its maximum duration", metadata: ["run": "\(runID)"])
        } else {
            let failed = EnforcementError.from(error)
            failure = failed.kind
            // Unlike a stop asked for, a failure comes back on the next run until its cause is gone.
            message =
                "stopped: \(failed.description); committed batches stay, and once the cause is fixed \(resumeHint)"
            logger.error("run incomplete", metadata: ["run": "\(runID)", "error": "\(failed.description)"])
        }
    }
}

/// A rule's `max_records` and `max_percent`, checked against planned counts before any change.
public enum SafetyCheck {
    /// Every rule's figures over its limits, all at once (flag rules change nothing and have none).
    public static func violations(_ tallies: [RuleTally], policy: Policy) -> [String] {
        var lines: [String] = []
        for tally in tallies {
            guard tally.action != "flag", let rule = policy.rules.first(where: { $0.id == tally.rule }) else {
                continue
            }
            if let max = rule.safety.maxRecords, tally.due > max {
                lines.append("rule `\(tally.rule)`: \(tally.due) records due, more than max_records \(max)")
            }
            if let percent = rule.safety.maxPercent, tally.tableRows > 0 {
                let share = Double(tally.due) * 100 / Double(tally.tableRows)
                if share > percent {
                    lines.append(
                        "rule `\(tally.rule)`: \(tally.due) of \(tally.tableRows) rows of `\(tally.table)` (\(String(format: "%.2f", share))%), more than max_percent \(percent.formatted())%"
                    )
                }
            }
        }
        return lines
    }
}
