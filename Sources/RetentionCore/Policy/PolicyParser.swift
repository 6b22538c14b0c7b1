import Crypto
import Foundation
import Yams

/// Turns policy YAML into a `Policy`, reporting every problem as `file:line:column: error: …`.
///
/// This checks the document on its own (syntax, unknown keys, types, durations, references between
/// rules); `SchemaValidator` then checks it against the live database.
public struct PolicyParser {
    public var path: String
    /// Replaces the policy's `state_dir` (as systemd's `$STATE_DIRECTORY` or `demo --dir` do).
    public var stateDirectoryOverride: String?
    /// systemd's credentials directory (`$CREDENTIALS_DIRECTORY`, read by the command line): an
    /// `audit.key` there replaces the policy's `audit.key_file`.
    public var credentialsDirectory: String?

    public init(path: String, stateDirectoryOverride: String? = nil, credentialsDirectory: String? = nil) {
        self.path = path
        self.stateDirectoryOverride = stateDirectoryOverride
        self.credentialsDirectory = credentialsDirectory
    }

    /// Reads and parses the file; throws `PolicyInvalid` with every error found.
    public func parseFile() throws -> (Policy, [Diagnostic]) {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw PolicyInvalid([.error(SourceLocation(file: path, line: 1, column: 1),
                                        "cannot read the policy file", hint: "check the path given to --config and its permissions")])
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw PolicyInvalid([.error(SourceLocation(file: path, line: 1, column: 1), "the policy file is not UTF-8 text")])
        }
        let hash = SHA256.hash(data: data).hexEncoded
        return try parse(text, hash: hash)
    }

    public func parse(_ text: String, hash: String) throws -> (Policy, [Diagnostic]) {
        var reader = Reader(file: path)
        let root: Node?
        do {
            root = try Yams.compose(yaml: text)
        } catch let error as YamlError {
            throw PolicyInvalid([reader.yamlDiagnostic(error)])
        }
        guard let root, let map = reader.mapping(root, "the policy") else {
            reader.diagnostics.append(.error(reader.at(nil), "the policy is empty",
                                              hint: "start from etc/retentiond/retentiond.yaml and docs/policy.md"))
            throw PolicyInvalid(reader.diagnostics)
        }
        let policy = reader.policy(map, hash: hash, stateDirectoryOverride: stateDirectoryOverride, credentialsDirectory: credentialsDirectory, policyPath: path)
        if let policy, !reader.diagnostics.contains(where: { $0.severity == .error }) {
            return (policy, reader.diagnostics)
        }
        throw PolicyInvalid(reader.diagnostics)
    }
}

/// A YAML mapping with the keys read so far, so unknown keys can be reported.
private struct Map {
    var pairs: [(key: String, keyNode: Node, value: Node)]
    var node: Node

    func value(_ key: String) -> Node? { pairs.first { $0.key == key }?.value }
}

private struct Reader {
    var file: String
    var diagnostics: [Diagnostic] = []
    /// Where each rule id was first seen, to report duplicates even among rules with other errors.
    var ruleIDs: [String: SourceLocation] = [:]

    init(file: String) { self.file = file }

    func at(_ node: Node?) -> SourceLocation {
        SourceLocation(file: file, line: node?.mark?.line ?? 1, column: node?.mark?.column ?? 1)
    }

    mutating func error(_ node: Node?, _ message: String, hint: String? = nil) {
        diagnostics.append(.error(at(node), message, hint: hint))
    }

    func yamlDiagnostic(_ error: YamlError) -> Diagnostic {
        switch error {
        case .scanner(let context, let problem, let mark, _),
             .parser(let context, let problem, let mark, _),
             .composer(let context, let problem, let mark, _):
            let where_ = SourceLocation(file: file, line: mark.line, column: mark.column)
            let ctx = context.map { "\($0.text) " } ?? ""
            return .error(where_, "YAML syntax: \(ctx)\(problem)", hint: "fix the indentation or quoting at this position")
        default:
            return .error(SourceLocation(file: file, line: 1, column: 1), "YAML: \(error)")
        }
    }

