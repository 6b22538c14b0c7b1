import Foundation

/// What changed between two policies, rule by rule, in the words of the register a DPO reads
/// (`Register`): the records a rule covers, how long they are kept, from which date, what is done
/// then, what keeps them. Each change says which way it goes — more records due, more kept, or
/// either (a new clock or filter: the counts decide) — and `PolicyChangeCounter` adds, against the
/// live database, how many records each rule finds due now and within twelve months under each.
public struct PolicyDiff: Sendable, Codable, Equatable {
    /// Which way a change goes.
    public enum Direction: String, Sendable, Codable, Equatable {
        /// More records due, or more done to them (a shorter period, an exemption removed, a child
        /// table added to a purge, a harsher action, a new rule).
        case moreDue = "more-due"
        /// Fewer records due, or less done to them.
        case moreKept = "more-kept"
        /// Either way, depending on the data: the counts say (a new clock, a new filter).
        case either
        /// No effect on any record (the legal basis, the register's entry).
        case wording
    }

    /// One facet of a rule that differs.
    public struct Change: Sendable, Codable, Equatable {
        public var facet: String
        public var old: String?
        public var new: String?
        public var direction: Direction
    }

    /// Records a rule finds due (to act on), under the old policy and the new one; nil where the
    /// rule is not in that policy or that policy could not be counted.
    public struct Counts: Sendable, Codable, Equatable {
        public var old: Int?
        public var new: Int?

        public init(old: Int?, new: Int?) {
            self.old = old
            self.new = new
        }

        /// How many more records are due under the new policy (0 when fewer or unknown).
        public var more: Int { max(0, (new ?? 0) - (old ?? 0)) }
    }

    public enum Status: String, Sendable, Codable, Equatable {
        case added, removed, changed, unchanged
    }

    public struct Rule: Sendable, Codable, Equatable {
        public var rule: String
        public var status: Status
        public var changes: [Change]
        public var dueNow: Counts?
        public var dueWithin12Months: Counts?
        /// The rule only flags (in the new policy): it changes no data, however many it finds due.
        public var flagsOnly = false

        /// Whether this rule, changed as it is, makes records due that were not, or does more to
        /// them: by one of its changes, or by its counts (not a flag rule's: it changes nothing).
        public var makesMoreDue: Bool {
            changes.contains { $0.direction == .moreDue }
                || (!flagsOnly && ((dueNow?.more ?? 0) > 0 || (dueWithin12Months?.more ?? 0) > 0))
        }
    }

    public struct PolicyName: Sendable, Codable, Equatable {
        public var path: String
        public var sha256: String

        public init(path: String, sha256: String) {
            self.path = path
            self.sha256 = sha256
        }
    }

    public var old: PolicyName
    public var new: PolicyName
    public var rules: [Rule]
    /// When the counts were taken, and on which database; nil without counts.
    public var countedAt: Date?
    public var database: String?
    /// Why the old policy could not be counted on this database (it names a column that is gone…).
    public var oldNotCounted: String?

    /// Whether any rule makes records due that were not (`retentiond diff` exits 2 then).
    public var makesMoreDue: Bool { rules.contains(where: \.makesMoreDue) }

