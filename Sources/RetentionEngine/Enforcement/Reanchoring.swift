import Foundation
import RetentionCore
import RetentionStore

extension Enforcer {
    /// What `audit reanchor` did, or in a dry run would do.
    public struct Reanchoring: Sendable {
        /// The head recorded before (nil without one), and the trail's end accepted (nil in a dry
        /// run, or when the trail was already anchored and only the replay was left to finish).
        public var previous: StateFiles.RecordedHead?
        public var head: AuditHead?
        /// The trail's last entry before re-anchoring (the re-anchoring's own entry comes after it).
        public var trailEnd: Int64 = 0
        public var needed: Bool
        /// The erasure ledger's replay (nil: no ledger, or nothing the restore undid).
        public var replay: ReplayReport?
    }

    /// After a legitimate restore, under the run lock: accepts the trail's end as the recorded head
    /// (`AuditAnchor.reanchor`), then re-applies the erasures the restore undid, as the erasure
    /// ledger records them (`Applier.replay`), before any other rule can run. Interrupted, it is
    /// finished by running it again (the ledger says the replay is still owed). `dryRun`: changes
    /// nothing, says what both steps would do.
    public func reanchor(reason: String, now: Date, dryRun: Bool) async throws -> Reanchoring {
        guard let key else { throw EnforcementError.noAuditKeyLoaded() }
        // A replay may archive again what the restore brought back: the archive's lock too.
        return try await store.withRunLock { lock in
            try await holdingArchive {
                let stateDirectory = settings.stateDirectory
                let headPath = StateFiles.headPath(stateDirectory: stateDirectory)
                let standing = try? await anchor.check()
                let needed: Bool
                if case .recorded = StateFiles.headFile(path: headPath), let standing, standing.anchored,
                    standing.entriesPastHead == 0
                {
                    needed = false
                } else {
                    needed = true
                }
                let ledger = ErasureLedger(stateDirectory: stateDirectory, key: key)
                let lost = try await ledger.lost(in: store)
                guard needed || lost != nil else {
                    throw EnforcementError.nothingToReanchor(
                        location: store.location, headPath: headPath, ledgerChecked: true)
                }
                var result = Reanchoring(previous: StateFiles.readHead(path: headPath), needed: needed)
                result.trailEnd = try await store.read { try $0.auditHead().seq }
                let runID = "reanchor-" + RunID.make(at: now)
                let applier = try applier(runID: runID)
                if dryRun {
                    if let lost {
                        result.replay = try await applier.replay(
                            lost, keys: auditKeys(key), lock: lock, now: now, dryRun: true)
                    }
                    return result
                }
                if needed {
                    result.head = try await AuditAnchor.reanchor(
                        store, stateDirectory: stateDirectory, key: key, reason: reason, by: actor, now: now
                    ).head
                }
                guard let lost else {
                    try await ledger.sync(from: store, keep: policy.ledgerKeep, now: now, calendar: policy.calendar)
                    return result
                }
                try await applier.prepare()
                let report = try await applier.replay(lost, keys: auditKeys(key), lock: lock, now: now, dryRun: false)
                try await ledger.closeReplay(lost, replayed: report.reapplied, in: store)
                result.replay = report
                if report.reapplied > 0 { try await store.scrubFreedSpace() }
                return result
            }
        }
    }

    /// The current audit key and the retired ones kept beside it (`<key file>.retired-<time>`, as
    /// a rotation leaves them), by fingerprint: the ledger's references made before a rotation
    /// are matched with the key that made them.
    func auditKeys(_ current: AuditKey) -> [String: AuditKey] {
        var keys = [current.fingerprint: current]
        let directory = (settings.keyFile as NSString).deletingLastPathComponent
        let prefix = (settings.keyFile as NSString).lastPathComponent + ".retired-"
        for name in (try? FileManager.default.contentsOfDirectory(atPath: directory.isEmpty ? "." : directory)) ?? []
        where name.hasPrefix(prefix) {
            if let retired = try? AuditKey.load(path: directory + "/" + name, createIfMissing: false).key {
                keys[retired.fingerprint] = retired
            }
        }
        return keys
    }
}
