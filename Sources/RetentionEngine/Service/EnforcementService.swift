import Foundation
import Logging
import RetentionCore
import ServiceLifecycle
import Synchronization
import UnixSignals

/// `retentiond serve`: runs the policy on its schedule until told to stop.
///
/// Each run is exactly `retentiond run`. On graceful shutdown (SIGTERM, SIGINT) a run under way
/// ends at the next batch boundary. SIGHUP re-reads the policy; an invalid one is reported and the
/// previous one kept. systemd is told READY, STATUS, WATCHDOG and STOPPING; every run writes its
/// report and, when asked, the metrics file. The time of each run comes from `clock`.
public final class EnforcementService<Time: ServiceClock>: Service, Sendable {
    /// Parses and validates the policy again (for SIGHUP).
    public typealias Loader = @Sendable () async throws -> Enforcer
    /// The archive's phase, loaded afresh after each run of the application's database (the run
    /// that first archives makes it); nil while there is nothing to enforce there.
    public typealias PhaseLoader = @Sendable () async throws -> Enforcer?

    private let clock: Time
    private let current: Mutex<Enforcer>
    private let status = Mutex("starting")
    private let load: Loader
    private let archivePhase: PhaseLoader?
    private let notifier: SystemdNotifier
    private let metricsPath: String?
    private let logger: Logger

    public init(
        enforcer: Enforcer, load: @escaping Loader, archivePhase: PhaseLoader? = nil, clock: Time,
        notifier: SystemdNotifier,
        metricsPath: String?, logger: Logger
    ) {
        self.clock = clock
        current = Mutex(enforcer)
        self.load = load
        self.archivePhase = archivePhase
        self.notifier = notifier
        self.metricsPath = metricsPath
        self.logger = logger
    }

    public var enforcer: Enforcer { current.withLock { $0 } }

    public func run() async throws {
        let notifier = self.notifier
        await withGracefulShutdownHandler {
            await withThrowingTaskGroup(of: Void.self) { group in
                if let interval = SystemdNotifier.watchdogInterval() {
                    group.addTask {
                        while !Task.isCancelled {
                            notifier.send("WATCHDOG=1")
                            try await Task.sleep(for: interval)
                        }
                    }
                }
                let hangups = await UnixSignalsSequence(trapping: .sighup)
                group.addTask { [self] in
                    for await _ in hangups { await self.reload() }
                }
                // The metrics exist from the start: a service whose first run is hours away is not
                // mistaken for one that is not there.
                if let metricsPath {
                    do {
                        try MetricsFile.write(report: nil, succeeded: false, finishedAt: nil, to: metricsPath)
                    } catch {
                        logger.error(
                            "cannot write the metrics file", metadata: ["path": "\(metricsPath)", "error": "\(error)"])
                    }
                }
                notifier.send(
                    "READY=1\nSTATUS=ready: \(enforcer.policy.rules.count) rules, \(enforcer.settings.schedule.description)"
                )
                logger.notice(
                    "ready",
                    metadata: [
                        "policy": "\(enforcer.policy.path)", "schedule": "\(enforcer.settings.schedule.description)",
                    ])
                await schedulingLoop()
                group.cancelAll()
            }
        } onGracefulShutdown: {
            notifier.send("STOPPING=1")
        }
        logger.notice("stopped")
    }

