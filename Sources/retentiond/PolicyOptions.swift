import ArgumentParser
import Foundation
import Logging
import Synchronization
import RetentionCore
import RetentionEngine
import RetentionMariaDB
import RetentionPostgres
import RetentionSQLite
import RetentionStore

/// Options every command that reads a policy shares.
struct PolicyOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("The policy file.", discussion: "Default: etc/retentiond/retentiond.yaml in the current directory, else /etc/retentiond/retentiond.yaml.", valueName: "file"))
    var config: String?

    @Option(name: .long, help: ArgumentHelp("Use this state directory instead of the policy's state_dir (systemd's $STATE_DIRECTORY is used when set).", valueName: "dir"))
    var stateDir: String?

    @Option(name: .long, help: ArgumentHelp("Use this database instead of the policy's `database`: postgres://user@host:port/db?sslmode=disable|prefer|require|verify-full, mariadb://user@host:port/db?ssl-mode=… (or mysql://), or sqlite:PATH. A password in it is visible to other local users: prefer the policy's password_file.", valueName: "url"))
    var databaseURL: String?

    @Option(name: .long, help: ArgumentHelp("Write reports into this directory instead of the policy's reports.dir.", valueName: "dir"))
    var reportsDir: String?

    @Option(name: .long, help: ArgumentHelp("Act as if the time were this ISO-8601 instant, e.g. 2026-01-31T00:00:00Z (tests, reproducing a plan).", valueName: "time"))
    var now: Instant?

    @Option(name: .long, help: ArgumentHelp("Records per batch (one transaction each), 1 to 5000; overrides the policy's batch_size (default 5000).", valueName: "n"))
    var batchSize: Int?

    @Option(name: .long, help: ArgumentHelp("How much to log.", valueName: "level"))
    var logLevel: Logger.Level = .notice

    @Option(name: .long, help: ArgumentHelp("Log lines as text (under the journal: with syslog priorities, no timestamps) or json.", valueName: "format"))
    var logFormat: LogFormat = .text

    /// Not an option: the demo's own key, whatever the policy's `audit.key_file` names (an
    /// installed policy names the production key).
    var keyFileOverride: String? = nil

    func configPath() throws -> String {
        if let config { return config }
        for candidate in ["etc/retentiond/retentiond.yaml", "/etc/retentiond/retentiond.yaml"]
        where FileManager.default.fileExists(atPath: candidate) {
            return candidate
        }
        throw CommandFailure(.policyInvalid, "no policy file found; give one with --config FILE (see docs/policy.md)")
    }

    func currentTime() -> Date { now?.date ?? Date() }

    func logger() -> Logger {
        return Logger(label: "retentiond") { [logFormat, logLevel] label in logFormat.handler(label: label, level: logLevel) }
    }

    func validate() throws {
        // Messages written beside the log (errors, the warnings' count) follow its format.
        messagesAsJSON.store(logFormat == .json, ordering: .relaxed)
        if let batchSize, !Policy.batchSizes.contains(batchSize) {
            throw ValidationError("--batch-size must be between \(Policy.batchSizes.lowerBound) and \(Policy.batchSizes.upperBound)")
        }
    }

    /// Parses the policy and applies the command-line overrides; throws with every error.
    func loadPolicy() throws -> (Policy, [Diagnostic]) {
        let path = try configPath()
        let override = stateDir ?? ProcessInfo.processInfo.environment["STATE_DIRECTORY"]?.split(separator: ":").first.map(String.init)
        var (policy, diagnostics) = try PolicyParser(path: path, stateDirectoryOverride: override, credentialsDirectory: credentialsDirectory).parseFile()
        if let batchSize { policy.batchSize = batchSize }
        if let keyFileOverride { policy.keyFile = keyFileOverride }
        if let databaseURL, databaseURL.hasPrefix("sqlite:") {
            let path = String(databaseURL.dropFirst("sqlite:".count))
            guard !path.isEmpty else { throw ValidationError("--database-url sqlite:PATH needs the path of the database file") }
            policy.database = .sqlite(path: URL(fileURLWithPath: path).standardizedFileURL.path)
        } else if let databaseURL, let location = MariaDBLocation(url: databaseURL) {
            policy.database = .mariadb(location)
        } else if let databaseURL {
            guard let location = PostgresLocation(url: databaseURL) else {
                throw ValidationError("--database-url takes postgres://user@host:port/database (optionally ?sslmode=…), mariadb://user@host:port/database (or mysql://) or sqlite:PATH")
            }
            policy.database = .postgres(location)
        }
        if let reportsDir { policy.reportsDirectory = URL(fileURLWithPath: reportsDir).standardizedFileURL.path }
        return (policy, diagnostics)
    }

    /// Opens the policy's database to read only: what `check`, `plan`, `audit` and `hold list` use.
    func openReader(_ policy: Policy) async throws -> ReadOnlyStore {
        switch policy.database {
        case .sqlite(let path): return try SQLiteStore.reader(path: path)
        case .postgres(let location):
            return try await PostgresStore.reader(settings: location, credentialsDirectory: credentialsDirectory, logger: logger())
        case .mariadb(let location):
            return try await MariaDBStore.reader(settings: location, credentialsDirectory: credentialsDirectory, logger: logger())
        }
    }

    /// Opens the policy's database to read and write; its batches wait `lockWait` at most for a
    /// lock another session holds.
    func openStore(_ policy: Policy, lockWait: Duration = defaultLockWait) async throws -> any RecordStore {
        switch policy.database {
        case .sqlite(let path): return try SQLiteStore(path: path, lockWait: lockWait)
        case .postgres(let location):
            return try await PostgresStore(settings: location, credentialsDirectory: credentialsDirectory, logger: logger(), lockWait: lockWait)
        case .mariadb(let location):
            return try await MariaDBStore(settings: location, credentialsDirectory: credentialsDirectory, logger: logger(), lockWait: lockWait)
        }
    }

    /// How many read-only connections a dry run opens beside its own to count child rows: two keep
    /// both cores of a small machine busy while the plan reads its pages (docs/operations.md).
    static let childCountingConnections = 2

    /// Parses, opens read-only and validates: what a dry run starts with. No audit key is created.
    /// `countingChildren` (a dry run that counts the child rows due records would take) opens
    /// read-only connections of their own for those counts (`PlanningPass.counters`), when a rule
    /// has child rows to count.
    func loadPlanner(countingChildren: Bool = false) async throws -> (PlanningPass, [Diagnostic]) {
        let (policy, parseWarnings) = try loadPolicy()
        let reader = try await openReader(policy)
        let (resolved, diagnostics) = try await validated(policy, parseWarnings: parseWarnings, store: reader)
        let key = try await loadKey(policy: policy, store: reader, create: false, logger: logger())
        let counted = countingChildren && PlanningPass.countsChildren(resolved)
        var counters: [any RecordReader] = []
        while counted && counters.count < Self.childCountingConnections {
            do {
                counters.append(try await openReader(policy))
            } catch {
                logger().notice("child rows are counted on the plan's own connection: another could not be opened (\(error))")
                break
            }
        }
        return (PlanningPass(resolved: resolved, reader: reader, key: key, logger: logger(), counters: counters), diagnostics)
    }

    /// Parses, opens for writing and validates: what every enforcing command starts with. The audit
    /// key is created on a database's first enforcing run (and said so).
    /// `loadingKey` false: the engine gets no key (`audit rotate-key` reads the key file itself).
    func loadEnforcer(actor: String, lockWait: Duration = defaultLockWait, loadingKey: Bool = true) async throws -> (Enforcer, [Diagnostic]) {
        let (policy, parseWarnings) = try loadPolicy()
        let store = try await openStore(policy, lockWait: lockWait)
        // The first thing a command that may change data says: what it reads and what it changes.
        writeMessage("retentiond: policy \(policy.path) (sha256 \(policy.hash.prefix(16))…), database \(store.location)", level: .notice)
        let (resolved, diagnostics) = try await validated(policy, parseWarnings: parseWarnings, store: store, advising: false)
        let key = loadingKey ? try await loadKey(policy: policy, store: store, create: true, logger: logger()) : nil
        var enforcer = Enforcer(resolved: resolved, store: store, key: key, actor: actor, logger: logger())
        // Under systemd (which sets INVOCATION_ID for every unit) each head is kept in the journal,
        // a copy off the database; in a terminal it is one line of noise per run.
        if ProcessInfo.processInfo.environment["INVOCATION_ID"] == nil { enforcer.headLogLevel = .info }
        return (enforcer, diagnostics)
    }

    private func validated(_ policy: Policy, parseWarnings: [Diagnostic], store: any RecordReader,
                           advising: Bool = true) async throws -> (ResolvedPolicy, [Diagnostic]) {
        let (resolved, diagnostics) = try await Enforcer.validate(policy, store: store, advising: advising)
        let all = parseWarnings + diagnostics
        guard let resolved else { throw EnforcementError.policyInvalid(all) }
        return (resolved, all)
    }
}

