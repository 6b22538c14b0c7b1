import Foundation
import RetentionCore

/// A rule as it maps onto the live schema: its date columns' storage, the child tables a purge
/// reaches, and the references a purge must respect.
public struct RuleShape: Sendable {
    public enum ConsentShape: Sendable {
        /// A date column (at the end of a path), kept while it is after now.
        case until([RelationStep], DateColumn)
        /// A flag column (at the end of a path), kept while set.
        case flag([RelationStep], String)
    }
    /// The subject's filter.
    public var filter: [RowCondition]
    public var clock: [DateColumn]
    public var consent: [ConsentShape]
    /// A related record that keeps this one (`exemptions.related`), found in the schema.
    public struct Related: Sendable {
        /// As the policy says it: the window (`clock`, `within`) and `undated`.
        public var keep: RelatedKeep
        /// From the record to the related rows.
        public var path: [RelationStep]
        /// The related rows' clock columns (seen from them); nil when any related row keeps.
        public var clock: [DateColumn]?
    }
    /// Related rows that keep the record, one per `exemptions.related` entry.
    public var related: [Related]
    public var childPaths: [[ChildLink]]
    public var undeclaredReferences: [ForeignKey]
    /// For purges: the other subjects on the same table whose rules must also let a record go.
    public var subjectKeptBy: [String] = []
    /// The rules of those subjects that an `overrides` named (for `check`).
    public var subjectOverrides: [String] = []
    /// Storage of each anonymised field that is a date (for `year`).
    public var fieldDates: [String: DateColumn]

    /// What an anonymise rule does to its declared children, in the batch's transaction.
    public enum ChildWork: Sendable {
        /// Delete the rows at the end of this path.
        case purge([ChildLink])
        /// Anonymise the rows at the end of this path (one link), found by their primary key.
        case anonymise([ChildLink], fields: [FieldStrategy], keyColumns: [String], fieldDates: [String: DateColumn])
    }
    public var childWork: [ChildWork] = []
    /// For each `tree` a purge follows: the path to the rows one level below the deepest it
    /// deletes. A batch that finds rows there stops (rolled back) rather than leave them pointing
    /// at rows it deleted.
    public var treeLimits: [[ChildLink]] = []
}
