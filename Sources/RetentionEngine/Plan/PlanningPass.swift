import Foundation
import Logging
import RetentionCore
import RetentionStore

/// The planning pass: streams every rule's due records, decides each, counts them, and (given a
/// writer) writes the plan. It only reads, so it runs on a read-only store: a dry run, `plan`, and
/// the first half of every enforcing run are the same code.
public struct PlanningPass: Sendable {
    public let resolved: ResolvedPolicy
    /// The state directory (the trail's head), the key file and the batch size.
    public let settings: RunSettings
    public let reader: any RecordReader
    /// The key behind references; nil only on a database with no audit trail yet (nothing can be
    /// "already done" there).
    public let key: AuditKey?
    public let logger: Logger
    /// Read-only connections of their own to the same database, for a dry run's child counts:
    /// they run there while the next pages of candidates are read on `reader` (`ChildCounter`).
    /// Without, a dry run counts on `reader`, between pages.
    public let counters: [any RecordReader]

    public var policy: Policy { resolved.policy }
    var anchor: AuditAnchor { AuditAnchor(store: reader, stateDirectory: settings.stateDirectory) }

    public init(
        resolved: ResolvedPolicy, settings: RunSettings, reader: any RecordReader, key: AuditKey?, logger: Logger,
        counters: [any RecordReader] = []
    ) {
        self.resolved = resolved
        self.settings = settings
        self.reader = reader
        self.key = key
        self.logger = logger
        self.counters = counters
    }

    /// A dry run: what would happen at `now`, changing nothing. Writes the plan when `planPath` is given.
    /// `childRowsPerRecord`: each due record's detail line lists its child rows per table (one
    /// more statement per page, for an export).
    public func dryRun(
        now: Date, mode: RunReport.Mode, planPath: String?, detail: ((DetailLine) -> Void)? = nil,
        childRowsPerRecord: Bool = false, countingChildren: Bool = true
    ) async throws -> RunReport {
        let started = Date()
        let runID = RunID.make(at: started)
        let writer = try planPath.map { try PlanWriter(path: $0) }
        let tallies = try await tallies(
            now: now, planID: runID, writer: writer, detail: detail, countChildren: countingChildren,
            childRowsPerRecord: childRowsPerRecord && detail != nil)
        return RunContext(policy: policy, database: reader.location)
            .report(runID: runID, mode: mode, status: .complete, now: now, startedAt: started, rules: tallies)
    }

    /// The forecast for a report's chart: nil when the policy turns it off (`reports.forecast`),
    /// or (logged) when it cannot be computed.
    public func reportForecast(now: Date) async -> Forecast? {
        guard settings.reportsForecast else { return nil }
        return await Forecaster(resolved: resolved, reader: reader).forReport(now: now, logger: logger)
    }

