import Foundation
import RetentionCore
import RetentionStore

/// Where the audit trail must stand before anything is appended to it: whole (all the tool's
/// tables present) and still extending the head recorded outside the database.
///
/// A head names its trail by the MAC of the trail's first entry (`genesis`), not by a path: the
/// same database reached by another path, or restored into another directory, is still checked.
/// Every writer checks the anchor first, so a database restored from an older copy, a trail
/// truncated, replaced or dropped, or a holds table dropped is refused (exit 7) before the next
/// entry could paper over it.
public struct AuditAnchor: Sendable {
    public let store: any RecordReader
    public let stateDirectory: String
    /// The head file compared with: the state directory's, or a copy kept elsewhere.
    public let headPath: String

    public init(store: any RecordReader, stateDirectory: String, headPath: String? = nil) {
        self.store = store
        self.stateDirectory = stateDirectory
        self.headPath = headPath ?? StateFiles.headPath(stateDirectory: stateDirectory)
    }

    /// What the database and the head file say, read together.
    public struct Reading: Sendable {
        public var tables: ToolTables
        /// The MAC of the database trail's first entry; nil when it has none.
        public var genesis: String?
        /// The head file's content, if any (for this trail or not).
        public var recorded: StateFiles.RecordedHead?
        /// The MAC the database holds at the recorded head's sequence number.
        public var macAtRecordedSeq: String?
        /// The newest entry's sequence number in the database (0 without a trail).
        public var lastSeq: Int64 = 0
        /// No head file, but the trail says one was recorded here (`StateFiles.headFileIdentity`):
        /// it was removed.
        public var headRemoved = false

        /// The recorded head when it names this database's trail.
        public var head: StateFiles.RecordedHead? {
            guard let recorded, recorded.seq > 0, genesis != nil,
                recorded.names(trailWithGenesis: genesis, at: location)
            else { return nil }
            return recorded
        }
        var location: String
    }

    public func read() async throws -> Reading {
        let recorded = StateFiles.readHead(path: headPath)
        let location = store.location
        // Only the state directory's own head is named in the trail (not a copy given with --head).
        let (headPath, ownHead) = (self.headPath, self.headPath == StateFiles.headPath(stateDirectory: stateDirectory))
        let identity = StateFiles.headFileIdentity(stateDirectory: stateDirectory)
        return try await store.read { session in
            let tables = try session.toolTables()
            guard tables.audit else { return Reading(tables: tables, recorded: recorded, location: location) }
            let genesis = try session.auditEntry(seq: 1)?.mac
            let mac = try recorded.flatMap { $0.seq > 0 ? try session.auditEntry(seq: $0.seq)?.mac : nil }
            var reading = Reading(
                tables: tables, genesis: genesis, recorded: recorded, macAtRecordedSeq: mac,
                lastSeq: try session.auditHead().seq, location: location)
            if genesis != nil, ownHead, case .missing = StateFiles.headFile(path: headPath) {
                reading.headRemoved = try session.trailNamesHeadFile(identity)
            }
            return reading
        }
    }

    /// True when the database has, or had, an audit trail: any of the tool's tables, or a head
    /// recorded for it. A new audit key must never be created then (it could not verify the trail).
    public func trailExists() async throws -> Bool {
        let reading = try await read()
        if reading.tables.any { return true }
        guard let recorded = reading.recorded, recorded.seq > 0 else { return false }
        return recorded.genesis != nil || recorded.database == store.location
    }

    /// Loads the audit key for this database: the one place that decides whether a key may be
    /// created. A key file that exists is loaded and must verify the trail (a key that verifies none
    /// of its first entries is the wrong key, reported as such rather than as tampering). Without a
    /// key file, a database that has or had a trail is refused — a new key could not verify it and
    /// would pseudonymise again what is already pseudonymised; one that never had a trail gets a new
    /// key when `create` (`created` tells the caller to say so), else nil (a dry run).
    public func loadKey(path: String, create: Bool, credentialsDirectory: String? = nil) async throws -> (
        key: AuditKey, created: Bool
    )? {
        if FileManager.default.fileExists(atPath: path) {
            if FileManager.default.fileExists(atPath: KeyRotation.pendingPath(path)) {
                throw EnforcementError.rotationInterrupted(keyPath: path)
            }
            let key = try AuditKey.load(path: path, createIfMissing: false, credentialsDirectory: credentialsDirectory)
                .key
            guard try await sealsTrail(key) else {
                throw EnforcementError.wrongAuditKey(keyPath: path, location: store.location)
            }
            return (key, false)
        }
        try await refuseMissingKey(path: path)
        guard create else { return nil }
        return try AuditKey.load(path: path, createIfMissing: true, credentialsDirectory: credentialsDirectory)
    }

    /// Whether `key` sealed this trail: its first entries, or since a rotation, the rotation's entry
    /// (true for a database without a trail).
    func sealsTrail(_ key: AuditKey) async throws -> Bool {
        let chain = AuditChain(key: key)
        let entries = try await store.read { session -> [AuditEntry] in
            if let rotation = try session.lastKeyRotation() {
                return try session.auditEntry(seq: rotation).map { [$0] } ?? []
            }
            return try session.auditEntries(after: 0, limit: 3, filter: AuditFilter())
        }
        return entries.isEmpty || entries.contains { chain.mac(of: $0) == $0.mac }
    }

