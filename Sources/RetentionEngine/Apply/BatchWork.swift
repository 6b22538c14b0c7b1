import Crypto
import Foundation
import RetentionCore
import RetentionStore

/// One batch's work for one rule: re-check the records, change those still due, append their audit
/// entries to the chain. Runs inside a transaction the caller opened.
struct BatchWork: Sendable {
    let rule: RetentionRule
    var query: RuleQuery
    let shape: RuleShape
    let table: String
    let keyColumns: [String]
    let calendar: Calendar
    let actor: String
    let policyHash: String
    let pseudonymKey: SymmetricKey
    let runID: String
    let chain: AuditChain
    /// The flag and anonymise rules on this table, whose marks a purge removes with the records.
    var markingRules: [String] = []
    /// Added to every audit entry of the batch (an erasure request's reference).
    var detail: [String: String] = [:]
    /// Added to one record's own entry (the ledger entry an erasure re-applied after a restore comes from).
    var recordDetail: [RecordKey: [String: String]] = [:]
    /// The rule's statistics, counted from the records the batch erases.
    var statistics: StatisticsWork?
    /// An archive rule's move: the batch deletes only records whose rows the archive holds as they are.
    var archive: ArchiveMove?

    /// `lock`: the run lock this process holds (nil for a worker that joined a shared run), confirmed
    /// before anything changes. `references`: the keys' references when already computed.
    /// `copies`: for an archive rule, the rows the archive committed for `keys`.
    func apply(
        in session: any WritingSession, keys: [RecordKey], references: [RecordKey: String] = [:],
        lock: (any RunLockHandle)?, copies: ArchivedRows? = nil
    ) throws -> BatchOutcome {
        // No hold can be placed from here until this transaction ends, so the holds read below are
        // the holds in force when the rows change: only the tables that have one are probed.
        try session.lockHolds(exclusive: false)
        try lock?.confirm(in: session)
        // From here on the batch waits for the application's locks only so long: a row an
        // application keeps locked fails the batch (rolled back whole) instead of holding the run,
        // and `hold add` behind it, without end.
        try session.limitLockWaits()
        // Holds are re-read in this transaction; first make sure none was removed behind the trail's back.
        _ = try HoldLedger(chain: chain).enforce(in: session)
        // The re-check locks the batch's rows, so no concurrent change slips between it and the change.
        var query = query
        query.heldTables = try session.heldTables(at: query.holdTime)
        let rows = try session.candidates(query, keys: keys, lockingRows: true)
        let refs = rows.map { references[$0.candidate.key] ?? chain.reference(table: table, key: $0.candidate.key) }
        // Marked records come back flagged (`markedDone`); the trail is asked only where marks are not kept.
        let lookUp = rule.action.auditAction != .purge && !query.excludeDone
        let done =
            lookUp
            ? try session.auditedReferences(ruleID: rule.id, action: rule.action.auditAction, references: refs) : []
        var acting: [(candidate: Candidate, ref: String)] = []
        for (row, ref) in zip(rows, refs)
        where Planner.decide(
            row.candidate, rule: rule, held: row.held, alreadyDone: row.markedDone || done.contains(ref)) == .act
        {
            acting.append((row.candidate, ref))
        }
        let skipped = Set(keys).subtracting(acting.map(\.candidate.key))
        let existing = try session.existingKeys(table: table, keyColumns: keyColumns, keys: Array(skipped))
        var outcome = BatchOutcome(acted: acting.count, stale: existing.count, gone: skipped.count - existing.count)
        // The entries for what the batch did to children, appended after the records' own.
        var drafts: [AuditDraft] = []
        func draft(
            _ action: AuditAction, ref: String, fields: [String], detail: [String: String] = [:], table: String = table
        ) -> AuditDraft {
            AuditDraft(
                runID: runID, actor: actor, policyHash: policyHash, ruleID: rule.id, action: action, table: table,
                subjectRef: ref, fields: fields, detail: detail.merging(self.detail) { a, _ in a })
        }
        // The records' own entries are known now: they are sealed on another core while the rows change.
        let fields: [String]
        switch rule.action {
        case .flag: fields = []
        case .anonymise(let strategies, _): fields = strategies.filter { $0.strategy != .keep }.map(\.column.value)
        case .purge: fields = ["*"]
        }
        try refuseDeeperTrees(acting.map(\.candidate.key), in: session)
        let early = try EarlySeal(
            acting.map {
                draft(rule.auditAction, ref: $0.ref, fields: fields, detail: recordDetail[$0.candidate.key] ?? [:])
            },
            chain: chain, in: session)
        switch rule.action {
        case .flag:
            try session.markDone(
                ruleID: rule.id, table: table, keyColumns: keyColumns, keys: acting.map(\.candidate.key))
        case .anonymise(let strategies, _):
            let keys = acting.map(\.candidate.key)
            // Declared children first, in the same transaction: anonymised, or deleted (deepest first).
            for work in shape.childWork {
                guard case .anonymise(let path, let childFields, let childKey, let dates) = work else { continue }
                let child = path[path.count - 1].table
                let changed = childFields.filter { $0.strategy != .keep }
                let found = try session.childRecords(
                    path, table: table, keyColumns: keyColumns, keys: keys,
                    columns: childKey + changed.map(\.column.value), order: childKey)
                let updates = found.map { row -> (RecordKey, [SQLValue]) in
                    (
                        RecordKey(Array(row[..<childKey.count])),
                        changed.enumerated().map { i, field in
                            field.strategy.apply(
                                to: row[childKey.count + i], pseudonymKey: pseudonymKey,
                                dateStorage: dates[field.column.value]?.storage, calendar: calendar)
                        }
                    )
                }
                let rowsChanged = try session.anonymise(
                    table: child, keyColumns: childKey, fields: changed.map(\.column.value), rows: updates)
                if !changed.isEmpty, rowsChanged != updates.count {
                    throw StoreFailure.childRowsMiscounted(
                        rule: rule.id, child: child, changed: rowsChanged, found: updates.count)
                }
                if !updates.isEmpty {
                    outcome.childrenAnonymised[child, default: 0] += updates.count
                    drafts.append(
                        draft(
                            .anonymiseChildren, ref: "", fields: changed.map(\.column.value),
                            detail: ["rows": String(updates.count), "parent_table": table], table: child))
                }
            }
            let purged = shape.childWork.compactMap { work -> [ChildLink]? in
                if case .purge(let path) = work { return path } else { return nil }
            }
            outcome.children = try session.deleteChildren(
                table: table, keyColumns: keyColumns, keys: keys, childPaths: purged, keepers: query.keepers)
            for (child, count) in outcome.children.sorted(by: { $0.key < $1.key }) where count > 0 {
                drafts.append(
                    draft(
                        .purgeChildren, ref: "", fields: ["*"], detail: ["rows": String(count), "parent_table": table],
                        table: child))
            }
            let changed = strategies.enumerated().filter { $0.element.strategy != .keep }
            let updates = acting.map { item -> (RecordKey, [SQLValue]) in
                (
                    item.candidate.key,
                    changed.map { index, field in
                        field.strategy.apply(
                            to: item.candidate.fieldValues[index], pseudonymKey: pseudonymKey,
                            dateStorage: shape.fieldDates[field.column.value]?.storage, calendar: calendar)
                    }
                )
            }
            let rowsChanged = try session.anonymise(table: table, keyColumns: keyColumns, fields: fields, rows: updates)
            if !fields.isEmpty { try expectChanged(rowsChanged, audited: acting.count) }
            try session.markDone(ruleID: rule.id, table: table, keyColumns: keyColumns, keys: keys)
        case .purge:
            if let archive {
                // The archive committed the rows as they were when copied; the records whose rows
                // changed since (or whose copy is missing) are not deleted: the batch is refused.
                let current = try session.rowsToArchive(archive.shape, keys: acting.map(\.candidate.key))
                guard let copies, copies.hold(current) else {
                    throw StoreFailure.changedSinceArchived(rule: rule.id)
                }
            }
            try session.unmarkDone(
                ruleIDs: markingRules, table: table, keyColumns: keyColumns, keys: acting.map(\.candidate.key))
            let result = try session.purge(
                table: table, keyColumns: keyColumns, keys: acting.map(\.candidate.key), childPaths: shape.childPaths,
                keepers: query.keepers)
            try expectChanged(result.records, audited: acting.count)
            outcome.children = result.children
            for (child, count) in result.children.sorted(by: { $0.key < $1.key }) where count > 0 {
                drafts.append(
                    draft(
                        rule.archives ? .archiveChildren : .purgeChildren, ref: "", fields: ["*"],
                        detail: ["rows": String(count), "parent_table": table], table: child))
            }
        }
        if rule.archives { outcome.actedKeys = acting.map(\.candidate.key) }
        (outcome.entries, outcome.position) = try AuditWriter(chain: chain).appending(drafts, in: session, after: early)
        // After the append, which locked the chain until this transaction ends.
        if let statistics {
            outcome.counted = try statistics.count(acting.map(\.candidate), now: query.holdTime, in: session)
        }
        return outcome
    }
}

