import Foundation

/// One row of the statistics table: how many records a rule erased in one period of its clock and
/// one group of its `by` columns, and the sums of its `sum` columns over them.
public struct StatisticsRow: Sendable, Hashable {
    public var rule: String
    /// `2024-03`, `2024-Q1`, `2024` (`RuleStatistics.Period.label`).
    public var period: String
    /// The `by` columns' values as a JSON object, keys sorted (`{}` without `by`), or `other`.
    public var group: String
    public var records: Int64
    /// Per summed column, the exact decimal sum (a column whose every value was NULL is absent).
    public var sums: [String: Decimal]
    /// The period may still receive records, and its small groups are not merged yet.
    public var open: Bool

    /// The group that small groups are merged into once their period is over.
    public static let other = "other"

    public init(
        rule: String, period: String, group: String, records: Int64 = 0, sums: [String: Decimal] = [:], open: Bool
    ) {
        self.rule = rule
        self.period = period
        self.group = group
        self.records = records
        self.sums = sums
        self.open = open
    }

    /// Adds another row's (or a batch's) records and sums.
    public mutating func add(records: Int64, sums: [String: Decimal]) {
        self.records += records
        for (column, value) in sums { self.sums[column, default: 0] += value }
    }

    /// The sums as stored: a JSON object of decimal texts, keys sorted (`{"amount":"1234.5"}`).
    public var sumsText: String {
        "{"
            + sums.keys.sorted().map {
                "\(JSONText.quoted($0)):\(JSONText.quoted(NSDecimalNumber(decimal: sums[$0]!).stringValue))"
            }.joined(separator: ",") + "}"
    }

    /// Reads `sumsText` back; nil when the text is not what `sumsText` writes.
    public static func sums(from text: String) -> [String: Decimal]? {
        guard let data = text.data(using: .utf8),
            let object = try? JSONSerialization.jsonObject(with: data) as? [String: String]
        else { return nil }
        var sums: [String: Decimal] = [:]
        for (column, value) in object {
            guard let decimal = Decimal(string: value, locale: Locale(identifier: "en_US_POSIX")) else { return nil }
            sums[column] = decimal
        }
        return sums
    }

    /// The canonical group text of `by` columns' values (names and values in the same order).
    public static func group(columns: [String], values: [SQLValue]) -> String {
        let pairs = zip(columns, values).sorted { $0.0 < $1.0 }
        return "{" + pairs.map { "\(JSONText.quoted($0.0)):\(json($0.1))" }.joined(separator: ",") + "}"
    }

    private static func json(_ value: SQLValue) -> String {
        switch value {
        case .null: return "null"
        case .integer(let n): return String(n)
        case .real(let d): return d.isFinite ? String(d) : JSONText.quoted(String(d))
        case .text(let s): return JSONText.quoted(s)
        case .blob(let d): return JSONText.quoted(d.base64EncodedString())
        }
    }

    /// A value of a `sum` column as an exact decimal; nil for NULL.
    public static func decimal(_ value: SQLValue) -> Decimal?? {
        switch value {
        case .null: return .some(nil)
        case .integer(let n): return Decimal(n)
        case .real(let d):
            return d.isFinite ? Decimal(string: String(d), locale: Locale(identifier: "en_US_POSIX")) : nil
        case .text(let s):
            return Decimal(string: s.trimmingCharacters(in: .whitespaces), locale: Locale(identifier: "en_US_POSIX"))
                .map { .some($0) }
        case .blob: return nil
        }
    }
}

/// What one batch adds to a rule's statistics, then how it lands among the rows already stored.
public struct StatisticsTally: Sendable {
    public let rule: String
    public let statistics: RuleStatistics
    struct Slot: Hashable, Comparable {
        var period: String
        var group: String
        static func < (a: Slot, b: Slot) -> Bool { (a.period, a.group) < (b.period, b.group) }
    }
    private var counts: [Slot: (records: Int64, sums: [String: Decimal])] = [:]
    /// The periods met so far, by start (a calendar computation per record costs more than the
    /// rest of the count): each record's is found among them by a binary search.
    private var periodsMet: [(start: Date, end: Date, label: String)] = []

    public init(rule: String, statistics: RuleStatistics) {
        self.rule = rule
        self.statistics = statistics
    }

    public var isEmpty: Bool { counts.isEmpty }
    /// How many records each period counted.
    public var recordsPerPeriod: [String: Int] {
        counts.reduce(into: [:]) { $0[$1.key.period, default: 0] += Int($1.value.records) }
    }

    /// The periods the batch counted records in.
    public var periods: [String] { Array(Set(counts.keys.map(\.period))).sorted() }

