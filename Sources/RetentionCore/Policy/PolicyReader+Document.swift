import Foundation
import Yams

/// The top level of a policy: where things live, defaults, and the sections below.
extension PolicyReader {
    static let topKeys = [
        "version", "time_zone", "storage_time_zone", "fiscal_year", "database", "state_dir", "audit", "reports",
        "ledger",
        "statistics", "archive", "batch_size", "safety", "date_formats", "schedule", "application_holds", "relations",
        "subjects",
    ]

    /// The policy and the settings it runs with, nil after an error (said in `diagnostics`).
    mutating func policy(
        _ map: Map, hash: String, stateDirectoryOverride: String?, credentialsDirectory: String?, policyPath: String
    ) -> (Policy, RunSettings)? {
        checkKeys(map, allowed: Self.topKeys, in: "the policy")
        if let v = map.value("version") {
            if int(v, "version", min: 1, max: 1) != 1 {
                error(v, "unsupported policy version", hint: "this retentiond reads `version: 1`")
            }
        } else {
            error(map.node, "missing `version`", hint: "add `version: 1` at the top")
        }

        var timeZone = TimeZone(identifier: "UTC")!
        if let node = map.value("time_zone"), let id = string(node, "time_zone") {
            if let tz = TimeZone(identifier: id) {
                timeZone = tz
            } else {
                error(node, "unknown time zone `\(id)`", hint: "use an IANA name such as Europe/Paris or UTC")
            }
        } else {
            error(
                map.node, "missing `time_zone`", hint: "add e.g. `time_zone: Europe/Paris`; cutoffs are computed in it")
        }

        var storageTimeZone: TimeZone?
        if let node = map.value("storage_time_zone"), let id = string(node, "storage_time_zone") {
            if let tz = TimeZone(identifier: id) {
                storageTimeZone = tz
            } else {
                error(node, "unknown time zone `\(id)`", hint: "use an IANA name such as UTC or Europe/Paris")
            }
        }

        var fiscal = MonthDay(month: 1, day: 1)
        if let node = map.value("fiscal_year"), let fy = mapping(node, "fiscal_year") {
            checkKeys(fy, allowed: ["starts"], in: "fiscal_year")
            if let s = fy.value("starts"), let text = string(s, "fiscal_year.starts") {
                let parts = text.split(separator: "-").compactMap { Int($0) }
                if parts.count == 2, (1...12).contains(parts[0]), (1...28).contains(parts[1]) {
                    fiscal = MonthDay(month: parts[0], day: parts[1])
                } else {
                    error(s, "fiscal_year.starts must be `MM-DD` (day 1 to 28)", hint: "e.g. `starts: \"04-01\"`")
                }
            }
        }

        let configDir = URL(fileURLWithPath: policyPath).deletingLastPathComponent().path
        var stateDir = "/var/lib/retentiond"
        if let node = map.value("state_dir"), let s = string(node, "state_dir") {
            stateDir = resolve(s, against: configDir)
        }
        if let o = stateDirectoryOverride { stateDir = resolve(o, against: FileManager.default.currentDirectoryPath) }

        var database: DatabaseLocation?
        if let node = map.value("database") {
            database = location(node, "database", stateDir: stateDir)
        } else {
            error(map.node, "missing `database`", hint: "add `database: { sqlite: crm.sqlite }`")
        }

        var archive: DatabaseLocation?
        if let node = map.value("archive") { archive = self.archive(node, database: database, stateDir: stateDir) }

        var keyFile = resolve("audit.key", against: stateDir)
        if let node = map.value("audit"), let audit = mapping(node, "audit") {
            checkKeys(audit, allowed: ["key_file"], in: "audit")
            if let k = audit.value("key_file"), let s = string(k, "audit.key_file") {
                keyFile = resolve(s, against: stateDir)
            }
        }
        if let credentials = credentialsDirectory, FileManager.default.fileExists(atPath: credentials + "/audit.key") {
            keyFile = credentials + "/audit.key"
        }

        var reportsDir = resolve("reports", against: stateDir)
        var reportsKeep = RunSettings.defaultReportsKeep
        var reportsForecast = true
        if let node = map.value("reports"), let reports = mapping(node, "reports") {
            checkKeys(reports, allowed: ["dir", "keep", "forecast"], in: "reports")
            if let f = reports.value("forecast") {
                if case .scalar(let v) = f, let b = Bool(v.string) {
                    reportsForecast = b
                } else {
                    error(f, "reports.forecast takes true or false")
                }
            }
            if let d = reports.value("dir"), let s = string(d, "reports.dir") {
                reportsDir = resolve(s, against: stateDir)
            }
            if let k = reports.value("keep"), let keep = duration(k, "reports.keep") { reportsKeep = keep }
        }

        var ledgerKeep: RetentionDuration?
        if let node = map.value("ledger"), let ledger = mapping(node, "ledger") {
            checkKeys(ledger, allowed: ["keep"], in: "ledger")
            if let k = ledger.value("keep"), let keep = duration(k, "ledger.keep") { ledgerKeep = keep }
        }

        var statisticsTable = Policy.defaultStatisticsTable
        if let node = map.value("statistics"), let statistics = mapping(node, "statistics") {
            checkKeys(statistics, allowed: ["table"], in: "statistics")
            if let t = statistics.value("table"), let table = name(t, "statistics table name") {
                if table.value != table.value.lowercased() {
                    error(
                        t, "the statistics table's name must be lower case",
                        hint: "write `\(table.value.lowercased())`: PostgreSQL folds unquoted names to lower case")
                } else {
                    statisticsTable = table.value
                }
            }
        }

        var batchSize = RunSettings.defaultBatchSize
        if let node = map.value("batch_size"),
            let n = int(
                node, "batch_size", min: RunSettings.batchSizes.lowerBound, max: RunSettings.batchSizes.upperBound)
        {
            batchSize = n
            if n < RunSettings.costlyBatchSize {
                let warning = RunSettings.costlyBatchSizeWarning(n)
                diagnostics.append(
                    .warning(
                        at(node), "batch_size \(n) \(warning.cost)",
                        hint: "\(warning.hint); otherwise remove `batch_size` (docs/operations.md, \"Batch size\")"))
            }
        }

        let safety = safetyLimits(map.value("safety"), "safety") ?? SafetyLimits(maxRecords: nil, maxPercent: 50)
        let defaultSafety = SafetyLimits(maxRecords: safety.maxRecords, maxPercent: safety.maxPercent ?? 50)

        var formats: [String: DateStorage] = [:]
        if let node = map.value("date_formats"), let f = mapping(node, "date_formats") {
            for pair in f.pairs {
                let parts = pair.key.split(separator: ".")
                guard parts.count == 2, parts.allSatisfy({ Self.isIdentifier(String($0)) }) else {
                    error(pair.keyNode, "date_formats keys are `table.column`, not `\(pair.key)`")
                    continue
                }
                guard let text = string(pair.value, "date format"), let storage = DateStorage(rawValue: text) else {
                    error(
                        pair.value, "unknown date format",
                        hint: "use one of: \(DateStorage.allCases.map(\.rawValue).joined(separator: ", "))")
                    continue
                }
                formats[pair.key] = storage
            }
        }

        // Relations declared once per table, before the subjects and children that use them.
        if let node = map.value("relations"), let tables = mapping(node, "relations") {
            for pair in tables.pairs {
                guard Self.isIdentifier(pair.key) else {
                    error(
                        pair.keyNode, "`relations` at the top level is keyed by table name, not `\(pair.key)`",
                        hint:
                            "e.g. `relations: { ticket: { state: { table: ticket_state, on: { id: ticket_state_id } } } }`"
                    )
                    continue
                }
                sharedRelations[pair.key] = relations(pair.value)
                relationNames = []
            }
        }

        var subjects: [Subject] = []
        if let node = map.value("subjects"), let s = mapping(node, "subjects") {
            if s.pairs.isEmpty { error(node, "no subjects", hint: "declare at least one subject with its rules") }
            for pair in s.pairs {
                guard Self.isIdentifier(pair.key.replacingOccurrences(of: "-", with: "_")) else {
                    error(pair.keyNode, "subject names use letters, digits, `-` and `_`")
                    continue
                }
                if let subject = subject(
                    id: pair.key, keyNode: pair.keyNode, node: pair.value, defaultSafety: defaultSafety)
                {
                    subjects.append(subject)
                }
            }
        } else if map.value("subjects") == nil {
            error(
                map.node, "missing `subjects`",
                hint: "declare the categories of people and their rules, see docs/policy.md")
        }

        // Relations shared by a table no subject or child has are most likely a misspelt table.
        var governed = Set(subjects.map(\.table.value))
        func visit(_ children: [ChildTable]) {
            for child in children {
                governed.insert(child.table.value)
                visit(child.children)
            }
        }
        for rule in subjects.flatMap(\.rules) {
            if rule.archives || rule.phase == .archive, archive == nil {
                diagnostics.append(
                    .error(
                        rule.location,
                        "rule `\(rule.id)` \(rule.archives ? "archives records" : "governs the archive"), but the policy names no archive",
                        hint:
                            "add `archive: { sqlite: archive.sqlite }` (or `postgres: {…}`, `mariadb: {…}`) at the top: the database archived records move to (docs/policy.md, \"Archive\")"
                    ))
            }
            switch rule.action {
            case .anonymise(_, let children), .purge(.declared(let children)): visit(children)
            case .flag, .purge(.foreignKeys): break
            }
        }
        for (table, relations) in sharedRelations.sorted(by: { $0.key < $1.key }) where !governed.contains(table) {
            guard let first = relations.first else { continue }
            diagnostics.append(
                .warning(
                    first.name.location,
                    "relations are declared for table `\(table)`, which no subject or declared child has",
                    hint: Suggestion.hint(for: table, among: governed.sorted(), listing: "tables")))
        }

        for reference in overrideReferences where ruleIDs[reference.value] == nil {
            diagnostics.append(
                .error(
                    reference.location,
                    "`overrides` names rule `\(reference.value)`, which the policy does not declare",
                    hint: Suggestion.hint(for: reference.value, among: ruleIDs.keys.sorted(), listing: "rules")))
        }

        let schedule: Schedule = map.value("schedule").flatMap { self.schedule($0) } ?? Schedule.default

        guard let database else { return nil }
        var policy = Policy(
            path: policyPath, hash: hash, timeZone: timeZone, fiscalYearStart: fiscal, defaultSafety: defaultSafety,
            dateFormats: formats, subjects: subjects)
        policy.storageTimeZone = storageTimeZone
        policy.applicationHolds = map.value("application_holds").map { applicationHolds($0) } ?? []
        policy.ledgerKeep = ledgerKeep
        policy.statisticsTable = statisticsTable
        var settings = RunSettings(
            database: database, stateDirectory: stateDir, keyFile: keyFile, reportsDirectory: reportsDir)
        settings.archive = archive
        settings.reportsKeep = reportsKeep
        settings.reportsForecast = reportsForecast
        settings.batchSize = batchSize
        settings.schedule = schedule
        return (policy, settings)
    }