    func schedulingLoop() async {
        var first = true
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            let (schedule, calendar) = (enforcer.settings.schedule, enforcer.policy.calendar)
            let now = clock.now
            let next =
                first && schedule.runAtStart
                ? now : schedule.next(after: now, calendar: calendar, jitter: Double.random(in: 0..<1))
            first = false
            let iso = ISO8601DateFormatter().string(from: next)
            notifier.send("STATUS=\(status.withLock { $0 }); next run \(iso)")
            logger.info("next run scheduled", metadata: ["at": "\(iso)"])
            if next > now {
                try? await cancelWhenGracefulShutdown { [clock] in try await clock.sleep(until: next) }
            }
            if Task.isShuttingDownGracefully || Task.isCancelled { break }
            await runOnce()
        }
    }

    /// One enforcing run — the application's database, then the archive's when the policy has
    /// one; failures are reported (log, status, metrics, report) and the schedule goes on. The
    /// metrics describe the application's database's run.
    func runOnce() async {
        let stop = StopRequest()
        let now = clock.now
        notifier.send("STATUS=running")
        let report = await runPhase(enforcer, now: now, stop: stop)
        if let archivePhase, !stop.isRequested, !Task.isShuttingDownGracefully {
            do {
                if let archive = try await archivePhase() { _ = await runPhase(archive, now: now, stop: stop) }
            } catch {
                let failure = EnforcementError.from(error)
                logger.error(
                    "the archive's run could not start",
                    metadata: ["error": "\(failure.description)", "failure": "\(failure.kind.rawValue)"])
                status.withLock { $0 = "the archive's last run failed (\(failure.kind.rawValue)): \(failure.summary)" }
            }
        }
        if let metricsPath {
            do {
                try MetricsFile.write(
                    report: report, succeeded: report?.succeeded == true, finishedAt: clock.now, to: metricsPath)
            } catch {
                logger.error(
                    "cannot write the metrics file", metadata: ["path": "\(metricsPath)", "error": "\(error)"])
            }
        }
        notifier.send("STATUS=\(status.withLock { $0 })")
    }

    /// One database's run, its report written and said; nil when it could not even be refused with a report.
    func runPhase(_ enforcer: Enforcer, now: Date, stop: StopRequest) async -> RunReport? {
        var report: RunReport?
        do {
            report = try await withGracefulShutdownHandler {
                try await enforcer.run(now: now, allowMore: false, stop: stop)
            } onGracefulShutdown: {
                stop.request()
            }
        } catch {
            let failure = EnforcementError.from(error)
            report = enforcer.refusedReport(for: failure, mode: .run, now: now)
            logger.error(
                "run failed", metadata: ["error": "\(failure.description)", "failure": "\(failure.kind.rawValue)"])
            status.withLock { $0 = "last run failed (\(failure.kind.rawValue)): \(failure.summary)" }
        }
        if let report {
            let forecast = await enforcer.reportForecast(now: now)
            if let paths = try? StateFiles.writeReport(
                report, policy: enforcer.policy, settings: enforcer.settings, forecast: forecast)
            {
                logger.info("report written", metadata: ["report": "\(paths.json)"])
            }
            if report.status != .refused {
                status.withLock {
                    $0 = "last run \(report.runID) \(report.status.rawValue): \(report.totalChanged) changed"
                }
                logger.notice(
                    "run finished",
                    metadata: [
                        "run": "\(report.runID)", "status": "\(report.status.rawValue)",
                        "database": "\(enforcer.store.location)",
                        "changed": "\(report.totalChanged)",
                        "seconds": "\(String(format: "%.3f", report.durationSeconds))",
                    ])
            }
        }
        return report
    }

    /// SIGHUP: load and validate the policy again; keep the current one unless the new one is valid.
    func reload() async {
        notifier.send("RELOADING=1\nMONOTONIC_USEC=\(Self.monotonicMicroseconds())")
        do {
            let fresh = try await load()
            current.withLock { $0 = fresh }
            logger.notice(
                "policy reloaded",
                metadata: ["policy": "\(fresh.policy.path)", "sha256": "\(fresh.policy.hash.prefix(12))"])
            notifier.send(
                "READY=1\nSTATUS=policy reloaded (sha256 \(fresh.policy.hash.prefix(12))); \(status.withLock { $0 })")
        } catch {
            let failure = EnforcementError.from(error)
            if case .policyInvalid(let diagnostics) = failure {
                for d in diagnostics where d.severity == .error { logger.error("\(d.description)") }
            }
            let kept = enforcer.policy.hash.prefix(12)
            logger.error(
                "policy reload failed; still enforcing the previous policy",
                metadata: ["sha256": "\(kept)", "error": "\(failure.summary)"])
            notifier.send(
                "READY=1\nSTATUS=policy reload failed: \(failure.summary); still enforcing the previous policy (sha256 \(kept))"
            )
        }
    }

    static func monotonicMicroseconds() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return UInt64(ts.tv_sec) * 1_000_000 + UInt64(ts.tv_nsec) / 1000
    }
}
