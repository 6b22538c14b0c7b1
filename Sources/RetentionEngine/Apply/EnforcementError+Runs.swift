import Foundation

/// Why a run, a plan or a worker stopped before changing anything: each message says what was
/// found and what to do.
extension EnforcementError {
    /// A file given as a plan that has no plan header.
    static func notAPlan(path: String) -> EnforcementError {
        .refused("\(path) is not a retentiond plan (no header line)")
    }

    /// A plan without its trailer: cut short while it was written.
    static func planCutShort(path: String) -> EnforcementError {
        .refused("\(path) has no trailer: the plan was cut short; make a new one")
    }

    /// A plan file that cannot be opened.
    static func planUnreadable(path: String) -> EnforcementError {
        .refused("cannot read the plan \(path); give the file written by `retentiond plan --out`")
    }

    /// A line of a plan that is not one.
    static func notAPlanLine(path: String, line: Int) -> EnforcementError {
        .refused("\(path):\(line): not a retentiond plan line; the plan is damaged, make a new one")
    }

    /// A plan whose last line stops before its end.
    static func planTruncated(path: String, line: Int) -> EnforcementError {
        .refused("\(path):\(line): the plan ends in the middle of a line (truncated); make a new one")
    }

    /// A plan made from another policy than the one given.
    static func planOfAnotherPolicy(planHash: String, policyHash: String) -> EnforcementError {
        .refused(
            """
            the plan was made from a different policy (sha256 \(planHash.prefix(12))…, this one is \
            \(policyHash.prefix(12))…); nothing was changed. Make a new plan with this policy
            """)
    }

    /// A plan made for another database, or before its schema changed.
    static func planOfAnotherDatabase(database: String) -> EnforcementError {
        .refused(
            """
            the plan was made for another database (\(database)) or its schema has changed since; nothing was changed. \
            Make a new plan
            """)
    }

    /// A plan naming a rule the policy does not have.
    static func planNamesUnknownRule(_ rule: String) -> EnforcementError {
        .refused("the plan names rule `\(rule)`, which the policy does not have")
    }

    /// A shared run's queue naming a rule this worker's policy does not have.
    static func sharedRunNamesUnknownRule(_ rule: String) -> EnforcementError {
        .refused("the shared run names rule `\(rule)`, which this policy does not have")
    }

    /// What a run writes after its first change cannot be written (each problem says where).
    static func stateNotWritable(_ problems: [String]) -> EnforcementError {
        .cannotWrite(problems.joined(separator: "; ") + "; nothing was changed")
    }

    /// The policy archives records and no archive database was opened.
    static func noArchiveOpened() -> EnforcementError {
        .refused("the policy archives records, but no archive database was opened; nothing was changed")
    }

    /// A batch of an archiving rule without the archive database.
    static func noArchiveOpened(for rule: String) -> EnforcementError {
        .refused("rule `\(rule)` archives records, but no archive database was opened")
    }

    /// `run --worker` on SQLite.
    static func workersNeedASharedDatabase() -> EnforcementError {
        .failed(
            "--worker needs a PostgreSQL or MariaDB database; on SQLite one run at a time is the only mode")
    }

    /// `run --worker` with rules that archive.
    static func workersCannotArchive() -> EnforcementError {
        .refused(
            "rules that archive records run in one process: run without --worker (docs/policy.md, \"Archive\")")
    }

    /// A worker stopped by a signal before it joined a run.
    static func stoppedWhileWaitingToJoin() -> EnforcementError {
        .locked("stopped on request while waiting to join the run that holds the lock; nothing was changed")
    }

    /// A worker that neither took the lock nor found a run (a bug, not an operator's error).
    static func workerWithNothingToJoin() -> EnforcementError {
        .failed("a worker has neither the lock nor a run to join")
    }

    /// A shared run whose planner stopped before it queued its whole plan.
    static func plannerStoppedFilling(runID: String) -> EnforcementError {
        .failed(
            """
            the planner of shared run \(runID) stopped before enqueuing its whole plan; the run was closed (what was \
            done stays done) and the next `run --worker` plans again
            """)
    }

    /// Relations or children that would scan a large table for every record (a line each).
    static func unindexedScans(_ lines: [String]) -> EnforcementError {
        .refused(
            """
            no index serves what the policy probes for every record in a large table, so planning would take hours; \
            nothing was changed. Create the index(es), then run again (or enforce anyway with --allow-unindexed):
            """
                + "\n  " + lines.joined(separator: "\n  "))
    }

    /// The clock is earlier than the last completed run's.
    static func clockWentBack(now: Date, last: Date) -> EnforcementError {
        let f = ISO8601DateFormatter()
        return .refused(
            """
            the clock (\(f.string(from: now))) is earlier than the last completed run (\(f.string(from: last))); \
            nothing was changed. Fix the system clock (or --now) before enforcing
            """)
    }

    /// The policy changed, and the copy of the one last enforced cannot be read to compare them.
    static func policyCopyUnreadable(copyPath: String, why: String, policyHash: String) -> EnforcementError {
        .policyChangeUnreviewed(
            """
            the policy differs from the one the last run enforced, whose copy \(copyPath) cannot be read as a policy \
            (\(why)); nothing was changed. Review the change, then run once with --accept-policy-change \
            \(policyHash.prefix(12)) (docs/operations.md, "Changing a policy")
            """)
    }

    /// The policy changed and makes more records due: `rules` says how, a rule each.
    static func policyChangeMakesMoreDue(
        oldHash: String, newHash: String, rules: [String], oldNotCounted: String?, copyPath: String
    ) -> EnforcementError {
        .policyChangeUnreviewed(
            "the policy changed since the last run (sha256 \(oldHash.prefix(12))… → \(newHash.prefix(12))…) "
                + "and makes more records due, so nothing was changed: " + rules.joined(separator: "; ")
                + (oldNotCounted.map { " (\($0), so every record the new policy finds due counts as more)" } ?? "")
                + ". Review it with `retentiond diff \(copyPath)`, then run once with --accept-policy-change "
                + "\(newHash.prefix(12)) (docs/operations.md, \"Changing a policy\")")
    }

    /// The policy file cannot be read again to keep its copy.
    static func policyNotReadAgain(path: String) -> EnforcementError {
        .cannotWrite("cannot read \(path) again to keep its copy as the policy enforced")
    }

    /// The copy of the enforced policy cannot be written.
    static func policyCopyNotKept(copyPath: String, error: any Error) -> EnforcementError {
        .cannotWrite("cannot keep the enforced policy's copy \(copyPath): \(error)")
    }
}
