import Foundation
import RetentionCore

/// The statistics table (`Policy.statisticsTable`): one row per rule, period and group
/// (`StatisticsRow`), created by the first enforcing command of a policy that keeps statistics.
public enum StatisticsTable {
    public static let columns = ["rule_id", "period", "group_values", "records", "sums", "period_open"]
    /// The longest group text a row holds (within MariaDB's key length on every database alike).
    public static let groupLimit = 500

    /// The table's columns as each database declares them: text, the count, the sums as JSON
    /// text (exact decimals), `period_open` as 0 or 1.
    public static func definition(text: String, key: (rule: String, period: String, group: String), integer: String)
        -> String
    {
        "rule_id \(key.rule) NOT NULL, period \(key.period) NOT NULL, group_values \(key.group) NOT NULL, records \(integer) NOT NULL, "
            + "sums \(text) NOT NULL, period_open \(integer) NOT NULL, PRIMARY KEY (rule_id, period, group_values)"
    }
}

extension StoreSession {
    /// The rows of the statistics table `table` for `ruleID` (of `periods` when given; only the
    /// open ones with `openOnly`), by period and group; none while the table does not exist.
    public func statisticsRows(table: String, ruleID: String, periods: [String]?, openOnly: Bool) throws
        -> [StatisticsRow]
    {
        guard try tableExists(table) else { return [] }
        if let periods, periods.isEmpty { return [] }
        var sql: SQL =
            "SELECT rule_id, period, group_values, records, sums, period_open FROM \(ident: table) WHERE rule_id = \(.text(ruleID))"
        if let periods { sql = sql + " AND period IN (\(SQL.list(periods.map { .text($0) })))" }
        if openOnly { sql = sql + " AND period_open = 1" }
        sql = sql + " ORDER BY period, group_values"
        return try rows(sql).map { row in
            guard row.count == 6, case .text(let rule) = row[0], case .text(let period) = row[1],
                case .text(let group) = row[2],
                case .integer(let records) = row[3], let sumsText = row[4].textValue,
                let sums = StatisticsRow.sums(from: sumsText),
                case .integer(let open) = row[5]
            else {
                throw StoreFailure.foreignStatisticsRow(table: table, rule: ruleID)
            }
            return StatisticsRow(
                rule: rule, period: period, group: group, records: records, sums: sums, open: open != 0)
        }
    }
}

extension WritingSession {
    /// Replaces the rows `removing` and `writing` name (by rule, period and group) with `writing`.
    public func writeStatistics(table: String, removing: [StatisticsRow], writing: [StatisticsRow]) throws {
        let gone = (removing + writing).map { RecordKey([.text($0.rule), .text($0.period), .text($0.group)]) }
        guard !gone.isEmpty else { return }
        if let long = writing.first(where: { $0.group.count > StatisticsTable.groupLimit }) {
            throw StoreFailure.statisticsGroupTooLong(rule: long.rule)
        }
        try execute(builder.deleteRows(table: table, keyColumns: ["rule_id", "period", "group_values"], keys: gone))
        guard !writing.isEmpty else { return }
        let values = writing.map { row -> SQL in
            "(\(SQL.list([.text(row.rule), .text(row.period), .text(row.group), .integer(row.records), .text(row.sumsText), .integer(row.open ? 1 : 0)])))"
        }.joined(separator: ", ")
        try execute(
            "INSERT INTO \(ident: table) (\(idents: StatisticsTable.columns)) VALUES \(values)")
    }
}
