import ArgumentParser
import Foundation
import Logging
import RetentionCore

/// Options every command that reads a policy shares.
struct PolicyOptions: ParsableArguments {
    @Option(
        name: .long,
        help: ArgumentHelp(
            "The policy file.",
            discussion:
                "Default: etc/retentiond/retentiond.yaml in the current directory, else /etc/retentiond/retentiond.yaml.",
            valueName: "file"))
    var config: String?

    @Option(
        name: .long,
        help: ArgumentHelp(
            "Use this state directory instead of the policy's state_dir (systemd's $STATE_DIRECTORY is used when set).",
            valueName: "dir"))
    var stateDir: String?

    @Option(
        name: .long,
        help: ArgumentHelp(
            "Use this database instead of the policy's `database`: postgres://user@host:port/db?sslmode=disable|prefer|require|verify-full, mariadb://user@host:port/db?ssl-mode=… (or mysql://), or sqlite:PATH. A password in it is visible to other local users: prefer the policy's password_file.",
            valueName: "url"))
    var databaseURL: String?

    @Option(
        name: .long,
        help: ArgumentHelp(
            "Use this archive database instead of the policy's `archive` (the same forms as --database-url, and the same kind of database).",
            valueName: "url"))
    var archiveURL: String?

    @Option(
        name: .long,
        help: ArgumentHelp("Write reports into this directory instead of the policy's reports.dir.", valueName: "dir"))
    var reportsDir: String?

    @Option(
        name: .long,
        help: ArgumentHelp(
            "Act as if the time were this ISO-8601 instant, e.g. 2026-01-31T00:00:00Z (tests, reproducing a plan).",
            valueName: "time"))
    var now: Instant?

    @Option(
        name: .long,
        help: ArgumentHelp(
            "Records per batch (one transaction each), 1 to 5000; overrides the policy's batch_size (default 5000).",
            valueName: "n"))
    var batchSize: Int?

    @Option(name: .long, help: ArgumentHelp("How much to log.", valueName: "level"))
    var logLevel: Logger.Level = .notice

    @Option(
        name: .long,
        help: ArgumentHelp(
            "Log lines as text (under the journal: with syslog priorities, no timestamps) or json.", valueName: "format"
        ))
    var logFormat: LogFormat = .text

    @Flag(
        name: .long,
        help: ArgumentHelp(
            "Act on the archive database (the policy's `archive`) and its rules (`phase: archive`) instead of the application's database: its plan, holds, audit trail, reports and state (state_dir/archive).",
            discussion: "`run` and `serve` enforce both phases without it; see docs/policy.md, \"Archive\"."))
    var archive = false

    /// The phase the command works on: the application's database, or the archive (`--archive`).
    var phase: Phase { archive ? .archive : .active }

    /// Not an option: the demo's own key, whatever the policy's `audit.key_file` names (an
    /// installed policy names the production key).
    var keyFileOverride: String? = nil

    func configPath() throws -> String {
        if let config { return config }
        for candidate in ["etc/retentiond/retentiond.yaml", "/etc/retentiond/retentiond.yaml"]
        where FileManager.default.fileExists(atPath: candidate) {
            return candidate
        }
        throw CommandFailure.noPolicyFound()
    }

    func currentTime() -> Date { now?.date ?? Date() }

    func logger() -> Logger {
        return Logger(label: "retentiond") { [logFormat, logLevel] label in
            logFormat.handler(label: label, level: logLevel)
        }
    }

    func validate() throws {
        // Messages written beside the log (errors, the warnings' count) follow its format.
        messagesAsJSON.store(logFormat == .json, ordering: .relaxed)
        if let batchSize, !RunSettings.batchSizes.contains(batchSize) {
            throw ValidationError(
                "--batch-size must be between \(RunSettings.batchSizes.lowerBound) and \(RunSettings.batchSizes.upperBound)"
            )
        }
        // As the policy's `batch_size` is warned about (`check`), said here on every command given it.
        if let batchSize, batchSize < RunSettings.costlyBatchSize {
            let warning = RunSettings.costlyBatchSizeWarning(batchSize)
            writeMessage(
                "retentiond: warning: --batch-size \(batchSize) \(warning.cost); \(warning.hint) (docs/operations.md, \"Batch size\")",
                level: .warning)
        }
    }

    /// A database named on the command line: postgres://…, mariadb://… (or mysql://…) or sqlite:PATH.
    static func location(_ url: String, option: String) throws -> DatabaseLocation {
        if url.hasPrefix("sqlite:") {
            let path = String(url.dropFirst("sqlite:".count))
            guard !path.isEmpty else {
                throw ValidationError("\(option) sqlite:PATH needs the path of the database file")
            }
            return .sqlite(path: URL(fileURLWithPath: path).standardizedFileURL.path)
        }
        if let location = MariaDBLocation(url: url) { return .mariadb(location) }
        guard let location = PostgresLocation(url: url) else {
            throw ValidationError(
                "\(option) takes postgres://user@host:port/database (optionally ?sslmode=…), mariadb://user@host:port/database (or mysql://) or sqlite:PATH"
            )
        }
        return .postgres(location)
    }

    /// Parses the policy, applies the command-line overrides to its settings, and keeps the rules
    /// (and the settings) of the phase the command works on (`--archive`); throws with every error.
    func loadPolicy() throws -> PolicyParser.Parsed {
        let whole = try loadWholePolicy()
        if archive && whole.settings.archive == nil {
            throw CommandFailure.noArchiveNamed()
        }
        return (whole.policy.enforced(in: phase), whole.settings.enforced(in: phase), whole.diagnostics)
    }

    /// The policy with both phases' rules, and the application's settings: what `register` shows,
    /// and what a command splits itself.
    func loadWholePolicy() throws -> PolicyParser.Parsed {
        let path = try configPath()
        let override =
            stateDir
            ?? ProcessInfo.processInfo.environment["STATE_DIRECTORY"]?.split(separator: ":").first.map(String.init)
        let (policy, written, diagnostics) = try PolicyParser(
            path: path, stateDirectoryOverride: override, credentialsDirectory: credentialsDirectory
        ).parseFile()
        return (policy, try overriding(written), diagnostics)
    }

    /// The policy file's settings with the command line's replacing them.
    func overriding(_ written: RunSettings) throws -> RunSettings {
        var settings = written
        if let batchSize { settings.batchSize = batchSize }
        if let keyFileOverride { settings.keyFile = keyFileOverride }
        if let databaseURL { settings.database = try Self.location(databaseURL, option: "--database-url") }
        if let archiveURL {
            let archive = try Self.location(archiveURL, option: "--archive-url")
            guard archive.kindName == settings.database.kindName else {
                throw ValidationError(
                    "--archive-url names a \(archive.kindName) database; the archive must be the same kind as the database (\(settings.database.kindName))"
                )
            }
            guard archive != settings.database else {
                throw ValidationError("--archive-url names the governed database itself; the archive is a separate one")
            }
            settings.archive = archive
        } else if let archive = settings.archive, archive.kindName != settings.database.kindName {
            throw ValidationError(
                "--database-url names a \(settings.database.kindName) database, and the policy's archive is \(archive.kindName): give the archive of the same kind with --archive-url"
            )
        }
        if let reportsDir { settings.reportsDirectory = URL(fileURLWithPath: reportsDir).standardizedFileURL.path }
        return settings
    }
}
