import Foundation
import RetentionCore
import RetentionStore

/// Why a record is still here and when it will go: for one record of a subject, every rule, its
/// clock, when it becomes due, and what keeps it. Reads only; the same queries as `plan`.
public struct Explanation: Sendable, Codable {
    public struct RuleStanding: Sendable, Codable {
        public var rule: String
        public var action: String
        public var register: String
        public var legalBasis: String
        /// Whether the record is the rule's subject (its filter holds).
        public var applies: Bool
        /// The clock's value (the date retention counts from), as stored; nil when it has none.
        public var clock: String?
        /// When the rule's time is up for this record (clock + after, anchored), in the policy's zone.
        public var dueOn: Date?
        public var due: Bool
        /// What keeps it although due: legal_hold, consent, related_record, kept_by_rule,
        /// referenced_by_undeclared_table.
        public var keptBy: [String]
        /// With `kept_by_rule`: the rules that keep it, or a row its deletion would take.
        public var keptByRules: [String]
        /// With `related_record`: the related records that keep it, the latest kept first.
        public var keptByRecords: [RelatedKeeper] = []
        /// The rule already flagged or anonymised it.
        public var done: Bool
        /// The answer in words.
        public var verdict: String
    }
    public var subject: String
    public var table: String
    public var key: String
    public var now: Date
    /// Where the record is: `active` (the application's database) or `archive`.
    public var phase = Phase.active.rawValue
    public var rules: [RuleStanding]

    /// A related record that keeps one under a `related` exemption: where it is, its clock, and
    /// until when it keeps (its clock plus `within`; nil without a clock: while it exists).
    public struct RelatedKeeper: Sendable, Codable, Hashable {
        public var table: String
        public var key: String
        public var clock: String?
        public var until: Date?

        public init(table: String, key: String, clock: String?, until: Date?) {
            self.table = table
            self.key = key
            self.clock = clock
            self.until = until
        }

        func words(_ calendar: Calendar) -> String {
            "`\(table)` \(key)"
                + (clock.map { " (dated \($0), kept until \(Explainer.day(until, calendar)))" } ?? " (while it exists)")
        }
    }
}

public struct Explainer: Sendable {
    let resolved: ResolvedPolicy
    let reader: any RecordReader

    public init(resolved: ResolvedPolicy, reader: any RecordReader) {
        self.resolved = resolved
        self.reader = reader
    }

    /// The subject's key of the one record `keyText` names (typed by its columns' types).
    public func recordKey(subject: Subject, keyText: String) async throws -> RecordKey {
        let key = subject.key.map(\.value)
        return try await RecordLocator(reader: reader, policy: resolved.policy).locate(
            table: subject.table.value, text: keyText, columns: { _ in key },
            described: "subject `\(subject.id)`'s key", keyOf: { _ in key })
    }

    public func explain(subject: Subject, keyText: String, now: Date) async throws -> Explanation {
        let table = subject.table.value
        let key = try await recordKey(subject: subject, keyText: keyText)
        let ids = subject.rules.map(\.id)
        let (tables, marked) = try await reader.read { session in
            (
                try session.toolTables(),
                try session.doneTableExists() ? try session.rulesWithCompleteMarks(among: ids) : []
            )
        }
        var standings: [Explanation.RuleStanding] = []
        for rule in subject.rules {
            let query = try resolved.query(for: rule, now: now, toolTablesExist: tables.complete)
            let marksKept = marked.contains(rule.id) && rule.action.auditAction != .purge
            guard let row = try await reader.read({ try $0.standing(query, key: key, marksKept: marksKept) }) else {
                throw EnforcementError.noSuchRecord(table: table, key: keyText)
            }
            var ruleStanding = standing(
                rule, SQLBuilder.decodeStanding(row, query: query), clockColumns: resolved.rule(rule).shape.clock,
                now: now)
            if ruleStanding.keptBy.contains("related_record") {
                ruleStanding.keptByRecords = try await relatedKeepers(rule, subject: subject, key: key, now: now)
                let named = ruleStanding.keptByRecords.prefix(3).map { $0.words(resolved.policy.calendar) }
                if !named.isEmpty {
                    let more =
                        ruleStanding.keptByRecords.count > 3 ? " and \(ruleStanding.keptByRecords.count - 3) more" : ""
                    ruleStanding.verdict = ruleStanding.verdict.replacingOccurrences(
                        of: Self.reason("related_record"),
                        with: Self.reason("related_record") + ": " + named.joined(separator: ", ") + more)
                }
            }
            standings.append(ruleStanding)
        }
        var explanation = Explanation(
            subject: subject.id, table: table, key: key.description, now: now, rules: standings)
        explanation.phase = resolved.policy.phase.rawValue
        return explanation
    }