    // MARK: Node shapes

    mutating func mapping(_ node: Node, _ what: String) -> Map? {
        guard case .mapping(let mapping) = node else {
            error(node, "\(what) must be a mapping (`key: value` lines)")
            return nil
        }
        var pairs: [(String, Node, Node)] = []
        var seen = Set<String>()
        for (k, v) in mapping {
            guard let key = k.scalar?.string else {
                error(k, "keys must be plain names")
                continue
            }
            if !seen.insert(key).inserted {
                error(k, "`\(key)` is given twice in \(what)", hint: "keep one")
                continue
            }
            pairs.append((key, k, v))
        }
        return Map(pairs: pairs, node: node)
    }

    mutating func checkKeys(_ map: Map, allowed: [String], in what: String) {
        for pair in map.pairs where !allowed.contains(pair.key) {
            error(pair.keyNode, "unknown key `\(pair.key)` in \(what)", hint: Suggestion.hint(for: pair.key, among: allowed, listing: "allowed keys"))
        }
    }

    mutating func string(_ node: Node?, _ what: String) -> String? {
        guard let node else { return nil }
        guard case .scalar(let scalar) = node, !scalar.string.isEmpty else {
            error(node, "\(what) must be a non-empty text value")
            return nil
        }
        return scalar.string
    }

    mutating func name(_ node: Node?, _ what: String) -> Name? {
        guard let node, let text = string(node, what) else { return nil }
        guard Self.isIdentifier(text) else {
            error(node, "`\(text)` is not a valid \(what)", hint: "use letters, digits and underscores, starting with a letter or underscore")
            return nil
        }
        return Name(text, at: at(node))
    }

    static func isIdentifier(_ text: String) -> Bool {
        guard let first = text.unicodeScalars.first, first == "_" || (first.isASCII && CharacterSet.letters.contains(first)) else { return false }
        return text.unicodeScalars.allSatisfy { $0 == "_" || ($0.isASCII && CharacterSet.alphanumerics.contains($0)) } && text.count <= 63
    }

    /// A name or a list of names: `id` or `[country, number]`.
    mutating func names(_ node: Node?, _ what: String) -> [Name]? {
        guard let node else { return nil }
        if case .sequence(let seq) = node {
            let result = seq.compactMap { name($0, what) }
            if result.isEmpty { error(node, "\(what) list is empty") }
            return result.count == seq.count && !result.isEmpty ? result : nil
        }
        return name(node, what).map { [$0] }
    }

    /// A whole number within `min...max` (every count in a policy has a documented bound).
    mutating func int(_ node: Node?, _ what: String, min: Int = 0, max: Int) -> Int? {
        guard let node else { return nil }
        guard case .scalar(let scalar) = node, let value = Int(scalar.string), (min...max).contains(value) else {
            error(node, "\(what) must be a whole number from \(min) to \(max)")
            return nil
        }
        return value
    }

    mutating func double(_ node: Node?, _ what: String, range: ClosedRange<Double>) -> Double? {
        guard let node else { return nil }
        guard case .scalar(let scalar) = node, let value = Double(scalar.string.replacingOccurrences(of: "%", with: "")),
              range.contains(value) else {
            error(node, "\(what) must be a number from \(range.lowerBound) to \(range.upperBound)")
            return nil
        }
        return value
    }

    mutating func duration(_ node: Node?, _ what: String) -> RetentionDuration? {
        guard let node, let text = string(node, what) else { return nil }
        do {
            return try RetentionDuration(parsing: text)
        } catch {
            self.error(node, "\(what): \(error)")
            return nil
        }
    }

    func value(_ node: Node) -> SQLValue {
        guard case .scalar(let scalar) = node else { return .null }
        if scalar.style == .plain {
            if scalar.string == "null" || scalar.string == "~" { return .null }
            if let i = Int64(scalar.string) { return .integer(i) }
            if let d = Double(scalar.string), scalar.string.contains(".") { return .real(d) }
            if scalar.string == "true" { return .integer(1) }
            if scalar.string == "false" { return .integer(0) }
        }
        return .text(scalar.string)
    }

