import Foundation

/// A validated retention policy: what to keep, for how long, and what to do when time is up.
///
/// Only `PolicyParser` builds one, and only from a document without errors; the schema checks
/// (`SchemaValidator`) run on it before any planning.
public struct Policy: Sendable {
    /// Path of the policy file as given, for diagnostics.
    public var path: String
    /// SHA-256 of the policy file's bytes: plans and audit entries name the policy by it.
    public var hash: String
    public var timeZone: TimeZone
    /// The zone naive dates (ISO text without a zone, SQL `date` and `timestamp`) are stored in:
    /// `storage_time_zone`, the policy's `time_zone` unless it says otherwise (Znuny stores UTC).
    public var storageTimeZone: TimeZone?
    /// First day of the fiscal year (month, day); 1 January unless the policy says otherwise.
    public var fiscalYearStart: MonthDay
    public var database: DatabaseLocation
    /// Where the audit chain head, the lock and (by default) the reports and key live.
    public var stateDirectory: String
    public var keyFile: String
    public var reportsDirectory: String
    public var batchSize: Int
    /// `batch_size` when the policy gives none, and the most it accepts. Measured
    /// (docs/operations.md, "Batch size"): 5000 is 1.1–1.3x the speed of 2000 for a lock of
    /// about 0.15–0.3 s per batch.
    public static let defaultBatchSize = 5000
    public static let batchSizes = 1...5000
    /// Below it, a run costs more than twice the default's time on SQLite (measured:
    /// docs/operations.md, "Batch size"): `check` warns.
    public static let costlyBatchSize = 300
    public var defaultSafety: SafetyLimits
    /// Storage formats declared for date columns, by `table.column`; others are introspected.
    public var dateFormats: [String: DateStorage]
    public var subjects: [Subject]
    /// When `retentiond serve` runs; `Schedule.default` unless the policy says otherwise.
    public var schedule: Schedule = .default
    /// How long run reports are kept (they may hold record keys): older ones are deleted when a
    /// new one is written. `reports.keep`, 400 days unless the policy says otherwise.
    public var reportsKeep: RetentionDuration = Policy.defaultReportsKeep
    /// Tables in which the application keeps legal holds of its own, honoured like retentiond's.
    public var applicationHolds: [ApplicationHolds] = []
    public static let defaultReportsKeep = try! RetentionDuration(parsing: "400d")
    /// Whether reports carry a forecast (`reports.forecast`, true unless the policy says otherwise):
    /// one statement per rule over the coming year's records, which a very large table may not want
    /// on every run.
    public var reportsForecast = true

    public var rules: [RetentionRule] { subjects.flatMap(\.rules) }

    public func subject(for rule: RetentionRule) -> Subject {
        subjects.first { $0.id == rule.subjectID }!
    }

    public var calendar: Calendar {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = timeZone
        return calendar
    }

    /// The calendar stored dates are read and cutoffs rendered in (cutoffs are computed in `calendar`).
    public var storageCalendar: Calendar {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = storageTimeZone ?? timeZone
        return calendar
    }
}

/// A table the application keeps its own legal holds in (`application_holds:`): each row names
/// a held row by its table's name and its primary key. Read on every plan and in every batch,
/// exactly where retentiond's own holds are; if it cannot be read, the run fails.
public struct ApplicationHolds: Sendable {
    public var table: Name
    /// The column holding the held row's table name.
    public var tableColumn: Name
    /// The column holding the held row's primary key (tables with a one-column primary key).
    public var keyColumn: Name
    /// A date column: the hold ends then (NULL: it does not end by itself).
    public var until: Name?
    /// Conditions a row must meet to hold (`released_at: { is_null: true }`).
    public var conditions: [FilterCondition]

    public init(table: Name, tableColumn: Name, keyColumn: Name, until: Name?, conditions: [FilterCondition]) {
        self.table = table
        self.tableColumn = tableColumn
        self.keyColumn = keyColumn
        self.until = until
        self.conditions = conditions
    }
}

