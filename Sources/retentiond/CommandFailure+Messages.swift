import Foundation
import RetentionCore

/// What the commands refuse themselves, before the engine: each message says what to give instead.
extension CommandFailure {
    /// No policy was given and none is where retentiond looks.
    static func noPolicyFound() -> CommandFailure {
        CommandFailure(.policyInvalid, "no policy file found; give one with --config FILE (see docs/policy.md)")
    }

    /// `--archive` with a policy that names no archive.
    static func noArchiveNamed() -> CommandFailure {
        CommandFailure(
            .policyInvalid,
            "--archive: the policy names no archive (`archive: { sqlite: PATH }`, docs/policy.md, \"Archive\")")
    }

    /// The archive's SQLite file cannot be created.
    static func archiveNotCreated(path: String) -> CommandFailure {
        CommandFailure(
            .cannotWrite,
            """
            cannot create the archive \(path); nothing was changed. Create its directory, or name another place under \
            `archive:`
            """)
    }

    /// A subject the policy does not have.
    static func noSuchSubject(_ subject: String, in policy: Policy) -> CommandFailure {
        CommandFailure(
            .usage,
            """
            the policy \(policy.path) has no subject `\(subject)`; it has: \
            \(policy.subjects.map(\.id).joined(separator: ", "))
            """)
    }

    /// A record named by subject and key that neither database holds.
    static func noSuchRecord(subject: String, key: String) -> CommandFailure {
        CommandFailure(
            .usage,
            "no record of subject `\(subject)` has key \(key), in the application's database or in the archive")
    }

    /// `audit log --table` naming a table without a key.
    static func notATableWithAKey(_ table: String) -> CommandFailure {
        CommandFailure(
            .usage,
            """
            `\(table)` does not name a table with a key: give a table of the database with its primary key, or a \
            subject of the policy
            """)
    }

    /// `audit log --key` that is not a key of its table.
    static func notAKey(_ key: String, of table: String, columns: [String]) -> CommandFailure {
        CommandFailure(
            .usage,
            "`\(key)` is not a key of `\(table)`: give its key (\(columns.joined(separator: ", "))) exactly as stored")
    }

    /// `audit rotate-key` where the key is systemd's read-only credential.
    static func keyIsACredential(_ keyFile: String) -> CommandFailure {
        CommandFailure(
            .usage,
            """
            the audit key is systemd's credential \(keyFile), which a unit cannot change: run `retentiond audit \
            rotate-key` by hand (as root), where the policy's audit.key_file is the file the units load
            """)
    }

    /// `audit rotate-key` without a key to rotate.
    static func noKeyToRotate(_ keyFile: String) -> CommandFailure {
        CommandFailure(
            .refused,
            """
            there is no audit key at \(keyFile) (the policy's audit.key_file) to rotate: restore it first, or name the \
            right file (docs/deployment.md, "The audit key")
            """)
    }

    /// `audit reanchor` on a database without a trail.
    static func noTrailToReanchor(on location: String) -> CommandFailure {
        CommandFailure(.failure, "no audit trail to re-anchor on \(location)")
    }

    /// A command that seals entries without an audit key.
    static func noAuditKey() -> CommandFailure {
        CommandFailure(.failure, "no audit key")
    }

    /// `flagged --rule` naming a rule the policy does not have; `flagRules` lists its flag rules.
    static func noSuchRule(_ rule: String, in policyPath: String, flagRules: String) -> CommandFailure {
        CommandFailure(
            .policyInvalid,
            "the policy \(policyPath) has no rule `\(rule)`"
                + (flagRules.isEmpty ? "" : "; its flag rules: \(flagRules)"))
    }

    /// `flagged --rule` naming a rule that anonymises or purges.
    static func notAFlagRule(_ rule: String, action: String) -> CommandFailure {
        CommandFailure(
            .policyInvalid,
            "rule `\(rule)` \(action)s records, it does not flag them; `flagged` lists a flag rule's records")
    }

    /// `demo` into a database that already has tables.
    static func databaseNotEmpty(_ name: String, has table: String) -> CommandFailure {
        CommandFailure(
            .usage,
            "\(name) already has a \(table) table; the demo only loads into an empty database: give it an empty one")
    }

    /// `demo` of an example that archives, without an archive database.
    static func archiveDatabaseNeeded(example: String) -> CommandFailure {
        CommandFailure(
            .usage,
            """
            the \(example) example archives records into a second database: give an empty one of the same server with \
            --archive-url
            """)
    }

    /// `demo --config` with a policy whose database is not the demo's.
    static func demoNeedsItsDatabase(policyPath: String, database: String) -> CommandFailure {
        CommandFailure(
            .policyInvalid,
            """
            the policy \(policyPath) names database \(database); the demo needs `database: { sqlite: crm.sqlite }` \
            (relative to state_dir)
            """)
    }

    /// The policy shipped with the sources is not where the demo looks.
    static func shippedPolicyMissing(_ relative: String) -> CommandFailure {
        CommandFailure(
            .policyInvalid,
            "cannot find the shipped policy \(relative); run from the source tree or give --config")
    }
}
