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
    /// One warning for every table the policy reads that holds rows without statistics (a
    /// freshly restored database has dozens), with the one statement that analyzes them all; at
    /// the rule (or subject table) that reads the first of them.
    static func statisticsWarnings(_ resolved: ResolvedPolicy, missing: [String]) -> [Diagnostic] {
        guard let first = missing.first else { return [] }
        let policy = resolved.policy
        let rule = resolved.rules.first { resolved.privilegesNeeded(by: $0).contains { $0.table == first } }
        let location =
            rule.map { rule in
                rule.table == first ? rule.subject.table.location : rule.rule.location
            } ?? policy.subjects.first?.location ?? SourceLocation(file: policy.path, line: 1, column: 1)
        let tables = missing.map { "`\($0)`" }.joined(separator: ", ")
        return [
            .warning(
                location,
                "PostgreSQL has no statistics on \(tables) (never analyzed: restored or loaded since autovacuum last came by), and may test a relation by scanning a related table once per record: planning and runs can take far longer than they should",
                hint:
                    "run `ANALYZE \(missing.map(SQL.quote).joined(separator: ", "))` as the tables' owner, or wait for autovacuum; `run`, `apply` and `serve` analyze them themselves before planning"
            )
        ]
    }

    /// A zero date (MariaDB's `0000-00-00`, common in older Dolibarr and OTRS data) is read as no
    /// date: a record whose clock holds one never comes due by it. Said at the first subject on
    /// the table, so the operator can give those rows their real date or the rule another clock.
    static func zeroDateWarnings(_ policy: Policy, schema: SchemaSnapshot, counts: [String: Int]) -> [Diagnostic] {
        counts.filter { $0.value > 0 }.sorted { $0.key < $1.key }.map { name, count in
            let (table, column) = (
                String(name.split(separator: ".")[0]),
                String(name.split(separator: ".").dropFirst().joined(separator: "."))
            )
            let location =
                policy.subjects.first { $0.table.value == table }?.table.location
                ?? policy.subjects.first?.location ?? SourceLocation(file: policy.path, line: 1, column: 1)
            return .warning(
                location,
                "`\(table).\(column)` holds \(count) zero date(s) (0000-00-00): retentiond reads them as no date, so a record whose clock is one of them never comes due by it",
                hint:
                    "find them with `SELECT … FROM \(schema.quotedForAdvice(table)) WHERE \(schema.quotedForAdvice(column)) < '0001-01-01'`; give them their real date, or the rule a clock that falls back on another column (`clock: { latest: […] }`; docs/mariadb.md, \"Zero dates\")"
            )
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
                logger.notice(
                    "PostgreSQL had no statistics on \(analyzed.joined(separator: ", ")): analyzed before planning, as autovacuum would have"
                )
            }
            if !left.isEmpty {
                logger.warning(
                    "PostgreSQL has no statistics on \(left.joined(separator: ", ")), and only a table's owner may analyze it: ask the owner to run `ANALYZE \(left.map(SQL.quote).joined(separator: ", "))`; until then planning and runs can take far longer than they should"
                )
            }
        } catch {
            logger.warning(
                "could not analyze the tables PostgreSQL has no statistics on; planning goes on without them: \(EnforcementError.from(error).description)"
            )
        }
    }
}
