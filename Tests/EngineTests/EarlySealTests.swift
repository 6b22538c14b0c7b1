import Foundation
import RetentionCore
import RetentionStore
import TestSupport
import Testing

@testable import RetentionEngine

/// A batch seals its records' entries on another core while its statements run, after the head
/// it read without the chain's lock: those entries are kept only if the head has not moved by the
/// time the batch appends; otherwise everything is sealed again after the new head.
@Suite struct EarlySealTests {
    func draft(_ ref: String) -> AuditDraft {
        AuditDraft(
            runID: "run", actor: "test", policyHash: "hash", ruleID: "rule", action: .purge, table: "people",
            subjectRef: ref, fields: ["*"])
    }

    @Test(arguments: Backend.allCases)
    func entriesSealedAfterAHeadThatMovedAreSealedAgain(_ backend: Backend) async throws {
        let f = try await CRMFixture(backend, policy: CRMPolicies.anonymise)
        _ = try await f.run()
        let chain = AuditChain(key: try f.key)
        let writer = AuditWriter(chain: chain)
        let before = try await f.audit().count
        let (moved, kept) = try await f.store().transaction { session in
            // Sealed early after head N; another entry is appended (as another writer would) before the batch appends.
            let stale = try EarlySeal([draft("a"), draft("b")], chain: chain, in: session)
            _ = try writer.append([draft("other")], in: session)
            let moved = try writer.append([draft("child")], in: session, after: stale)
            // Nothing moves the head this time: the early entries are used as sealed.
            let current = try EarlySeal([draft("c")], chain: chain, in: session)
            let early = current.entries()
            let kept = try writer.append([], in: session, after: current)
            return (moved, (early, kept))
        }
        let entries = try await f.audit()
        #expect(
            entries.dropFirst(before).map(\.subjectRef) == ["other", "a", "b", "child", "c"], "in order, each once")
        #expect(moved.head.seq == Int64(before + 4))
        #expect(kept.1.head.seq == Int64(before + 5))
        #expect(kept.0.map(\.mac) == [entries.last?.mac], "the entry sealed early is the one appended")
        #expect(try await f.trail().verify().isValid, "the chain holds across both")
    }
}