    /// Decides every rule's due records at `now`; writes the plan to `writer` when given.
    /// `stop` is asked between pages: a stopped pass throws `StopRequest.Stopped`. With
    /// `countChildren` (dry runs), the child rows the due records would take with them are
    /// counted per table; an enforcing run counts what it does instead.
    func tallies(
        now: Date, planID: String, writer: PlanWriter?, detail: ((DetailLine) -> Void)?,
        countChildren: Bool = false, childRowsPerRecord: Bool = false, stop: StopRequest = StopRequest()
    ) async throws -> [RuleTally] {
        let standing = try await anchor.check()
        if !standing.anchored {
            logger.warning(
                "no head is recorded for the audit trail of \(reader.location) in \(anchor.headPath): a truncated or restored trail cannot be detected until this run records one; if the file was deleted, restore it from a copy kept elsewhere"
            )
        }
        if standing.entriesPastHead > 0 {
            logger.warning(
                "the audit trail holds \(standing.entriesPastHead) entries past the head recorded in \(anchor.headPath): a run was killed before recording its last batch, or the file was replaced by an older copy; check with `retentiond audit verify --head COPY` against a copy kept elsewhere"
            )
        }
        let toolTables = standing.tables.complete
        if key == nil { try await anchor.refuseMissingKey(path: settings.keyFile) }
        try await resolved.refuseAmbiguousKeys(in: reader)
        let chain = key.map(AuditChain.init)
        if toolTables, let chain {
            let ledger = HoldLedger(chain: chain)
            for finding in try await reader.read({ try ledger.enforce(in: $0) }) {
                logger.warning("\(finding.message)")
            }
        }
        let headers = try resolved.rules.map {
            PlanDocument.RuleHeader(
                id: $0.id, action: $0.rule.actionName, table: $0.table,
                cutoff: try Cutoff(rule: $0.rule, policy: policy, now: now))
        }
        try writer?.write(
            .header(
                PlanDocument.Header(
                    planID: planID, createdAt: Date(), now: now, policyHash: policy.hash,
                    policyPath: policy.path, database: reader.location,
                    schemaFingerprint: resolved.schema.fingerprint, rules: headers)))
        let marked =
            toolTables
            ? try await reader.read { [ids = policy.rules.map(\.id)] in try $0.rulesWithCompleteMarks(among: ids) } : []
        // Holds are probed only on the tables that have some; each batch re-checks the tables
        // held then, in its own transaction, where no new hold can commit before it does.
        let heldTables = toolTables ? try await reader.read { try $0.heldTables(at: now) } : []
        var tallies: [RuleTally] = []
        var entries = 0
        var simulation = RunSimulation(resolved: resolved)
        // A record two rules of its table keep for the same reason (a held prospect, past both
        // the flag's and the purge's cutoff) is one record kept: the keys are kept to count it once.
        let tablesOfRules = resolved.rules.map(\.table)
        var exemptSeen: [String: Set<RecordKey>] = [:]
        // A stop requested while a statement runs cuts it short (planning one rule without an index
        // can take minutes): its read fails, and the pass ends as stopped.
        // Asked again until the pass has ended: a statement that had not started when first asked
        // would otherwise run to its end.
        let readers = [reader] + counters
        do {
            try await stop.whileRunning({
                while !Task.isCancelled {
                    for reader in readers { await reader.interrupt() }
                    try? await Task.sleep(for: .milliseconds(200))
                }
            }) {
                for (rule, table) in resolved.rules.map({ ($0.rule, $0.table) }) {
                    let shared = tablesOfRules.filter { $0 == table }.count > 1
                    var firstExempt: [String: Int] = [:]
                    var tally = try await plan(
                        rule, now: now, toolTables: toolTables, heldTables: heldTables,
                        marked: marked.contains(rule.id), chain: chain,
                        countChildren: countChildren, childRowsPerRecord: childRowsPerRecord, simulation: &simulation,
                        stop: stop
                    ) { row, decision, takenBy, childRows in
                        if shared, case .exempt(let reason) = decision,
                            exemptSeen[reason.rawValue + "\u{0}" + table, default: []].insert(row.key).inserted
                        {
                            firstExempt[reason.rawValue, default: 0] += 1
                        }
                        // A record an earlier rule takes is not planned again: its batch would find it gone.
                        if decision == .act && takenBy == nil {
                            entries += 1
                            try writer?.write(
                                .entry(
                                    PlanDocument.Entry(
                                        rule: rule.id, key: row.key, action: rule.auditAction.rawValue,
                                        clock: row.clockValues)))
                        }
                        if let detail {
                            let keptBy =
                                decision == .exempt(.relatedRecord)
                                ? rule.exemptions.related.map(\.source) : row.keptByRules
                            detail(
                                DetailLine(
                                    rule: rule.id, key: row.key, clock: row.clockValues, decision: decision,
                                    keptBy: keptBy,
                                    clockNames: rule.clock.columns.map(\.value),
                                    clockUsed: clockUsed(rule, row.clockValues), takenBy: takenBy,
                                    childRows: childRows))
                        }
                    }
                    if shared { tally.exemptRecords = firstExempt }
                    tally.tableRows = try await reader.read { [table = tally.table] in try $0.rowCount(table: table) }
                    // Counted once per subject, whose rules share its filter.
                    if let counted = tallies.first(where: { $0.subject == tally.subject })?.subjectRecords {
                        tally.subjectRecords = counted
                    } else {
                        let filter = resolved.rule(rule).shape.filter
                        tally.subjectRecords =
                            filter.isEmpty
                            ? tally.tableRows
                            : try await reader.read { [table = tally.table] in
                                try $0.rowCount(table: table, filter: filter)
                            }
                    }
                    tallies.append(tally)
                }
            }
        } catch  where stop.isRequested {
            throw StopRequest.Stopped()
        }
        try writer?.write(.trailer(PlanDocument.Trailer(complete: true, entries: entries, rules: tallies)))
        try writer?.close()
        return tallies
    }

