import Foundation
import RetentionCore
import RetentionStore

/// Reads and verifies the audit trail of one database.
public struct AuditTrail: Sendable {
    public let store: any RecordReader
    public let key: AuditKey
    public let stateDirectory: String

    public init(store: any RecordReader, key: AuditKey, stateDirectory: String) {
        self.store = store
        self.key = key
        self.stateDirectory = stateDirectory
    }

    public struct Verification: Sendable {
        public var entries: Int
        public var head: AuditHead
        /// The head the trail was compared with (nil when none is recorded for this trail).
        public var recordedHead: StateFiles.RecordedHead?
        public var problems: [AuditChain.Problem]
        /// The trail against its recorded head and the tool's tables: dropped, replaced.
        public var anchorProblems: [String] = []
        /// Differences between the holds table and the trail's hold entries (`failsClosed` ones).
        public var holdProblems: [String] = []
        /// Holds found without an audit entry: honoured, but not placed through retentiond.
        public var holdWarnings: [String] = []
        /// Entries past the recorded head (a run killed before recording it, or an older head file).
        public var entriesPastHead: Int64 = 0
        /// The erasure ledger beside the head (`ErasureLedger`): its entries (nil without one), and
        /// its problems — a seal that does not verify, or erasures a restore undid and that were
        /// not re-applied yet.
        public var ledgerEntries: Int?
        public var ledgerProblems: [String] = []
        public var isValid: Bool {
            problems.isEmpty && anchorProblems.isEmpty && holdProblems.isEmpty && ledgerProblems.isEmpty
        }
        public var problemCount: Int {
            problems.count + anchorProblems.count + holdProblems.count + ledgerProblems.count
        }
    }

    /// Walks the whole chain in pages (constant memory), checking each entry against the previous one.
    func verifyEntries() async throws -> AuditChain.Verifier {
        // The entries before the last key rotation are vouched for by its digest, not their MACs.
        let rotation = try await store.read { try $0.lastKeyRotation() }
        var verifier = AuditChain.Verifier(chain: AuditChain(key: key), sealedThrough: (rotation ?? 1) - 1)
        var after: Int64 = 0
        while true {
            let from = after
            let page = try await store.read { try $0.auditEntries(after: from, limit: 2000, filter: AuditFilter()) }
            for entry in page { verifier.check(entry) }
            guard let last = page.last, page.count == 2000 else { break }
            after = last.seq
        }
        return verifier
    }

    /// The whole check: the chain, its end against the recorded head (the state directory's, or
    /// the copy at `headPath`), the tool's tables, and the holds table against the holds the trail
    /// vouches for.
    public func verify(headPath: String? = nil) async throws -> Verification {
        var verifier = try await verifyEntries()
        let anchor = AuditAnchor(store: store, stateDirectory: stateDirectory, headPath: headPath)
        let reading = try await anchor.read()
        let holdFindings = try await store.read { try HoldLedger(chain: AuditChain(key: key)).findings(in: $0) }
        let unfiled = try await store.read { try $0.auditRefsMismatch() }
        let head = reading.head
        verifier.finish(
            recordedHead: head.map { AuditHead(seq: $0.seq, mac: $0.mac) }, macAtRecordedSeq: reading.macAtRecordedSeq)
        var result = Verification(
            entries: verifier.count, head: verifier.head, recordedHead: head, problems: verifier.problems)
        if let head { result.entriesPastHead = max(0, verifier.head.seq - head.seq) }
        if reading.tables.any, !reading.tables.complete {
            result.anchorProblems.append(
                "the tool's table(s) \(reading.tables.missing.joined(separator: ", ")) were dropped")
        }
        if reading.headRemoved {
            result.anchorProblems.append(AuditAnchor.headRemoved(anchor.headPath, location: store.location))
        }
        if case .unreadable(let why) = StateFiles.headFile(path: anchor.headPath) {
            result.anchorProblems.append(
                "the audit head \(anchor.headPath) cannot be read (\(why)): a truncated or restored trail could not be detected"
            )
        }
        if let recorded = reading.recorded, recorded.seq > 0, head == nil {
            if reading.genesis == nil, recorded.genesis != nil || recorded.database == store.location {
                result.anchorProblems.append(
                    "\(anchor.headPath) records entry \(recorded.seq) of the trail, but the database has none: it was dropped"
                )
            } else if reading.genesis != nil, recorded.genesis != nil {
                result.anchorProblems.append(
                    "\(anchor.headPath) belongs to another audit trail (its first entry differs): this trail was replaced, or the head is another database's"
                )
            }
        }
        if unfiled.missing != 0 || unfiled.extra != 0 {
            let counts = [
                unfiled.missing > 0 ? "\(unfiled.missing) entries missing from it" : nil,
                unfiled.extra > 0 ? "\(unfiled.extra) rows that file no entry" : nil,
            ].compactMap { $0 }
            result.anchorProblems.append(
                "retentiond_audit_refs, where each entry's reference is filed, does not match the trail "
                    + "(\(counts.joined(separator: ", "))): `audit show --subject` and erasure requests may "
                    + "miss entries. It is derived from the trail: drop the table, and the next writing command (`retentiond run`) rebuilds it"
            )
        }
        result.holdProblems = holdFindings.filter(\.failsClosed).map(\.message)
        result.holdWarnings = holdFindings.filter { !$0.failsClosed }.map(\.message)
        let ledger = try await ErasureLedger(stateDirectory: stateDirectory, key: key).verification(against: store)
        if ledger.exists {
            result.ledgerEntries = ledger.entries
            result.ledgerProblems = ledger.problems.map { "erasure ledger: " + $0 }
            if ledger.replayPending {
                result.ledgerProblems.append(
                    ErasureLedger.replayPendingMessage(
                        path: ErasureLedger.path(stateDirectory: stateDirectory), location: store.location))
            }
        }
        return result
    }

    /// Entries matching `filter`, oldest first.
    public func entries(filter: AuditFilter, limit: Int) async throws -> [AuditEntry] {
        try await store.read { try $0.auditEntries(after: 0, limit: limit, filter: filter) }
    }

    /// The pseudonymous reference `audit show --subject TABLE:KEY` looks for.
    public func reference(table: String, key recordKey: RecordKey) -> String {
        AuditChain(key: key).reference(table: table, key: recordKey)
    }
}
