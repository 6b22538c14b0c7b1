import Crypto
import Foundation
import Logging
import RetentionCore
import RetentionStore

/// One line of `plan --detail`: a record, its clock, and what the rule does to it.
public struct DetailLine: Sendable {
    public var rule: String
    public var key: RecordKey
    public var clock: [SQLValue]
    public var decision: Decision
}

/// Plans and enforces a validated policy on one store: the only place where data changes.
///
/// Dry runs and enforcement share everything up to `applyBatch`: `run` writes a plan to the state
/// directory and applies it exactly as `apply` applies a plan an operator saved and reviewed.
public struct Enforcer: Sendable {
    public let resolved: ResolvedPolicy
    public let store: any RecordStore
    /// The key behind references and the chain; nil only for a dry run on a database with no audit trail yet.
    public let key: AuditKey?
    /// Who acts, for the audit trail (`retentiond` and the Unix user, or an operator's name).
    public let actor: String
    public let logger: Logger

    public var policy: Policy { resolved.policy }
    /// The trail's anchor in the policy's state directory.
    var anchor: AuditAnchor { AuditAnchor(store: store, stateDirectory: policy.stateDirectory) }

    public init(resolved: ResolvedPolicy, store: any RecordStore, key: AuditKey?, actor: String, logger: Logger) {
        self.resolved = resolved
        self.store = store
        self.key = key
        self.actor = actor
        self.logger = logger
    }

    /// Parses nothing: checks an already parsed policy against the store's live schema.
    public static func validate(_ policy: Policy, store: any RecordStore) async throws -> (ResolvedPolicy?, [Diagnostic]) {
        let columns = SchemaValidator.dateColumns(of: policy)
        let (schema, samples) = try await store.read { session -> (SchemaSnapshot, [String: [SQLValue]]) in
            let schema = try session.schema()
            var samples: [String: [SQLValue]] = [:]
            for (table, column) in columns where schema.table(table)?.column(column) != nil {
                samples["\(table).\(column)"] = try session.sample(table: table, column: column, limit: 200)
            }
            return (schema, samples)
        }
        var validator = SchemaValidator(policy: policy, schema: schema, samples: samples)
        let (diagnostics, resolved) = validator.validate()
        return (resolved, diagnostics)
    }

    public static func makeRunID(now: Date) -> String {
        let f = DateFormatter()
        f.locale = Locale(identifier: "en_US_POSIX")
        f.timeZone = TimeZone(identifier: "UTC")
        f.dateFormat = "yyyyMMdd'T'HHmmss'Z'"
        return f.string(from: now) + "-" + String(UInt32.random(in: 0...UInt32.max), radix: 16)
    }

    // MARK: Planning

