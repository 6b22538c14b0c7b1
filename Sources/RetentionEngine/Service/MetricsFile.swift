import Foundation
import RetentionCore

/// The Prometheus text-format file written after each run, for node_exporter's textfile collector.
///
/// The failure counter and the last success time carry over from the previous file, so a timer
/// that starts a new process every day still exposes them; a last success time that stops moving
/// is how an operator notices that enforcement stopped.
public enum MetricsFile {
    public struct Carried: Sendable, Equatable {
        public var failures: Int = 0
        public var lastSuccess: Double?
    }

    /// Reads what must carry over from an earlier file (absent or unreadable: nothing).
    public static func carried(from path: String) -> Carried {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return Carried() }
        var carried = Carried()
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            let parts = line.split(separator: " ")
            guard parts.count == 2, let value = Double(parts[1]) else { continue }
            if parts[0] == "retentiond_run_failures_total" { carried.failures = Int(value) }
            if parts[0] == "retentiond_last_success_timestamp_seconds" { carried.lastSuccess = value }
        }
        return carried
    }

    /// The file's text after a run that produced `report` (nil when the run failed before reporting);
    /// with `finishedAt` nil, before any run of this process (a service starting): only what
    /// carries over, so the file exists from the start and nothing in it claims a run.
    public static func render(report: RunReport?, succeeded: Bool, finishedAt: Date?, carried: Carried) -> String {
        var lines: [String] = []
        func metric(_ name: String, _ type: String, _ help: String, _ samples: [(labels: String, value: String)]) {
            lines.append("# HELP \(name) \(help)")
            lines.append("# TYPE \(name) \(type)")
            for sample in samples { lines.append("\(name)\(sample.labels) \(sample.value)") }
        }
        func label(_ pairs: [(String, String)]) -> String {
            "{" + pairs.map { "\($0.0)=\"\(escape($0.1))\"" }.joined(separator: ",") + "}"
        }
        let rules = report?.rules ?? []
        let perRule: [(String, String, KeyPath<RuleTally, Int>)] = [
            ("retentiond_records_due", "Records past their cutoff and not exempt in the last run, per rule.", \.due),
            ("retentiond_records_flagged", "Records flagged by the last run, per rule.", \.flagged),
            ("retentiond_records_anonymised", "Records anonymised by the last run, per rule.", \.anonymised),
            ("retentiond_records_purged", "Records purged by the last run, per rule.", \.purged),
            (
                "retentiond_records_stale", "Planned records skipped as no longer due in the last run, per rule.",
                \.stale
            ),
        ]
        for (name, help, path) in perRule {
            metric(name, "gauge", help, rules.map { (label([("rule", $0.rule)]), String($0[keyPath: path])) })
        }
        metric(
            "retentiond_records_became_due", "gauge",
            "Records the last run's own changes made due (left for the next run), per rule whose due records depend on a table it changed.",
            rules.compactMap { r in r.becameDue.map { (label([("rule", r.rule)]), String($0)) } })
        metric(
            "retentiond_records_taken", "gauge",
            "Due records of a rule that an earlier rule of the last run deleted first (counted there), per rule.",
            rules.map { (label([("rule", $0.rule)]), String($0.takenTotal)) })
        let failed = report?.failedByRule ?? [:]
        metric(
            "retentiond_records_failed", "gauge",
            "Records the database refused to change in the last run (isolated; the run went on), per rule.",
            rules.map { (label([("rule", $0.rule)]), String(failed[$0.rule] ?? 0)) })
        metric(
            "retentiond_records_exempt", "gauge",
            "Records past their cutoff but kept in the last run, per rule and reason.",
            rules.flatMap { r in
                r.exempt.sorted { $0.key < $1.key }.map {
                    (label([("rule", r.rule), ("reason", $0.key)]), String($0.value))
                }
            })
        metric(
            "retentiond_run_duration_seconds", "gauge", "Duration of the last run.",
            finishedAt == nil ? [] : [("", String(format: "%.3f", report?.durationSeconds ?? 0))])
        metric(
            "retentiond_last_run_timestamp_seconds", "gauge", "When the last run ended (Unix time).",
            finishedAt.map { [("", String(format: "%.3f", $0.timeIntervalSince1970))] } ?? [])
        let lastSuccess = succeeded ? finishedAt?.timeIntervalSince1970 ?? carried.lastSuccess : carried.lastSuccess
        metric(
            "retentiond_last_success_timestamp_seconds", "gauge",
            "When the last complete enforcing run ended (Unix time); alert when it stops moving.",
            lastSuccess.map { [("", String(format: "%.3f", $0))] } ?? [])
        let runFailed = finishedAt != nil && !succeeded
        metric(
            "retentiond_run_failures_total", "counter", "Runs that failed, stopped early or were refused.",
            [("", String(carried.failures + (runFailed ? 1 : 0)))])
        metric(
            "retentiond_last_run_success", "gauge", "1 if the last run completed, 0 otherwise.",
            finishedAt == nil ? [] : [("", succeeded ? "1" : "0")])
        return lines.joined(separator: "\n") + "\n"
    }

    static func escape(_ value: String) -> String {
        value.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
            .replacingOccurrences(of: "\n", with: "\\n")
    }

    /// Writes the metrics atomically (node_exporter never reads half a file), readable by all;
    /// `finishedAt` nil before any run (see `render`).
    public static func write(report: RunReport?, succeeded: Bool, finishedAt: Date?, to path: String) throws {
        let text = render(report: report, succeeded: succeeded, finishedAt: finishedAt, carried: carried(from: path))
        try StateFiles.writePrivate(Data(text.utf8), to: path)
        chmod(path, 0o644)
    }
}