extension BatchWork {
    /// A `tree` is followed so many levels down (`RuleQuery.treeLimits`): rows one level deeper
    /// would be left pointing at rows the batch deletes — or stop the delete halfway where the
    /// database enforces the reference. The batch stops first, rolled back, naming the table.
    func refuseDeeperTrees(_ keys: [RecordKey], in session: any WritingSession) throws {
        guard let beyond = try TreeDepth.rowsBeyond(query, keys: keys, in: session).first else { return }
        throw StoreFailure.treeDeeperThanFollowed(
            rule: rule.id, table: beyond.table, rows: beyond.rows, followed: beyond.followed)
    }

    /// The audit must match the effect: a batch whose statement changed another number of rows
    /// than it is about to audit is rolled back (another writer got there first, or a trigger
    /// changed the rows), and the run stops.
    func expectChanged(_ changed: Int, audited: Int) throws {
        guard changed == audited else {
            throw StoreFailure.rowsMiscounted(rule: rule.id, table: table, changed: changed, audited: audited)
        }
    }
}

/// What one committed batch did.
struct BatchOutcome: Sendable {
    var acted: Int
    var stale: Int
    var gone: Int
    var children: [String: Int] = [:]
    var childrenAnonymised: [String: Int] = [:]
    /// Records counted into the rule's statistics, per period (nil without statistics).
    var counted: [String: Int]?
    /// The records an archive rule's batch deleted (their copies stay in the archive).
    var actedKeys: [RecordKey] = []
    var position = TrailPosition(head: .genesis, genesis: "")
    /// The entries the batch appended to the trail (the erasure ledger copies them as they are).
    var entries: [AuditEntry] = []
}

extension RuleTally {
    mutating func record(_ outcome: BatchOutcome, action: RuleAction) {
        switch action {
        case .flag: flagged += outcome.acted
        case .anonymise: anonymised += outcome.acted
        case .purge: purged += outcome.acted
        }
        stale += outcome.stale
        gone += outcome.gone
        // Tables a batch reached without changing a row are left out, as a plan leaves them out.
        for (table, count) in outcome.children where count > 0 { childRowsPurged[table, default: 0] += count }
        for (table, count) in outcome.childrenAnonymised where count > 0 {
            childRowsAnonymised[table, default: 0] += count
        }
        if let periods = outcome.counted {
            for (period, count) in periods {
                counted = counted ?? [:]
                counted![period, default: 0] += count
            }
        }
    }
}