    /// Streams through every rule's due records, decides each, and (if `writer` is given) writes the plan.
    func planPass(now: Date, planID: String, writer: PlanWriter?, detail: ((DetailLine) -> Void)?,
                  stop: StopRequest = StopRequest()) async throws -> [RuleTally] {
        let standing = try await anchor.check()
        let tables = standing.tables
        if !standing.anchored {
            logger.warning("no head is recorded for the audit trail of \(store.location) in \(anchor.headPath): a truncated or restored trail cannot be detected until this run records one; if the file was deleted, restore it from a copy kept elsewhere")
        }
        if standing.entriesPastHead > 0 {
            logger.warning("the audit trail holds \(standing.entriesPastHead) entries past the head recorded in \(anchor.headPath): a run was killed before recording its last batch, or the file was replaced by an older copy; check with `retentiond audit verify --head COPY` against a copy kept elsewhere")
        }
        let toolTables = tables.complete
        let fingerprint = resolved.schema.fingerprint
        if key == nil, try await anchor.trailExists() {
            throw EnforcementError.auditKey("the database has an audit trail but no audit key was loaded (\(policy.keyFile)); restore it from your backup (a new key cannot verify the existing trail)")
        }
        let chain = key.map(AuditChain.init)
        if toolTables, let chain {
            let ledger = HoldLedger(chain: chain)
            for finding in try await store.read({ try ledger.enforce(in: $0) }) {
                logger.warning("\(finding.message)")
            }
        }
        let headers = try policy.rules.map { rule in
            PlanDocument.RuleHeader(id: rule.id, action: rule.action.name, table: policy.subject(for: rule).table.value,
                                    cutoff: try Cutoff(rule: rule, policy: policy, now: now))
        }
        try writer?.write(.header(PlanDocument.Header(planID: planID, createdAt: Date(), now: now, policyHash: policy.hash,
                                                      policyPath: policy.path, database: store.location,
                                                      schemaFingerprint: fingerprint, rules: headers)))
        var tallies: [RuleTally] = []
        var entries = 0
        for rule in policy.rules {
            let subject = policy.subject(for: rule)
            let query = try resolved.query(for: rule, now: now, toolTablesExist: toolTables)
            var tally = RuleTally(rule: rule, subject: subject, cutoff: try Cutoff(rule: rule, policy: policy, now: now))
            let table = subject.table.value
            tally.tableRows = try await store.read { try $0.rowCount(table: table, filter: []) }
            let batchSize = policy.batchSize
            let action = rule.action.auditAction
            let checkDone = toolTables && action != .purge
            var after: RecordKey?
            while true {
                if stop.isRequested { throw StopRequest.Stopped() }
                let page = after
                let (rows, done) = try await store.read { session -> ([CandidateRow], Set<String>) in
                    let rows = try session.candidates(query, after: page, limit: batchSize)
                    guard checkDone, let chain else { return (rows, []) }
                    let refs = rows.map { chain.reference(table: table, key: $0.candidate.key) }
                    return (rows, try session.auditedReferences(ruleID: rule.id, action: action, references: refs))
                }
                for row in rows {
                    let ref = chain?.reference(table: table, key: row.candidate.key)
                    let decision = Planner.decide(row.candidate, rule: rule, held: row.held, alreadyDone: ref.map(done.contains) ?? false)
                    tally.pastCutoff += 1
                    switch decision {
                    case .act:
                        tally.due += 1
                        entries += 1
                        try writer?.write(.entry(PlanDocument.Entry(rule: rule.id, key: row.candidate.key, action: action.rawValue, clock: row.candidate.clockValues)))
                    case .exempt(let reason):
                        tally.count(reason)
                    case .alreadyDone:
                        tally.alreadyDone += 1
                    }
                    if decision != .alreadyDone { addReview(row.candidate, decision: decision, subject: subject, to: &tally) }
                    detail?(DetailLine(rule: rule.id, key: row.candidate.key, clock: row.candidate.clockValues, decision: decision))
                }
                guard rows.count == batchSize, let last = rows.last else { break }
                after = last.candidate.key
            }
            tallies.append(tally)
        }
        try writer?.write(.trailer(PlanDocument.Trailer(complete: true, entries: entries, rules: tallies)))
        try writer?.close()
        return tallies
    }

    private func addReview(_ candidate: Candidate, decision: Decision, subject: Subject, to tally: inout RuleTally) {
        guard !subject.reviewColumns.isEmpty else { return }
        guard tally.review.count < 1000 else { tally.reviewTruncated = true; return }
        let label: String
        switch decision {
        case .act: label = tally.action
        case .exempt(let reason): label = "exempt: \(reason.rawValue)"
        case .alreadyDone: label = "already done"
        }
        let columns = Dictionary(zip(subject.reviewColumns.map(\.value), candidate.reviewValues), uniquingKeysWith: { a, _ in a })
        tally.review.append(ReviewLine(key: candidate.key, decision: label, columns: columns))
    }

    /// A dry run: what would happen at `now`, changing nothing. Writes the plan when `planPath` is given.
    public func plan(now: Date, mode: RunReport.Mode, planPath: String?, detail: ((DetailLine) -> Void)? = nil) async throws -> RunReport {
        let started = Date()
        let runID = Self.makeRunID(now: started)
        let writer = try planPath.map { try PlanWriter(path: $0) }
        let tallies = try await planPass(now: now, planID: runID, writer: writer, detail: detail)
        return RunReport(runID: runID, mode: mode, status: .complete, policyPath: policy.path, policyHash: policy.hash,
                         database: store.location, now: now, startedAt: started, finishedAt: Date(), rules: tallies)
    }