    /// Pages through one rule's candidates by key, deciding each; `each` sees every decision.
    ///
    /// When the rule's marks are complete (`marked`), the query leaves out what it already flagged or
    /// anonymised, so the pass reads what is due and what is exempt, not the rule's whole history;
    /// those records are counted from their marks. Without complete marks (a trail from before
    /// them, a dry run before the first run that marks), each record read is looked up in the trail.
    ///
    /// `simulation` follows the run batch by batch where counting apart would miscount (rows two
    /// rules reach, owned rows): a record an earlier rule takes is counted as taken by it, and
    /// `each` is told which rule.
    func plan(
        _ rule: RetentionRule, now: Date, toolTables: Bool, heldTables: Set<String>, marked: Bool, chain: AuditChain?,
        countChildren: Bool,
        childRowsPerRecord: Bool = false, simulation: inout RunSimulation, stop: StopRequest,
        each: (Candidate, Decision, String?, [(table: String, rows: Int)]) throws -> Void
    ) async throws -> RuleTally {
        // The child counts' statements are child tasks of this group (`ChildCounter`).
        try await withThrowingTaskGroup(of: ChildCounter.Counted.self) { statements in
            try await plan(
                rule, now: now, toolTables: toolTables, heldTables: heldTables, marked: marked, chain: chain,
                countChildren: countChildren,
                childRowsPerRecord: childRowsPerRecord, simulation: &simulation, stop: stop, statements: &statements,
                each: each)
        }
    }

