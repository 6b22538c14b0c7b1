import Foundation
import RetentionCore

/// A date column as the store must compare it: its storage and text layout are known, so the
/// cutoff can be bound in the same form and compared directly (and through an index).
public struct DateColumn: Sendable {
    public var name: String
    public var storage: DateStorage
    public var layout: DateCodec.TextLayout
    /// For a column of related rows: the path to them (empty: a column of the row itself)…
    public var path: [RelationStep]
    /// …and whether the clock is their earliest value rather than their latest.
    public var earliest: Bool

    public init(
        name: String, storage: DateStorage, layout: DateCodec.TextLayout, path: [RelationStep] = [],
        earliest: Bool = false
    ) {
        self.name = name
        self.storage = storage
        self.layout = layout
        self.path = path
        self.earliest = earliest
    }
}

/// One step from a row to its related rows: the rows of `table` whose `on` columns equal the
/// starting row's, and that meet `conditions`.
public struct RelationStep: Sendable {
    public struct Pair: Sendable {
        public var column: String
        public var parentColumn: String
        public init(column: String, parentColumn: String) {
            self.column = column
            self.parentColumn = parentColumn
        }
    }
    public var table: String
    public var on: [Pair]
    public var caseInsensitive: Bool
    /// The starting row's `on` columns are read as text (`as: text`).
    public var parentAsText = false
    public var conditions: [RowCondition]
    /// An index leads with the step's first `on` column (an exact match): a test through the step
    /// is then written as one index probe per record (see `SQLBuilder.exists`).
    public var indexed: Bool

    public init(
        table: String, on: [Pair], caseInsensitive: Bool = false, conditions: [RowCondition] = [], indexed: Bool = false
    ) {
        self.table = table
        self.on = on
        self.caseInsensitive = caseInsensitive
        self.conditions = conditions
        self.indexed = indexed
    }
}

/// A condition on a row, possibly through its relations; every form compiles to plain column
/// tests and `EXISTS` probes that an index on the relation's columns serves.
public indirect enum RowCondition: Sendable {
    public enum Test: Sendable {
        case filter(FilterCondition.Test)
        /// Holds a date later than the value (rendered for the column; `cast` for native dates).
        case laterThan(SQLValue, cast: String?)
        /// A consent flag is set.
        case flagSet
    }
    /// A test on a column of the row.
    case column(String, Test)
    /// Some row reached through the path meets every condition (`exists: false`: none does).
    case related([RelationStep], [RowCondition], exists: Bool)
    /// The row's clock is not yet past its bound; a NULL clock counts as recent only with `keepUndated`.
    case recentClock(ClockPredicate, keepUndated: Bool)
    /// The row enters a set of rows from outside it: its previous row does not meet the set's
    /// conditions (a clock's `entered`, see `RowEntry`).
    case entersSet(RowEntry)

    /// `condition` on the row at the end of `path` (the row itself when the path is empty).
    public static func through(_ path: [RelationStep], _ condition: RowCondition) -> RowCondition {
        path.isEmpty ? condition : .related(path, [condition], exists: true)
    }
}

/// What makes a row the entry into a set: the rows of `table` that share its `partition` columns
/// (one record's history rows) are ordered by `order`, then `key`; the row is an entry when the one
/// just before it does not meet `conditions` (or there is none). A ticket closed, moved between
/// closed states, reopened and closed again entered the closed set twice; the last entry is its closure.
public struct RowEntry: Sendable {
    public var table: String
    public var partition: [String]
    public var order: String
    public var key: String
    public var conditions: [RowCondition]

    public init(table: String, partition: [String], order: String, key: String, conditions: [RowCondition]) {
        self.table = table
        self.partition = partition
        self.order = order
        self.key = key
        self.conditions = conditions
    }
}

/// `clock < bound` for a clock made of one or more date columns, with the bound rendered per column.
public struct ClockPredicate: Sendable {
    public var columns: [DateColumn]
    public var combination: RetentionClock.Combination
    public var bounds: [SQLValue]

    /// `calendar` is the one dates are stored in (`Policy.storageCalendar`).
    public init(columns: [DateColumn], combination: RetentionClock.Combination, bound: Date, calendar: Calendar) {
        self.columns = columns
        self.combination = combination
        self.bounds = columns.map {
            DateCodec.render(bound, storage: $0.storage, layout: $0.layout, calendar: calendar)
        }
    }
}

