import Foundation
import RetentionCore

/// A date column as the store must compare it: its storage and text layout are known, so the
/// cutoff can be bound in the same form and compared directly (and through an index).
public struct DateColumn: Sendable, Hashable {
    public var name: String
    public var storage: DateStorage
    public var layout: DateCodec.TextLayout

    public init(name: String, storage: DateStorage, layout: DateCodec.TextLayout) {
        self.name = name
        self.storage = storage
        self.layout = layout
    }
}

/// `clock < bound` for a clock made of one or more date columns, with the bound rendered per column.
public struct ClockPredicate: Sendable {
    public var columns: [DateColumn]
    public var combination: Clock.Combination
    public var bounds: [SQLValue]

    public init(columns: [DateColumn], combination: Clock.Combination, bound: Date, calendar: Calendar) {
        self.columns = columns
        self.combination = combination
        self.bounds = columns.map { DateCodec.render(bound, storage: $0.storage, layout: $0.layout, calendar: calendar) }
    }
}

/// A path from the subject table down to one child table: each link names the child's foreign key
/// columns and the parent columns they reference.
public struct ChildLink: Sendable, Hashable {
    public var table: String
    public var foreignKey: [String]
    public var referenced: [String]
    /// The child's primary key, to look for legal holds on child rows (empty: cannot be held).
    public var primaryKey: [String]

    public init(table: String, foreignKey: [String], referenced: [String], primaryKey: [String]) {
        self.table = table
        self.foreignKey = foreignKey
        self.referenced = referenced
        self.primaryKey = primaryKey
    }
}

/// Everything a store needs to find one rule's due records and the facts the planner decides on.
/// Built only from a validated policy and the introspected schema: every name in it exists.
public struct RuleQuery: Sendable {
    public var ruleID: String
    public var table: String
    public var keyColumns: [String]
    /// The table's primary key, by which legal holds name its rows (empty: its rows cannot be held).
    public var holdKeyColumns: [String]
    public var filter: [FilterCondition]
    public var clock: ClockPredicate
    /// `until` consents with `now` rendered for the column (and cast for native date columns);
    /// `flag` consents need no value.
    public var consentUntil: [(column: String, now: SQLValue, cast: String?)]
    public var consentFlags: [String]
    /// Related tables that keep the record: any row (clock nil) or a row whose clock is not yet past.
    public var related: [(table: String, foreignKey: [String], clock: ClockPredicate?)]
    /// For purges: child paths, deepest last in each path; used for hold checks and deletes.
    public var childPaths: [[ChildLink]]
    /// For purges: foreign keys pointing at the subject table that are not declared children.
    public var undeclaredReferences: [ForeignKey]
    public var fieldColumns: [String]
    public var reviewColumns: [String]
    /// Whether the tool's own tables exist yet (a never-enforced database has no holds or audit).
    public var toolTablesExist: Bool
    /// The moment legal holds are evaluated at (a hold whose `until` has passed no longer applies).
    public var holdTime: Date
    /// Leave out the records this rule already flagged or anonymised (their marks in
    /// `retentiond_done`): an idle run reads what is due, not the whole history.
    public var excludeDone = false

    public init(ruleID: String, table: String, keyColumns: [String], holdKeyColumns: [String], filter: [FilterCondition], clock: ClockPredicate,
                consentUntil: [(column: String, now: SQLValue, cast: String?)], consentFlags: [String],
                related: [(table: String, foreignKey: [String], clock: ClockPredicate?)], childPaths: [[ChildLink]],
                undeclaredReferences: [ForeignKey], fieldColumns: [String], reviewColumns: [String], toolTablesExist: Bool, holdTime: Date) {
        self.ruleID = ruleID
        self.table = table
        self.keyColumns = keyColumns
        self.holdKeyColumns = holdKeyColumns
        self.filter = filter
        self.clock = clock
        self.consentUntil = consentUntil
        self.consentFlags = consentFlags
        self.related = related
        self.childPaths = childPaths
        self.undeclaredReferences = undeclaredReferences
        self.fieldColumns = fieldColumns
        self.reviewColumns = reviewColumns
        self.toolTablesExist = toolTablesExist
        self.holdTime = holdTime
    }
}

/// What a store returns per candidate, beyond `Candidate`: whether a legal hold covers it.
public struct CandidateRow: Sendable {
    public var candidate: Candidate
    public var held: Bool

    public init(candidate: Candidate, held: Bool) {
        self.candidate = candidate
        self.held = held
    }
}