    func plan(
        _ rule: RetentionRule, now: Date, toolTables: Bool, heldTables: Set<String>, marked: Bool, chain: AuditChain?,
        countChildren: Bool,
        childRowsPerRecord: Bool, simulation: inout RunSimulation, stop: StopRequest,
        statements: inout ChildCounter.Statements,
        each: (Candidate, Decision, String?, [(table: String, rows: Int)]) throws -> Void
    ) async throws -> RuleTally {
        let (subject, shape) = (resolved.rule(rule).subject, resolved.rule(rule).shape)
        let action = rule.action.auditAction
        logger.debug("planning rule", metadata: ["rule": "\(rule.id)"])
        var ruleQuery = try resolved.query(for: rule, now: now, toolTablesExist: toolTables)
        ruleQuery.excludeDone = marked && action != .purge
        ruleQuery.heldTables = heldTables
        // A plan decides on facts, never on the values an anonymise rule replaces: the batch reads
        // those itself, in its transaction. Not reading them here saves transferring and decoding them.
        ruleQuery.fieldColumns = []
        let childCounts = Self.countedChildren(rule, shape: shape, counting: countChildren, following: simulation)
        // For an export's lines, every child table (none followed: a line says what belongs to its record).
        let recordGroups =
            childRowsPerRecord ? Self.countedChildren(rule, shape: shape, counting: true, following: .none) : []
        let recordTables: [String] = recordGroups.map { group in group.paths[0][group.paths[0].count - 1].table }
        let query = ruleQuery
        var tally = RuleTally(rule: rule, subject: subject, cutoff: try Cutoff(rule: rule, policy: policy, now: now))
        if query.excludeDone {
            let done = try await reader.read { try $0.doneCount(ruleID: rule.id) }
            tally.alreadyDone += done
            tally.pastCutoff += done
        }
        let table = subject.table.value
        // Pages are read-only and hold no lock: at least 2000 rows each, whatever the batch size.
        let batchSize = max(settings.batchSize, 2000)
        // A rule that never acted has nothing to look up (a rule just added, before the run that marks).
        let lookUp = toolTables && action != .purge && !query.excludeDone
        let checkDone =
            lookUp ? try await reader.read { try $0.hasAuditEntries(ruleID: rule.id, action: action) } : false
        var children = ChildCounter(
            groups: childCounts.map(\.paths), table: table, keyColumns: query.keyColumns,
            reader: reader, counters: counters)
        // The records whose batches the simulation follows, in the run's batches: a batch is
        // `settings.batchSize` consecutive records of the plan (`PlanBatches`). Only owned rows
        // depend on where one batch ends (an owned row goes with the batch that removes the last
        // row pointing at it); without any, a page is followed at once, in one statement per path.
        let following = simulation.concerns(rule, shape: shape, table: table)
        let followedAtOnce =
            RunSimulation.paths(rule, shape).contains { $0.path[$0.path.count - 1].owned }
            ? settings.batchSize : Int.max
        var unfollowed: [RecordKey] = []
        func follow(_ keys: [RecordKey]) async throws {
            let counted = try await naming(rule) {
                try await simulation.follow(
                    rule, shape: shape, keepers: query.keepers, table: table, keyColumns: query.keyColumns, keys: keys,
                    reader: reader)
            }
            for (child, rows) in counted.deleted { tally.childRowsPurged[child, default: 0] += rows }
            for (child, rows) in counted.changed { tally.childRowsAnonymised[child, default: 0] += rows }
        }
        var after: RecordKey?
        var beyondTrees: [String: (followed: Int, rows: Int)] = [:]
        while true {
            if stop.isRequested { throw StopRequest.Stopped() }
            let page = after
            // Only a rule whose trail is looked up needs the records' references (one HMAC each): the
            // page's rows come with the keys of those the trail says were done.
            let (rows, doneKeys) = try await naming(rule) {
                try await reader.read { session -> ([CandidateRow], Set<RecordKey>) in
                    let rows = try session.candidates(query, after: page, limit: batchSize)
                    guard checkDone, let chain else { return (rows, []) }
                    let refs = rows.map { chain.reference(table: table, key: $0.candidate.key) }
                    let done = try session.auditedReferences(ruleID: rule.id, action: action, references: refs)
                    return (rows, Set(zip(rows, refs).filter { done.contains($0.1) }.map(\.0.candidate.key)))
                }
            }
            var acting: [RecordKey] = []
            let taken = following ? simulation.taken(table: table, keys: rows.map(\.candidate.key)) : [:]
            let decisions = rows.map { row in
                Planner.decide(
                    row.candidate, rule: rule, held: row.held,
                    alreadyDone: !doneKeys.isEmpty && doneKeys.contains(row.candidate.key))
            }
            let perRecord: [RecordKey: [Int]] =
                recordGroups.isEmpty
                ? [:]
                : try await naming(rule) {
                    let due = zip(rows, decisions).filter { $0.1 == .act }.map(\.0.candidate.key)
                    return try await reader.read { [recordGroups] in
                        try $0.childRowsPerRecord(
                            recordGroups.map(\.paths), table: table, keyColumns: query.keyColumns, keys: due)
                    }
                }
            for (row, decision) in zip(rows, decisions) {
                let takenBy = decision == .act ? taken[row.candidate.key] : nil
                tally.pastCutoff += 1
                switch decision {
                case .act:
                    tally.due += 1
                    if let takenBy { tally.countTaken(by: takenBy) }
                case .exempt(.keptByRule): tally.countKept(by: row.candidate.keptByRules)
                case .exempt(let reason): tally.count(reason)
                case .alreadyDone: tally.alreadyDone += 1
                }
                if decision != .alreadyDone {
                    addReview(row.candidate, decision: decision, subject: subject, to: &tally)
                }
                if decision == .act && takenBy == nil {
                    if !childCounts.isEmpty { acting.append(row.candidate.key) }
                    if following { unfollowed.append(row.candidate.key) }
                }
                var childRows: [(table: String, rows: Int)] = []
                for (table, rows) in zip(recordTables, perRecord[row.candidate.key] ?? []) where rows > 0 {
                    childRows.append((table, rows))
                }
                try each(row.candidate, decision, takenBy, childRows)
            }
            try await naming(rule) { try await children.count(acting, in: &statements) }
            if !query.treeLimits.isEmpty {
                let due = zip(rows, decisions).filter { $0.1 == .act }.map(\.0.candidate.key)
                for beyond in try await reader.read({ try TreeDepth.rowsBeyond(query, keys: due, in: $0) }) {
                    beyondTrees[beyond.table, default: (beyond.followed, 0)].rows += beyond.rows
                }
            }
            if followedAtOnce == Int.max {
                try await follow(unfollowed)
                unfollowed.removeAll()
            }
            while unfollowed.count >= followedAtOnce {
                try await follow(Array(unfollowed.prefix(followedAtOnce)))
                unfollowed.removeFirst(followedAtOnce)
            }
            guard rows.count == batchSize, let last = rows.last else { break }
            after = last.candidate.key
        }
        try await follow(unfollowed)
        for (tree, beyond) in beyondTrees.sorted(by: { $0.key < $1.key }) {
            logger.warning(
                "rule `\(rule.id)`: \(beyond.rows) row(s) of `\(tree)` hang more than \(beyond.followed) level(s) below the rows its due records take, deeper than its `tree` follows: the run refuses those records (nothing of theirs changes); raise the tree's `depth`, or remove those rows first"
            )
        }
        try await naming(rule) { try await children.finish(in: &statements) }
        for ((paths, purged), count) in zip(childCounts, children.totals) where count > 0 {
            let child = paths[0][paths[0].count - 1].table
            if purged {
                tally.childRowsPurged[child, default: 0] += count
            } else {
                tally.childRowsAnonymised[child, default: 0] += count
            }
        }
        return tally
    }

