import Foundation
import Logging
import RetentionCore
import RetentionStore

/// Adds to a `PolicyDiff` the records each rule finds due under the old policy and under the new
/// one — now, and within twelve months — on the new policy's database: four dry runs without
/// child counts, read-only, as `plan` makes them (holds, consent, related records and marks of
/// work already done all apply).
public struct PolicyChangeCounter: Sendable {
    /// The new policy's planner: its database, audit key and logger serve both policies.
    public let planner: PlanningPass

    public init(planner: PlanningPass) {
        self.planner = planner
    }

    /// `old` is counted on the new policy's database, with its state directory and audit key (the
    /// planner's settings): where a policy runs is not what changed. When it does not validate against this database (a column
    /// it names is gone…), its counts are left out and `oldNotCounted` says why.
    /// `withinTwelveMonths` false: only now (two dry runs instead of four), as the run's guard needs.
    public func count(_ diff: inout PolicyDiff, old written: Policy, now: Date, withinTwelveMonths: Bool = true)
        async throws
    {
        let new = planner.policy
        let later = new.calendar.date(byAdding: .month, value: 12, to: now) ?? now
        let (resolvedOld, diagnostics) = try await Enforcer.validate(written, store: planner.reader, advising: false)
        var oldPass: PlanningPass?
        if let resolvedOld {
            oldPass = PlanningPass(
                resolved: resolvedOld, settings: planner.settings, reader: planner.reader, key: planner.key,
                logger: planner.logger)
        } else {
            let errors = diagnostics.filter { $0.severity == .error }
            diff.oldNotCounted =
                "\(written.path) does not validate against \(planner.reader.location) (\(errors.count) error(s), first: \(errors.first?.description ?? "?"))"
        }
        func due(_ pass: PlanningPass?, at time: Date) async throws -> [String: Int] {
            guard let pass else { return [:] }
            let report = try await pass.dryRun(now: time, mode: .plan, planPath: nil, countingChildren: false)
            return Dictionary(report.rules.map { ($0.rule, $0.due) }, uniquingKeysWith: { first, _ in first })
        }
        let oldNow = try await due(oldPass, at: now)
        let newNow = try await due(planner, at: now)
        let oldLater = withinTwelveMonths ? try await due(oldPass, at: later) : [:]
        let newLater = withinTwelveMonths ? try await due(planner, at: later) : [:]
        for i in diff.rules.indices {
            let id = diff.rules[i].rule
            diff.rules[i].dueNow = PolicyDiff.Counts(old: oldNow[id], new: newNow[id])
            if withinTwelveMonths {
                diff.rules[i].dueWithin12Months = PolicyDiff.Counts(old: oldLater[id], new: newLater[id])
            }
        }
        diff.countedAt = now
        diff.database = planner.reader.location
    }
}
