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
        public var isValid: Bool { problems.isEmpty }
    }

    /// Walks the whole chain in pages (constant memory) and compares its end with the recorded head.
    public func verify() async throws -> Verification {
        var verifier = AuditChain.Verifier(chain: AuditChain(key: key))
        var after: Int64 = 0
        while true {
            let from = after
            let page = try await store.read { try $0.auditEntries(after: from, limit: 2000, filter: AuditFilter()) }
            for entry in page { verifier.check(entry) }
            guard let last = page.last, page.count == 2000 else { break }
            after = last.seq
        }
        var recorded = StateFiles.readHead(stateDirectory: stateDirectory)
        if recorded?.database != store.location { recorded = nil }
        let seq = recorded?.seq ?? 0
        let macThere = seq > 0 ? try await store.read { try $0.auditEntry(seq: seq)?.mac } : nil
        verifier.finish(recordedHead: recorded.map { AuditHead(seq: $0.seq, mac: $0.mac) }, macAtRecordedSeq: macThere)
        return Verification(entries: verifier.count, head: verifier.head, recordedHead: recorded, problems: verifier.problems)
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