    /// Whether a dry run of `resolved` has child rows to count (and `counters` to use).
    public static func countsChildren(_ resolved: ResolvedPolicy) -> Bool {
        let simulation = RunSimulation(resolved: resolved)
        return resolved.rules.contains {
            !countedChildren($0.rule, shape: $0.shape, counting: true, following: simulation).isEmpty
        }
    }

    /// The child paths a dry run counts for `rule`, grouped by the table they end in (a table two
    /// declarations reach is counted once per row), and whether its rows would be deleted (or
    /// anonymised). Owned rows, and rows of tables another rule also reaches, are left to
    /// `following` (`RunSimulation`), which follows the run batch by batch.
    static func countedChildren(_ rule: RetentionRule, shape: RuleShape, counting: Bool, following: RunSimulation) -> [(
        paths: [[ChildLink]], purged: Bool
    )] {
        guard counting else { return [] }
        var groups: [(paths: [[ChildLink]], purged: Bool)] = []
        for (path, purged) in RunSimulation.paths(rule, shape)
        where !path[path.count - 1].owned && !following.follows(path) {
            let table = path[path.count - 1].table
            if let i = groups.firstIndex(where: {
                $0.purged == purged && $0.paths[0][$0.paths[0].count - 1].table == table
            }) {
                groups[i].paths.append(path)
            } else {
                groups.append(([path], purged))
            }
        }
        return groups
    }

    /// Which of the clock's values the clock is: the first set, or the latest set (by date, each
    /// read in its column's storage), as the due test compares them.
    func clockUsed(_ rule: RetentionRule, _ values: [SQLValue]) -> Int? {
        let columns = resolved.rule(rule).shape.clock
        let dates = zip(values, columns).map {
            DateCodec.parse($0, storage: $1.storage, calendar: policy.storageCalendar)
        }
        switch rule.clock.combination {
        case .firstPresent: return dates.firstIndex { $0 != nil }
        case .latest: return dates.indices.filter { dates[$0] != nil }.max { dates[$0]! < dates[$1]! }
        }
    }

    /// A database error in a rule's query names the rule and where the policy declares it (the
    /// SQL and values are never shown: they could hold personal data).
    func naming<T>(_ rule: RetentionRule, _ body: () async throws -> T) async throws -> T {
        do {
            return try await body()
        } catch let failure as StoreFailure {
            throw StoreFailure.inRule(rule, failure)
        }
    }

    private func addReview(_ candidate: Candidate, decision: Decision, subject: Subject, to tally: inout RuleTally) {
        guard !subject.reviewColumns.isEmpty else { return }
        guard tally.review.count < 1000 else {
            tally.reviewTruncated = true
            return
        }
        let label: String
        switch decision {
        case .act: label = tally.action
        case .exempt(.keptByRule): label = "exempt: kept_by_rule (\(candidate.keptByRules.joined(separator: ", ")))"
        case .exempt(let reason): label = "exempt: \(reason.rawValue)"
        case .alreadyDone: label = "already done"
        }
        let columns = Dictionary(
            zip(subject.reviewColumns.map(\.value), candidate.reviewValues), uniquingKeysWith: { a, _ in a })
        tally.review.append(ReviewLine(key: candidate.key, decision: label, columns: columns))
    }
}