    // MARK: Enforcement

    /// Plans and applies in one go, under the run lock: what the timer runs.
    /// `stop` is asked before each batch: when it says yes, the run ends at that batch boundary.
    public func run(now: Date, allowMore: Bool, stop: StopRequest = StopRequest()) async throws -> RunReport {
        let lock = try await store.acquireRunLock()
        defer { withExtendedLifetime(lock) {} }
        try await refuseIfClockWentBack(now: now)
        let runID = Self.makeRunID(now: Date())
        let planPath = policy.stateDirectory + "/plans/\(runID).plan"
        defer { unlink(planPath) }
        do {
            _ = try await planPass(now: now, planID: runID, writer: try PlanWriter(path: planPath), detail: nil, stop: stop)
        } catch is StopRequest.Stopped {
            logger.notice("run stopped while planning; nothing was changed", metadata: ["run": "\(runID)"])
            let stopped = Date()
            return RunReport(runID: runID, mode: .run, status: .incomplete, message: "stopped on request while planning; nothing was changed",
                             policyPath: policy.path, policyHash: policy.hash, database: store.location, now: now,
                             startedAt: stopped, finishedAt: stopped, rules: [])
        }
        return try await applyLocked(planPath: planPath, runID: runID, mode: .run, wallClock: now, allowMore: allowMore, lock: lock, stop: stop)
    }

    /// Applies a saved plan: re-checks each entry, skips stale ones, refuses a plan made elsewhere.
    public func apply(planPath: String, wallClock: Date, allowMore: Bool, stop: StopRequest = StopRequest()) async throws -> RunReport {
        let lock = try await store.acquireRunLock()
        defer { withExtendedLifetime(lock) {} }
        try await refuseIfClockWentBack(now: wallClock)
        return try await applyLocked(planPath: planPath, runID: Self.makeRunID(now: Date()), mode: .apply, wallClock: wallClock, allowMore: allowMore,
                                     lock: lock, stop: stop)
    }

    func refuseIfClockWentBack(now: Date) async throws {
        if let last = try await store.read({ try $0.lastCompletedRunTime() }), now < last {
            let f = ISO8601DateFormatter()
            throw EnforcementError.refused("the clock (\(f.string(from: now))) is earlier than the last completed run (\(f.string(from: last))); nothing was changed. Fix the system clock (or --now) before enforcing")
        }
    }

    /// The report of a run refused before any change (safety limit, lock, clock, plan mismatch),
    /// with the planned figures when the safety limit stopped it; nil for other failures.
    public func refusedReport(for failure: EnforcementError, mode: RunReport.Mode, now: Date) -> RunReport? {
        guard [.safetyLimit, .refused, .locked].contains(failure.kind) else { return nil }
        var tallies: [RuleTally] = []
        if case .safetyLimit(_, let planned) = failure { tallies = planned }
        let started = Date()
        return RunReport(runID: Self.makeRunID(now: started), mode: mode, status: .refused, message: failure.description,
                         policyPath: policy.path, policyHash: policy.hash, database: store.location,
                         now: now, startedAt: started, finishedAt: started, rules: tallies)
    }

    /// Checks every rule's planned count against its limits; all figures are reported at once.
    static func safetyViolations(_ tallies: [RuleTally], policy: Policy) -> [String] {
        var lines: [String] = []
        for tally in tallies {
            guard tally.action != "flag", let rule = policy.rules.first(where: { $0.id == tally.rule }) else { continue }
            if let max = rule.safety.maxRecords, tally.due > max {
                lines.append("rule `\(tally.rule)`: \(tally.due) records due, more than max_records \(max)")
            }
            if let percent = rule.safety.maxPercent, tally.tableRows > 0 {
                let share = Double(tally.due) * 100 / Double(tally.tableRows)
                if share > percent {
                    lines.append("rule `\(tally.rule)`: \(tally.due) of \(tally.tableRows) rows of `\(tally.table)` (\(String(format: "%.2f", share))%), more than max_percent \(percent.formatted())%")
                }
            }
        }
        return lines
    }

