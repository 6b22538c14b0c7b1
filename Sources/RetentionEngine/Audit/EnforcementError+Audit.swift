import Foundation

/// Why the audit trail, its head, its key or the erasure ledger stopped a command: each message
/// says what was found, what was (not) changed, and what to do.
extension EnforcementError {
    /// A command that seals entries was given no audit key.
    static func noAuditKeyLoaded() -> EnforcementError {
        .auditKey("no audit key loaded")
    }

    /// The key file is there but a rotation of it was interrupted (its pending key is still there).
    static func rotationInterrupted(keyPath: String) -> EnforcementError {
        .auditKey(
            """
            a rotation of the audit key \(keyPath) was interrupted (\(KeyRotation.pendingPath(keyPath)) is still \
            there); nothing was changed. Run `retentiond audit rotate-key` again: it finishes the rotation, or starts \
            it afresh if it never reached the database
            """)
    }

    /// The configured key verifies none of the trail's first entries (nor its last rotation).
    static func wrongAuditKey(keyPath: String, location: String) -> EnforcementError {
        .auditKey(
            """
            the audit key \(keyPath) does not match the audit trail of \(location): none of its first entries (or its \
            last key rotation) verifies with it. This is the wrong key, not tampering: configure the key that sealed \
            this trail (docs/deployment.md, "The audit key")
            """)
    }

    /// The key file is missing but the database has a trail a new key could not verify.
    static func auditKeyMissing(keyPath: String) -> EnforcementError {
        .auditKey(
            """
            the audit key file \(keyPath) (the policy's audit.key_file) is missing but the database has an audit \
            trail, and a new key could not verify it. If the key is kept elsewhere (an install keeps it in \
            /etc/retentiond/credentials/audit.key, the file the units load as a credential), name that file in \
            audit.key_file; otherwise restore the key from your backup (docs/deployment.md, "The audit key")
            """)
    }

    /// The key was rotated by another command while this one ran.
    static func keyRotatedMeanwhile() -> EnforcementError {
        .auditKey(
            """
            the audit key was rotated while this command ran, so its key no longer seals the trail; nothing was \
            changed. Run the command again
            """)
    }

    /// The audit head file exists but cannot be read.
    static func headUnreadable(headPath: String, why: String) -> EnforcementError {
        .auditTampered(
            """
            the audit head \(headPath) cannot be read (\(why)), so a truncated or restored trail could not be \
            detected; nothing was changed. Restore the file from a copy kept elsewhere (`retentiond audit verify \
            --head COPY` compares with one), or, after checking the trail, remove it and re-anchor with `retentiond \
            audit reanchor --reason … --by …` (docs/operations.md, "When the trail is not intact")
            """)
    }

    /// Some of the tool's own tables are there, others were dropped.
    static func toolTablesDropped(location: String, present: String, missing: [String]) -> EnforcementError {
        .auditTampered(
            """
            \(location) has \(present) but not \(missing.joined(separator: ", ")): the tool's own tables were dropped \
            by hand; nothing was changed. Restore the database from a backup (docs/operations.md, "When the trail is \
            not intact")
            """)
    }

    /// The trail says its head was kept in a file on this host, and that file is gone.
    static func headRemoved(headPath: String, location: String) -> EnforcementError {
        .auditTampered(
            AuditAnchor.headRemoved(headPath, location: location)
                + """
                ; nothing was changed. Restore the file from a copy kept elsewhere (`retentiond audit verify --head \
                COPY` compares with one), or, after checking the trail, re-anchor with `retentiond audit reanchor \
                --reason … --by …` (docs/operations.md, "When the trail is not intact")
                """)
    }

    /// The database has no trail, but the state directory's head records one.
    static func trailDropped(location: String, headPath: String, recorded: Int64, of database: String)
        -> EnforcementError
    {
        .auditTampered(
            """
            \(location) has no audit trail, but \(headPath) records entry \(recorded) of the trail of \(database): the \
            trail was dropped, or this is a new database using the state directory of another; nothing was changed. \
            Restore the database from a backup; for a new database, use a state directory of its own \
            (docs/operations.md, "When the trail is not intact")
            """)
    }

    /// The head file records another trail than the database's.
    static func headOfAnotherTrail(headPath: String, location: String) -> EnforcementError {
        .auditTampered(
            """
            \(headPath) belongs to another audit trail than the one in \(location) (their first entries differ): this \
            state directory served another database, or this database's trail was replaced; nothing was changed. Use \
            this database's own state directory, or after checking, re-anchor with `retentiond audit reanchor --reason \
            … --by …` (docs/operations.md)
            """)
    }

    /// The trail no longer extends the recorded head: restored, truncated or rewritten.
    static func trailBehindHead(location: String, headPath: String, recorded: Int64) -> EnforcementError {
        .auditTampered(
            """
            the audit trail of \(location) no longer extends the head recorded in \(headPath) (entry \(recorded)): the \
            database was restored from an older copy or the trail was truncated or rewritten; nothing was changed. \
            After a legitimate restore, re-anchor with `retentiond audit reanchor --reason … --by …` \
            (docs/operations.md)
            """)
    }

