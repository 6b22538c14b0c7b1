import Foundation
import RetentionCore

/// The policy checked against the schema: only this lets the engine build queries.
public struct ResolvedPolicy: Sendable {
    public let policy: Policy
    public let schema: SchemaSnapshot
    /// Every rule of the policy with its subject and shape, in the policy's order.
    public let rules: [ResolvedRule]
    private let positions: [String: Int]
    /// The application's hold tables, checked against the schema (`until` rendered per query).
    var holdSources: [(source: ApplicationHoldSource, until: DateColumn?)] = []
    /// The tables a relation or child is matched in with no index to serve it (`check` warns of
    /// each): every record's probe scans them. An enforcing run refuses to start while one of them
    /// is large (`Enforcer.refuseUnindexedScans`).
    public var unindexedScans: [UnindexedScan] = []

    /// `shapes`: each rule's, by rule id; a rule without one (the validator found errors in it)
    /// is left out.
    public init(policy: Policy, schema: SchemaSnapshot, shapes: [String: RuleShape]) {
        self.policy = policy
        self.schema = schema
        rules = policy.rules.compactMap { rule in
            shapes[rule.id].map { ResolvedRule(rule: rule, subject: policy.subject(for: rule), shape: $0) }
        }
        positions = Dictionary(uniqueKeysWithValues: rules.enumerated().map { ($1.id, $0) })
    }

    /// `rule` resolved; every rule of a policy the validator accepted is.
    public func rule(_ rule: RetentionRule) -> ResolvedRule { rules[positions[rule.id]!] }

    /// The rule of this id, if the policy has it and it resolved.
    public func rule(id: String) -> ResolvedRule? { positions[id].map { rules[$0] } }

    /// The store query for `rule` at `now`.
    public func query(for rule: RetentionRule, now: Date, toolTablesExist: Bool) throws(Cutoff.Unavailable) -> RuleQuery
    {
        let resolved = self.rule(rule)
        let (subject, shape) = (resolved.subject, resolved.shape)
        let storage = policy.storageCalendar
        let (clock, consent, related) = try conditions(of: rule, now: now)
        let applicationHolds = holdSources.map { source, until -> ApplicationHoldSource in
            var rendered = source
            rendered.until = until.map {
                (
                    $0.name, DateCodec.render(now, storage: $0.storage, layout: $0.layout, calendar: storage),
                    $0.storage.sqlCast
                )
            }
            return rendered
        }
        var fields: [String] = []
        if case .anonymise(let strategies, _) = rule.action { fields = strategies.map(\.column.value) }
        var query = RuleQuery(
            ruleID: rule.id, table: subject.table.value, keyColumns: subject.key.map(\.value),
            holdKeyColumns: schema.table(subject.table.value)?.primaryKey ?? [], filter: shape.filter,
            clock: clock, consent: consent, related: related,
            childPaths: shape.childPaths, undeclaredReferences: shape.undeclaredReferences,
            fieldColumns: fields, reviewColumns: subject.reviewColumns.map(\.value),
            toolTablesExist: toolTablesExist, holdTime: now)
        query.applicationHolds = applicationHolds
        query.subjectKeptBy = shape.subjectKeptBy
        query.treeLimits = shape.treeLimits
        let governing = Set(shape.subjectKeptBy + shape.childPaths.flatMap { $0.flatMap(\.keptBy) })
        for subject in policy.subjects where governing.contains(subject.id) {
            query.keepers.append(try keeper(subject, now: now))
        }
        return query
    }

    /// `subject`'s say over its table's rows at `now` (see `RowKeeper`).
    func keeper(_ subject: Subject, now: Date) throws(Cutoff.Unavailable) -> RowKeeper {
        var releases: [RowKeeper.Release] = []
        for rule in subject.rules {
            guard case .purge = rule.action else { continue }
            let (clock, consent, related) = try conditions(of: rule, now: now)
            releases.append(RowKeeper.Release(clock: clock, keeps: consent + related))
        }
        let named =
            subject.rules.first { if case .purge = $0.action { return true } else { return false } }
            ?? subject.rules[subject.rules.count - 1]
        return RowKeeper(
            subject: subject.id, rule: named.id, filter: self.rule(subject.rules[0]).shape.filter, releases: releases)
    }

    /// A rule's due test and what keeps a due record (consent, related records), rendered at `now`.
    public func conditions(of rule: RetentionRule, now: Date) throws(Cutoff.Unavailable) -> (
        clock: ClockPredicate, consent: [RowCondition], related: [RowCondition]
    ) {
        let shape = self.rule(rule).shape
        let calendar = policy.calendar
        let storage = policy.storageCalendar
        let cutoff = try Cutoff(rule: rule, policy: policy, now: now)
        let clock = ClockPredicate(
            columns: shape.clock, combination: rule.clock.combination, bound: cutoff.clockBound, calendar: storage)
        let consent = shape.consent.map { consent -> RowCondition in
            switch consent {
            case .until(let path, let date):
                let value = DateCodec.render(now, storage: date.storage, layout: date.layout, calendar: storage)
                return .through(path, .column(date.name, .laterThan(value, cast: date.storage.sqlCast)))
            case .flag(let path, let column):
                return .through(path, .column(column, .flagSet))
            }
        }
        var related: [RowCondition] = []
        for resolved in shape.related {
            var recent: [RowCondition] = []
            if let columns = resolved.clock, let clock = resolved.keep.clock, let within = resolved.keep.within {
                do {
                    let bound = try Cutoff(
                        now: now, duration: within, fiscalYearEnd: clock.fiscalYearEnd,
                        fiscalYearStart: policy.fiscalYearStart, calendar: calendar
                    ).clockBound
                    let predicate = ClockPredicate(
                        columns: columns, combination: clock.combination, bound: bound, calendar: storage)
                    recent = [.recentClock(predicate, keepUndated: resolved.keep.keepUndated)]
                } catch {
                    var named = error
                    named.rule = rule.id
                    throw named
                }
            }
            related.append(.related(resolved.path, recent, exists: true))
        }
        return (clock, consent, related)
    }
}