    func standing(_ rule: RetentionRule, _ record: RecordStanding, clockColumns: [DateColumn], now: Date)
        -> Explanation.RuleStanding
    {
        let policy = resolved.policy
        let applies = record.applies
        let values = record.clockValues
        let due = record.past
        let purges = rule.action.auditAction == .purge
        // In the planner's order; a purge's undeclared references only matter to purges (see Planner).
        let kept = [
            ("legal_hold", record.held), ("consent", record.consented), ("related_record", record.keptByRelated),
            ("kept_by_rule", !record.keptByRules.isEmpty),
            ("referenced_by_undeclared_table", record.referencedByUndeclared && purges),
        ]
        let keptBy = kept.filter(\.1).map(\.0)
        let done = record.done
        let dates = zip(values, clockColumns).map {
            DateCodec.parse($0, storage: $1.storage, calendar: policy.storageCalendar)
        }
        let clock: Date? =
            rule.clock.combination == .latest ? dates.compactMap { $0 }.max() : dates.first { $0 != nil } ?? nil
        let clockText = zip(values, dates).first { $1 == clock && clock != nil }.map {
            $0.0.textValue ?? $0.0.description
        }
        let dueOn = clock.flatMap { dueDate(of: rule, clock: $0) }

        let verb = rule.actionName
        let verdict: String
        if !applies {
            verdict = "does not apply: the record is not a `\(rule.subjectID)` record under the subject's filter"
        } else if done {
            verdict = "already done: this rule \(verb == "flag" ? "flagged" : "anonymised") it on an earlier run"
        } else if clock == nil {
            verdict = "never due while its clock (\(rule.clock.description)) is empty"
        } else if !due {
            verdict =
                "not due yet: the next run after \(Self.day(dueOn, policy.calendar)) will \(verb) it, unless something keeps it then"
        } else if !keptBy.isEmpty {
            verdict =
                "due since \(Self.day(dueOn, policy.calendar)), but kept: "
                + keptBy.map {
                    $0 == "kept_by_rule" ? Self.keptByRules(record.keptByRules, policy: policy) : Self.reason($0)
                }.joined(separator: "; ")
        } else {
            verdict = "due since \(Self.day(dueOn, policy.calendar)): the next run will \(verb) it"
        }
        return Explanation.RuleStanding(
            rule: rule.id, action: rule.actionName, register: rule.register, legalBasis: rule.legalBasis,
            applies: applies, clock: clockText, dueOn: dueOn, due: applies && due, keptBy: applies && due ? keptBy : [],
            keptByRules: applies && due ? record.keptByRules : [], done: done, verdict: verdict)
    }

