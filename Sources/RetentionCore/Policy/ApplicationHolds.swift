import Foundation

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