    // MARK: The document

    static let topKeys = ["version", "time_zone", "fiscal_year", "database", "state_dir", "audit", "reports",
                          "batch_size", "safety", "date_formats", "schedule", "subjects"]

    mutating func policy(_ map: Map, hash: String, stateDirectoryOverride: String?, credentialsDirectory: String?, policyPath: String) -> Policy? {
        checkKeys(map, allowed: Self.topKeys, in: "the policy")
        if let v = map.value("version") {
            if int(v, "version", min: 1, max: 1) != 1 { error(v, "unsupported policy version", hint: "this retentiond reads `version: 1`") }
        } else {
            error(map.node, "missing `version`", hint: "add `version: 1` at the top")
        }

        var timeZone = TimeZone(identifier: "UTC")!
        if let node = map.value("time_zone"), let id = string(node, "time_zone") {
            if let tz = TimeZone(identifier: id) { timeZone = tz } else {
                error(node, "unknown time zone `\(id)`", hint: "use an IANA name such as Europe/Paris or UTC")
            }
        } else {
            error(map.node, "missing `time_zone`", hint: "add e.g. `time_zone: Europe/Paris`; cutoffs are computed in it")
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
        if let node = map.value("state_dir"), let s = string(node, "state_dir") { stateDir = resolve(s, against: configDir) }
        if let o = stateDirectoryOverride { stateDir = resolve(o, against: FileManager.default.currentDirectoryPath) }

        var database: DatabaseLocation?
        if let node = map.value("database"), let db = mapping(node, "database") {
            checkKeys(db, allowed: ["sqlite", "postgres"], in: "database")
            if db.pairs.count != 1 {
                error(node, "database is either `sqlite: PATH` or `postgres: { … }`")
            } else if let p = db.value("sqlite"), let s = string(p, "database.sqlite") {
                database = .sqlite(path: resolve(s, against: stateDir))
            } else if let p = db.value("postgres") {
                database = postgres(p, stateDir: stateDir).map(DatabaseLocation.postgres)
            } else if db.value("sqlite") == nil {
                error(node, "database needs `sqlite: PATH` or `postgres: { host, database, user, … }`", hint: "a relative path is taken from state_dir")
            }
        } else if map.value("database") == nil {
            error(map.node, "missing `database`", hint: "add `database: { sqlite: crm.sqlite }`")
        }

        var keyFile = resolve("audit.key", against: stateDir)
        if let node = map.value("audit"), let audit = mapping(node, "audit") {
            checkKeys(audit, allowed: ["key_file"], in: "audit")
            if let k = audit.value("key_file"), let s = string(k, "audit.key_file") { keyFile = resolve(s, against: stateDir) }
        }
        if let credentials = credentialsDirectory, FileManager.default.fileExists(atPath: credentials + "/audit.key") {
            keyFile = credentials + "/audit.key"
        }

        var reportsDir = resolve("reports", against: stateDir)
        if let node = map.value("reports"), let reports = mapping(node, "reports") {
            checkKeys(reports, allowed: ["dir"], in: "reports")
            if let d = reports.value("dir"), let s = string(d, "reports.dir") { reportsDir = resolve(s, against: stateDir) }
        }

        // Measured (docs/operations.md, "Batch size"): 1.5x the speed of 500 on SQLite, ~0.15 s of lock per batch.
        var batchSize = 2000
        if let node = map.value("batch_size"), let n = int(node, "batch_size", min: 1, max: 5000) {
            batchSize = n
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
                    error(pair.value, "unknown date format", hint: "use one of: \(DateStorage.allCases.map(\.rawValue).joined(separator: ", "))")
                    continue
                }
                formats[pair.key] = storage
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
                if let subject = subject(id: pair.key, keyNode: pair.keyNode, node: pair.value, defaultSafety: defaultSafety) {
                    subjects.append(subject)
                }
            }
        } else if map.value("subjects") == nil {
            error(map.node, "missing `subjects`", hint: "declare the categories of people and their rules, see docs/policy.md")
        }