    /// Re-anchoring would vouch for a trail that is not intact itself.
    static func trailNotIntactToReanchor(problems: [String]) -> EnforcementError {
        .auditTampered(
            """
            the audit trail in the database is itself not intact (\(problems.count) problem(s), first: \
            \(problems[0])); re-anchoring would vouch for it, so nothing was changed
            """)
    }

    /// Re-anchoring a trail that ends at its recorded head (and, with `ledgerChecked`, whose
    /// erasure ledger holds nothing the database lost).
    static func nothingToReanchor(location: String, headPath: String, ledgerChecked: Bool = false) -> EnforcementError {
        .refused(
            "the audit trail of \(location) is intact and ends at the head recorded in \(headPath)"
                + (ledgerChecked ? ", and the erasure ledger holds nothing the database lost" : "")
                + ": there is nothing to re-anchor, and nothing was changed (`retentiond audit verify` checks it)")
    }

    /// A rotation would seal a trail that is not intact.
    static func trailNotIntactToRotate(location: String, problemCount: Int, first: String) -> EnforcementError {
        .auditTampered(
            """
            the audit trail of \(location) is not intact (\(problemCount) problem(s), first: \(first)); a rotation \
            would seal it as it is, so nothing was changed. `retentiond audit verify` lists the problems
            """)
    }

    /// `audit rotate-key` before the first enforcing run.
    static func noTrailToRotate(location: String) -> EnforcementError {
        .invalidRequest(
            """
            \(location) has no audit trail yet: there is nothing to rotate the key of (the first enforcing run creates \
            the key)
            """)
    }

    /// The trail's entries, read under its lock, do not count up to its head.
    static func trailEntriesMissing(location: String, count: Int64, head: Int64) -> EnforcementError {
        .auditTampered(
            "the audit trail of \(location) holds \(count) entries up to entry \(head); nothing was changed")
    }

    /// A rotation committed in the database whose new key could not be put in place.
    static func newKeyNotMoved(keyPath: String, reason: String) -> EnforcementError {
        .cannotWrite(
            """
            cannot move the new audit key \(KeyRotation.pendingPath(keyPath)) to \(keyPath): \(reason); the database \
            already has the rotation: fix the cause and run `retentiond audit rotate-key` again to finish it
            """)
    }

    /// The key given to a rotation does not seal the trail.
    static func keyDoesNotMatch(keyPath: String, location: String) -> EnforcementError {
        .auditKey(
            """
            the audit key \(keyPath) does not match the audit trail of \(location); nothing was changed. Configure the \
            key that sealed this trail
            """)
    }

    /// The erasure ledger follows another trail than the database's.
    static func ledgerOfAnotherTrail(path: String, location: String) -> EnforcementError {
        .auditTampered(
            """
            the erasure ledger \(path) follows another audit trail than the one in \(location) (their first entries \
            differ): this state directory served another database, or the trail was replaced; nothing was changed. Use \
            this database's own state directory (docs/operations.md, "After a restore")
            """)
    }

    /// The ledger records erasures the database no longer holds (it was restored).
    static func erasuresToReplay(ledgerPath: String, location: String) -> EnforcementError {
        .auditTampered(ErasureLedger.replayPendingMessage(path: ledgerPath, location: location))
    }

    /// A rotation would seal a ledger that is not intact.
    static func ledgerNotIntactToRotate(path: String, first: String) -> EnforcementError {
        .auditTampered(
            """
            the erasure ledger \(path) is not intact (\(first)); it was not sealed with the new key. `retentiond audit \
            verify` lists the problems
            """)
    }

    /// The ledger cannot be read.
    static func ledgerUnreadable(path: String) -> EnforcementError {
        .cannotWrite("cannot read the erasure ledger \(path): give the user running retentiond read access")
    }

    /// A ledger line that is not one.
    static func notALedgerLine(path: String, line: Int) -> EnforcementError {
        .auditTampered("the erasure ledger \(path) line \(line) is not a ledger line: the file was edited or damaged")
    }

    /// A line that is not a ledger line before the ledger's last closing line.
    static func ledgerDamaged(path: String) -> EnforcementError {
        .auditTampered(
            """
            the erasure ledger \(path) has a line that is not a ledger line before its last closing line: the file was \
            edited or damaged; `retentiond audit verify` says where
            """)
    }

    /// A ledger that is not intact cannot say what to erase again.
    static func ledgerNotIntactToReplay(path: String, problems: [String]) -> EnforcementError {
        .auditTampered(
            """
            the erasure ledger \(path) is not intact (\(problems.count) problem(s), first: \(problems[0])): it cannot \
            be trusted to say what to erase again, so nothing was changed. Restore it from a copy kept elsewhere \
            (docs/operations.md, "After a restore")
            """)
    }
}
