import Foundation
import RetentionCore
import RetentionStore

/// What an erasure request (GDPR art. 17) did to one record, rule by rule, for the DPO.
public struct ErasureReport: Sendable, Codable {
    public struct Step: Sendable, Codable {
        public var rule: String
        public var action: String
        /// purged, anonymised, kept, already done, not applicable — or, in a dry run, would purge / would anonymise.
        public var outcome: String
        /// Why a part was kept (legal hold, related record, another rule, reference), in words.
        public var reason: String?
        public var legalBasis: String
        /// Rows of other tables deleted (or anonymised) with the record by this step, per table.
        public var childRowsDeleted: [String: Int] = [:]
        public var childRowsAnonymised: [String: Int] = [:]
    }
    public var runID: String
    public var request: String
    public var by: String
    public var subject: String
    public var table: String
    public var key: String
    public var at: Date
    public var dryRun: Bool
    public var steps: [Step]

    public func markdown() -> String {
        var out = "# Erasure request \(Markdown.text(request))\(dryRun ? " (dry run: nothing changed)" : "")\n\n"
        out +=
            "| | |\n|---|---|\n| record | \(Markdown.code(table)):\(Markdown.text(key)) (subject \(Markdown.code(subject))) |\n"
        out +=
            "| by | \(Markdown.text(by)) |\n| at | \(ISO8601DateFormatter().string(from: at)) |\n| run | \(Markdown.code(runID)) |\n\n"
        out += "| rule | action | outcome | with it | why kept | legal basis |\n|---|---|---|---|---|---|\n"
        for step in steps {
            let rows =
                step.childRowsDeleted.sorted { $0.key < $1.key }.map { "\($0.value) \(Markdown.code($0.key)) deleted" }
                + step.childRowsAnonymised.sorted { $0.key < $1.key }.map {
                    "\($0.value) \(Markdown.code($0.key)) anonymised"
                }
            out +=
                "| \(Markdown.code(step.rule)) | \(step.action) | **\(Markdown.text(step.outcome))** | \(rows.joined(separator: ", ")) | \(Markdown.cell(step.reason ?? "")) | \(Markdown.cell(step.legalBasis)) |\n"
        }
        return out
    }
}

extension Applier {
    /// Carries out an erasure request on one record now: each rule of its subject that changes
    /// data, in order, as if due (the clock is not waited for and consent no longer keeps it — the
    /// request withdraws it), while legal holds, related records that must still be kept, other
    /// rules that keep a row the change would delete (docs/policy.md, "Precedence") and
    /// references still keep what they keep. Each change is one transaction, audited with the
    /// request's reference; a purge ends the sequence.
    func erase(_ subject: Subject, key: RecordKey, request: String, lock: any RunLockHandle, now: Date, dryRun: Bool)
        async throws -> [ErasureReport.Step]
    {
        let works = try batchWorks(planNow: now)
        let (toolTables, marked) = try await store.read { [ids = subject.rules.map(\.id)] session in
            (
                try session.toolTables().complete,
                try session.doneTableExists() ? try session.rulesWithCompleteMarks(among: ids) : []
            )
        }
        var steps: [ErasureReport.Step] = []
        for rule in subject.rules where rule.action.auditAction != .flag {
            guard var work = works[rule.id] else { continue }
            // A dry run before the first run: no tool tables yet (so no holds, no marks) to read.
            if !toolTables { work.query = try resolved.query(for: rule, now: now, toolTablesExist: false) }
            // In the archive, the rules are the legal obligations that keep what was moved there:
            // a request waits for their clocks (docs/policy.md, "Archive").
            let waitsForClock = policy.phase == .archive
            work.query.dueNow = !waitsForClock
            work.query.consent = []
            work.query.excludeDone = false
            work.detail = ["request": request]
            let query = work.query
            let marksKept = marked.contains(rule.id) && rule.action.auditAction != .purge
            func step(_ outcome: String, _ reason: String? = nil) -> ErasureReport.Step {
                ErasureReport.Step(
                    rule: rule.id, action: rule.actionName, outcome: outcome, reason: reason,
                    legalBasis: rule.legalBasis)
            }
            guard let row = try await store.read({ try $0.standing(query, key: key, marksKept: marksKept) }) else {
                steps.append(step("gone", "the record no longer exists"))
                break
            }
            let record = SQLBuilder.decodeStanding(row, query: query)
            let purges = rule.action.auditAction == .purge
            if !record.applies {
                steps.append(
                    step("not applicable", "the record is not a `\(subject.id)` record under this subject's filter"))
                continue
            }
            if record.done {
                steps.append(step("already done"))
                continue
            }
            if record.held {
                steps.append(step("kept", Explainer.reason("legal_hold") + " — until it is released"))
                continue
            }
            if record.keptByRelated {
                steps.append(
                    step("kept", Explainer.reason("related_record") + " (a legal obligation: see `retentiond explain`)")
                )
                continue
            }
            if !record.keptByRules.isEmpty {
                steps.append(step("kept", Explainer.keptByRules(record.keptByRules, policy: resolved.policy)))
                continue
            }
            if record.referencedByUndeclared && purges {
                steps.append(step("kept", Explainer.reason("referenced_by_undeclared_table")))
                continue
            }
            if waitsForClock && !record.past {
                steps.append(
                    step(
                        "kept",
                        "in the archive, which keeps it until this rule's time is up (its legal basis: \(rule.legalBasis)); `retentiond explain` says when"
                    ))
                continue
            }
            // An archive rule moves the record to the archive, where a legal obligation keeps it
            // (docs/policy.md, "Archive"): a request erases it there (`erase --archive`) once nothing keeps it.
            let verb = rule.archives ? "archived" : purges ? "purged" : "anonymised"
            if dryRun {
                steps.append(step("would be \(verb)"))
                if purges { break } else { continue }
            }
            let outcome = try await applyBatch(work, keys: [key], lock: lock)
            try anchor.record(outcome.position)
            var done =
                outcome.acted == 1 ? step(verb) : step("kept", "changed since it was read; run the request again")
            done.childRowsDeleted = outcome.children.filter { $0.value > 0 }
            done.childRowsAnonymised = outcome.childrenAnonymised.filter { $0.value > 0 }
            steps.append(done)
            if purges, outcome.acted == 1 { break }
        }
        return steps
    }
}