/// A month and day of the year, as in `fiscal_year: { starts: "04-01" }`.
public struct MonthDay: Sendable, Hashable, Codable {
    public var month: Int
    public var day: Int
    public init(month: Int, day: Int) { self.month = month; self.day = day }
}

/// Which database the policy governs.
public enum DatabaseLocation: Sendable, Hashable {
    case sqlite(path: String)
    case postgres(PostgresLocation)
    /// MariaDB, or MySQL (the same protocol): docs/mariadb.md.
    case mariadb(MariaDBLocation)

    public var displayName: String {
        switch self {
        case .sqlite(let path): return "sqlite:\(path)"
        case .postgres(let location): return location.displayName
        case .mariadb(let location): return location.displayName
        }
    }
}

/// A PostgreSQL server and database. The password never appears in the policy: it is read from
/// a file (or systemd credential) or an environment variable when the connection opens.
public struct PostgresLocation: Sendable, Hashable {
    public enum TLSMode: String, Sendable, Hashable, CaseIterable {
        /// No TLS (the only choice over a Unix socket).
        case disable
        /// TLS if the server offers it, without checking its certificate.
        case prefer
        /// TLS or no connection, without checking the certificate.
        case require
        /// TLS with the certificate checked against the system's trust store and the host name.
        case verifyFull = "verify-full"
    }

    public var host: String
    public var port: Int
    /// The directory of the server's Unix socket (as libpq's `host=/var/run/postgresql`); used instead of host when set.
    public var socketDirectory: String?
    public var database: String
    public var user: String
    public var passwordFile: String?
    public var passwordEnvironment: String?
    /// Set only from a command-line URL (`demo --postgres`), never from a policy file.
    public var password: String?
    public var tls: TLSMode

    public init(host: String = "localhost", port: Int = 5432, socketDirectory: String? = nil, database: String, user: String,
                passwordFile: String? = nil, passwordEnvironment: String? = nil, password: String? = nil, tls: TLSMode = .prefer) {
        self.host = host
        self.port = port
        self.socketDirectory = socketDirectory
        self.database = database
        self.user = user
        self.passwordFile = passwordFile
        self.passwordEnvironment = passwordEnvironment
        self.password = password
        self.tls = tls
    }

    /// Where the database is, without credentials: what plans, reports and audit entries name.
    public var displayName: String {
        socketDirectory.map { "postgres://\(user)@[\($0)]:\(port)/\(database)" } ?? "postgres://\(user)@\(host):\(port)/\(database)"
    }

    /// Parses `postgres://user[:password]@host[:port]/database[?sslmode=disable|prefer|require|verify-full]`.
    public init?(url text: String) {
        guard let components = URLComponents(string: text), ["postgres", "postgresql"].contains(components.scheme),
              let user = components.user, !user.isEmpty else { return nil }
        let database = String(components.path.dropFirst())
        guard !database.isEmpty else { return nil }
        let mode = components.queryItems?.first { $0.name == "sslmode" }?.value.flatMap(TLSMode.init(rawValue:)) ?? .prefer
        let host = components.host ?? "localhost"
        self.init(host: host.hasPrefix("/") ? "localhost" : host, port: components.port ?? 5432,
                  socketDirectory: host.hasPrefix("/") ? host : nil, database: database, user: user,
                  password: components.password, tls: host.hasPrefix("/") ? .disable : mode)
    }
}

/// How a date column stores its values; SQLite has no date type of its own.
public enum DateStorage: String, Sendable, Hashable, Codable, CaseIterable {
    /// ISO-8601 text (`2024-05-01`, `2024-05-01 13:45:00`, `2024-05-01T13:45:00Z`).
    case iso8601
    /// Seconds since 1970-01-01 UTC, as an integer.
    case unix
    /// Milliseconds since 1970-01-01 UTC, as an integer.
    case unixMilliseconds = "unix_ms"
    /// Julian day number, as a real.
    case julian
    /// SQL `date` (PostgreSQL): a calendar day, local to the policy's time zone.
    case date
    /// SQL `timestamp without time zone` (PostgreSQL): wall-clock time in the policy's time zone.
    case timestamp
    /// SQL `timestamp with time zone` (PostgreSQL): an instant.
    case timestamptz

