import Foundation

/// The moment retention starts counting from.
public struct RetentionClock: Sendable {
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

    public init(
        columns: [Name], combination: Combination = .firstPresent, fiscalYearEnd: Bool = false,
        earliest: Set<String> = [],
        entered: Set<String> = []
    ) {
        self.columns = columns
        self.combination = combination
        self.fiscalYearEnd = fiscalYearEnd
        self.earliest = earliest
        self.entered = entered
    }

    /// How one of the clock's columns is read, in words: `closing.create_time`, `earliest events.datep`.
    public func words(for column: Name) -> String {
        if earliest.contains(column.value) { return "earliest \(column.value)" }
        if entered.contains(column.value) {
            return "last entry into \(column.value.split(separator: ".")[0]) (\(column.value))"
        }
        return column.value
    }

    public var description: String {
        let names = columns.map(words(for:))
        var text =
            names.count == 1
            ? names[0] : "\(combination == .latest ? "latest" : "first of")(\(names.joined(separator: ", ")))"
        if fiscalYearEnd { text = "end of fiscal year of \(text)" }
        return text
    }
}
