import Foundation
import RetentionCore
import Testing

@testable import RetentionEngine

/// How `apply` and the workers' queue cut a plan into batches: consecutive records of one rule, at
/// most `batch_size` each, in plan order, every record once.
@Suite struct PlanBatchesTests {
    func planFile(_ entries: [(rule: String, id: Int64)]) throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("batches-\(UUID().uuidString).plan")
            .path
        let writer = try PlanWriter(path: path)
        for entry in entries {
            try writer.write(
                .entry(
                    PlanDocument.Entry(
                        rule: entry.rule, key: RecordKey([.integer(entry.id)]), action: "purge", clock: [])))
        }
        try writer.close()
        return path
    }

    @Test func batchesStopAtTheSizeAndAtEachRuleBoundary() throws {
        let entries = (1...7).map { ("a", Int64($0)) } + (8...10).map { ("b", Int64($0)) } + [("a", 11)]
        let path = try planFile(entries)
        defer { unlink(path) }
        let chain = AuditChain(key: AuditKey(bytes: Data(repeating: 7, count: 32)))
        let batches = PlanBatches(reader: try PlanReader(path: path), size: 5, tables: ["a": "people"], chain: chain)
        var seen: [(String, [Int64])] = []
        while let batch = try batches.next() {
            seen.append((batch.rule, batch.keys.map { if case .integer(let n) = $0.values[0] { n } else { -1 } }))
            // References are those a batch would compute itself, for the rules given a table only.
            for key in batch.keys {
                #expect(batch.references[key] == (batch.rule == "a" ? chain.reference(table: "people", key: key) : nil))
            }
        }
        #expect(seen.map(\.0) == ["a", "a", "b", "a"])
        #expect(seen.map(\.1) == [[1, 2, 3, 4, 5], [6, 7], [8, 9, 10], [11]])
        #expect(try batches.next() == nil, "the end stays the end")
    }
}