/// systemd's credentials directory, when the process runs under a unit with `LoadCredential=`.
let credentialsDirectory = ProcessInfo.processInfo.environment["CREDENTIALS_DIRECTORY"]

/// Loads the audit key (AuditAnchor decides whether one may be created) and says so when a new
/// one was: it must be backed up with the database.
func loadKey(policy: Policy, store: any RecordReader, create: Bool, logger: Logger) async throws -> AuditKey? {
    let anchor = AuditAnchor(store: store, stateDirectory: policy.stateDirectory)
    guard let (key, created) = try await anchor.loadKey(path: policy.keyFile, create: create, credentialsDirectory: credentialsDirectory) else { return nil }
    if created {
        logger.notice("created a new audit key at \(policy.keyFile): back it up now, with the same care as the database; without it the audit trail cannot be verified (docs/deployment.md)")
    }
    return key
}

/// The actor recorded in the audit trail when the operator does not name one.
func defaultActor() -> String {
    let env = ProcessInfo.processInfo.environment
    if let name = env["SUDO_USER"] ?? env["USER"] ?? env["LOGNAME"] { return name }
    // No login environment (a service, a container): the account's name, not its number.
    if let entry = getpwuid(getuid()), let name = entry.pointee.pw_name { return String(cString: name) }
    return "uid-\(getuid())"
}