    /// The related records that keep the record `key` under the rule's `related` exemptions (those
    /// the run's test finds: recent enough, or any without a clock), the latest kept first. A
    /// clock read through relations of the related row is not dated here; its record is named.
    func relatedKeepers(_ rule: RetentionRule, subject: Subject, key: RecordKey, now: Date) async throws -> [Explanation
        .RelatedKeeper]
    {
        let policy = resolved.policy
        let shape = resolved.rule(rule).shape
        let related = try resolved.conditions(of: rule, now: now).related
        var keepers: [Explanation.RelatedKeeper] = []
        // `conditions` renders one condition per related keep, in order.
        for (found, condition) in zip(shape.related, related) {
            let keep = found.keep
            guard case .related(let path, let tests, _) = condition, let last = path.last else { continue }
            let primaryKey = resolved.schema.table(last.table)?.primaryKey ?? []
            let keyColumns = primaryKey.isEmpty ? last.on.map(\.column) : primaryKey
            let dated = (found.clock ?? []).allSatisfy { $0.path.isEmpty } ? found.clock ?? [] : []
            let (table, subjectKey) = (subject.table.value, subject.key.map(\.value))
            let rows = try await reader.read {
                try $0.relatedRecords(
                    path, table: table, keyColumns: subjectKey, key: key, conditions: tests,
                    columns: keyColumns + dated.map(\.name), limit: 100)
            }
            for row in rows {
                let values = Array(row[keyColumns.count...])
                let dates = zip(values, dated).map {
                    DateCodec.parse($0, storage: $1.storage, calendar: policy.storageCalendar)
                }
                let clock: Date? =
                    keep.clock?.combination == .latest
                    ? dates.compactMap { $0 }.max() : dates.first { $0 != nil } ?? nil
                let clockText = zip(values, dates).first { $1 == clock && clock != nil }.map {
                    $0.0.textValue ?? $0.0.description
                }
                let until = clock.flatMap { clock in
                    keep.within.flatMap { add($0, to: clock, fiscalYearEnd: keep.clock?.fiscalYearEnd ?? false) }
                }
                keepers.append(
                    Explanation.RelatedKeeper(
                        table: last.table, key: RecordKey(Array(row[..<keyColumns.count])).description,
                        clock: dated.isEmpty ? nil : clockText, until: until))
            }
        }
        // Undated keepers keep for as long as they exist: first; then the latest kept.
        return keepers.sorted { ($0.until ?? .distantFuture, $1.key) > ($1.until ?? .distantFuture, $0.key) }
    }

    /// Clock plus the rule's duration (from the end of the clock's fiscal year when anchored), in
    /// the policy's calendar: the first moment the record is due.
    func dueDate(of rule: RetentionRule, clock: Date) -> Date? {
        add(rule.after, to: clock, fiscalYearEnd: rule.clock.fiscalYearEnd)
    }

    /// `clock` plus `d`, counted from the end of the clock's fiscal year when `fiscalYearEnd`.
    func add(_ d: RetentionDuration, to clock: Date, fiscalYearEnd: Bool) -> Date? {
        let policy = resolved.policy
        let calendar = policy.calendar
        var start = clock
        if fiscalYearEnd {
            guard
                let yearStart = Cutoff.fiscalYearStart(
                    containing: clock, start: policy.fiscalYearStart, calendar: calendar),
                let next = calendar.date(byAdding: .year, value: 1, to: yearStart)
            else { return nil }
            start = next
        }
        return calendar.date(
            byAdding: DateComponents(
                year: d.years, month: d.months, day: d.days, hour: d.hours, minute: d.minutes, second: d.seconds),
            to: start)
    }

    static func day(_ date: Date?, _ calendar: Calendar) -> String {
        guard let date else { return "?" }
        let c = calendar.dateComponents([.year, .month, .day], from: date)
        return String(format: "%04d-%02d-%02d", c.year ?? 0, c.month ?? 0, c.day ?? 0)
    }

    /// `kept_by_rule` in words, naming the rules and the tables they govern.
    static func keptByRules(_ rules: [String], policy: Policy) -> String {
        let named = rules.map { id -> String in
            guard let rule = policy.rules.first(where: { $0.id == id }) else { return "`\(id)`" }
            return "`\(id)` (\(policy.subject(for: rule).table.value))"
        }
        return
            "rule \(named.joined(separator: ", ")) keeps it or a row its deletion would take (docs/policy.md, \"Precedence\")"
    }

    static func reason(_ code: String) -> String {
        switch code {
        case "legal_hold": return "a legal hold (retentiond hold list)"
        case "consent": return "consent: the person agreed to a longer retention"
        case "related_record": return "a related record that must still be kept"
        case "kept_by_rule": return "another rule keeps it, or a row its deletion would take"
        case "referenced_by_undeclared_table": return "still referenced from a table the purge does not declare"
        default: return code
        }
    }
}
