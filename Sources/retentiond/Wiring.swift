import ArgumentParser
import Foundation
import Logging
import RetentionCore
import RetentionEngine
import RetentionMariaDB
import RetentionPostgres
import RetentionSQLite
import RetentionStore

/// The composition root: how a command turns its options into the engine's parts — the policy
/// read and its settings overridden (`PolicyOptions.loadPolicy`), the database opened to read or to write, the
/// policy validated against it, the audit key loaded — and nothing else. Commands ask for a
/// planner or an enforcer here; the engine never reads options, files or the environment itself.
extension PolicyOptions {
    /// Opens the database to read only: what `check`, `plan`, `audit` and `hold list` use.
    func openReader(_ database: DatabaseLocation) async throws -> ReadOnlyStore {
        switch database {
        case .sqlite(let path): return try SQLiteStore.reader(path: path)
        case .postgres(let location):
            return try await PostgresStore.reader(
                settings: location, credentialsDirectory: credentialsDirectory, logger: logger())
        case .mariadb(let location):
            return try await MariaDBStore.reader(
                settings: location, credentialsDirectory: credentialsDirectory, logger: logger())
        }
    }

    /// Opens the database to read and write; its batches wait `lockWait` at most for a lock
    /// another session holds.
    func openStore(_ database: DatabaseLocation, lockWait: Duration = defaultLockWait) async throws
        -> any RecordStore
    {
        switch database {
        case .sqlite(let path): return try SQLiteStore(path: path, lockWait: lockWait)
        case .postgres(let location):
            return try await PostgresStore(
                settings: location, credentialsDirectory: credentialsDirectory, logger: logger(), lockWait: lockWait)
        case .mariadb(let location):
            return try await MariaDBStore(
                settings: location, credentialsDirectory: credentialsDirectory, logger: logger(), lockWait: lockWait)
        }
    }

    /// Whether the archive exists with every table its rules govern (`--archive`). Before the
    /// first run that archives records it does not — that run creates it — and its rules have
    /// nothing to act on.
    func archiveIsMade() async throws -> Bool {
        let (policy, settings, _) = try loadPolicy()
        if case .sqlite(let path) = settings.database, !FileManager.default.fileExists(atPath: path) { return false }
        let schema = try await openReader(settings.database).read { try $0.schema() }
        let tables = Set(schema.tables.keys.map { $0.lowercased() })
        return policy.subjects.allSatisfy { tables.contains($0.table.value.lowercased()) }
    }

    /// False (and said) for the archive's phase while the archive is not made yet; true otherwise.
    func archiveIsReady() async throws -> Bool {
        guard archive else { return true }
        if try await archiveIsMade() { return true }
        writeMessage(
            "retentiond: the archive has no archived tables yet: the first run that archives a record creates them; its rules have nothing to do until then",
            level: .notice)
        return false
    }

    /// How many read-only connections a dry run opens beside its own to count child rows: two keep
    /// both cores of a small machine busy while the plan reads its pages (docs/operations.md).
    static let childCountingConnections = 2

    /// Parses, opens read-only and validates: what a dry run starts with. No audit key is created.
    /// `countingChildren` (a dry run that counts the child rows due records would take) opens
    /// read-only connections of their own for those counts (`PlanningPass.counters`), when a rule
    /// has child rows to count.
    func loadPlanner(countingChildren: Bool = false) async throws -> (PlanningPass, [Diagnostic]) {
        let (policy, settings, parseWarnings) = try loadPolicy()
        let reader = try await openReader(settings.database)
        let (resolved, diagnostics) = try await validated(policy, parseWarnings: parseWarnings, store: reader)
        let key = try await loadKey(settings: settings, store: reader, create: false, logger: logger())
        let counted = countingChildren && PlanningPass.countsChildren(resolved)
        var counters: [any RecordReader] = []
        while counted && counters.count < Self.childCountingConnections {
            do {
                counters.append(try await openReader(settings.database))
            } catch {
                logger().notice(
                    "child rows are counted on the plan's own connection: another could not be opened (\(error))")
                break
            }
        }
        return (
            PlanningPass(
                resolved: resolved, settings: settings, reader: reader, key: key, logger: logger(), counters: counters),
            diagnostics
        )
    }

    /// Parses, opens for writing and validates: what every enforcing command starts with. The audit
    /// key is created on a database's first enforcing run (and said so).
    /// `loadingKey` false: the engine gets no key (`audit rotate-key` reads the key file itself).
    func loadEnforcer(actor: String, lockWait: Duration = defaultLockWait, loadingKey: Bool = true) async throws -> (
        Enforcer, [Diagnostic]
    ) {
        let (policy, settings, parseWarnings) = try loadPolicy()
        let store = try await openStore(settings.database, lockWait: lockWait)
        // The first thing a command that may change data says: what it reads and what it changes.
        writeMessage(
            "retentiond: policy \(policy.path) (sha256 \(policy.hash.prefix(16))…), database \(store.location)",
            level: .notice)
        let (resolved, diagnostics) = try await validated(
            policy, parseWarnings: parseWarnings, store: store, advising: false)
        let key =
            loadingKey ? try await loadKey(settings: settings, store: store, create: true, logger: logger()) : nil
        var enforcer = Enforcer(
            resolved: resolved, settings: settings, store: store, key: key, actor: actor, logger: logger())
        // Rules that archive records write into the archive too (created on the first run).
        if !policy.archivingRules.isEmpty {
            let whole = try loadWholePolicy()
            let archived = whole.policy.enforced(in: .archive)
            let database = whole.settings.enforced(in: .archive).database
            // A new SQLite archive is made readable by its owner only (docs/operations.md, "The archive").
            if case .sqlite(let path) = database, !FileManager.default.fileExists(atPath: path),
                !FileManager.default.createFile(atPath: path, contents: nil, attributes: [.posixPermissions: 0o600])
            {
                throw CommandFailure.archiveNotCreated(path: path)
            }
            enforcer.archive = ArchiveTarget(
                store: try await openStore(database, lockWait: lockWait), policy: archived)
        }
        // Under systemd (which sets INVOCATION_ID for every unit) each head is kept in the journal,
        // a copy off the database; in a terminal it is one line of noise per run.
        if ProcessInfo.processInfo.environment["INVOCATION_ID"] == nil { enforcer.headLogLevel = .info }
        return (enforcer, diagnostics)
    }

    private func validated(
        _ policy: Policy, parseWarnings: [Diagnostic], store: any RecordReader,
        advising: Bool = true
    ) async throws -> (ResolvedPolicy, [Diagnostic]) {
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
func loadKey(settings: RunSettings, store: any RecordReader, create: Bool, logger: Logger) async throws -> AuditKey? {
    let anchor = AuditAnchor(store: store, stateDirectory: settings.stateDirectory)
    guard
        let (key, created) = try await anchor.loadKey(
            path: settings.keyFile, create: create, credentialsDirectory: credentialsDirectory)
    else { return nil }
    if created {
        logger.notice(
            "created a new audit key at \(settings.keyFile): back it up now, with the same care as the database; without it the audit trail cannot be verified (docs/deployment.md)"
        )
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