    /// `{ sqlite: PATH }` (relative to state_dir), `{ postgres: {…} }` or `{ mariadb: {…} }`: where
    /// `key` (database, archive) is.
    mutating func location(_ node: Node, _ key: String, stateDir: String) -> DatabaseLocation? {
        guard let map = mapping(node, key) else { return nil }
        checkKeys(map, allowed: ["sqlite", "postgres", "mariadb"], in: key)
        if map.pairs.count != 1 {
            error(node, "\(key) is one of `sqlite: PATH`, `postgres: { … }` or `mariadb: { … }`")
        } else if let p = map.value("sqlite"), let s = string(p, "\(key).sqlite") {
            return .sqlite(path: resolve(s, against: stateDir))
        } else if let p = map.value("postgres") {
            return postgres(p, stateDir: stateDir).map(DatabaseLocation.postgres)
        } else if let p = map.value("mariadb") {
            return mariadb(p, stateDir: stateDir).map(DatabaseLocation.mariadb)
        } else if map.value("sqlite") == nil {
            error(
                node,
                "\(key) needs `sqlite: PATH`, `postgres: { host, database, user, … }` or `mariadb: { host, database, user, … }`",
                hint: "a relative path is taken from state_dir")
        }
        return nil
    }

    /// `archive: { sqlite: PATH }`, `{ postgres: {…} }` or `{ mariadb: {…} }`: a database of the
    /// same kind as `database`, and not the same one.
    mutating func archive(_ node: Node, database: DatabaseLocation?, stateDir: String) -> DatabaseLocation? {
        let archive = location(node, "archive", stateDir: stateDir)
        guard let archive, let database else { return archive }
        switch (database, archive) {
        case (.sqlite, .sqlite), (.postgres, .postgres), (.mariadb, .mariadb): break
        default:
            error(
                node,
                "the archive must be the same kind of database as `database` (\(database.kindName)), not \(archive.kindName)",
                hint: "archived rows keep their columns' types, which only the same kind of database holds as they are")
            return nil
        }
        if archive == database {
            error(
                node, "the archive is the governed database itself",
                hint: "name a separate database: the archive is read only by the few who need it")
            return nil
        }
        return archive
    }