    private func applyLocked(planPath: String, runID: String, mode: RunReport.Mode, wallClock: Date, allowMore: Bool,
                             lock: any RunLockHandle, stop: StopRequest = StopRequest()) async throws -> RunReport {
        let started = Date()
        guard let key else { throw EnforcementError.auditKey("no audit key loaded") }
        let chain = AuditChain(key: key)

        // First pass: the plan must be whole and made for this policy and database.
        let scan = try PlanReader(path: planPath)
        guard case .header(let header)? = try scan.next(), header.format == PlanDocument.format else {
            throw EnforcementError.refused("\(planPath) is not a retentiond plan (no header line)")
        }
        var trailer: PlanDocument.Trailer?
        while let line = try scan.next() {
            if case .trailer(let t) = line { trailer = t }
        }
        guard let trailer, trailer.complete else {
            throw EnforcementError.refused("\(planPath) has no trailer: the plan was cut short; make a new one")
        }
        guard header.policyHash == policy.hash else {
            throw EnforcementError.refused("the plan was made from a different policy (sha256 \(header.policyHash.prefix(12))…, this one is \(policy.hash.prefix(12))…); nothing was changed. Make a new plan with this policy")
        }
        guard header.database == store.location, header.schemaFingerprint == resolved.schema.fingerprint else {
            throw EnforcementError.refused("the plan was made for another database (\(header.database)) or its schema has changed since; nothing was changed. Make a new plan")
        }
        let violations = Self.safetyViolations(trailer.rules, policy: policy)
        if !violations.isEmpty {
            if allowMore {
                logger.warning("safety limits overridden with --allow-more", metadata: ["violations": "\(violations.count)"])
            } else {
                throw EnforcementError.safetyLimit(violations, trailer.rules)
            }
        }

        try await anchor.check()
        try await store.transaction { try $0.prepareToolTables() }
        var tallies = trailer.rules
        var failures: [RecordFailure] = []
        var status = RunReport.Status.complete
        var message: String?
        var failureKind: FailureKind?
        do {
            let reader = try PlanReader(path: planPath)
            var batch: [PlanDocument.Entry] = []
            func flush() async throws {
                guard let first = batch.first else { return }
                if stop.isRequested { throw StopRequest.Stopped() }
                guard let index = tallies.firstIndex(where: { $0.rule == first.rule }),
                      let rule = policy.rules.first(where: { $0.id == first.rule }) else {
                    throw EnforcementError.refused("the plan names rule `\(first.rule)`, which the policy does not have")
                }
                let work = try batchWork(rule: rule, planNow: header.now, runID: runID, chain: chain)
                try await applyIsolating(work, keys: batch.map(\.key), lock: lock, tally: &tallies[index], failures: &failures)
                batch.removeAll(keepingCapacity: true)
            }
            while let line = try reader.next() {
                guard case .entry(let entry) = line else { continue }
                if let first = batch.first, first.rule != entry.rule || batch.count >= policy.batchSize { try await flush() }
                batch.append(entry)
            }
            try await flush()
        } catch is StopRequest.Stopped {
            status = .incomplete
            message = "stopped on request between batches; committed batches stay, the next run finishes the work"
            logger.notice("run stopped at a batch boundary", metadata: ["run": "\(runID)"])
        } catch {
            let failure = EnforcementError.from(error)
            status = .incomplete
            failureKind = failure.kind
            message = "stopped: \(failure.description); committed batches stay, the next run finishes the work"
            logger.error("run incomplete", metadata: ["run": "\(runID)", "error": "\(failure.description)"])
        }
        if status == .complete {
            let f = ISO8601DateFormatter()
            var detail = ["now": f.string(from: wallClock), "plan_now": f.string(from: header.now), "mode": mode.rawValue]
            let failed = failures.reduce(into: [String: Int]()) { $0[$1.rule, default: 0] += 1 }
            for t in tallies {
                detail["rule:\(t.rule)"] = "due=\(t.due) flagged=\(t.flagged) anonymised=\(t.anonymised) purged=\(t.purged) exempt=\(t.exemptTotal) stale=\(t.stale) gone=\(t.gone)"
                    + (failed[t.rule].map { " failed=\($0)" } ?? "")
            }
            let draft = AuditDraft(runID: runID, actor: actor, policyHash: policy.hash, action: .runCompleted, detail: detail)
            let writer = AuditWriter(chain: chain)
            let position = try await store.transaction { try writer.append([draft], in: $0) }
            try anchor.record(position)
            logger.notice("audit head recorded", metadata: ["head": "\(position.head.seq)", "mac": "\(position.head.mac)", "genesis": "\(position.genesis)"])
        }
        if tallies.contains(where: { $0.purged > 0 }) { try await store.scrubFreedSpace() }
        var report = RunReport(runID: runID, mode: mode, status: status, message: message, policyPath: policy.path, policyHash: policy.hash,
                               database: store.location, now: header.now, startedAt: started, finishedAt: Date(), rules: tallies)
        report.failure = failureKind
        report.failures = failures
        return report
    }