    /// Without a key, only a database that never had a trail can be worked on (a dry run before the
    /// first enforcing run); the rule `loadKey` applies, for callers handed no key.
    func refuseMissingKey(path: String) async throws {
        if try await trailExists() {
            throw EnforcementError.auditKeyMissing(keyPath: path)
        }
    }

    /// The outcome of a successful check.
    public struct Standing: Sendable {
        public var tables: ToolTables
        /// False when the database has a trail but no head is recorded for it: truncation and
        /// restores cannot be detected until one is (callers say so loudly).
        public var anchored: Bool
        /// Entries the trail holds past the recorded head. A run records its head at most once a
        /// second and after its last batch (`HeadRecorder`), so entries past it mean a run killed
        /// before recording them, or a head file replaced by an older copy — which only a copy
        /// kept elsewhere can tell apart (callers say so).
        public var entriesPastHead: Int64 = 0
    }

    /// Throws `auditTampered` when the trail is not whole or no longer extends the recorded head.
    @discardableResult
    public func check() async throws -> Standing {
        if case .unreadable(let why) = StateFiles.headFile(path: headPath) {
            throw EnforcementError.headUnreadable(headPath: headPath, why: why)
        }
        let reading = try await read()
        let tables = reading.tables
        if tables.any, !tables.complete {
            throw EnforcementError.toolTablesDropped(
                location: store.location, present: tables.audit ? "retentiond_audit" : "retentiond_holds",
                missing: tables.missing)
        }
        if reading.headRemoved {
            throw EnforcementError.headRemoved(headPath: headPath, location: store.location)
        }
        guard let recorded = reading.recorded, recorded.seq > 0 else {
            return Standing(tables: tables, anchored: reading.genesis == nil)
        }
        // A head written by an older version names its database by path only.
        let legacyElsewhere = recorded.genesis == nil && recorded.database != store.location
        guard let genesis = reading.genesis else {
            if legacyElsewhere { return Standing(tables: tables, anchored: true) }
            throw EnforcementError.trailDropped(
                location: store.location, headPath: headPath, recorded: recorded.seq, of: recorded.database)
        }
        if legacyElsewhere { return Standing(tables: tables, anchored: false) }
        guard recorded.names(trailWithGenesis: genesis, at: store.location) else {
            throw EnforcementError.headOfAnotherTrail(headPath: headPath, location: store.location)
        }
        if reading.macAtRecordedSeq != recorded.mac {
            throw EnforcementError.trailBehindHead(location: store.location, headPath: headPath, recorded: recorded.seq)
        }
        return Standing(tables: tables, anchored: true, entriesPastHead: max(0, reading.lastSeq - recorded.seq))
    }

    static func headRemoved(_ headPath: String, location: String) -> String {
        "the audit head \(headPath) is gone, but the trail of \(location) records that its head was kept in that file on this host: it was removed, so a truncated or restored trail could not be detected"
    }

    /// Records where the trail now stands in the state directory (never behind what is recorded).
    func record(_ position: TrailPosition) throws {
        try StateFiles.recordHead(position, database: store.location, stateDirectory: stateDirectory)
    }

    /// After a legitimate restore: records in the trail itself that history before its current end
    /// was lost (with the old head and the reason), then makes the new end the recorded head.
    /// Refuses when the trail in the database does not verify on its own.
    public static func reanchor(
        _ store: any RecordStore, stateDirectory: String, key: AuditKey, reason: String, by actor: String,
        now: Date
    ) async throws -> (previous: StateFiles.RecordedHead?, head: AuditHead) {
        let headPath = StateFiles.headPath(stateDirectory: stateDirectory)
        let trail = AuditTrail(store: store, key: key, stateDirectory: stateDirectory)
        let own = try await trail.verifyEntries()
        guard own.problems.isEmpty else {
            throw EnforcementError.trailNotIntactToReanchor(problems: own.problems.map { "\($0)" })
        }
        // Re-anchoring vouches for the trail's end: only when there is something to accept.
        if case .recorded = StateFiles.headFile(path: headPath),
            let standing = try? await AuditAnchor(store: store, stateDirectory: stateDirectory).check(),
            standing.anchored, standing.entriesPastHead == 0
        {
            throw EnforcementError.nothingToReanchor(location: store.location, headPath: headPath)
        }
        let previous = StateFiles.readHead(path: headPath)
        var detail = [
            "reason": reason, "database": store.location,
            "head_file": StateFiles.headFileIdentity(stateDirectory: stateDirectory),
        ]
        if let previous {
            detail["previous_seq"] = String(previous.seq)
            detail["previous_mac"] = previous.mac
            if let genesis = previous.genesis { detail["previous_genesis"] = genesis }
        }
        let draft = AuditDraft(
            runID: "reanchor-" + RunID.make(at: now), actor: actor, policyHash: "", action: .reanchored, detail: detail)
        let writer = AuditWriter(chain: AuditChain(key: key))
        let position = try await store.transaction { session -> TrailPosition in
            try session.prepareToolTables()
            // The marks of what rules did may name records whose entries the restore lost: they
            // are dropped, and the next run marks again what the trail vouches for.
            try session.clearDoneMarks()
            // So may the references filed for lookups: they are filed again from the trail.
            try session.refileAuditRefs()
            return try writer.append([draft], in: session, confirmingKey: true)
        }
        try StateFiles.recordHead(position, database: store.location, stateDirectory: stateDirectory, replacing: true)
        return (previous, position.head)
    }
}
