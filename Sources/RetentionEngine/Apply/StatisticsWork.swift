import Foundation
import RetentionCore
import RetentionStore

/// A rule's statistics as its batches write them (docs/policy.md, "Statistics"): the records a
/// batch erases are counted by period and group, in the batch's transaction, once the trail's
/// chain is locked — so the batches of workers sharing a run add to the same rows one at a time.
struct StatisticsWork: Sendable {
    let rule: String
    let statistics: RuleStatistics
    let table: String
    let clock: [DateColumn]
    let combination: RetentionClock.Combination
    /// How the clock's values are read, and the calendar its periods are counted in.
    let storageCalendar: Calendar
    let calendar: Calendar

    /// Adds `erased` to the rule's rows; returns how many records each period counted. A record
    /// whose clock has no value yet (an erasure request reaches it whatever its clock) counts in
    /// the period of `now`, when it was erased.
    func count(_ erased: [Candidate], now: Date, in session: any WritingSession) throws -> [String: Int] {
        guard !erased.isEmpty else { return [:] }
        var tally = StatisticsTally(rule: rule, statistics: statistics)
        do {
            for candidate in erased {
                try tally.count(
                    clock: clockDate(candidate.clockValues) ?? now, values: candidate.statisticsValues,
                    calendar: calendar)
            }
        } catch {
            throw StoreFailure(error.description)
        }
        let stored = try session.statisticsRows(table: table, ruleID: rule, periods: tally.periods, openOnly: false)
        try session.writeStatistics(table: table, removing: [], writing: tally.landing(on: stored))
        return tally.recordsPerPeriod
    }

    /// The date the rule counts from, as the planner reads it (first present, or the latest).
    func clockDate(_ values: [SQLValue]) -> Date? {
        let dates = zip(values, clock).map { DateCodec.parse($0, storage: $1.storage, calendar: storageCalendar) }
        switch combination {
        case .firstPresent: return dates.first { $0 != nil } ?? nil
        case .latest: return dates.compactMap { $0 }.max()
        }
    }

    /// Closes the periods that are over at `cutoff` — every date in them is before its clock
    /// bound, so all their records the rule will erase are due — merging their small groups into
    /// `other`. Runs at the end of each completed run; a period closed once stays closed.
    func closePeriods(before cutoff: Cutoff, in session: any WritingSession) throws {
        let open = try session.statisticsRows(table: table, ruleID: rule, periods: nil, openOnly: true)
        // A label of another kind of period (the policy's `period` changed since) is closed by
        // its own end: left open, its small groups would never be merged.
        let over = Set(open.map(\.period)).filter { label in
            RuleStatistics.Period.end(ofAny: label, calendar: calendar).map { $0 <= cutoff.clockBound } ?? false
        }
        guard !over.isEmpty else { return }
        let rows = try session.statisticsRows(table: table, ruleID: rule, periods: over.sorted(), openOnly: false)
        let (removed, written) = StatisticsFolding.close(
            rows, minGroup: statistics.minGroup, grouped: !statistics.by.isEmpty)
        try session.writeStatistics(table: table, removing: removed, writing: written)
    }
}