    public init(old: Policy, new: Policy) {
        self.old = PolicyName(path: old.path, sha256: old.hash)
        self.new = PolicyName(path: new.path, sha256: new.hash)
        let oldRules = Dictionary(old.rules.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
        let newIDs = Set(new.rules.map(\.id))
        var rules: [Rule] = []
        for rule in new.rules {
            guard let before = oldRules[rule.id] else {
                let direction: Direction = rule.action.auditAction == .flag ? .wording : .moreDue
                rules.append(
                    Rule(
                        rule: rule.id, status: .added,
                        changes: [Change(facet: "rule", old: nil, new: Self.summary(rule), direction: direction)],
                        flagsOnly: rule.action.auditAction == .flag))
                continue
            }
            let changes = Self.changes(from: before, in: old, to: rule, in: new)
            rules.append(
                Rule(
                    rule: rule.id, status: changes.isEmpty ? .unchanged : .changed, changes: changes,
                    flagsOnly: rule.action.auditAction == .flag))
        }
        for rule in old.rules where !newIDs.contains(rule.id) {
            rules.append(
                Rule(
                    rule: rule.id, status: .removed,
                    changes: [Change(facet: "rule", old: Self.summary(rule), new: nil, direction: .moreKept)]))
        }
        self.rules = rules
    }

    /// A whole rule in a line: "counted from closed_at, kept for 2 years, then deleted, with `messages`".
    static func summary(_ rule: RetentionRule) -> String {
        let kept =
            rule.after == RetentionDuration() ? "kept until the date itself" : "kept for " + Register.words(rule.after)
        return "counted from \(Register.words(rule.clock)), \(kept), then \(Register.words(rule))"
    }

    /// The facets of one rule that differ, as the register words them.
    static func changes(from old: RetentionRule, in oldPolicy: Policy, to new: RetentionRule, in newPolicy: Policy)
        -> [Change]
    {
        var changes: [Change] = []
        func compare(_ facet: String, _ a: String, _ b: String, _ direction: @autoclosure () -> Direction) {
            if a != b { changes.append(Change(facet: facet, old: a, new: b, direction: direction())) }
        }
        compare(
            "records", Register.data(oldPolicy.subject(for: old), old), Register.data(newPolicy.subject(for: new), new),
            .either)
        compare(
            "kept for", Register.words(old.after), Register.words(new.after),
            Self.compare(old.after, new.after, calendar: newPolicy.calendar))
        compare("counted from", Register.words(old.clock), Register.words(new.clock), .either)
        compare("then", Register.words(old.action), Register.words(new.action), Self.compare(old.action, new.action))
        let oldReasons = Register.exemptionReasons(old)
        let newReasons = Register.exemptionReasons(new)
        compare(
            "unless", oldReasons.joined(separator: "; "), newReasons.joined(separator: "; "),
            Self.compare(kept: oldReasons, newReasons))
        compare("legal basis", old.legalBasis, new.legalBasis, .wording)
        compare("register", old.register, new.register, .wording)
        // What is counted of erased records changes no record: said, never stopping a run.
        func statistics(_ rule: RetentionRule, _ policy: Policy) -> String {
            rule.statistics.map { Register.words($0, table: policy.statisticsTable) } ?? "none kept"
        }
        compare("statistics", statistics(old, oldPolicy), statistics(new, newPolicy), .wording)
        return changes
    }

    /// A shorter period makes records due sooner.
    static func compare(_ old: RetentionDuration, _ new: RetentionDuration, calendar: Calendar) -> Direction {
        // Added to the same moment, in the policy's calendar: the order of periods of mixed units.
        let origin = Date(timeIntervalSince1970: 946_684_800)  // 2000-01-01
        func end(_ d: RetentionDuration) -> Date {
            calendar.date(
                byAdding: DateComponents(
                    year: d.years, month: d.months, day: d.days, hour: d.hours, minute: d.minutes, second: d.seconds),
                to: origin) ?? origin
        }
        let a = end(old)
        let b = end(new)
        return b < a ? .moreDue : b > a ? .moreKept : .either
    }

    /// Flag, anonymise, purge: each does more than the one before. The same action with more
    /// tables or fields does more; with fewer, less; otherwise the counts say.
    static func compare(_ old: RuleAction, _ new: RuleAction) -> Direction {
        func rank(_ action: RuleAction) -> Int {
            switch action {
            case .flag: 0
            case .anonymise: 1
            case .purge: 2
            }
        }
        if rank(new) != rank(old) { return rank(new) > rank(old) ? .moreDue : .moreKept }
        let a = reach(old)
        let b = reach(new)
        if a == b { return .either }
        if b.isSuperset(of: a) { return .moreDue }
        if b.isSubset(of: a) { return .moreKept }
        return .either
    }

    /// What an action reaches: the columns it changes and the tables it deletes or changes with
    /// the record (`*` for every table that references it).
    static func reach(_ action: RuleAction) -> Set<String> {
        func tables(_ list: [ChildTable]) -> [String] {
            list.flatMap { child in
                ["table:" + child.table.value] + tables(child.children) + child.owns.map { "table:" + $0.table.value }
            }
        }
        switch action {
        case .flag: return []
        case .anonymise(let fields, let children):
            return Set(fields.filter { $0.strategy != .keep }.map { "column:" + $0.column.value } + tables(children))
        case .purge(.foreignKeys): return ["table:*"]
        case .purge(.declared(let children)): return Set(tables(children))
        }
    }

    /// Fewer reasons to keep a record make more records due.
    static func compare(kept old: [String], _ new: [String]) -> Direction {
        let a = Set(old)
        let b = Set(new)
        if b.isSubset(of: a) { return .moreDue }
        if b.isSuperset(of: a) { return .moreKept }
        return .either
    }
}