/// A path from the subject table down to one child table: each link names the child's foreign key
/// columns and the parent columns they reference.
public struct ChildLink: Sendable {
    public var table: String
    public var foreignKey: [String]
    public var referenced: [String]
    /// The child's primary key, to look for legal holds on child rows (empty: cannot be held).
    public var primaryKey: [String]
    /// Tests on the child's own columns (a polymorphic child's discriminator).
    public var conditions: [RowCondition]
    /// Match the foreign key case-insensitively.
    public var caseInsensitive: Bool
    /// The referenced (parent) columns are read as text (`as: text`).
    public var parentAsText = false
    /// A row the previous link's rows point to (`OwnedTable`), joined the other way round:
    /// `foreignKey` are the owned table's columns, `referenced` the pointing columns. It is
    /// deleted after them, and only where none of `stillReferencedBy` points to it any more.
    public var owned = false
    public var stillReferencedBy: [ForeignKey] = []
    /// The subjects whose rules govern this table's rows where the rule deletes them (none for
    /// rows it anonymises, and none that an `overrides` names): while one keeps a row, the row
    /// stays — and so does its record, unless the row is owned (see `RowKeeper`).
    public var keptBy: [String] = []
    /// The rules an `overrides` named for these rows, which would have kept them otherwise (for `check`).
    public var overrides: [String] = []
    /// An index leads with `foreignKey`'s first column (an exact match): the link's rows are
    /// found from a row above by one probe (see `PlanningPass`, which counts a dry run's children
    /// per record only along such links).
    public var indexed: Bool

    public init(
        table: String, foreignKey: [String], referenced: [String], primaryKey: [String],
        conditions: [RowCondition] = [], caseInsensitive: Bool = false, indexed: Bool = false
    ) {
        self.table = table
        self.foreignKey = foreignKey
        self.referenced = referenced
        self.primaryKey = primaryKey
        self.conditions = conditions
        self.caseInsensitive = caseInsensitive
        self.indexed = indexed
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
    public var filter: [RowCondition]
    public var clock: ClockPredicate
    /// The record is kept while any of these holds: a consent date after now, a consent flag set.
    public var consent: [RowCondition]
    /// The record is kept while any of these holds: a related row exists (whose clock is not yet past).
    public var related: [RowCondition]
    /// For purges: child paths, deepest last in each path; used for hold checks and deletes.
    public var childPaths: [[ChildLink]]
    /// For purges: foreign keys pointing at the subject table that are not declared children.
    public var undeclaredReferences: [ForeignKey]
    /// Paths to the rows one level below the deepest a `tree` follows (`RuleShape.treeLimits`):
    /// a batch that finds rows there stops rather than leave them behind.
    public var treeLimits: [[ChildLink]] = []
    /// The other subjects' say over the rows this rule deletes (`ChildLink.keptBy`,
    /// `subjectKeptBy`), each read as a fact of its own (`CandidateRow.candidate.keptByRules`).
    public var keepers: [RowKeeper] = []
    /// For purges: the other subjects sharing the table whose rules must also let the record go.
    public var subjectKeptBy: [String] = []
    public var fieldColumns: [String]
    public var reviewColumns: [String]
    /// The columns the rule's statistics count by and sum (`RuleStatistics.columns`): read by a
    /// batch's re-check, not by planning.
    public var statisticsColumns: [String] = []
    /// Whether the tool's own tables exist yet (a never-enforced database has no holds or audit).
    public var toolTablesExist: Bool
    /// When known, the tables with a retentiond hold in force: hold tests are written for those
    /// only, so records whose tables hold nothing have no child rows probed for holds. Planning
    /// sets it; so does a batch's re-check where its transaction excludes every other writer
    /// (SQLite), reading it in that transaction. Elsewhere (PostgreSQL) the re-check leaves it
    /// nil and tests every table in its one statement — a hold placed after planning is found either way.
    public var heldTables: Set<String>?
    /// The moment legal holds are evaluated at (a hold whose `until` has passed no longer applies).
    public var holdTime: Date
    /// An erasure request: every record of the subject is due now, whatever its clock.
    public var dueNow = false
    /// The application's own hold tables, checked beside retentiond's holds.
    public var applicationHolds: [ApplicationHoldSource] = []
    /// Leave out the records this rule already flagged or anonymised (their marks in
    /// `retentiond_done`): an idle run reads what is due, not the whole history.
    public var excludeDone = false

    public init(
        ruleID: String, table: String, keyColumns: [String], holdKeyColumns: [String], filter: [RowCondition],
        clock: ClockPredicate,
        consent: [RowCondition], related: [RowCondition], childPaths: [[ChildLink]],
        undeclaredReferences: [ForeignKey], fieldColumns: [String], reviewColumns: [String], toolTablesExist: Bool,
        holdTime: Date
    ) {
        self.ruleID = ruleID
        self.table = table
        self.keyColumns = keyColumns
        self.holdKeyColumns = holdKeyColumns
        self.filter = filter
        self.clock = clock
        self.consent = consent
        self.related = related
        self.childPaths = childPaths
        self.undeclaredReferences = undeclaredReferences
        self.fieldColumns = fieldColumns
        self.reviewColumns = reviewColumns
        self.toolTablesExist = toolTablesExist
        self.holdTime = holdTime
    }
}

/// An application's hold table as the store reads it (see `ApplicationHolds`), with `now`
/// rendered for its `until` column.
public struct ApplicationHoldSource: Sendable {
    public var table: String
    public var tableColumn: String
    public var keyColumn: String
    public var until: (column: String, now: SQLValue, cast: String?)?
    public var conditions: [RowCondition]