        let schedule: Schedule = map.value("schedule").flatMap { self.schedule($0) } ?? Schedule.default

        guard let database else { return nil }
        var policy = Policy(path: policyPath, hash: hash, timeZone: timeZone, fiscalYearStart: fiscal, database: database,
                            stateDirectory: stateDir, keyFile: keyFile, reportsDirectory: reportsDir, batchSize: batchSize,
                            defaultSafety: defaultSafety, dateFormats: formats, subjects: subjects)
        policy.schedule = schedule
        return policy
    }

    mutating func schedule(_ node: Node) -> Schedule? {
        guard let map = mapping(node, "schedule") else { return nil }
        checkKeys(map, allowed: ["every", "daily", "jitter", "run_at_start"], in: "schedule")
        var kind: Schedule.Kind?
        if let every = map.value("every"), let d = duration(every, "schedule.every") {
            if let seconds = d.fixedSeconds, (1...Schedule.maximumSeconds).contains(seconds) {
                kind = .every(seconds: seconds)
            } else {
                error(every, "schedule.every must be a fixed length from one second to 366 days", hint: "use days, hours, minutes or seconds, e.g. `every: 6h`")
            }
        }
        if let daily = map.value("daily"), let text = string(daily, "schedule.daily") {
            let parts = text.split(separator: ":").compactMap { Int($0) }
            if kind != nil {
                error(daily, "a schedule has either `every` or `daily`, not both")
            } else if parts.count == 2, (0...23).contains(parts[0]), (0...59).contains(parts[1]) {
                kind = .daily(hour: parts[0], minute: parts[1])
            } else {
                error(daily, "schedule.daily must be a time `HH:MM` in the policy's time zone", hint: "e.g. `daily: \"03:30\"`")
            }
        }
        if kind == nil, map.value("every") == nil, map.value("daily") == nil {
            error(node, "a schedule needs `every` or `daily`", hint: "e.g. `schedule: { daily: \"03:00\", jitter: 15min }`")
        }
        var jitter = 0
        if let j = map.value("jitter"), let d = duration(j, "schedule.jitter") {
            if let seconds = d.fixedSeconds, seconds <= Schedule.maximumSeconds { jitter = seconds } else { error(j, "schedule.jitter must be a fixed length (days, hours, minutes, seconds) of at most 366 days") }
        }
        var atStart = false
        if let s = map.value("run_at_start") {
            if case .scalar(let scalar) = s, let b = Bool(scalar.string) { atStart = b } else { error(s, "run_at_start takes true or false") }
        }
        return kind.map { Schedule(kind: $0, jitterSeconds: jitter, runAtStart: atStart) }
    }

    static let postgresKeys = ["host", "port", "socket", "database", "user", "password_file", "password_env", "tls"]

    mutating func postgres(_ node: Node, stateDir: String) -> PostgresLocation? {
        guard let map = mapping(node, "database.postgres") else { return nil }
        checkKeys(map, allowed: Self.postgresKeys + ["password"], in: "database.postgres")
        if map.value("password") != nil {
            error(map.pairs.first { $0.key == "password" }!.keyNode, "a password never goes in the policy file",
                  hint: "use `password_file: PATH` (or a systemd credential named db-password) or `password_env: VARIABLE`")
        }
        let database = string(map.value("database"), "database.postgres.database")
        let user = string(map.value("user"), "database.postgres.user")
        if map.value("database") == nil { error(node, "database.postgres needs `database`") }
        if map.value("user") == nil { error(node, "database.postgres needs `user`") }
        var tls = PostgresLocation.TLSMode.prefer
        if let t = map.value("tls"), let text = string(t, "tls") {
            if let mode = PostgresLocation.TLSMode(rawValue: text) { tls = mode } else {
                error(t, "unknown tls mode `\(text)`", hint: "use disable, prefer, require or verify-full")
            }
        }
        let socket = map.value("socket").flatMap { string($0, "socket") }
        guard let database, let user else { return nil }
        return PostgresLocation(host: map.value("host").flatMap { string($0, "host") } ?? "localhost",
                                port: map.value("port").flatMap { int($0, "port", min: 1, max: 65535) } ?? 5432,
                                socketDirectory: socket, database: database, user: user,
                                passwordFile: map.value("password_file").flatMap { string($0, "password_file") }.map { resolve($0, against: stateDir) },
                                passwordEnvironment: map.value("password_env").flatMap { string($0, "password_env") },
                                tls: socket == nil ? tls : .disable)
    }

    func resolve(_ path: String, against base: String) -> String {
        if path.hasPrefix("/") { return path }
        return URL(fileURLWithPath: base).appendingPathComponent(path).standardizedFileURL.path
    }

    mutating func safetyLimits(_ node: Node?, _ what: String) -> SafetyLimits? {
        guard let node, let map = mapping(node, what) else { return nil }
        checkKeys(map, allowed: ["max_records", "max_percent"], in: what)
        return SafetyLimits(maxRecords: int(map.value("max_records"), "\(what).max_records", min: 0, max: 1_000_000_000),
                            maxPercent: double(map.value("max_percent"), "\(what).max_percent", range: 0...100))
    }

    static let subjectKeys = ["table", "key", "filter", "review_columns", "exempt", "rules"]

    mutating func subject(id: String, keyNode: Node, node: Node, defaultSafety: SafetyLimits) -> Subject? {
        guard let map = mapping(node, "subject `\(id)`") else { return nil }
        checkKeys(map, allowed: Self.subjectKeys, in: "subject `\(id)`")
        let table = name(map.value("table"), "table name")
        if map.value("table") == nil { error(node, "subject `\(id)` needs `table`") }
        let key = names(map.value("key"), "key column")
        if map.value("key") == nil { error(node, "subject `\(id)` needs `key`", hint: "the column(s) that identify one record, e.g. `key: id`") }
        var filter: [FilterCondition] = []
        if let f = map.value("filter"), let fm = mapping(f, "filter") {
            for pair in fm.pairs {
                guard let column = name(pair.keyNode, "filter column") else { continue }
                if let condition = filterTest(pair.value) {
                    filter.append(FilterCondition(column: column, test: condition))
                }
            }
        }
        let review = names(map.value("review_columns"), "review column") ?? []
        let exemptions = exemptionList(map.value("exempt"), "subject `\(id)`.exempt") ?? Exemptions()
        var rules: [RetentionRule] = []
        if let r = map.value("rules") {
            if case .sequence(let seq) = r, !seq.isEmpty {
                for ruleNode in seq {
                    if let rule = rule(ruleNode, subjectID: id, subjectExemptions: exemptions, defaultSafety: defaultSafety) {
                        rules.append(rule)
                    }
                }
            } else {
                error(r, "`rules` must be a non-empty list", hint: "each item starts with `- id: …`")
            }
        } else {
            error(node, "subject `\(id)` has no `rules`")
        }
        guard let table, let key else { return nil }
        return Subject(id: id, location: at(keyNode), table: table, key: key, filter: filter, reviewColumns: review, rules: rules)
    }

    mutating func filterTest(_ node: Node) -> FilterCondition.Test? {
        if case .scalar = node { return .equals(value(node)) }
        guard let map = mapping(node, "a filter condition") else { return nil }
        checkKeys(map, allowed: ["equals", "not", "in", "is_null"], in: "a filter condition")
        guard map.pairs.count == 1, let pair = map.pairs.first else {
            error(node, "a filter condition has exactly one of `equals`, `not`, `in`, `is_null`")
            return nil
        }
        switch pair.key {
        case "equals": return .equals(value(pair.value))
        case "not": return .notEquals(value(pair.value))
        case "in":
            guard case .sequence(let seq) = pair.value, !seq.isEmpty else {
                error(pair.value, "`in` takes a non-empty list of values")
                return nil
            }
            return .oneOf(seq.map { value($0) })
        case "is_null":
            guard case .scalar(let s) = pair.value, let b = Bool(s.string) else {
                error(pair.value, "`is_null` takes true or false")
                return nil
            }
            return .isNull(b)
        default: return nil
        }
    }

    static let ruleKeys = ["id", "register", "legal_basis", "clock", "after", "action", "fields", "children", "exempt", "safety"]

    mutating func rule(_ node: Node, subjectID: String, subjectExemptions: Exemptions, defaultSafety: SafetyLimits) -> RetentionRule? {
        guard let map = mapping(node, "a rule") else { return nil }
        guard let idNode = map.value("id"), let id = string(idNode, "rule id") else {
            if map.value("id") == nil { error(node, "a rule of subject `\(subjectID)` has no `id`", hint: "add `id: some-name`; reports and the audit trail name rules by id") }
            return nil
        }
        let what = "rule `\(id)`"
        if let first = ruleIDs[id] {
            error(idNode, "rule id `\(id)` is already used at \(first)", hint: "rule ids must be unique; the audit trail and reports name rules by id")
        } else {
            ruleIDs[id] = at(idNode)
        }
        checkKeys(map, allowed: Self.ruleKeys, in: what)
        let register = string(map.value("register"), "\(what).register")
        if map.value("register") == nil { error(node, "\(what) does not name its register entry", hint: "add `register: \"…\"` with the register of processing activities entry it enforces") }
        let legalBasis = string(map.value("legal_basis"), "\(what).legal_basis")
        if map.value("legal_basis") == nil { error(node, "\(what) has no `legal_basis`", hint: "say why the data may be kept until then, e.g. `legal_basis: \"contract\"`") }
        let clock = self.clock(map.value("clock"), what)
        if map.value("clock") == nil { error(node, "\(what) has no `clock`", hint: "name the date column retention counts from, e.g. `clock: closed_at`") }
        let after = duration(map.value("after"), "\(what).after")
        if map.value("after") == nil { error(node, "\(what) has no `after`", hint: "how long after the clock, e.g. `after: 3y`") }

        var action: RuleAction?
        if let a = map.value("action"), let text = string(a, "\(what).action") {
            switch text {
            case "flag":
                action = .flag
                if let f = map.value("fields") { error(f, "`fields` is for anonymise rules") }
                if let c = map.value("children") { error(c, "`children` is for purge rules") }
            case "anonymise", "anonymize":
                if let c = map.value("children") { error(c, "`children` is for purge rules") }
                if let f = map.value("fields") {
                    if let fields = fieldStrategies(f, what) { action = .anonymise(fields) }
                } else {
                    error(a, "\(what) anonymises but lists no `fields`", hint: "add `fields: { email: null, … }`")
                }
            case "purge":
                if let f = map.value("fields") { error(f, "`fields` is for anonymise rules") }
                if let c = map.value("children") {
                    if case .scalar(let s) = c, s.string == "auto" {
                        action = .purge(.foreignKeys)
                    } else if let list = childTables(c, what) {
                        action = .purge(.declared(list))
                    }
                } else {
                    action = .purge(.declared([]))
                }
            default:
                error(a, "unknown action `\(text)`", hint: "use flag, anonymise or purge")
            }
        } else if map.value("action") == nil {
            error(node, "\(what) has no `action`", hint: "use flag, anonymise or purge")
        }

        let exemptions = subjectExemptions.merged(with: exemptionList(map.value("exempt"), "\(what).exempt") ?? Exemptions())
        let safety = defaultSafety.overriding(with: safetyLimits(map.value("safety"), "\(what).safety"))
        guard let clock, let after, let action, let register, let legalBasis else { return nil }
        return RetentionRule(id: id, subjectID: subjectID, location: at(idNode), register: register, legalBasis: legalBasis,
                             clock: clock, after: after, action: action, exemptions: exemptions, safety: safety)
    }

    mutating func clock(_ node: Node?, _ what: String) -> Clock? {
        guard let node else { return nil }
        if case .scalar = node { return name(node, "clock column").map { Clock(columns: [$0]) } }
        guard let map = mapping(node, "\(what).clock") else { return nil }
        checkKeys(map, allowed: ["column", "fallback", "latest", "anchor"], in: "\(what).clock")
        var fiscal = false
        if let a = map.value("anchor"), let text = string(a, "anchor") {
            if text == "fiscal_year_end" { fiscal = true } else {
                error(a, "unknown anchor `\(text)`", hint: "the only anchor is `fiscal_year_end`")
            }
        }
        if let latest = map.value("latest") {
            if map.value("column") != nil || map.value("fallback") != nil {
                error(node, "a clock has either `latest` or `column` (with an optional `fallback`), not both")
                return nil
            }
            guard let cols = names(latest, "clock column") else { return nil }
            return Clock(columns: cols, combination: .latest, fiscalYearEnd: fiscal)
        }
        guard let c = map.value("column") else {
            error(node, "a clock needs `column` or `latest`", hint: "e.g. `clock: { column: last_contact_at, fallback: collected_at }`")
            return nil
        }
        guard let column = name(c, "clock column") else { return nil }
        let fallback = map.value("fallback").flatMap { names($0, "fallback column") } ?? []
        return Clock(columns: [column] + fallback, combination: .firstPresent, fiscalYearEnd: fiscal)
    }

    mutating func fieldStrategies(_ node: Node, _ what: String) -> [FieldStrategy]? {
        guard let map = mapping(node, "\(what).fields") else { return nil }
        if map.pairs.isEmpty { error(node, "\(what).fields is empty") }
        var result: [FieldStrategy] = []
        for pair in map.pairs {
            guard let column = name(pair.keyNode, "column name") else { continue }
            if let s = strategy(pair.value) { result.append(FieldStrategy(column: column, strategy: s)) }
        }
        return result.count == map.pairs.count ? result : nil
    }

    static let strategyHint = "use null, keep, year, pseudonym, { constant: VALUE }, { pseudonym: { prefix: P, length: N } } or { mask: { keep_first: N, keep_last: N, keep_domain: BOOL } }"

    mutating func strategy(_ node: Node) -> AnonymisationStrategy? {
        if case .scalar(let s) = node {
            switch s.string {
            case "null", "~", "": return .null
            case "keep": return .keep
            case "year": return .year
            case "pseudonym": return .pseudonym(prefix: "", length: 16)
            case "mask": return .mask(keepFirst: 1, keepLast: 0, character: "*", keepDomain: false)
            default:
                error(node, "unknown anonymisation strategy `\(s.string)`", hint: Self.strategyHint)
                return nil
            }
        }
        guard let map = mapping(node, "a strategy"), map.pairs.count == 1, let pair = map.pairs.first else {
            error(node, "a strategy is one word or a mapping with one key", hint: Self.strategyHint)
            return nil
        }
        switch pair.key {
        case "constant":
            return .constant(value(pair.value))
        case "pseudonym":
            guard let options = mapping(pair.value, "pseudonym options") else { return nil }
            checkKeys(options, allowed: ["prefix", "length"], in: "pseudonym")
            let prefix = options.value("prefix").flatMap { string($0, "prefix") } ?? ""
            let length = options.value("length").flatMap { int($0, "length", min: 8, max: 64) } ?? 16
            return .pseudonym(prefix: prefix, length: length)
        case "mask":
            guard let options = mapping(pair.value, "mask options") else { return nil }
            checkKeys(options, allowed: ["keep_first", "keep_last", "keep_domain", "character"], in: "mask")
            let first = options.value("keep_first").flatMap { int($0, "keep_first", max: 1000) } ?? 0
            let last = options.value("keep_last").flatMap { int($0, "keep_last", max: 1000) } ?? 0
            var keepDomain = false
            if let d = options.value("keep_domain") {
                if case .scalar(let s) = d, let b = Bool(s.string) { keepDomain = b } else { error(d, "keep_domain takes true or false") }
            }
            var character: Character = "*"
            if let c = options.value("character"), let text = string(c, "character") {
                if text.count == 1 { character = text.first! } else { error(c, "character is a single character") }
            }
            return .mask(keepFirst: first, keepLast: last, character: character, keepDomain: keepDomain)
        default:
            error(map.pairs[0].keyNode, "unknown anonymisation strategy `\(pair.key)`", hint: Self.strategyHint)
            return nil
        }
    }

    mutating func childTables(_ node: Node, _ what: String) -> [ChildTable]? {
        guard case .sequence(let seq) = node else {
            error(node, "\(what).children is `auto` or a list of `{ table, foreign_key }`")
            return nil
        }
        var result: [ChildTable] = []
        for item in seq {
            guard let map = mapping(item, "a child table") else { continue }
            checkKeys(map, allowed: ["table", "foreign_key", "references", "children"], in: "a child table")
            guard let table = name(map.value("table"), "child table") else {
                if map.value("table") == nil { error(item, "a child needs `table`") }
                continue
            }
            guard let fk = names(map.value("foreign_key"), "foreign key column") else {
                if map.value("foreign_key") == nil { error(item, "child `\(table)` needs `foreign_key`", hint: "the column(s) of \(table) that point at the parent row") }
                continue
            }
            let references = map.value("references").flatMap { names($0, "referenced column") } ?? []
            let children = map.value("children").flatMap { childTables($0, what) } ?? []
            result.append(ChildTable(table: table, foreignKey: fk, references: references, children: children))
        }
        return result.count == seq.count ? result : nil
    }

    mutating func exemptionList(_ node: Node?, _ what: String) -> Exemptions? {
        guard let node, let map = mapping(node, what) else { return nil }
        checkKeys(map, allowed: ["consent", "related"], in: what)
        var result = Exemptions()
        if let c = map.value("consent") {
            let items: [Node] = { if case .sequence(let s) = c { return Array(s) } else { return [c] } }()
            for item in items {
                guard let m = mapping(item, "a consent exemption") else { continue }
                checkKeys(m, allowed: ["until", "flag"], in: "a consent exemption")
                if let u = m.value("until"), let column = name(u, "consent column") {
                    result.consent.append(Consent(kind: .until, column: column))
                } else if let f = m.value("flag"), let column = name(f, "consent column") {
                    result.consent.append(Consent(kind: .flag, column: column))
                } else if m.value("until") == nil && m.value("flag") == nil {
                    error(item, "a consent exemption is `{ until: DATE_COLUMN }` or `{ flag: BOOLEAN_COLUMN }`")
                }
            }
        }
        if let r = map.value("related") {
            guard case .sequence(let seq) = r else {
                error(r, "`related` is a list of `{ table, foreign_key, clock, within }`")
                return result
            }
            for item in seq {
                guard let m = mapping(item, "a related exemption") else { continue }
                checkKeys(m, allowed: ["table", "foreign_key", "clock", "within"], in: "a related exemption")
                guard let table = name(m.value("table"), "related table"),
                      let fk = names(m.value("foreign_key"), "foreign key column") else {
                    if m.value("table") == nil || m.value("foreign_key") == nil {
                        error(item, "a related exemption needs `table` and `foreign_key`")
                    }
                    continue
                }
                let clock = self.clock(m.value("clock"), "related `\(table)`")
                let within = duration(m.value("within"), "related `\(table)`.within")
                if (clock == nil) != (within == nil) {
                    error(item, "give both `clock` and `within` (keep while the related row is younger than within), or neither (keep while any related row exists)")
                    continue
                }
                result.related.append(RelatedKeep(table: table, foreignKey: fk, clock: clock, within: within, location: at(item)))
            }
        }
        return result
    }
}
