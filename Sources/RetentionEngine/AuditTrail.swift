import Foundation
import RetentionCore
import RetentionStore

/// Reads and verifies the audit trail of one database.
public struct AuditTrail: Sendable {
    public let store: any RecordStore
    public let key: AuditKey
    public let stateDirectory: String

    public init(store: any RecordStore, key: AuditKey, stateDirectory: String) {
        self.store = store
        self.key = key
        self.stateDirectory = stateDirectory
    }

    public struct Verification: Sendable {
        public var entries: Int
        public var head: AuditHead
        public var recordedHead: StateFiles.RecordedHead?
        public var problems: [AuditChain.Problem]
        /// Differences between the holds table and the trail's hold entries (`failsClosed` ones are problems too).
        public var holdProblems: [String] = []
        /// Holds found without an audit entry: honoured, but not placed through retentiond.
        public var holdWarnings: [String] = []
        public var isValid: Bool { problems.isEmpty && holdProblems.isEmpty }
    }

    /// Walks the whole chain in pages (constant memory), checking each entry against the previous one.
    func verifyEntries() async throws -> AuditChain.Verifier {
        var verifier = AuditChain.Verifier(chain: AuditChain(key: key))
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

    /// The whole check: the chain, its end against the recorded head, the tool's tables, and the
    /// holds table against the holds the trail vouches for.
    public func verify() async throws -> Verification {
        var verifier = try await verifyEntries()
        let recorded = StateFiles.readHead(stateDirectory: stateDirectory, database: store.location)
        let seq = recorded?.seq ?? 0
        let (macThere, tables, holdFindings) = try await store.read { session -> (String?, ToolTables, [HoldLedger.Finding]) in
            (seq > 0 ? try session.auditEntry(seq: seq)?.mac : nil, try session.toolTables(),
             try HoldLedger(chain: AuditChain(key: key)).findings(in: session))
        }
        verifier.finish(recordedHead: recorded.map { AuditHead(seq: $0.seq, mac: $0.mac) }, macAtRecordedSeq: macThere)
        var result = Verification(entries: verifier.count, head: verifier.head, recordedHead: recorded, problems: verifier.problems)
        if tables.any, !tables.complete {
            result.holdProblems.append("the tool's table(s) \(tables.missing.joined(separator: ", ")) were dropped")
        }
        result.holdProblems += holdFindings.filter(\.failsClosed).map(\.message)
        result.holdWarnings = holdFindings.filter { !$0.failsClosed }.map(\.message)
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
