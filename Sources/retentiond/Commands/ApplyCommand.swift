import ArgumentParser
import Foundation
import RetentionCore
import RetentionEngine

struct ApplyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "apply",
        abstract:
            "Execute a saved plan. Each record is re-checked first; one no longer due is skipped as stale, never forced.",
        discussion:
            "A plan made from a different policy or database (or whose schema changed) is refused, as is a plan cut short. Safety limits apply unless --allow-more. Exit 0 on success."
    )

    @Argument(help: ArgumentHelp("The plan written by `retentiond plan --out`.", valueName: "plan"))
    var plan: String

    @OptionGroup var options: PolicyOptions

    @OptionGroup(title: "Sharing the database") var pacing: PacingOptions

    @Option(
        name: .long,
        help: ArgumentHelp(
            "text, or json: the run's report (docs/operations.md, \"Machine-readable output\") on standard output.",
            valueName: "format"))
    var format: OutputFormat = .text

    @Flag(name: .long, help: "Proceed even when a rule exceeds its safety limits (max_records, max_percent).")
    var allowMore = false

    @Flag(
        name: .long,
        help:
            "Enforce even when a relation or child that no index serves would scan a table of more than 10,000 rows for every record (refused otherwise, naming the CREATE INDEX to run)."
    )
    var allowUnindexed = false

    @Option(
        name: .long,
        help: ArgumentHelp("Who applies the plan, for the audit trail (default: the Unix user).", valueName: "name"))
    var actor: String?

    func run() async throws {
        try await reportingFailures {
            var (enforcer, diagnostics) = try await options.loadEnforcer(
                actor: actor ?? defaultActor(), lockWait: pacing.lockWait.duration)
            enforcer.pacing = pacing.pacing
            enforcer.allowUnindexed = allowUnindexed
            // A person watching a terminal sees one line per rule redrawn; the journal gets a line every few seconds.
            if isatty(STDERR_FILENO) == 1 && format == .text { enforcer.progress = .terminal }
            noteWarnings(diagnostics)
            let now = options.currentTime()
            return try await watchingSignals { signals in
                let report = try await reportingRefusal(enforcer, mode: .apply, now: now) {
                    try await enforcer.apply(planPath: plan, wallClock: now, allowMore: allowMore, stop: signals.stop)
                }
                let status = try await finishEnforcement(
                    report, enforcer: enforcer, format: format, stopped: signals.exitStatus != nil)
                if let stopped = signals.exitStatus { throw ExitCode(stopped) }
                return status
            }
        }
    }
}

/// Runs an enforcing operation; when it is refused before any change (safety limit, lock, clock,
/// plan mismatch), still writes a report saying so.
/// `onRefusal` receives that report (for the metrics file).
func reportingRefusal(
    _ enforcer: Enforcer, mode: RunReport.Mode, now: Date, onRefusal: (RunReport) -> Void = { _ in },
    _ body: () async throws -> RunReport
) async throws -> RunReport {
    do {
        return try await body()
    } catch {
        if let report = enforcer.refusedReport(for: EnforcementError.from(error), mode: mode, now: now) {
            onRefusal(report)
            if let paths = try? StateFiles.writeReport(
                report, policy: enforcer.policy, settings: enforcer.settings,
                forecast: await enforcer.reportForecast(now: now))
            {
                printError("refused; report: \(paths.markdown)")
            }
        }
        throw error
    }
}

/// Writes the report, prints the summary, and maps an incomplete run to its exit status.
/// Writes the run's report and says how it ended. `stopped`: a signal asked the command to end,
/// so the report has no forecast — one statement per rule, which on a large table without the
/// indexes `check` advises would keep the command from ending.
func finishEnforcement(_ report: RunReport, enforcer: Enforcer, format: OutputFormat = .text, stopped: Bool = false)
    async throws -> ExitStatus
{
    let forecast = stopped ? nil : await enforcer.reportForecast(now: report.now)
    let paths = try StateFiles.writeReport(
        report, policy: enforcer.policy, settings: enforcer.settings, forecast: forecast)
    if format == .json {
        try printJSON(report)
    } else {
        print(Summary.table(report, enforcing: true))
        print("\nrun \(report.runID): \(report.status.rawValue), \(report.totalChanged) record(s) changed")
        if let message = report.message {
            // A worker's "joined the shared run" is news, not an error.
            if report.status == .complete { print(message) } else { printError(message) }
        }
        print("report: \(paths.markdown)\n        \(paths.json)")
    }
    guard report.status == .complete else { return report.failure.map(ExitStatus.init) ?? .failure }
    guard report.failures.isEmpty else {
        let rules = report.failedByRule.sorted { $0.key < $1.key }.map { "\($0.value) of rule `\($0.key)`" }.joined(
            separator: ", ")
        printError(
            "the database refused to change \(report.failures.count) record(s) (\(rules)); every other record was processed. The report lists each by reference and reason"
        )
        return .recordsFailed
    }
    return .success
}
