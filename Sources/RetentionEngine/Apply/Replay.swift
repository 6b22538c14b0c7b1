import Foundation
import RetentionCore
import RetentionStore

/// What re-applying the erasure ledger after a restore did — or, in a dry run, would do.
public struct ReplayReport: Sendable, Codable {
    /// Records of one rule with one outcome.
    public struct Outcome: Sendable, Codable, Equatable {
        public var rule: String
        public var action: String
        public var table: String
        /// purged, anonymised (or would be …), already done, kept (and why), not in the restored
        /// database, gone with another record, not re-applied (and why).
        public var outcome: String
        public var records: Int

        public init(rule: String, action: String, table: String, outcome: String, records: Int) {
            (self.rule, self.action, self.table, self.outcome, self.records) = (rule, action, table, outcome, records)
        }
    }
    public var dryRun: Bool
    /// Ledger entries whose trail entry the restore undid (erasures and holds).
    public var lostEntries: Int
    public var outcomes: [Outcome] = []
    /// Holds placed after the backup and not released, placed again on their records.
    public var holdsPlacedAgain = 0
    /// Holds released after the backup that the restored database holds again (more is kept: said).
    public var holdsInForceAgain = 0
    /// Holds placed after the backup on records the restored database does not have.
    public var holdsWithoutRecord = 0

    public var reapplied: Int {
        outcomes.filter { ["purged", "anonymised"].contains($0.outcome) }.map(\.records).reduce(0, +)
    }
    /// Erasures that could not be re-applied for a reason the operator must act on.
    public var notReapplied: [Outcome] { outcomes.filter { $0.outcome.hasPrefix("not re-applied") } }

    public func text() -> String {
        var out =
            "\(lostEntries) ledger entr\(lostEntries == 1 ? "y" : "ies") the restore undid\(dryRun ? " (dry run: nothing changed)" : ""):\n"
        for o in outcomes {
            out += "  \(o.rule)\t\(o.action)\t\(o.table)\t\(o.records)\t\(o.outcome)\n"
        }
        if holdsPlacedAgain > 0 {
            out +=
                "  \(holdsPlacedAgain) legal hold(s) placed after the backup \(dryRun ? "would be" : "were") placed again (by retentiond, naming the lost hold): their records are kept\n"
        }
        if holdsWithoutRecord > 0 {
            out +=
                "  \(holdsWithoutRecord) legal hold(s) placed after the backup name records the restored database does not have\n"
        }
        if holdsInForceAgain > 0 {
            out +=
                "  \(holdsInForceAgain) legal hold(s) released after the backup are in force again in the restored database: release them again with `retentiond hold release` if that still stands\n"
        }
        return out
    }
}