    /// The SQL type a bound cutoff is cast to for comparison with a native date column (the
    /// column itself is never cast, so its index still serves); nil where values compare as they are.
    public var sqlCast: String? {
        switch self {
        case .date, .timestamp: return "timestamp"
        case .timestamptz: return "timestamptz"
        case .iso8601, .unix, .unixMilliseconds, .julian: return nil
        }
    }
}

/// An identifier from the policy (table or column name) with where it was written.
public struct Name: Sendable, Hashable, CustomStringConvertible {
    public var value: String
    public var location: SourceLocation
    public init(_ value: String, at location: SourceLocation) {
        self.value = value
        self.location = location
    }
    public var description: String { value }
}

/// A category of people (prospects, clients, support users) mapped onto rows of one table.
public struct Subject: Sendable {
    public var id: String
    public var location: SourceLocation
    public var table: Name
    public var key: [Name]
    /// Tables related to the subject's rows, by name; filters, clocks and exemptions reach their
    /// columns as `relation.column`.
    public var relations: [Relation] = []
    public var filter: [FilterCondition]
    /// Columns an operator may see in reports and `plan --detail`; nothing else of a record is shown.
    public var reviewColumns: [Name]
    public var rules: [RetentionRule]
    /// Set (`key_uniqueness: checked`) where the database does not enforce the key — no primary
    /// key or unique index on it —: retentiond checks that it names one row per value at `check`
    /// and before each plan, and refuses to act while it does not.
    public var keyCheckedByRetentiond = false
}

/// Per-run limits that stop everything before any change when exceeded.
public struct SafetyLimits: Sendable, Hashable, Codable {
    public var maxRecords: Int?
    public var maxPercent: Double?
    public init(maxRecords: Int? = nil, maxPercent: Double? = nil) {
        self.maxRecords = maxRecords
        self.maxPercent = maxPercent
    }
    public func overriding(with other: SafetyLimits?) -> SafetyLimits {
        SafetyLimits(maxRecords: other?.maxRecords ?? maxRecords, maxPercent: other?.maxPercent ?? maxPercent)
    }
}

/// One phase of a subject's retention: when the clock plus the duration has passed, do the action.
public struct RetentionRule: Sendable {
    public var id: String
    public var subjectID: String
    public var location: SourceLocation
    /// The register entry this rule enforces, and its legal basis, quoted in reports.
    public var register: String
    public var legalBasis: String
    public var clock: Clock
    public var after: RetentionDuration
    public var action: RuleAction
    public var exemptions: Exemptions
    public var safety: SafetyLimits
    /// Rules whose keeping every row this rule deletes (its records, their children, owned rows)
    /// is declared to override (docs/policy.md, "Precedence").
    public var overrides: [Name] = []
}

/// The moment retention starts counting from.
public struct Clock: Sendable {
    public enum Combination: String, Sendable, Codable {
        /// The first non-NULL column in order (a column with its fallbacks).
        case firstPresent
        /// The latest non-NULL column.
        case latest
    }
    /// Columns of the row, or `relation.column`: the latest value among the related rows (the
    /// earliest for the names in `earliest`).
    public var columns: [Name]
    public var combination: Combination
    /// When true, the clock is the end of the fiscal year containing the date.
    public var fiscalYearEnd: Bool
    /// Related columns (`relation.column`) whose clock is their earliest related value, not their latest.
    public var earliest: Set<String>
    /// Related columns whose clock is the latest entry into the relation's `where`: the latest of
    /// its rows whose previous row (by this column, for the same record) does not meet it.
    public var entered: Set<String>

