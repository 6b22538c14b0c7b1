import Foundation
import RetentionCore

/// The forecast's statements: when the rule's records not yet due will come due, and which
/// have no clock to say it.
extension SQLBuilder {
    /// The rule's records not due at `q`'s cutoff, not done and not held themselves now, counted by
    /// the first of `boundaries` (cutoffs at later moments, in order) each passes: one statement,
    /// a row per boundary reached (`bucket`, `count`). A record past one boundary is past every
    /// later one, and every record counted is past the last: its first is found by halving the
    /// boundaries, four tests for a year of months and six for 64 weeks and months, instead of one
    /// test per boundary up to it (a clock through a relation is an index probe or two per test).
    ///
    /// `keptAt`, when given, is the rule's query rendered at each boundary: each row is then also
    /// told whether, when its boundary comes, its consent, a related record, an undeclared
    /// reference or another rule would keep it (`kept`, 0 or 1; the row's own hold leaves it out
    /// now, as in a plan). Those facts are evaluated once per row, for its own boundary.
    public func forecast(_ q: RuleQuery, boundaries: [ClockPredicate], keptAt: [RuleQuery] = []) -> SQL {
        let s = "s"
        // The first boundary passed among `lo..<hi`, knowing the record is past `hi - 1`.
        func first(_ lo: Int, _ hi: Int) -> SQL {
            guard hi - lo > 1 else { return "\(literal: lo)" }
            let mid = (lo + hi) / 2
            return "CASE WHEN \(clockIsPast(s, boundaries[mid - 1])) THEN \(first(lo, mid)) ELSE \(first(mid, hi)) END"
        }
        let bucket = first(0, boundaries.count)
        var kept: SQL = "0"
        if keptAt.count == boundaries.count {
            let branches = keptAt.enumerated().map { i, at -> SQL in
                // Each fact is 0 or 1; their sum is not 0 when one keeps the row (the hold, fact 3, is left out).
                let facts = keepingFacts(at, childHolds: false, keepers: true).enumerated().filter {
                    $0.offset != 3 && $0.element.description != "0"
                }
                return
                    "WHEN \(literal: i) THEN \(facts.isEmpty ? "0" : "(\(facts.map(\.element).joined(separator: " + ")))")"
            }
            if !branches.isEmpty { kept = "CASE \(bucket) \(branches.joined(separator: " ")) ELSE 0 END" }
        }
        var conditions = q.filter.map { condition($0, on: s) }
        conditions.append("NOT \(clockIsPast(s, q.clock))")
        if let last = boundaries.last { conditions.append(clockIsPast(s, last)) }
        // A clock that is one column of the row: the same range, written so its index serves it.
        if q.clock.columns.count == 1, q.clock.columns[0].path.isEmpty, let last = boundaries.last {
            let column = q.clock.columns[0]
            conditions.append("\(column: column.name, of: s) >= \(bound(q.clock.bounds[0], for: column))")
            conditions.append("\(column: column.name, of: s) < \(bound(last.bounds[0], for: column))")
        }
        // Records held themselves are left out; holds on their child rows are decided when the time comes.
        conditions.append("\(keepingFacts(q, childHolds: false)[3]) = 0")
        if q.excludeDone {
            conditions.append(
                "NOT \(doneMark(rule: q.ruleID, keyColumns: q.keyColumns.map { SQL.qualified(s, $0) }, probedPerRow: false))"
            )
        }
        return
            "SELECT f.bucket, f.kept, count(*) FROM (SELECT \(bucket) AS bucket, \(kept) AS kept FROM \(ident: q.table) AS s WHERE \(conditions.joined(separator: " AND "))) AS f"
            + " GROUP BY f.bucket, f.kept"
    }

    /// How many of the rule's records (its filter, not already done) have no clock value yet —
    /// an end of relationship not yet set, no related date: no forecast can say when they come due.
    public func forecastUndated(_ q: RuleQuery) -> SQL {
        let s = "s"
        var conditions = q.filter.map { condition($0, on: s) }
        conditions += q.clock.columns.indices.map {
            dateTests(q.clock.columns[$0], bound: q.clock.bounds[$0], on: s, level: 0).isNull
        }
        if q.excludeDone {
            conditions.append(
                "NOT \(doneMark(rule: q.ruleID, keyColumns: q.keyColumns.map { SQL.qualified(s, $0) }, probedPerRow: false))"
            )
        }
        return "SELECT count(*) FROM \(ident: q.table) AS s WHERE \(conditions.joined(separator: " AND "))"
    }
}
