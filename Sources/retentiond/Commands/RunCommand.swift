import ArgumentParser
import Foundation
import RetentionCore
import RetentionEngine

struct RunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Plan and apply in one go: what the systemd timer runs.",
        discussion: """
            Takes the run lock, refuses if the clock is earlier than the last completed run, compares the policy with the one the last \
            run enforced (a change that makes more records due stops the run before any change, exit 4, until accepted with \
            --accept-policy-change; see `retentiond diff`), plans every rule, checks the safety limits (stopping before any change), \
            then applies in batches, each batch and its audit entries in one transaction.
            --dry-run plans only (the database is opened read-only) and exits 2 when changes are planned.
            A policy with an archive (`archive:`, docs/policy.md) is enforced in two steps: the application's database (its rules \
            that archive records copy them into the archive first), then the archive's own rules (`phase: archive`), each with its \
            own lock, trail and report (`--archive` runs only the second).
            SIGTERM or SIGINT stop at the next batch boundary (committed batches stay), write the report and metrics of the \
            incomplete run, and exit with 128 + the signal (143, 130); a second signal stops at once.
            """
    )

    @OptionGroup var options: PolicyOptions

    @OptionGroup(title: "Sharing the database") var pacing: PacingOptions

    @Flag(name: .long, help: "Plan only; change nothing.")
    var dryRun = false

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

    @Flag(
        name: .long,
        help: "PostgreSQL: share one run's batches with other `run --worker` processes (the first plans, all work).")
    var worker = false

    @Option(
        name: .long,
        help: ArgumentHelp(
            "Accept a reviewed policy change that makes more records due: the new policy's sha256 (its first 12 hex digits are enough), as the refusal and `retentiond diff` print it. Recorded in the audit trail.",
            valueName: "sha256"))
    var acceptPolicyChange: String?

    func validate() throws {
        if worker && dryRun { throw ValidationError("--worker enforces; it cannot be combined with --dry-run") }
        if let acceptPolicyChange, acceptPolicyChange.count < 12 || !acceptPolicyChange.allSatisfy(\.isHexDigit) {
            throw ValidationError(
                "--accept-policy-change takes the new policy's sha256, at least its first 12 hex digits, not `\(acceptPolicyChange)`"
            )
        }
    }

    @Option(
        name: .long,
        help: ArgumentHelp("Who runs, for the audit trail (default: retentiond/<Unix user>).", valueName: "name"))
    var actor: String?

    @Option(
        name: .long,
        help: ArgumentHelp(
            "After the run, write Prometheus metrics to this file (atomically; node_exporter textfile collector).",
            valueName: "file"))
    var metricsFile: String?

    func run() async throws {
        try await reportingFailures {
            let who = actor ?? "retentiond/\(defaultActor())"
            var report: RunReport?
            // Every outcome of an enforcing run updates the metrics, a run that fails before it
            // plans (policy invalid, database unavailable) included: those are the ones to alert on.
            defer {
                if let metricsFile, !dryRun {
                    do {
                        try MetricsFile.write(
                            report: report, succeeded: report?.succeeded == true, finishedAt: Date(), to: metricsFile)
                    } catch {
                        printError("cannot write the metrics file \(metricsFile): \(error)")
                    }
                }
            }
            if let metricsFile, !dryRun,
                let problem = StateFiles.writeProblem(
                    directory: (metricsFile as NSString).deletingLastPathComponent, holding: "the metrics file")
            {
                throw CommandFailure(.cannotWrite, problem + "; nothing was changed")
            }
            // Without --archive, the archive's own rules run after the application's database's.
            let phases =
                try options.archive || options.loadWholePolicy().policy.enforced(in: .archive).rules.isEmpty
                ? [options]
                : [
                    options,
                    {
                        var o = options
                        o.archive = true
                        return o
                    }(),
                ]
            if dryRun {
                // The same dry run as `plan`, labelled as `run`'s.
                var status = ExitStatus.success
                for phase in phases where try await phase.archiveIsReady() {
                    let ran = try await PlanCommand.dryRun(
                        phase, mode: .dryRun, format: format == .json ? .json : .text)
                    if status == .success { status = ran }
                }
                return status
            }
            return try await watchingSignals { signals in
                var status = ExitStatus.success
                for (i, phase) in phases.enumerated() where try await phase.archiveIsReady() {
                    let ran = try await enforce(phase, actor: who, signals: signals) { if i == 0 { report = $0 } }
                    if let stopped = signals.exitStatus { throw ExitCode(stopped) }
                    if status == .success { status = ran }
                }
                return status
            }
        }
    }

    /// Enforces the policy's rules on one database (`phase.archive`: the archive): plans, applies,
    /// writes the report. `reported` gets the run's report, a refusal's included.
    func enforce(_ phase: PolicyOptions, actor who: String, signals: SignalStop, reported: (RunReport) -> Void)
        async throws -> ExitStatus
    {
        let now = phase.currentTime()
        var (enforcer, diagnostics) = try await phase.loadEnforcer(actor: who, lockWait: pacing.lockWait.duration)
        enforcer.pacing = pacing.pacing
        enforcer.allowUnindexed = allowUnindexed
        enforcer.acceptedPolicyChange = acceptPolicyChange
        // A person watching a terminal sees one line per rule redrawn; the journal gets a line every few seconds.
        if isatty(STDERR_FILENO) == 1 && format == .text { enforcer.progress = .terminal }
        noteWarnings(diagnostics)
        let report = try await reportingRefusal(enforcer, mode: .run, now: now, onRefusal: reported) {
            worker
                ? try await enforcer.runAsWorker(now: now, allowMore: allowMore, stop: signals.stop)
                : try await enforcer.run(now: now, allowMore: allowMore, stop: signals.stop)
        }
        reported(report)
        return try await finishEnforcement(
            report, enforcer: enforcer, format: format, stopped: signals.exitStatus != nil)
    }
}