/// An error with the exit status it must end the process with.
struct CommandFailure: Error {
    var status: ExitStatus
    var message: String
    init(_ status: ExitStatus, _ message: String) {
        self.status = status
        self.message = message
    }
}

/// Runs a command body, turning every failure into a message on stderr and a documented exit status.
func reportingFailures(_ body: () async throws -> ExitStatus) async throws {
    let status: ExitStatus
    do {
        status = try await body()
    } catch let error as CommandFailure {
        printError(error.message)
        throw ExitCode(error.status.rawValue)
    } catch let error as ExitCode {
        throw error
    } catch let error as CleanExit {
        throw error
    } catch let error as ValidationError {
        throw error
    } catch {
        let failure = EnforcementError.from(error)
        if case .policyInvalid(let diagnostics) = failure {
            let ordered = diagnostics.sorted { ($0.location.file, $0.location.line, $0.location.column) < ($1.location.file, $1.location.line, $1.location.column) }
            for d in ordered { printError(d.description, prefix: false) }
            let errors = diagnostics.filter { $0.severity == .error }.count
            printError("policy invalid: \(errors) error(s); nothing was changed")
        } else {
            printError(failure.description)
        }
        throw ExitCode(ExitStatus(failure.kind).rawValue)
    }
    if status != .success { throw ExitCode(status.rawValue) }
}

/// Under the journal, each line carries its syslog priority so errors are stored as errors.
private let journalPrefixes = LogFormat.stderrIsJournal()
/// With `--log-format json`, what the commands write to stderr beside the log is JSON too.
let messagesAsJSON = Atomic<Bool>(false)

/// One message on stderr: a line (with its syslog priority under the journal) or, with
/// `--log-format json`, one JSON object like the log's.
func writeMessage(_ text: String, level: Logger.Level) {
    if messagesAsJSON.load(ordering: .relaxed) {
        let object: [String: Any] = ["time": ISO8601DateFormatter().string(from: Date()), "level": level.rawValue, "label": "retentiond", "message": text]
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data()
        FileHandle.standardError.write(data + Data("\n".utf8))
    } else {
        let priority = journalPrefixes ? "<\(LineLogHandler.priority(level))>" : ""
        FileHandle.standardError.write(Data((priority + text.printable + "\n").utf8))
    }
}

func printError(_ message: String, prefix: Bool = true) {
    writeMessage((prefix ? "retentiond: error: " : "") + message, level: .error)
}

/// Outside `check`, a policy's warnings are one line, once per command: `check` lists them.
func noteWarnings(_ diagnostics: [Diagnostic]) {
    let count = diagnostics.filter { $0.severity == .warning }.count
    guard count > 0 else { return }
    writeMessage("the policy has \(count) warning(s); `retentiond check` lists them", level: .notice)
}

func printWarnings(_ diagnostics: [Diagnostic]) {
    for d in diagnostics where d.severity == .warning { writeMessage(d.description, level: .warning) }
}
