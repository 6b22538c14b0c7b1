import Foundation
import Logging

/// How a long run says where it is: per rule, records done of due, the rate and the time left —
/// redrawn on one line of a terminal, or a log line every few seconds (the journal) at `notice`,
/// the level the shipped units log at: a long run under systemd is not silent.
public enum ProgressOutput: Sendable {
    case log
    case terminal
}

/// The progress of one run's batches; lives in the loop that applies them.
struct ProgressMeter {
    let output: ProgressOutput
    let logger: Logger
    let runID: String
    let started = ContinuousClock.now
    var last = ContinuousClock.now
    var rule = ""
    var ruleStarted = ContinuousClock.now
    /// When the previous batch ended: where the next rule's first batch began.
    var previousBatch = ContinuousClock.now
    /// Between log lines; a terminal is redrawn at most every quarter second.
    var interval: Duration { output == .log ? .seconds(5) : .milliseconds(250) }

    init(output: ProgressOutput, logger: Logger, runID: String) {
        self.output = output
        self.logger = logger
        self.runID = runID
    }

    mutating func update(rule: String, done: Int, due: Int) {
        let now = ContinuousClock.now
        defer { previousBatch = now }
        if rule != self.rule {
            if output == .terminal, !self.rule.isEmpty { FileHandle.standardError.write(Data("\n".utf8)) }
            self.rule = rule
            ruleStarted = previousBatch
        }
        guard now - last >= interval || done >= due else { return }
        last = now
        let seconds = max(
            Double((now - ruleStarted).components.seconds) + Double((now - ruleStarted).components.attoseconds) / 1e18,
            0.001)
        let rate = Double(done) / seconds
        let left = rate > 0 ? Int((Double(max(due - done, 0)) / rate).rounded(.up)) : 0
        let text = "\(rule): \(done) of \(due) records (\(Int(rate))/s, \(left) s left)"
        switch output {
        case .terminal: FileHandle.standardError.write(Data(("\r\u{1B}[K" + text).utf8))
        case .log:
            logger.notice(
                "progress",
                metadata: [
                    "run": "\(runID)", "rule": "\(rule)", "done": "\(done)", "due": "\(due)", "rate": "\(Int(rate))",
                    "left_s": "\(left)",
                ])
        }
    }

    func finish() {
        if output == .terminal, !rule.isEmpty { FileHandle.standardError.write(Data("\n".utf8)) }
    }
}
