import ArgumentParser
import Foundation
import RetentionCore
import RetentionDemo
import RetentionEngine
import RetentionMariaDB
import RetentionPostgres
import RetentionSQLite
import RetentionStore

struct DemoCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "Create a demo database (SQLite), run the matching policy on it, and print what happened.",
        discussion: """
            Writes into --dir (default ./retentiond-demo): the database (crm.sqlite, dolibarr.sqlite or znuny.sqlite), audit.key, \
            audit-head.json, erasure-ledger.jsonl and reports/. An earlier demo database there is replaced. With --dataset crm (the default) the shipped \
            policy etc/retentiond/retentiond.yaml is run unchanged, with --dir as its state directory; with --dataset dolibarr or \
            znuny, a database shaped like that product's is built and etc/examples/<dataset>.yaml is run on it (its database \
            replaced by the demo's). The data is synthetic; with --seed it is the same every time (for the same --now).
            """
    )

    enum Dataset: String, ExpressibleByArgument, CaseIterable {
        case crm, dolibarr, znuny

        /// The policy the dataset is shaped for, relative to the source tree or /etc.
        var policy: String { self == .crm ? "etc/retentiond/retentiond.yaml" : "etc/examples/\(rawValue).yaml" }
        var fileName: String { "\(rawValue).sqlite" }

        func build(seed: UInt64, now: Date, scale: Int) -> DemoDataset {
            switch self {
            case .crm: return DemoDataset(seed: seed, now: now, scale: scale)
            case .dolibarr: return .dolibarr(seed: seed, now: now, scale: scale)
            case .znuny: return .znuny(seed: seed, now: now, scale: scale)
            }
        }
    }

    @Option(
        name: .long,
        help: ArgumentHelp(
            "Which database to build: crm (the shipped policy's demo schema), dolibarr or znuny (shaped like those products', with the policy from etc/examples/).",
            valueName: "name"))
    var dataset: Dataset = .crm

    @Option(name: .long, help: "Seed for the synthetic data (default: random, printed).")
    var seed: UInt64?

    @Option(name: .long, help: ArgumentHelp("Where to write the demo database, key, reports.", valueName: "dir"))
    var dir: String = "retentiond-demo"

    @Option(
        name: .long,
        help: ArgumentHelp(
            "The policy to run (default: the shipped etc/retentiond/retentiond.yaml).", valueName: "file"))
    var config: String?

    @Option(name: .long, help: ArgumentHelp("Act as if the time were this ISO-8601 instant.", valueName: "time"))
    var now: Instant?

    @Option(
        name: .long,
        help: ArgumentHelp(
            "Multiply the amount of data (1 = 1200 third parties and their records), up to 500.", valueName: "n"))
    var scale: Int = 1

    @Flag(
        name: .long,
        help:
            "Let the run go beyond the policy's safety limits (the shipped policy caps a prospect purge at 5000 records, which larger --scale values exceed)."
    )
    var allowMore = false

    @Flag(
        name: .long,
        help:
            "Only create the demo database, as the product would have it (without the indexes `check` advises: run `check` to see them); run nothing (for trying commands by hand, or benchmarks)."
    )
    var noRun = false

    @Option(
        name: .long,
        help: ArgumentHelp(
            "Load the demo into this empty PostgreSQL database instead of a SQLite file in --dir (postgres://user@host:port/db?sslmode=…); --dir still holds the key and reports.",
            valueName: "url"))
    var postgres: String?

    @Option(
        name: .long,
        help: ArgumentHelp(
            "Load the demo into this empty MariaDB database instead (mariadb://user@host:port/db?ssl-mode=…, or mysql://); --dir still holds the key and reports.",
            valueName: "url"))
    var mariadb: String?

    @Option(
        name: .long,
        help: ArgumentHelp(
            "With --postgres or --mariadb and a dataset whose example policy archives records (dolibarr): an empty database of the same server for its archive (a SQLite demo keeps its archive in --dir).",
            valueName: "url"))
    var archiveURL: String?

    func validate() throws {
        guard (1...500).contains(scale) else { throw ValidationError("--scale must be between 1 and 500") }
        guard postgres == nil || mariadb == nil else {
            throw ValidationError("--postgres and --mariadb each name the demo's one database: give one")
        }
    }

    /// The server database named by --postgres or --mariadb, opened, and whether it is MariaDB.
    func serverStore(_ options: PolicyOptions) async throws -> (
        store: any RecordStore, name: String, url: String, mariadb: Bool
    )? {
        if let postgres {
            guard let location = PostgresLocation(url: postgres) else {
                throw ValidationError("--postgres takes postgres://user@host:port/database (optionally ?sslmode=…)")
            }
            let store = try await PostgresStore(
                settings: location, credentialsDirectory: credentialsDirectory, logger: options.logger())
            return (store, location.displayName, postgres, false)
        }
        if let mariadb {
            guard let location = MariaDBLocation(url: mariadb) else {
                throw ValidationError(
                    "--mariadb takes mariadb://user@host:port/database (or mysql://, optionally ?ssl-mode=…)")
            }
            let store = try await MariaDBStore(
                settings: location, credentialsDirectory: credentialsDirectory, logger: options.logger())
            return (store, location.displayName, mariadb, true)
        }
        return nil
    }

    func run() async throws {
        try await reportingFailures {
            let seed = self.seed ?? UInt64.random(in: 1...999_999)
            var options = try PolicyOptions.parse([])
            options.config = try config ?? Self.shippedFile(dataset.policy)
            options.stateDir = dir
            options.now = now
            let now = options.currentTime()
            let fm = FileManager.default
            let dirURL = URL(fileURLWithPath: dir, relativeTo: URL(fileURLWithPath: fm.currentDirectoryPath))
                .standardizedFileURL
            try StateFiles.ensureDirectory(dirURL.path)
            options.keyFileOverride = dirURL.appendingPathComponent("audit.key").path
            let dbPath = dirURL.appendingPathComponent(dataset.fileName).path
            // The earlier demo's database, head and erasure ledger go only once this one is sure to replace them.
            func replaceEarlierDemo() {
                for suffix in ["", "-journal", "-wal", "-shm", ".retentiond-lock"] {
                    try? fm.removeItem(atPath: dbPath + suffix)
                }
                try? fm.removeItem(atPath: StateFiles.headPath(stateDirectory: dirURL.path))
                try? fm.removeItem(atPath: ErasureLedger.path(stateDirectory: dirURL.path))
            }

            let data = dataset.build(seed: seed, now: now, scale: scale)
            let databaseName: String
            let server = try await serverStore(options)
            if let (store, name, url, mariadb) = server {
                options.databaseURL = url
                let first = data.tables[0].name
                if try await store.read({ try $0.schema().table(first) != nil }) {
                    throw CommandFailure.databaseNotEmpty(name, has: first)
                }
                replaceEarlierDemo()
                try await store.transaction { try data.load(into: $0, mariadb: mariadb) }
                // As any bulk load should: the dry run below reads before autovacuum would have analyzed.
                try await store.transaction { [tables = data.tables.map(\.name)] in try $0.analyze(tables: tables) }
                databaseName = name
            } else {
                replaceEarlierDemo()
                try await SQLiteDemo.create(at: dbPath, dataset: data)
                databaseName = dbPath
                // The example policies name a production database: the demo runs them on its own.
                if dataset != .crm { options.databaseURL = "sqlite:" + dbPath }
            }
            print(
                "demo database: \(databaseName) (seed \(seed); "
                    + data.tables.map { "\($0.rows.count) \($0.name)" }.joined(separator: ", ") + ")")

            // An example that archives records (dolibarr) gets an archive of the demo's own.
            var asWritten = options
            (asWritten.databaseURL, asWritten.archiveURL) = (nil, nil)
            if try asWritten.loadWholePolicy().settings.archive != nil {
                // The earlier demo's archive state (its trail's head, its ledger) goes with it.
                try? fm.removeItem(atPath: dirURL.appendingPathComponent("archive").path)
                if server == nil {
                    let archivePath = dirURL.appendingPathComponent(
                        dataset.fileName.replacingOccurrences(of: ".sqlite", with: "-archive.sqlite")
                    ).path
                    for suffix in ["", "-journal"] { try? fm.removeItem(atPath: archivePath + suffix) }
                    options.archiveURL = "sqlite:" + archivePath
                } else if let archiveURL {
                    options.archiveURL = archiveURL
                } else {
                    throw CommandFailure.archiveDatabaseNeeded(example: dataset.rawValue)
                }
            }
            let (policy, settings, _) = try options.loadPolicy()
            if noRun {
                let database =
                    (dataset == .crm ? "" : " --database-url " + (server.map { "'\($0.url)'" } ?? "sqlite:\(dbPath)"))
                    + (options.archiveURL.map { " --archive-url '\($0)'" } ?? "")
                print("policy to try: retentiond plan --config \(policy.path) --state-dir \(dir)\(database)")
                return .success
            }
            if dataset == .crm, case .sqlite(let configured) = settings.database, configured != dbPath {
                throw CommandFailure.demoNeedsItsDatabase(
                    policyPath: policy.path, database: settings.database.displayName)
            }
            print("policy: \(policy.path) (\(policy.subjects.count) subjects, \(policy.rules.count) rules)")

            // A dry run first, as an operator would; it also finds a record for the legal hold below.
            let (dry, diagnostics) = try await options.loadPlanner(countingChildren: true)
            let warnings = diagnostics.filter { $0.severity == .warning }.count
            print(
                warnings == 0
                    ? "check: valid, no warnings"
                    : "check: valid, \(warnings) warning(s): `check` lists them (the first command under \"try next\")")
            // Real Dolibarr and Znuny lack indexes the policies need (on clocks, on LOWER(login)):
            // `check` gives the statements, and the demo follows that advice on its own database.
            let advice = diagnostics.compactMap(\.hint)
            if advice.contains(where: { $0.hasPrefix("CREATE INDEX ") }) {
                let created = try await options.openStore(settings.database).transaction {
                    try DemoDataset.createAdvisedIndexes(advice, in: $0)
                }
                print(
                    "created the \(created.count) index(es) `check` advises, as an operator would: \(created.joined(separator: ", "))"
                )
            }
            // The first record a purge rule would delete gets a legal hold, to show that the run keeps it.
            var heldCandidate: (table: String, key: RecordKey)?
            let purgeTables = Dictionary(
                policy.rules.filter { if case .purge = $0.action { return true } else { return false } }
                    .map { ($0.id, policy.subject(for: $0).table.value) }, uniquingKeysWith: { a, _ in a })
            let plan = try await dry.dryRun(now: now, mode: .dryRun, planPath: nil) { line in
                if heldCandidate == nil, line.decision == .act, let table = purgeTables[line.rule] {
                    heldCandidate = (table, line.key)
                }
            }
            let planPaths = try StateFiles.writeReport(
                plan, policy: policy, settings: settings, forecast: await dry.reportForecast(now: now))
            print(
                "\n== dry run: \(plan.totalDue) record(s) due, nothing changed ==\n"
                    + Summary.table(plan, enforcing: false))

            let (enforcer, _) = try await options.loadEnforcer(actor: "retentiond/demo")
            if let heldCandidate {
                var registry = HoldRegistry(
                    store: enforcer.store, key: enforcer.key!, stateDirectory: settings.stateDirectory)
                registry.policy = policy
                let hold = try await registry.add(
                    table: heldCandidate.table, keyText: heldCandidate.key.description,
                    reason: "demo: litigation case 2026-042",
                    by: "dpo@example.fr", until: nil, now: now)
                print(
                    "\nlegal hold \(hold.id) placed on \(heldCandidate.table):\(hold.key) (it is due for purge; the run must keep it)"
                )
            }
            let report = try await enforcer.run(now: now, allowMore: allowMore)
            let paths = try StateFiles.writeReport(
                report, policy: policy, settings: settings, forecast: await enforcer.reportForecast(now: now))
            print(
                "\n== run \(report.runID): \(report.status.rawValue), \(report.totalChanged) record(s) changed ==\n"
                    + Summary.table(report, enforcing: true))

            let trail = AuditTrail(store: enforcer.store, key: enforcer.key!, stateDirectory: settings.stateDirectory)
            let verification = try await trail.verify()
            let urlOption =
                (server.map { " --database-url '\($0.url)'" }
                    ?? (dataset == .crm ? "" : " --database-url sqlite:\(dbPath)"))
                + (options.archiveURL.map { " --archive-url '\($0)'" } ?? "")
            print(
                """

                audit trail: table retentiond_audit in \(databaseName), \(verification.entries) entries, \(verification.isValid ? "verified intact" : "NOT INTACT")
                chain head:  \(StateFiles.headPath(stateDirectory: settings.stateDirectory))
                dry-run report: \(planPaths.markdown)
                run report:     \(paths.markdown)
                                \(paths.json)
                                \(paths.html) (for people: open it in a browser)

                try next:
                  \(Self.invocation) check --config \(policy.path) --state-dir \(dir)\(urlOption)
                  \(Self.invocation) plan --config \(policy.path) --state-dir \(dir)\(urlOption) --detail
                  \(Self.invocation) audit verify --config \(policy.path) --state-dir \(dir)\(urlOption)
                  \(Self.invocation) hold list --config \(policy.path) --state-dir \(dir)\(urlOption)
                """)
            return verification.isValid && report.status == .complete ? .success : .failure
        }
    }

    /// How to run retentiond again: `swift run retentiond` from a build tree (`.build/…`), the
    /// installed command otherwise.
    static var invocation: String {
        let executable = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().path
        return executable.contains("/.build/") ? "swift run retentiond" : "retentiond"
    }

    /// A shipped policy (`etc/…`): beside the current directory, beside the binary (a build tree), or installed under /etc.
    static func shippedFile(_ relative: String) throws -> String {
        var candidates = [relative]
        let executable = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        var folder = executable.deletingLastPathComponent()
        for _ in 0..<5 {
            candidates.append(folder.appendingPathComponent(relative).path)
            folder = folder.deletingLastPathComponent()
        }
        candidates.append("/" + relative.replacingOccurrences(of: "etc/examples/", with: "etc/retentiond/examples/"))
        if let found = candidates.first(where: { FileManager.default.fileExists(atPath: $0) }) { return found }
        throw CommandFailure.shippedPolicyMissing(relative)
    }
}