    public init(
        table: String, tableColumn: String, keyColumn: String, until: (column: String, now: SQLValue, cast: String?)?,
        conditions: [RowCondition]
    ) {
        self.table = table
        self.tableColumn = tableColumn
        self.keyColumn = keyColumn
        self.until = until
        self.conditions = conditions
    }
}

/// What a store returns per candidate, beyond `Candidate`: whether a legal hold covers it.
public struct CandidateRow: Sendable {
    public var candidate: Candidate
    public var held: Bool
    /// In a re-check of given keys with `RuleQuery.excludeDone`: the rule's mark is on the record
    /// (another run did it meanwhile). Paged reads leave marked records out instead.
    public var markedDone = false

    public init(candidate: Candidate, held: Bool) {
        self.candidate = candidate
        self.held = held
    }
}

/// One record's standing under a rule, whatever its clock (`SQLBuilder.standing`): what `explain`
/// and an erasure request decide on.
public struct RecordStanding: Sendable {
    /// The record is the rule's subject (its filter holds).
    public var applies: Bool
    public var clockValues: [SQLValue]
    /// The clock is past the rule's cutoff.
    public var past: Bool
    /// The rule already flagged or anonymised it.
    public var done: Bool
    public var consented: Bool
    public var keptByRelated: Bool
    public var referencedByUndeclared: Bool
    public var held: Bool
    /// The rules that keep it or a row its deletion would take (see `RowKeeper`).
    public var keptByRules: [String]
}

extension RuleQuery {
    /// The tables other than its own whose rows can change which records this rule finds due:
    /// those its filter, clock, consent and related records reach, the undeclared references that
    /// keep a record, and the tables of child rows other subjects keep. A run that deleted or
    /// changed rows of one of them may have made records of this rule due (`becameDue`).
    public var tablesDecidedBy: Set<String> {
        var tables: Set<String> = Set(undeclaredReferences.map(\.table))
        func visit(_ condition: RowCondition) {
            switch condition {
            case .column: break
            case .related(let path, let conditions, _):
                tables.formUnion(path.map(\.table))
                conditions.forEach(visit)
            case .recentClock(let clock, _): visit(clock)
            case .entersSet(let entry): entry.conditions.forEach(visit)
            }
        }
        func visit(_ clock: ClockPredicate) {
            for column in clock.columns {
                tables.formUnion(column.path.map(\.table))
                column.path.flatMap(\.conditions).forEach(visit)
            }
        }
        (filter + consent + related).forEach(visit)
        visit(clock)
        for path in childPaths where path.contains(where: { !$0.keptBy.isEmpty }) {
            tables.formUnion(path.map(\.table))
        }
        for keeper in keepers {
            keeper.filter.forEach(visit)
            for release in keeper.releases {
                visit(release.clock)
                release.keeps.forEach(visit)
            }
        }
        return tables
    }
}