    /// Counts one erased record: its clock's date and its `statistics.columns` values (`by` then
    /// `sum`). A `sum` value that is no number is an error naming the column (never the value).
    public mutating func count(clock: Date, values: [SQLValue], calendar: Calendar) throws(StatisticsError) {
        let by = statistics.by.map(\.value)
        let slot = Slot(
            period: period(of: clock, calendar: calendar),
            group: by.isEmpty ? "{}" : StatisticsRow.group(columns: by, values: Array(values.prefix(by.count))))
        var sums: [String: Decimal] = [:]
        for (name, value) in zip(statistics.sum, values.dropFirst(by.count)) {
            guard let decimal = StatisticsRow.decimal(value) else {
                throw StatisticsError(rule: rule, column: name.value)
            }
            if let decimal { sums[name.value] = decimal }
        }
        var entry = counts[slot] ?? (0, [:])
        entry.records += 1
        for (column, value) in sums { entry.sums[column, default: 0] += value }
        counts[slot] = entry
    }

    private mutating func period(of date: Date, calendar: Calendar) -> String {
        var low = 0
        var high = periodsMet.count
        while low < high {
            let middle = (low + high) / 2
            if periodsMet[middle].end <= date { low = middle + 1 } else { high = middle }
        }
        if low < periodsMet.count, periodsMet[low].start <= date { return periodsMet[low].label }
        let label = statistics.period.label(of: date, calendar: calendar)
        if let start = statistics.period.start(of: label, calendar: calendar),
            let end = statistics.period.end(of: label, calendar: calendar),
            start <= date, date < end
        {
            periodsMet.insert((start, end, label), at: low)
        }
        return label
    }

    /// The rows to write once the batch's counts are added to `stored` (the rule's rows of the
    /// batch's periods): a group already stored grows; a new group of a period still open gets its
    /// own open row; a new group of a period already over (its small groups merged: a record kept
    /// by a hold until now) goes to `other`, since it would otherwise be a group of one.
    public func landing(on stored: [StatisticsRow]) -> [StatisticsRow] {
        var rows = Dictionary(
            stored.map { (Slot(period: $0.period, group: $0.group), $0) }, uniquingKeysWith: { a, _ in a })
        let over = Set(stored.filter { !$0.open }.map(\.period))
        var changed = Set<Slot>()
        for (slot, count) in counts.sorted(by: { $0.key < $1.key }) {
            var target = slot
            if rows[slot] == nil, over.contains(slot.period) { target.group = StatisticsRow.other }
            var row =
                rows[target]
                ?? StatisticsRow(
                    rule: rule, period: target.period, group: target.group, open: !over.contains(slot.period))
            row.add(records: count.records, sums: count.sums)
            rows[target] = row
            changed.insert(target)
        }
        return changed.sorted().compactMap { rows[$0] }
    }
}

/// A `sum` column held something that is no number.
public struct StatisticsError: Error, Sendable, CustomStringConvertible {
    public var rule: String
    public var column: String
    public var description: String {
        "rule `\(rule)`: a value of `\(column)` (statistics.sum) is not a number, so the batch was rolled back; sum numeric columns only"
    }
}

/// Once a period is over — every record of it that the rule will erase is due — its groups of
/// fewer than `min_group` records are merged into `other`, so that no group stored stands for a
/// handful of people.
public enum StatisticsFolding {
    /// `rows`: every stored row of the periods to close. Returns the rows to remove (small groups)
    /// and the rows to write (groups kept, now closed, and each period's `other`).
    public static func close(_ rows: [StatisticsRow], minGroup: Int, grouped: Bool) -> (
        removed: [StatisticsRow], written: [StatisticsRow]
    ) {
        var removed: [StatisticsRow] = []
        var written: [StatisticsRow] = []
        for (period, periodRows) in Dictionary(grouping: rows, by: \.period).sorted(by: { $0.key < $1.key }) {
            guard periodRows.contains(where: \.open) else { continue }
            let rule = periodRows[0].rule
            var other =
                periodRows.first { $0.group == StatisticsRow.other }
                ?? StatisticsRow(rule: rule, period: period, group: StatisticsRow.other, open: false)
            var merged = false
            for var row in periodRows.sorted(by: { $0.group < $1.group }) where row.group != StatisticsRow.other {
                if grouped, row.open, row.records < Int64(minGroup) {
                    other.add(records: row.records, sums: row.sums)
                    removed.append(row)
                    merged = true
                } else if row.open {
                    row.open = false
                    written.append(row)
                }
            }
            if merged || other.open {
                other.open = false
                written.append(other)
            }
        }
        return (removed, written)
    }
}
