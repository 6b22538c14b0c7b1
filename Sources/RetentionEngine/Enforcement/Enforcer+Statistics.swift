import Foundation
import Logging
import RetentionCore
import RetentionStore

/// PostgreSQL plans every statement from its statistics. On a table never analyzed (restored or
/// bulk-loaded before autovacuum came by) it takes the table for nearly empty and may test a
/// relation by scanning the related table once per record: a run of seconds then takes minutes,
/// and hours as the tables grow. `check` and `plan` say so; enforcing commands analyze such tables
/// first — what autovacuum would do, reading a sample and changing no row.
extension Enforcer {
    /// A warning per table the policy reads that holds rows without statistics, at the rule (or
    /// subject table) that reads it first.
    static func statisticsWarnings(_ resolved: ResolvedPolicy, missing: [String]) -> [Diagnostic] {
        let policy = resolved.policy
        return missing.map { table in
            let rule = policy.rules.first { rule in resolved.privilegesNeeded(by: rule).contains { $0.table == table } }
            let location = rule.map { rule in
                let subject = policy.subject(for: rule)
                return subject.table.value == table ? subject.table.location : rule.location
            } ?? policy.subjects.first?.location ?? SourceLocation(file: policy.path, line: 1, column: 1)
            return .warning(location, "PostgreSQL has no statistics on `\(table)` (never analyzed: restored or loaded since autovacuum last came by), and may test a relation by scanning a related table once per record: planning and runs can take far longer than they should",
                            hint: "run `ANALYZE \(SQL.quote(table))` as the table's owner, or wait for autovacuum; `run`, `apply` and `serve` analyze it themselves before planning")
        }
    }

    /// Analyzes the tables the policy reads that have rows but no statistics; says what it did.
    /// Never fails the run: statistics only make it faster.
    func analyzeTablesWithoutStatistics() async {
        let tables = resolved.tablesRead
        do {
            let missing = try await store.read { try $0.tablesWithoutStatistics(among: tables) }
            guard !missing.isEmpty else { return }
            try await store.transaction { session in
                try session.limitLockWaits()
                try session.analyze(tables: missing)
            }
            let left = try await store.read { try $0.tablesWithoutStatistics(among: missing) }
            let analyzed = missing.filter { !left.contains($0) }
            if !analyzed.isEmpty {
                logger.notice("PostgreSQL had no statistics on \(analyzed.joined(separator: ", ")): analyzed before planning, as autovacuum would have")
            }
            if !left.isEmpty {
                logger.warning("PostgreSQL has no statistics on \(left.joined(separator: ", ")), and only a table's owner may analyze it: ask the owner to run `ANALYZE \(left.map(SQL.quote).joined(separator: ", "))`; until then planning and runs can take far longer than they should")
            }
        } catch {
            logger.warning("could not analyze the tables PostgreSQL has no statistics on; planning goes on without them: \(EnforcementError.from(error).description)")
        }
    }
}
