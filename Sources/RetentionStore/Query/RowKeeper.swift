import Foundation
import RetentionCore

/// One subject's say over the rows of its table that another path would delete ("keeping wins",
/// docs/policy.md, "Precedence"): a row its filter selects stays unless one of its purge rules
/// would delete it now — due, and kept by no consent and no related record. A subject that purges
/// nothing keeps its rows. Rendered at one moment, like the rule query that carries it.
public struct RowKeeper: Sendable {
    /// One way the subject lets a row go: a purge rule's due test and what would keep the row.
    public struct Release: Sendable {
        public var clock: ClockPredicate
        /// The row stays while any of these holds (the rule's consent and related records).
        public var keeps: [RowCondition]

        public init(clock: ClockPredicate, keeps: [RowCondition]) {
            self.clock = clock
            self.keeps = keeps
        }
    }

    /// The subject whose rules decide (`ChildLink.keptBy` and `RuleQuery.subjectKeptBy` name it).
    public var subject: String
    /// The rule reports name as keeping: the subject's purge rule, or its last rule when it purges nothing.
    public var rule: String
    public var filter: [RowCondition]
    public var releases: [Release]

    public init(subject: String, rule: String, filter: [RowCondition], releases: [Release]) {
        self.subject = subject
        self.rule = rule
        self.filter = filter
        self.releases = releases
    }
}

extension SQLBuilder {
    /// True when `keeper` keeps the row `alias` (its relations nest from `level`). A release whose
    /// test is unknown (NULL) does not let the row go: the row is kept.
    func keeps(_ keeper: RowKeeper, on alias: String, level: Int) -> SQL {
        var tests = keeper.filter.map { condition($0, on: alias, level: level) }
        let releases = keeper.releases.map { release -> SQL in
            let kept = release.keeps.map { "NOT \(condition($0, on: alias, level: level))" as SQL }
            return "(\(([clockIsPast(alias, release.clock, level: level)] + kept).joined(separator: " AND ")))"
        }
        if !releases.isEmpty {
            tests.append("NOT (CASE WHEN \(releases.joined(separator: " OR ")) THEN 1 ELSE 0 END = 1)")
        }
        return tests.isEmpty ? "1 = 1" : "(\(tests.joined(separator: " AND ")))"
    }
}
