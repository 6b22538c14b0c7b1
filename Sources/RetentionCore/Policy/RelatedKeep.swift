import Foundation

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
    public var clock: RetentionClock?
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

    public init(
        rows: Rows, clock: RetentionClock?, within: RetentionDuration?, keepUndated: Bool, location: SourceLocation
    ) {
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