    public init(columns: [Name], combination: Combination = .firstPresent, fiscalYearEnd: Bool = false, earliest: Set<String> = [],
                entered: Set<String> = []) {
        self.columns = columns
        self.combination = combination
        self.fiscalYearEnd = fiscalYearEnd
        self.earliest = earliest
        self.entered = entered
    }

    /// How one of the clock's columns is read, in words: `closing.create_time`, `earliest events.datep`.
    public func words(for column: Name) -> String {
        if earliest.contains(column.value) { return "earliest \(column.value)" }
        if entered.contains(column.value) { return "last entry into \(column.value.split(separator: ".")[0]) (\(column.value))" }
        return column.value
    }

    public var description: String {
        let names = columns.map(words(for:))
        var text = names.count == 1 ? names[0] : "\(combination == .latest ? "latest" : "first of")(\(names.joined(separator: ", ")))"
        if fiscalYearEnd { text = "end of fiscal year of \(text)" }
        return text
    }
}

/// What happens to a record whose time is up.
public enum RuleAction: Sendable {
    /// Record that it is due (audit and report), change nothing: a warning period.
    case flag
    /// Overwrite personal fields in place; the row stays. Declared children are anonymised or
    /// deleted with it (`ChildTable.action`).
    case anonymise([FieldStrategy], children: [ChildTable] = [])
    /// Delete the row and its declared (or foreign-key-found) child rows, children first.
    case purge(ChildSelection)

    public var name: String { auditAction.rawValue }

    /// What the audit trail records for each record this action changes.
    public var auditAction: AuditAction {
        switch self {
        case .flag: return .flag
        case .anonymise: return .anonymise
        case .purge: return .purge
        }
    }
}

/// What an anonymisation does to one column.
public struct FieldStrategy: Sendable {
    public var column: Name
    public var strategy: AnonymisationStrategy
}

/// Reasons a due record must still be kept; a legal hold always applies and needs no declaration.
public struct Exemptions: Sendable {
    public var consent: [Consent]
    public var related: [RelatedKeep]

    public init(consent: [Consent] = [], related: [RelatedKeep] = []) {
        self.consent = consent
        self.related = related
    }

    public func merged(with other: Exemptions) -> Exemptions {
        Exemptions(consent: consent + other.consent, related: related + other.related)
    }
}

/// "Unless the person agreed otherwise": a column that extends retention.
public struct Consent: Sendable {
    public enum Kind: String, Sendable { case until, flag }
    /// `until`: a date column, exempt while it is in the future. `flag`: exempt while true/non-zero.
    public var kind: Kind
    public var column: Name
}

/// A related record that must still be kept keeps this one too (a recent invoice keeps the client's billing identity).
public struct RelatedKeep: Sendable {
    /// Where the related rows are: a relation of the subject, or a table and the columns of it
    /// that hold the subject's key, in key order.
    public enum Rows: Sendable {
        case relation(Name)
        case table(Name, foreignKey: [Name])
    }
    public var rows: Rows
    /// The related record keeps ours while its clock is younger than `within`; any related row keeps it when nil.
    public var clock: Clock?
    public var within: RetentionDuration?
    /// Whether a related row whose clock is NULL keeps the record (`undated: keep`); by default it
    /// does not, so an undated row cannot keep a record forever.
    public var keepUndated: Bool
    public var location: SourceLocation

    /// Where the related rows are, in words: the relation's name, or the table's.
    public var source: String {
        switch rows {
        case .relation(let name): return name.value
        case .table(let name, _): return name.value
        }
    }

    public init(rows: Rows, clock: Clock?, within: RetentionDuration?, keepUndated: Bool, location: SourceLocation) {
        self.rows = rows
        self.clock = clock
        self.within = within
        self.keepUndated = keepUndated
        self.location = location
    }

    /// How reports and diagnostics name the related rows.
    public var name: String {
        switch rows {
        case .relation(let n), .table(let n, _): return n.value
        }
    }
}
