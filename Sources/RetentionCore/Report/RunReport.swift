import Foundation

/// What one run did or would do; written as JSON for machines and Markdown for people.
public struct RunReport: Codable, Sendable {
    public enum Mode: String, Codable, Sendable {
        case plan
        case dryRun = "dry-run"
        case apply, run
    }
    public enum Status: String, Codable, Sendable {
        /// Every planned change was applied (or, for a dry run, planned).
        case complete
        /// Stopped before the end: committed batches stay, the next run finishes the work.
        case incomplete
        /// Refused before any change (safety limit, clock, lock, plan mismatch).
        case refused
    }

    public var runID: String
    public var mode: Mode
    public var status: Status
    public var message: String?
    /// For an incomplete run: what stopped it (`database-unavailable` when the database went away).
    public var failure: FailureKind?
    public var policyPath: String
    public var policyHash: String
    public var database: String
    public var now: Date
    public var startedAt: Date
    public var finishedAt: Date
    public var rules: [RuleTally] { didSet { tables = Self.tables(rules, planned: planned) } }
    /// Per table, the rows deleted and changed (planned, in a dry run), whatever reached them: a
    /// rule's own records, its child and owned rows; a row two rules reach is counted once, under
    /// the rule whose batch takes it (`RunSimulation`). Nil in reports of versions before it was
    /// written. A row two anonymisations change counts twice (two changes).
    public private(set) var tables: [String: TableChange]?
    /// Records a rule could not change (a constraint or trigger refused them): isolated from their
    /// batch, so the rest of the run went on. Named by rule and pseudonymous reference.
    public var failures: [RecordFailure] = []

    public init(
        runID: String, mode: Mode, status: Status, message: String? = nil, policyPath: String, policyHash: String,
        database: String, now: Date, startedAt: Date, finishedAt: Date, rules: [RuleTally]
    ) {
        self.runID = runID
        self.mode = mode
        self.status = status
        self.message = message
        self.policyPath = policyPath
        self.policyHash = policyHash
        self.database = database
        self.now = now
        self.startedAt = startedAt
        self.finishedAt = finishedAt
        self.rules = rules
        tables = Self.tables(rules, planned: planned)
    }

    /// Rows of one table a run deleted or changed (flagging changes no row).
    public struct TableChange: Codable, Sendable, Hashable {
        public var deleted = 0
        public var changed = 0
        public init(deleted: Int = 0, changed: Int = 0) {
            self.deleted = deleted
            self.changed = changed
        }
    }

    var planned: Bool { mode == .plan || mode == .dryRun }

    public static func tables(_ rules: [RuleTally], planned: Bool) -> [String: TableChange] {
        var tables: [String: TableChange] = [:]
        for r in rules {
            // A record another rule takes is counted there, as a row of its children or its own.
            let acted = r.due - r.takenTotal
            tables[r.table, default: TableChange()].deleted += planned ? (r.deletes ? acted : 0) : r.purged
            tables[r.table, default: TableChange()].changed +=
                planned ? (r.action == "anonymise" ? acted : 0) : r.anonymised
            for (table, rows) in r.childRowsPurged { tables[table, default: TableChange()].deleted += rows }
            for (table, rows) in r.childRowsAnonymised { tables[table, default: TableChange()].changed += rows }
        }
        return tables.filter { $0.value.deleted > 0 || $0.value.changed > 0 }
    }

    public var durationSeconds: Double { finishedAt.timeIntervalSince(startedAt) }

    public var totalDue: Int { rules.reduce(0) { $0 + $1.due } }
    /// Records the run's own changes made due, which the next run acts on (`RuleTally.becameDue`).
    public var totalBecameDue: Int { rules.reduce(0) { $0 + ($1.becameDue ?? 0) } }
    public var totalChanged: Int { rules.reduce(0) { $0 + $1.flagged + $1.anonymised + $1.purged } }

    /// Complete, with no record refused: what `last_run_success` and the exit status 0 mean.
    public var succeeded: Bool { status == .complete && failures.isEmpty }

    /// Failed records per rule id.
    public var failedByRule: [String: Int] { failures.reduce(into: [:]) { $0[$1.rule, default: 0] += 1 } }
}

/// A record whose change the database refused; the rest of its batch and run went on.
public struct RecordFailure: Codable, Sendable, Hashable {
    public var rule: String
    /// The record's pseudonymous reference, as in the audit trail (`audit show --subject` finds it).
    public var reference: String
    /// The database's message (never the record's values).
    public var reason: String

    public init(rule: String, reference: String, reason: String) {
        self.rule = rule
        self.reference = reference
        self.reason = reason
    }
}
