import Foundation

/// Rows of another table that belong to a subject's row (or to a related row, for a chain):
/// `ticket_state` of a ticket, the events of a company, the extrafields row of a third party.
public struct Relation: Sendable {
    public var name: Name
    public var table: Name
    /// Each pair: a column of the related table equals a column of the parent row.
    public var on: [(column: Name, parentColumn: Name)]
    /// The relation this one starts from (`on: { id: state.type_id }`); nil: the subject's row.
    public var parent: String?
    /// Conditions on the related rows (`where:`): a discriminator, a state. Columns may name
    /// relations chained from this one.
    public var conditions: [FilterCondition]
    /// Compare the `on` columns case-insensitively, as an application comparing logins does.
    public var caseInsensitive: Bool
    /// Read the starting row's `on` columns as text (`as: text`): a text column holding another
    /// table's numeric ids (Znuny's `link_relation.source_key`).
    public var asText = false

    public init(
        name: Name, table: Name, on: [(column: Name, parentColumn: Name)], parent: String?,
        conditions: [FilterCondition] = [], caseInsensitive: Bool = false
    ) {
        self.name = name
        self.table = table
        self.on = on
        self.parent = parent
        self.conditions = conditions
        self.caseInsensitive = caseInsensitive
    }
}

/// One condition of a filter; all conditions must hold. The column may be `relation.column` (some
/// related row satisfies the test) or, with `exists`, a relation's name.
public struct FilterCondition: Sendable {
    public enum Test: Sendable {
        case equals(SQLValue)
        case notEquals(SQLValue)
        case oneOf([SQLValue])
        case isNull(Bool)
        /// The relation named by `column` has (true) or has no (false) rows.
        case exists(Bool)
    }
    public var column: Name
    public var test: Test

    public init(column: Name, test: Test) {
        self.column = column
        self.test = test
    }
}
