import Foundation
import Logging
import RetentionCore
import RetentionStore

extension PlanningPass {
    /// After a run that planned at `now` and acted on every record due then: per rule whose due
    /// records depend on a table the run `changed` (`RuleQuery.tablesDecidedBy`), how many of its
    /// records are due now — records the run's own changes made due (a user whose last ticket it
    /// purged), which the next run acts on. Records the database refused (`failed`) are not counted.
    /// One counting pass per such rule; rules that depend on no changed table are not read.
    func becameDue(now: Date, changed: Set<String>, failed: [String: Int]) async throws -> [String: Int] {
        let toolTables = try await reader.read { try $0.toolTables() }.complete
        let marked =
            toolTables
            ? try await reader.read { [ids = policy.rules.map(\.id)] in try $0.rulesWithCompleteMarks(among: ids) } : []
        let heldTables = toolTables ? try await reader.read { try $0.heldTables(at: now) } : []
        var counts: [String: Int] = [:]
        var none = RunSimulation.none
        for rule in policy.rules {
            let query = try resolved.query(for: rule, now: now, toolTablesExist: toolTables)
            guard !query.tablesDecidedBy.isDisjoint(with: changed) else { continue }
            let tally = try await plan(
                rule, now: now, toolTables: toolTables, heldTables: heldTables, marked: marked.contains(rule.id),
                chain: key.map(AuditChain.init), countChildren: false, simulation: &none, stop: StopRequest()
            ) { _, _, _, _ in }
            counts[rule.id] = max(0, tally.due - (failed[rule.id] ?? 0))
        }
        return counts
    }
}
