import ArgumentParser
import Foundation
import Logging
import RetentionCore
import RetentionEngine
import ServiceLifecycle

struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Run as a long-lived service, enforcing the policy on the schedule it gives (systemd Type=notify).",
        discussion: """
            The policy's `schedule:` says when (default: daily at 03:00 in its time zone, up to 15 minutes later). Each run is exactly \
            `retentiond run`: with an archive, the archive's rules run after the application's database's (the metrics describe the \
            latter). SIGTERM or SIGINT stop at the next batch boundary (committed batches stay); SIGHUP re-reads the policy, \
            keeping the old one if the new one is invalid. Under systemd: READY=1 once the policy is valid and the database answers, \
            STATUS= after each run, WATCHDOG=1 at half of WatchdogSec=, STOPPING=1 on shutdown. A policy that is invalid at start \
            exits with status 3 before READY.
            """
    )

    @OptionGroup var options: PolicyOptions

    @OptionGroup(title: "Sharing the database") var pacing: PacingOptions

    @Flag(
        name: .long,
        help:
            "Enforce even when a relation or child that no index serves would scan a table of more than 10,000 rows for every record (refused otherwise, naming the CREATE INDEX to run)."
    )
    var allowUnindexed = false

    @Option(
        name: .long,
        help: ArgumentHelp(
            "After each run, write Prometheus metrics to this file (atomically; node_exporter textfile collector).",
            valueName: "file"))
    var metricsFile: String?

    func run() async throws {
        try await reportingFailures {
            let logger = options.logger()
            if let metricsFile,
                let problem = StateFiles.writeProblem(
                    directory: (metricsFile as NSString).deletingLastPathComponent, holding: "the metrics file")
            {
                throw CommandFailure(.cannotWrite, problem)
            }
            let options = self.options
            let load: EnforcementService<SystemServiceClock>.Loader = {
                var (enforcer, diagnostics) = try await options.loadEnforcer(
                    actor: "retentiond/serve", lockWait: pacing.lockWait.duration)
                enforcer.pacing = pacing.pacing
                enforcer.allowUnindexed = allowUnindexed
                for d in diagnostics where d.severity == .warning { logger.warning("\(d.description)") }
                return enforcer
            }
            // The archive's rules run after each run of the application's database, once it is made.
            let command = self
            var archivePhase: EnforcementService<SystemServiceClock>.PhaseLoader?
            if !options.archive {
                archivePhase = { @Sendable () async throws -> Enforcer? in
                    try await command.loadArchivePhase(options, logger: logger)
                }
            }
            let service = EnforcementService(
                enforcer: try await load(), load: load, archivePhase: archivePhase, clock: SystemServiceClock(),
                notifier: SystemdNotifier(), metricsPath: metricsFile, logger: logger)
            let group = ServiceGroup(
                configuration: ServiceGroupConfiguration(
                    services: [service], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
            try await group.run()
            return .success
        }
    }

    /// The archive's phase as `run` enforces it after the application's database: nil while the
    /// policy has no archive rules or the archive is not made yet.
    func loadArchivePhase(_ options: PolicyOptions, logger: Logger) async throws -> Enforcer? {
        var archive = options
        archive.archive = true
        let whole = try archive.loadWholePolicy()
        guard whole.settings.archive != nil, !whole.policy.enforced(in: .archive).rules.isEmpty else { return nil }
        guard try await archive.archiveIsMade() else { return nil }
        var (enforcer, diagnostics) = try await archive.loadEnforcer(
            actor: "retentiond/serve", lockWait: pacing.lockWait.duration)
        enforcer.pacing = pacing.pacing
        enforcer.allowUnindexed = allowUnindexed
        for d in diagnostics where d.severity == .warning { logger.warning("\(d.description)") }
        return enforcer
    }
}
