import Foundation
import Logging
import RetentionCore
import RetentionStore

/// How many records will become due, per rule, in each coming week and month: the same clocks,
/// filters and relations as `plan`, one statement per rule (a sum per period boundary).
public struct Forecaster: Sendable {
    let resolved: ResolvedPolicy
    let reader: any RecordReader

    public init(resolved: ResolvedPolicy, reader: any RecordReader) {
        self.resolved = resolved
        self.reader = reader
    }

    /// The forecast for a report's chart: a failure is logged and leaves the chart out, it never
    /// fails the run whose report it is.
    func forReport(now: Date, logger: Logger) async -> Forecast? {
        do {
            // The chart shows months: the weeks' boundaries would only make the statement longer.
            return try await forecast(now: now, weeks: false)
        } catch {
            logger.warning(
                "the report's forecast could not be computed; the report has no chart", metadata: ["error": "\(error)"])
            return nil
        }
    }

    /// `months` calendar months ahead (and the weeks in them), from `now`. Records already due,
    /// already done or held themselves now are not counted; those whose consent, related records,
    /// undeclared references or another rule would keep them on their boundary's day are counted
    /// apart (`kept…`), as are records with no clock value yet (`undated`). Holds on child rows
    /// are decided when the time comes.
    public func forecast(now: Date, months: Int = 12, weeks: Bool = true) async throws -> Forecast {
        let policy = resolved.policy
        let calendar = policy.calendar
        // Month periods end on the first day of each following month; week periods every 7 days.
        let firstOfMonth = calendar.date(from: calendar.dateComponents([.year, .month], from: now))!
        let monthEnds = (1...months).compactMap { calendar.date(byAdding: .month, value: $0, to: firstOfMonth) }
        let horizon = monthEnds.last ?? now
        var weekEnds: [Date] = []
        while weeks, let next = calendar.date(byAdding: .day, value: 7 * (weekEnds.count + 1), to: now), next <= horizon
        { weekEnds.append(next) }
        let boundaries = (weekEnds + monthEnds).sorted()
        let tables = try await reader.read { try $0.toolTables() }
        let marked =
            tables.complete
            ? try await reader.read { [ids = policy.rules.map(\.id)] in
                try $0.doneTableExists() ? try $0.rulesWithCompleteMarks(among: ids) : []
            } : []
        // As when planning, holds are probed only on the tables that have one in force.
        let heldTables = tables.complete ? try await reader.read { try $0.heldTables(at: now) } : []
        var rules: [Forecast.RuleForecast] = []
        for rule in policy.rules {
            var query = try resolved.query(for: rule, now: now, toolTablesExist: tables.complete)
            query.excludeDone = marked.contains(rule.id) && rule.action.auditAction != .purge
            query.heldTables = heldTables
            // The rule as a plan on each boundary's day would see it: its clock, and what keeps a record then.
            let atBoundaries = try boundaries.map {
                try resolved.query(for: rule, now: $0, toolTablesExist: tables.complete)
            }
            let finalQuery = query
            let (passed, kept, undated) = try await reader.read { session in
                let sums = try session.forecast(finalQuery, boundaries: atBoundaries.map(\.clock), keptAt: atBoundaries)
                return (sums.passed, sums.kept, try session.forecastUndated(finalQuery))
            }
            func periods(_ sums: [Int], _ ends: [Date]) -> [Int] {
                let byBoundary = Dictionary(zip(boundaries, sums), uniquingKeysWith: { a, _ in a })
                var previous = 0
                return ends.map { end in
                    let total = byBoundary[end] ?? previous
                    defer { previous = total }
                    return total - previous
                }
            }
            let due = zip(passed, kept).map { $0 - $1 }
            rules.append(
                Forecast.RuleForecast(
                    rule: rule.id, action: rule.actionName, table: resolved.rule(rule).table,
                    weeks: periods(due, weekEnds), months: periods(due, monthEnds),
                    keptWeeks: periods(kept, weekEnds), keptMonths: periods(kept, monthEnds), undated: undated))
        }
        return Forecast(
            now: now, timeZone: policy.timeZone.identifier, weekEnds: weekEnds, monthEnds: monthEnds, rules: rules)
    }
}
