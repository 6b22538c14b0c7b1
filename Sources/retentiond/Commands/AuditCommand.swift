import ArgumentParser
import Foundation
import RetentionCore
import RetentionEngine
import RetentionStore

struct AuditCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "audit",
        abstract: "Verify or read the audit trail (who did what, under which rule; never personal values).",
        subcommands: [Verify.self, Show.self, Reanchor.self, RotateKey.self]
    )

    /// Opens the policy's database read-only with its audit key.
    static func trail(_ options: PolicyOptions) async throws -> AuditTrail {
        let settings = try options.loadPolicy().settings
        let store = try await options.openReader(settings.database)
        guard let key = try await loadKey(settings: settings, store: store, create: false, logger: options.logger())
        else {
            throw CleanExit.message("no audit trail yet: nothing has been enforced on \(store.location)")
        }
        return AuditTrail(store: store, key: key, stateDirectory: settings.stateDirectory)
    }

    struct Verify: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Check the chain: a modified, deleted, reordered or truncated entry is reported.",
            discussion: """
                Exit 0 when the trail is intact, 7 when it is not. The newest entry is compared with the head recorded in the \
                state directory (audit-head.json), or with a copy kept elsewhere (--head), to catch a truncated or replaced \
                trail; the holds table is compared with the holds the trail records, and the references filed for lookups by \
                record (retentiond_audit_refs) with the trail's entries.
                """
        )
        @OptionGroup var options: PolicyOptions

        @Option(
            name: .long,
            help: ArgumentHelp(
                "Compare with this copy of audit-head.json (kept off the host, or taken from the journal) instead of the state directory's.",
                valueName: "file"))
        var head: String?

        func run() async throws {
            try await reportingFailures {
                var copy: StateFiles.RecordedHead?
                if let head {
                    switch StateFiles.headFile(path: head) {
                    case .missing:
                        throw ValidationError(
                            "--head \(head): no such file; give a copy of audit-head.json (docs/operations.md, \"What is detected, and what needs a copy kept elsewhere\")"
                        )
                    case .unreadable(let why):
                        throw ValidationError(
                            "--head \(head) is not a recorded head (\(why)); give a copy of audit-head.json")
                    case .recorded(let recorded): copy = recorded
                    }
                }
                let settings = try options.loadPolicy().settings
                let store = try await options.openReader(settings.database)
                guard
                    let key = try await loadKey(
                        settings: settings, store: store, create: false, logger: options.logger())
                else {
                    // No key and no trail: nothing was ever enforced — unless a head says otherwise.
                    let recorded = copy ?? StateFiles.readHead(stateDirectory: settings.stateDirectory)
                    if let recorded, recorded.seq > 0 {
                        printError(
                            "\(head ?? StateFiles.headPath(stateDirectory: settings.stateDirectory)) records entry \(recorded.seq) of the audit trail of \(recorded.database), but \(store.location) has no audit trail and there is no audit key: the trail and its key were removed, or this is another database"
                        )
                        printError("audit trail of \(store.location) is NOT intact")
                        return .auditInvalid
                    }
                    throw CleanExit.message("no audit trail yet: nothing has been enforced on \(store.location)")
                }
                let trail = AuditTrail(store: store, key: key, stateDirectory: settings.stateDirectory)
                let result = try await trail.verify(headPath: head)
                if result.recordedHead == nil, result.entries > 0 {
                    printError(
                        "no head is recorded for this trail in \(head ?? StateFiles.headPath(stateDirectory: settings.stateDirectory)): truncation of the newest entries cannot be detected",
                        prefix: true)
                }
                for warning in result.holdWarnings { printError("warning: " + warning, prefix: false) }
                if result.entriesPastHead > 0 {
                    printError(
                        "warning: the trail holds \(result.entriesPastHead) entries past the recorded head: a run killed before recording it, or a head file replaced by an older copy; check against a copy kept elsewhere with --head",
                        prefix: false)
                }
                guard result.isValid else {
                    for problem in result.problems { printError(problem.description) }
                    for problem in result.anchorProblems { printError(problem) }
                    for problem in result.holdProblems { printError("legal holds: " + problem) }
                    for problem in result.ledgerProblems { printError(problem) }
                    printError(
                        "audit trail of \(trail.store.location) is NOT intact: \(result.problemCount) problem(s) in \(result.entries) entries"
                    )
                    return .auditInvalid
                }
                print(
                    "audit trail intact: \(result.entries) entries, head \(result.head.seq) \(result.head.mac.prefix(16))…"
                )
                if let entries = result.ledgerEntries {
                    print("erasure ledger intact: \(entries) entries, following the trail")
                }
                return .success
            }
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print audit entries, oldest first, optionally narrowed.")
        @OptionGroup var options: PolicyOptions

        @Option(name: .long, help: "Only entries of this run id.")
        var run: String?

        @Option(name: .long, help: "Only entries of this rule id.")
        var rule: String?

        @Option(
            name: .long,
            help: ArgumentHelp(
                "Only entries about one record of this policy subject, named by --key (as explain and erase name it). The older TABLE:KEY form still works.",
                valueName: "name"))
        var subject: String?

        @Option(
            name: .long,
            help: ArgumentHelp(
                "Or: only entries about one record of this table, named by --key (its primary key).", valueName: "table"
            ))
        var table: String?

        @Option(
            name: .long,
            help: ArgumentHelp(
                "The record's key, exactly as stored (KEY1,KEY2 for composite keys): the subject's key with --subject, the primary key with --table.",
                valueName: "key"))
        var key: String?

        @Option(name: .long, help: "At most this many entries (a note on stderr says when more match).")
        var limit: Int = 1000

        func validate() throws {
            guard (1...1_000_000).contains(limit) else {
                throw ValidationError("--limit must be between 1 and 1000000")
            }
            if subject != nil && table != nil {
                throw ValidationError("give either --subject NAME or --table TABLE, with --key")
            }
            if (subject != nil || table != nil) != (key != nil) && !(subject?.contains(":") == true && key == nil) {
                throw ValidationError("--key names the record: give it with --subject NAME or --table TABLE")
            }
        }

        @Flag(name: .long, help: "Print JSON lines instead of a table (one entry per line).")
        var json = false

        @Option(
            name: .long,
            help: ArgumentHelp(
                "text, or json: an array of entries (docs/operations.md, \"Machine-readable output\").",
                valueName: "format"))
        var format: OutputFormat = .text

        func run() async throws {
            try await reportingFailures {
                let trail = try await AuditCommand.trail(options)
                var reference: String?
                var named: (table: String, keyText: String, columns: (TableInfo) -> [String])?
                let (live, kindOf) = try await trail.store.read { (try $0.schema(), $0.keyValueKind) }
                // The policy's names as the database spells them; a key retentiond checks stands
                // in for the primary key of a table without one.
                let policy = try? live.resolvingNames(of: options.loadPolicy().policy).0
                let schema = policy.map(live.declaringKeys(of:)) ?? live
                if let subject, let key {
                    let written = try options.loadPolicy().policy
                    guard let found = (policy ?? written).subjects.first(where: { $0.id == subject }) else {
                        throw CommandFailure.noSuchSubject(subject, in: written)
                    }
                    named = (found.table.value, key, { _ in found.key.map(\.value) })
                } else if let table, let key {
                    named = (table, key, { $0.primaryKey })
                } else if let subject, let colon = subject.firstIndex(of: ":") {
                    writeMessage(
                        "retentiond: `--subject TABLE:KEY` is the older form; say `--table \(subject[..<colon]) --key \(subject[subject.index(after: colon)...])` (or `--subject NAME --key KEY`, as explain and erase do)",
                        level: .notice)
                    named = (
                        String(subject[..<colon]), String(subject[subject.index(after: colon)...]), { $0.primaryKey }
                    )
                } else if let subject {
                    throw ValidationError("--subject `\(subject)` needs --key: the record's key")
                }
                if var named {
                    named.table = schema.resolvedTableName(named.table)
                    // Typed by each key column's declared type, as `hold add` reads keys (the record
                    // itself may be gone): `10042` on a text key is the text, never the number.
                    guard let info = schema.table(named.table), !named.columns(info).isEmpty else {
                        throw CommandFailure.notATableWithAKey(named.table)
                    }
                    let columns = named.columns(info)
                    guard let lookup = try? KeyLookup.parse(named.keyText, columns: columns, of: info, kindOf: kindOf)
                    else {
                        throw CommandFailure.notAKey(named.keyText, of: named.table, columns: columns)
                    }
                    reference = trail.reference(table: named.table, key: RecordKey(lookup.compactMap(\.value)))
                }
                // One more than asked, to say when the list was cut.
                var entries = try await trail.entries(
                    filter: AuditFilter(runID: run, ruleID: rule, subjectRef: reference), limit: limit + 1)
                let cut = entries.count > limit
                if cut { entries.removeLast() }
                if format == .json {
                    try printJSON(entries)
                } else if json {
                    let encoder = JSONEncoder()
                    encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
                    for entry in entries { print(String(decoding: try encoder.encode(entry), as: UTF8.self)) }
                } else {
                    print("seq\tat\trun\tactor\taction\trule\ttable\treference\tfields\tdetail")
                    for e in entries {
                        let ref = e.subjectRef.isEmpty ? "-" : String(e.subjectRef.prefix(16))
                        print(
                            "\(e.seq)\t\(e.at)\t\(e.runID)\t\(e.actor)\t\(e.action)\t\(e.ruleID.isEmpty ? "-" : e.ruleID)\t\(e.table.isEmpty ? "-" : e.table)\t\(ref)\t\(e.fields.isEmpty ? "-" : e.fields)\t\(e.detail)"
                        )
                    }
                }
                if cut {
                    printError("the first \(limit) entries are shown; more match (--limit N shows more)", prefix: false)
                }
                return .success
            }
        }
    }

    struct RotateKey: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "rotate-key",
            abstract: "Replace the audit key: the trail so far is sealed under the new one, holds restated (audited).",
            discussion: """
                Under the run lock, after checking the whole trail with the current key: writes a new key, appends an \
                `audit-key-rotated` entry sealed with it that names the old head and holds the digest of every entry before \
                it (so the trail verifies with the new key alone, and a change to an old entry is still found), restates every \
                legal hold under the new key, then puts the new key in the key file and records the head. The old key is \
                kept beside it as <key file>.retired-<time>. Interrupted, it is finished by running it again; other commands \
                refuse until then. Pseudonyms made after the rotation differ from those made before (docs/deployment.md, \
                "Rotate the key").
                """
        )
        @OptionGroup var options: PolicyOptions

        @Option(
            name: .long, help: "Why (e.g. the key's yearly rotation, or a suspected leak), kept in the audit trail.")
        var reason: String

        @Option(name: .long, help: "Who rotates (recorded in the audit trail).")
        var by: String

        func run() async throws {
            try await reportingFailures {
                let (enforcer, _) = try await options.loadEnforcer(actor: by, loadingKey: false)
                let keyFile = enforcer.settings.keyFile
                if let credentialsDirectory, keyFile.hasPrefix(credentialsDirectory + "/") {
                    throw CommandFailure.keyIsACredential(keyFile)
                }
                guard
                    FileManager.default.fileExists(atPath: keyFile)
                        || FileManager.default.fileExists(atPath: keyFile + ".rotating")
                else {
                    throw CommandFailure.noKeyToRotate(keyFile)
                }
                let done = try await enforcer.rotateKey(keyPath: keyFile, reason: reason, now: options.currentTime())
                print(
                    "audit key rotated: entry \(done.rotationSeq) seals entries 1…\(done.sealedEntries) under the new key in \(keyFile)"
                        + (done.restatedHolds > 0 ? "; \(done.restatedHolds) hold(s) restated" : ""))
                if let retired = done.retiredKey {
                    print(
                        "the old key is kept at \(retired): the trail no longer needs it; keep it with your records or destroy it"
                    )
                } else {
                    print("(an interrupted rotation was finished)")
                }
                print(
                    "back up the new key now, and copy \(StateFiles.headPath(stateDirectory: enforcer.settings.stateDirectory)) off the host as after every run"
                )
                return .success
            }
        }
    }

    struct Reanchor: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract:
                "After a legitimate restore: accept the trail's end as the recorded head, and erase again what the restore brought back (audited).",
            discussion: """
                When a database is restored from an older copy, its trail ends before the head recorded in the state \
                directory, and enforcing commands refuse with exit 7. Once you have checked that the restore is \
                legitimate, this appends an `audit-reanchored` entry (with the lost head and your reason) and records \
                the new end. It refuses when the trail in the database does not verify on its own.

                Then, under the run lock and before any rule runs, it re-applies what the erasure ledger \
                (erasure-ledger.jsonl in the state directory) says was purged or anonymised since the backup: each \
                record found again goes through the same rule, as an erasure request does, audited with the ledger \
                entry it comes from; legal holds placed since the backup are placed again first, and holds, related \
                records, other rules and references still keep what they keep. --dry-run says what both steps would \
                do and changes nothing. Interrupted, run it again: enforcing runs refuse until the replay is done \
                (docs/operations.md, "After a restore").
                """
        )
        @OptionGroup var options: PolicyOptions

        @Option(name: .long, help: "Why (e.g. the restore ticket), kept in the audit trail. Required unless --dry-run.")
        var reason: String?

        @Option(name: .long, help: "Who re-anchors (recorded in the audit trail). Required unless --dry-run.")
        var by: String?

        @Flag(name: .long, help: "Say what re-anchoring and re-applying the ledger would do; change nothing.")
        var dryRun = false

        @Option(
            name: .long,
            help: ArgumentHelp(
                "text, or json (one object: docs/operations.md, \"Machine-readable output\").", valueName: "format"))
        var format: OutputFormat = .text

        /// `--format json`: what was (or would be) accepted and re-applied.
        struct Outcome: Encodable {
            var dryRun: Bool
            /// Whether the trail's end is (or would be) accepted; false when only a replay was owed.
            var reanchored: Bool
            var previousSeq: Int64?
            var headSeq: Int64?
            var replay: ReplayReport?
        }

        func validate() throws {
            if !dryRun, reason == nil || by == nil {
                throw ValidationError(
                    "give --reason (why, e.g. the restore ticket) and --by (who), or --dry-run to see what it would do")
            }
        }

        func run() async throws {
            try await reportingFailures {
                let (policy, settings, _) = try options.loadPolicy()
                let store = try await options.openStore(settings.database)
                guard
                    let key = try await loadKey(
                        settings: settings, store: store, create: false, logger: options.logger())
                else {
                    throw CommandFailure.noTrailToReanchor(on: store.location)
                }
                let now = options.currentTime()
                let ledger = ErasureLedger(stateDirectory: settings.stateDirectory, key: key)
                // Without erasures to re-apply, the policy need not validate against the restored schema.
                guard try await ledger.lost(in: store) != nil else {
                    if dryRun {
                        let standing = try? await AuditAnchor(store: store, stateDirectory: settings.stateDirectory)
                            .check()
                        let end = try await store.read { try $0.auditHead().seq }
                        let previous = StateFiles.readHead(stateDirectory: settings.stateDirectory)
                        let needed = !(standing?.anchored == true && standing?.entriesPastHead == 0 && previous != nil)
                        if format == .json {
                            try printJSON(
                                Outcome(
                                    dryRun: true, reanchored: needed, previousSeq: previous?.seq,
                                    headSeq: needed ? end + 1 : nil))
                            return .success
                        }
                        if needed {
                            print(
                                "would re-anchor the audit trail at entry \(end + 1)"
                                    + (previous.map { " (the recorded head is entry \($0.seq))" } ?? ""))
                        } else {
                            print(
                                "nothing to re-anchor: the audit trail is intact and ends at the recorded head (entry \(end))"
                            )
                        }
                        print(
                            FileManager.default.fileExists(atPath: ledger.path)
                                ? "the erasure ledger holds nothing the database lost"
                                : "no erasure ledger in \(settings.stateDirectory): nothing to re-apply")
                        return .success
                    }
                    let (previous, head) = try await AuditAnchor.reanchor(
                        store, stateDirectory: settings.stateDirectory, key: key, reason: reason ?? "",
                        by: by ?? "", now: now)
                    try await ledger.sync(from: store, keep: policy.ledgerKeep, now: Date(), calendar: policy.calendar)
                    if format == .json {
                        try printJSON(
                            Outcome(dryRun: false, reanchored: true, previousSeq: previous?.seq, headSeq: head.seq))
                        return .success
                    }
                    print(
                        "audit trail re-anchored at entry \(head.seq)"
                            + (previous.map { " (the recorded head was entry \($0.seq))" } ?? ""))
                    return .success
                }
                let (loaded, _) = try await options.loadEnforcer(actor: by ?? defaultActor(), loadingKey: false)
                let enforcer = Enforcer(
                    resolved: loaded.resolved, settings: loaded.settings, store: loaded.store, key: key,
                    actor: by ?? defaultActor(), logger: loaded.logger)
                let done = try await enforcer.reanchor(reason: reason ?? "", now: now, dryRun: dryRun)
                for missed in done.replay?.notReapplied ?? [] {
                    printError(
                        "warning: \(missed.records) record(s) of rule `\(missed.rule)` were erased before the restore and are back: \(missed.outcome)",
                        prefix: false)
                }
                if format == .json {
                    try printJSON(
                        Outcome(
                            dryRun: dryRun, reanchored: done.needed, previousSeq: done.previous?.seq,
                            headSeq: dryRun ? (done.needed ? done.trailEnd + 1 : nil) : done.head?.seq,
                            replay: done.replay))
                    return .success
                }
                if dryRun {
                    if done.needed {
                        print(
                            "would re-anchor the audit trail at entry \(done.trailEnd + 1)"
                                + (done.previous.map { " (the recorded head is entry \($0.seq))" } ?? ""))
                    }
                } else if let head = done.head {
                    print(
                        "audit trail re-anchored at entry \(head.seq)"
                            + (done.previous.map { " (the recorded head was entry \($0.seq))" } ?? ""))
                }
                if let replay = done.replay { print("erasure ledger: " + replay.text(), terminator: "") }
                return .success
            }
        }
    }
}
