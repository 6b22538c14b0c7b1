import Foundation

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
