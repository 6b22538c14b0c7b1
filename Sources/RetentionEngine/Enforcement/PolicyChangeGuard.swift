import Crypto
import Foundation
import Logging
import RetentionCore
import RetentionStore

/// Before an enforcing run changes anything: the policy it reads against the one the last run
/// enforced, a copy of which each run keeps in the state directory (`enforced-policy.yaml`).
///
/// The same policy passes. A changed one is compared as `retentiond diff` compares it, with the
/// records each rule finds due now under each: a change that makes no more records due passes
/// (and is logged); one that does stops the run before any change (exit 4) until an operator who
/// reviewed it accepts it — `run --accept-policy-change` with the new policy's digest — which the
/// trail records (`policy-change-accepted`, with both digests and the counts). The first run of a
/// state directory has nothing to compare with: it keeps its copy, and changes are compared from then on.
struct PolicyChangeGuard {
    let enforcer: Enforcer
    var policy: Policy { enforcer.policy }

    static func copyPath(stateDirectory: String) -> String { stateDirectory + "/enforced-policy.yaml" }
    var copyPath: String { Self.copyPath(stateDirectory: enforcer.settings.stateDirectory) }

    /// A change that makes more records due, reviewed and accepted: recorded in the trail once the run starts.
    struct Accepted {
        var diff: PolicyDiff
    }

    /// Passes (nil), passes an accepted change, or throws `policyChangeUnreviewed`.
    /// `accepted`: the digest (at least its first 12 hex digits) of the policy the operator accepts.
    func check(now: Date, accepted: String?) async throws -> Accepted? {
        // The same policy as last time (every run but the first after a change): its bytes' digest
        // says so without parsing the copy.
        guard let copy = FileManager.default.contents(atPath: copyPath) else { return nil }
        if SHA256.hash(data: copy).hexEncoded == policy.hash { return nil }
        let old: Policy
        do {
            old = try PolicyParser(path: copyPath).parseFile().0.enforced(in: policy.phase)
        } catch {
            // A copy that no longer parses (written by another version) cannot be compared: as with
            // any change that cannot be shown to keep as much, it waits for an operator.
            if Self.accepts(accepted, policy.hash) {
                var diff = PolicyDiff(old: policy, new: policy)
                diff.old = PolicyDiff.PolicyName(path: copyPath, sha256: "unreadable")
                return Accepted(diff: diff)
            }
            throw EnforcementError.policyCopyUnreadable(
                copyPath: copyPath, why: EnforcementError.from(error).summary, policyHash: policy.hash)
        }
        guard old.hash != policy.hash else { return nil }
        var diff = PolicyDiff(old: old, new: policy)
        try await PolicyChangeCounter(planner: enforcer.planning).count(
            &diff, old: old, now: now, withinTwelveMonths: false)
        guard diff.makesMoreDue else {
            enforcer.logger.notice(
                "the policy changed since the last run (sha256 \(old.hash.prefix(12)) → \(policy.hash.prefix(12))) and makes no more records due",
                metadata: [
                    "changed_rules":
                        "\(diff.rules.filter { $0.status != .unchanged }.map(\.rule).joined(separator: ","))"
                ])
            return nil
        }
        if Self.accepts(accepted, policy.hash) { return Accepted(diff: diff) }
        let rules = diff.rules.filter(\.makesMoreDue).map { rule -> String in
            let counts =
                rule.dueNow.map { " (due now: \($0.old.map(String.init) ?? "—") → \($0.new.map(String.init) ?? "—"))" }
                ?? ""
            return "`\(rule.rule)`: "
                + rule.changes.filter { $0.direction != .wording }.map {
                    "\($0.facet) \($0.old ?? "—") → \($0.new ?? "—")"
                }.joined(separator: "; ") + counts
        }
        throw EnforcementError.policyChangeMakesMoreDue(
            oldHash: old.hash, newHash: policy.hash, rules: rules, oldNotCounted: diff.oldNotCounted, copyPath: copyPath
        )
    }

    /// Whether `accepted` names `hash`: the whole digest or at least its first 12 hex digits.
    static func accepts(_ accepted: String?, _ hash: String) -> Bool {
        guard let accepted = accepted?.lowercased(), accepted.count >= 12 else { return false }
        return hash.hasPrefix(accepted)
    }

    /// Once the run may change data: records an accepted change in the trail, then keeps a copy of
    /// the policy as the one enforced.
    func record(_ accepted: Accepted?, runID: String, in store: any RecordStore, chain: AuditChain, anchor: AuditAnchor)
        async throws
    {
        if let accepted {
            var detail = ["old_sha256": accepted.diff.old.sha256, "new_sha256": accepted.diff.new.sha256]
            for rule in accepted.diff.rules where rule.makesMoreDue {
                detail["rule:\(rule.rule)"] =
                    "due_now=\(rule.dueNow?.old.map(String.init) ?? "-")->\(rule.dueNow?.new.map(String.init) ?? "-")"
            }
            let draft = AuditDraft(
                runID: runID, actor: enforcer.actor, policyHash: policy.hash, action: .policyChangeAccepted,
                detail: detail)
            let writer = AuditWriter(chain: chain)
            let position = try await store.transaction { try writer.append([draft], in: $0) }
            try anchor.record(position)
            enforcer.logger.notice(
                "policy change accepted",
                metadata: [
                    "old": "\(accepted.diff.old.sha256.prefix(12))", "new": "\(policy.hash.prefix(12))",
                    "by": "\(enforcer.actor)",
                ])
        }
        guard let data = FileManager.default.contents(atPath: policy.path) else {
            throw EnforcementError.policyNotReadAgain(path: policy.path)
        }
        do {
            try StateFiles.writePrivate(data, to: copyPath)
        } catch {
            throw EnforcementError.policyCopyNotKept(copyPath: copyPath, error: error)
        }
    }
}