    /// Applies `keys` as one batch (one transaction: re-check, change, audit). When the database
    /// refuses the batch (a constraint, a trigger), each half is applied again, down to single
    /// records, so one record cannot stop the run: it is recorded as failed and the rest goes on.
    /// A batch whose every record fails is not a record's problem (a missing grant, a broken
    /// table): the run stops there, naming the rule.
    func applyIsolating(_ work: BatchWork, keys: ArraySlice<RecordKey>, lock: any RunLockHandle,
                        tally: inout RuleTally, failures: inout [RecordFailure]) async throws {
        let before = failures.count
        do {
            let batch = Array(keys)
            let outcome = try await store.transaction { try work.apply(in: $0, keys: batch, lock: lock) }
            tally.record(outcome, action: work.rule.action)
            try anchor.record(outcome.position)
            return
        } catch let refused as StoreFailure {
            if keys.count == 1, let key = keys.first {
                let reference = work.chain.reference(table: work.table, key: key)
                failures.append(RecordFailure(rule: work.rule.id, reference: reference, reason: refused.message))
                logger.error("record refused by the database; the run goes on", metadata: [
                    "rule": "\(work.rule.id)", "reference": "\(reference)", "error": "\(refused.message)"])
                return
            }
            let middle = keys.startIndex + keys.count / 2
            try await applyIsolating(work, keys: keys[..<middle], lock: lock, tally: &tally, failures: &failures)
            try await applyIsolating(work, keys: keys[middle...], lock: lock, tally: &tally, failures: &failures)
            if failures.count - before == keys.count {
                throw StoreFailure("rule `\(work.rule.id)` (table `\(work.table)`): the database refused every record of a batch, so the cause is not one record: \(refused.message)")
            }
        }
    }

    func applyIsolating(_ work: BatchWork, keys: [RecordKey], lock: any RunLockHandle,
                        tally: inout RuleTally, failures: inout [RecordFailure]) async throws {
        try await applyIsolating(work, keys: keys[...], lock: lock, tally: &tally, failures: &failures)
    }

    /// Everything a batch of `rule` needs, prepared outside the transaction.
    func batchWork(rule: RetentionRule, planNow: Date, runID: String, chain: AuditChain) throws -> BatchWork {
        let subject = policy.subject(for: rule)
        return BatchWork(rule: rule, query: try resolved.query(for: rule, now: planNow, toolTablesExist: true), shape: resolved.shape(of: rule),
                         table: subject.table.value, keyColumns: subject.key.map(\.value), calendar: policy.calendar, actor: actor,
                         policyHash: policy.hash, pseudonymKey: key!.pseudonymKey, runID: runID, chain: chain)
    }
}