    /// `application_holds:`: a list of `{ table, table_column, key_column, until, where }`.
    mutating func applicationHolds(_ node: Node) -> [ApplicationHolds] {
        guard case .sequence(let seq) = node else {
            error(node, "`application_holds` is a list of `{ table, table_column, key_column, until, where }`")
            return []
        }
        var result: [ApplicationHolds] = []
        for item in seq {
            guard let map = mapping(item, "an application hold table") else { continue }
            checkKeys(
                map, allowed: ["table", "table_column", "key_column", "until", "where"], in: "an application hold table"
            )
            let table = name(map.value("table"), "application hold table")
            let tableColumn = name(map.value("table_column"), "table_column")
            let keyColumn = name(map.value("key_column"), "key_column")
            let until = name(map.value("until"), "until column")
            let conditions = map.value("where").map { filterConditions($0, "application hold `where`") } ?? []
            guard let table, let tableColumn, let keyColumn else {
                error(
                    item,
                    "an application hold table needs `table`, `table_column` (the held row's table name) and `key_column` (its primary key)",
                    hint:
                        "e.g. `{ table: litigation_holds, table_column: object_table, key_column: object_id, until: until }`"
                )
                continue
            }
            result.append(
                ApplicationHolds(
                    table: table, tableColumn: tableColumn, keyColumn: keyColumn, until: until, conditions: conditions))
        }
        return result
    }

    func resolve(_ path: String, against base: String) -> String {
        if path.hasPrefix("/") { return path }
        return URL(fileURLWithPath: base).appendingPathComponent(path).standardizedFileURL.path
    }

    mutating func safetyLimits(_ node: Node?, _ what: String) -> SafetyLimits? {
        guard let node, let map = mapping(node, what) else { return nil }
        checkKeys(map, allowed: ["max_records", "max_percent"], in: what)
        return SafetyLimits(
            maxRecords: int(map.value("max_records"), "\(what).max_records", min: 0, max: 1_000_000_000),
            maxPercent: double(map.value("max_percent"), "\(what).max_percent", range: 0...100))
    }

    /// The most values an `in:` list may hold (see `filterCondition`).
    static let maxListValues = 1000

    static func isMapping(_ node: Node) -> Bool {
        if case .mapping = node { return true } else { return false }
    }

    static func isScalar(_ node: Node) -> Bool {
        if case .scalar = node { return true } else { return false }
    }

    static let subjectKeys = [
        "table", "key", "key_uniqueness", "relations", "filter", "review_columns", "exempt", "rules",
    ]
}