extension Applier {
    /// Re-applies what the ledger says was erased and the restore brought back (`lost`), before
    /// any other rule runs: first the legal holds placed after the backup are placed again, then
    /// each erasure goes through its rule as an erasure request does (the clock is not waited for,
    /// consent no longer keeps it), while holds, related records that must be kept, other rules
    /// and references still keep what they keep. Each record's entry names the ledger entry it
    /// comes from. `keys`: the audit keys by fingerprint (the current one, and retired ones: a
    /// reference made before a key rotation is matched with the key that made it).
    func replay(_ lost: ErasureLedger.Lost, keys: [String: AuditKey], lock: any RunLockHandle, now: Date, dryRun: Bool)
        async throws -> ReplayReport
    {
        var report = ReplayReport(dryRun: dryRun, lostEntries: lost.entries.count)
        // In a dry run the holds are not placed: the records they would protect are said kept all the same.
        let heldAgain = try await replayHolds(lost.entries, keys: keys, now: now, dryRun: dryRun, into: &report)

        let erasures = lost.entries.filter {
            [AuditAction.purge, .anonymise, .archive].map(\.rawValue).contains($0.action ?? "")
        }
        var order: [String] = []
        var byRule: [String: [ErasureLedger.Line]] = [:]
        for line in erasures {
            let rule = line.rule ?? ""
            if byRule[rule] == nil { order.append(rule) }
            byRule[rule, default: []].append(line)
        }
        let works = try batchWorks(planNow: now)
        let complete = try await store.read { [ids = markingRules.map(\.id)] session in
            try session.doneTableExists() ? try session.rulesWithCompleteMarks(among: ids) : []
        }
        for ruleID in order {
            let lines = byRule[ruleID]!
            let action = lines[0].action ?? ""
            let table = lines[0].table ?? ""
            func add(_ outcome: String, _ count: Int) {
                guard count > 0 else { return }
                if let i = report.outcomes.firstIndex(where: { $0.rule == ruleID && $0.outcome == outcome }) {
                    report.outcomes[i].records += count
                } else {
                    report.outcomes.append(
                        .init(rule: ruleID, action: action, table: table, outcome: outcome, records: count))
                }
            }
            guard let rule = policy.rules.first(where: { $0.id == ruleID }), var work = works[ruleID] else {
                add(
                    "not re-applied: the rule is no longer in the policy; erase these records with `retentiond erase` if they must go",
                    distinct(lines))
                continue
            }
            guard rule.auditAction.rawValue == action, work.table == table else {
                add(
                    "not re-applied: the rule now \(rule.actionName)s `\(work.table)`; review it, then erase these records with `retentiond erase` if they must go",
                    distinct(lines))
                continue
            }
            // The records the ledger names, found by their references (with the key that made each).
            var wanted: [String: [ErasureLedger.Line]] = [:]
            for line in lines {
                guard let kid = line.kid, keys[kid] != nil else {
                    add(
                        "not re-applied: recorded under an audit key that is not at hand (fingerprint \(line.kid ?? "none")); keep retired keys beside the key file",
                        1)
                    continue
                }
                wanted["\(kid)/\(line.ref ?? "")", default: []].append(line)
            }
            let found = try await matching(Set(wanted.keys), table: table, keyColumns: work.keyColumns, keys: keys)
            add("not in the restored database", wanted.count - found.count)
            work.query.dueNow = true
            work.query.consent = []
            work.query.excludeDone = false
            work.detail = ["reapplied": "after a restore"]
            let query = work.query
            let marksKept = complete.contains(rule.id) && rule.action.auditAction != .purge
            var acting: [RecordKey] = []
            for (ref, key) in found.sorted(by: { $0.value < $1.value }) {
                if heldAgain.contains(table + "\u{0}" + key.canonical) {
                    add("kept: " + Explainer.reason("legal_hold"), 1)
                    continue
                }
                guard let row = try await store.read({ try $0.standing(query, key: key, marksKept: marksKept) }) else {
                    add("gone with another record re-applied before it", 1)
                    continue
                }
                let record = SQLBuilder.decodeStanding(row, query: query)
                let purges = rule.action.auditAction == .purge
                if !record.applies {
                    add("not re-applied: no longer a `\(rule.subjectID)` record under its subject's filter", 1)
                    continue
                }
                if record.done {
                    add("already done", 1)
                    continue
                }
                if record.held {
                    add("kept: " + Explainer.reason("legal_hold"), 1)
                    continue
                }
                if record.keptByRelated {
                    add("kept: " + Explainer.reason("related_record"), 1)
                    continue
                }
                if !record.keptByRules.isEmpty {
                    add("kept: " + Explainer.keptByRules(record.keptByRules, policy: policy), 1)
                    continue
                }
                if record.referencedByUndeclared && purges {
                    add("kept: " + Explainer.reason("referenced_by_undeclared_table"), 1)
                    continue
                }
                let origin = wanted[ref]![0]
                var detail = ["reapplied_seq": String(origin.seq ?? 0), "reapplied_run": origin.run ?? ""]
                if let request = origin.request { detail["request"] = request }
                work.recordDetail[key] = detail
                acting.append(key)
            }
            let verb = rule.archives ? "archived" : rule.action.auditAction == .purge ? "purged" : "anonymised"
            if dryRun {
                add("would be \(verb)", acting.count)
                continue
            }
            let applying = work
            for start in stride(from: 0, to: acting.count, by: settings.batchSize) {
                let batch = Array(acting[start..<min(start + settings.batchSize, acting.count)])
                let outcome = try await applyBatch(applying, keys: batch, lock: lock)
                try anchor.record(outcome.position)
                add(verb, outcome.acted)
                add("kept: changed or held since it was read", outcome.stale)
                add("gone with another record re-applied before it", outcome.gone)
            }
        }
        return report
    }

    /// How many records `lines` name (a record anonymised twice by one rule counts once).
    private func distinct(_ lines: [ErasureLedger.Line]) -> Int {
        Set(lines.map { "\($0.kid ?? "")/\($0.ref ?? "")" }).count
    }

    /// The records of `table` whose reference (`fingerprint/reference`) is one of `wanted`, by
    /// reading every key of the table once.
    func matching(_ wanted: Set<String>, table: String, keyColumns: [String], keys: [String: AuditKey]) async throws
        -> [String: RecordKey]
    {
        guard !wanted.isEmpty else { return [:] }
        let chains = keys.filter { kid, _ in wanted.contains { $0.hasPrefix(kid + "/") } }.map {
            ($0.key, AuditChain(key: $0.value))
        }
        var found: [String: RecordKey] = [:]
        var after: RecordKey?
        while true {
            let page = try await store.read { [after] in
                try $0.keys(table: table, keyColumns: keyColumns, after: after, limit: 5000)
            }
            for key in page {
                for (kid, chain) in chains {
                    let ref = kid + "/" + chain.reference(table: table, key: key)
                    if wanted.contains(ref) { found[ref] = key }
                }
            }
            guard page.count == 5000, let last = page.last else { break }
            after = last
        }
        return found
    }

    /// Holds placed after the backup and not released since are placed again (the restore took
    /// them away with the rest): the records they protect must not be erased now, nor by a later
    /// run. Each is audited as a `hold-add` naming the hold it stands for.
    /// Returns the records (`table`, NUL, canonical key) those holds protect.
    private func replayHolds(
        _ lost: [ErasureLedger.Line], keys: [String: AuditKey], now: Date, dryRun: Bool,
        into report: inout ReplayReport
    ) async throws -> Set<String> {
        var last: [String: ErasureLedger.Line] = [:]
        for line in lost
        where line.action == AuditAction.holdAdd.rawValue || line.action == AuditAction.holdRelease.rawValue {
            last["\(line.table ?? "")\u{0}\(line.kid ?? "")/\(line.ref ?? "")"] = line
        }
        report.holdsInForceAgain = last.values.filter { $0.action == AuditAction.holdRelease.rawValue }.count
        let placed = last.values.filter { $0.action == AuditAction.holdAdd.rawValue }.sorted {
            ($0.seq ?? 0) < ($1.seq ?? 0)
        }
        guard !placed.isEmpty else { return [] }
        var protected: Set<String> = []
        let active = try await store.read {
            try $0.toolTables().holds ? try $0.holds(includeReleased: false).filter { $0.isActive(at: now) } : []
        }
        let chain = self.chain
        let writer = AuditWriter(chain: chain)
        for table in Set(placed.compactMap(\.table)).sorted() {
            let lines = placed.filter { $0.table == table }
            guard let primaryKey = resolved.schema.table(table)?.primaryKey, !primaryKey.isEmpty else {
                report.holdsWithoutRecord += lines.count
                continue
            }
            let found = try await matching(
                Set(lines.map { "\($0.kid ?? "")/\($0.ref ?? "")" }), table: table, keyColumns: primaryKey, keys: keys)
            for line in lines {
                guard let key = found["\(line.kid ?? "")/\(line.ref ?? "")"] else {
                    report.holdsWithoutRecord += 1
                    continue
                }
                protected.insert(table + "\u{0}" + key.canonical)
                if active.contains(where: { $0.table == table && $0.key.canonical == key.canonical }) { continue }
                report.holdsPlacedAgain += 1
                if dryRun { continue }
                let until = line.until.flatMap { ISO8601DateFormatter().date(from: $0) }
                let hold = LegalHold(
                    table: table, key: key,
                    reason:
                        "placed again after a restore: hold \(line.hold ?? "?") (trail entry \(line.seq ?? 0), \(line.at ?? "")) was placed after the backup the database was restored from",
                    placedBy: actor, placedAt: now, until: until)
                let (runID, actor, ref) = (self.runID, self.actor, chain.reference(table: table, key: key))
                let position = try await store.transaction { session -> TrailPosition in
                    try session.lockHolds(exclusive: true)
                    let id = try session.insertHold(hold)
                    var detail = [
                        "hold_id": String(id), "placed_again_for": line.hold ?? "",
                        "reapplied_seq": String(line.seq ?? 0),
                    ]
                    if let until = line.until { detail["until"] = until }
                    let draft = AuditDraft(
                        runID: runID, actor: actor, policyHash: "", action: .holdAdd, table: table, subjectRef: ref,
                        detail: detail)
                    return try writer.append([draft], in: session, confirmingKey: true)
                }
                try anchor.record(position)
            }
        }
        return protected
    }
}
