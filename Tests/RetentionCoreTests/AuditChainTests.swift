import Foundation
import Testing

@testable import RetentionCore

@Suite struct AuditChainTests {
    let chain = AuditChain(key: AuditKey(bytes: Data(repeating: 1, count: 32)))

    func entries(_ n: Int) -> [AuditEntry] {
        let drafts = (1...n).map { i in
            AuditDraft(
                runID: "r1", actor: "test", policyHash: "p", ruleID: "rule", action: .purge, table: "t",
                subjectRef: chain.reference(table: "t", key: RecordKey([.integer(Int64(i))])), fields: ["*"])
        }
        return chain.seal(drafts, after: .genesis, at: Date(timeIntervalSince1970: 0)).entries
    }

    func problems(_ entries: [AuditEntry], recorded: AuditHead? = nil) -> [AuditChain.Problem] {
        var verifier = AuditChain.Verifier(chain: chain)
        entries.forEach { verifier.check($0) }
        verifier.finish(
            recordedHead: recorded,
            macAtRecordedSeq: recorded.flatMap { head in entries.first { $0.seq == head.seq }?.mac })
        return verifier.problems
    }

    @Test func anUntouchedChainVerifies() {
        let e = entries(5)
        #expect(problems(e, recorded: AuditHead(seq: 5, mac: e[4].mac)).isEmpty)
        #expect(e[0].prevMAC == AuditHead.genesis.mac)
        #expect(e[1].prevMAC == e[0].mac)
    }

    @Test func aModifiedEntryIsDetected() {
        var e = entries(5)
        e[2].action = "flag"
        #expect(problems(e).map(\.seq) == [3])
    }

    @Test func aDeletedEntryIsDetected() {
        var e = entries(5)
        e.remove(at: 2)
        #expect(problems(e).contains { $0.message.contains("missing") })
    }

    @Test func reorderedEntriesAreDetected() {
        var e = entries(5)
        e.swapAt(1, 2)
        #expect(!problems(e).isEmpty)
        // Renumbering the swapped entries to hide the gap breaks their MACs.
        e[1].seq = 2
        e[2].seq = 3
        #expect(!problems(e).isEmpty)
    }

    @Test func aTruncatedTailIsDetectedThroughTheRecordedHead() {
        let e = entries(5)
        let head = AuditHead(seq: 5, mac: e[4].mac)
        #expect(problems(Array(e.prefix(3)), recorded: head).contains { $0.message.contains("truncated") })
    }

    @Test func aRewrittenChainIsDetectedThroughTheRecordedHead() {
        let e = entries(5)
        let other = AuditChain(key: AuditKey(bytes: Data(repeating: 2, count: 32)))
        // Someone with another key rebuilds a consistent-looking chain: its MACs fail under the real key.
        let forged = other.seal(
            e.map {
                AuditDraft(
                    runID: $0.runID, actor: $0.actor, policyHash: $0.policyHash,
                    action: AuditAction(rawValue: $0.action)!)
            }, after: .genesis, at: Date()
        ).entries
        #expect(problems(forged, recorded: AuditHead(seq: 5, mac: e[4].mac)).count >= 5)
    }

    @Test func referencesArePseudonymousAndStable() {
        let key = RecordKey([.integer(42)])
        let ref = chain.reference(table: "clients", key: key)
        #expect(ref == chain.reference(table: "clients", key: key))
        #expect(ref != chain.reference(table: "prospects", key: key))
        #expect(
            ref != AuditChain(key: AuditKey(bytes: Data(repeating: 9, count: 32))).reference(table: "clients", key: key)
        )
        #expect(ref.count == 64 && !ref.contains("42"))
    }

    @Test func theKeyFileIsCreatedPrivateAndReadBack() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("key-\(UUID().uuidString)")
        let path = dir.appendingPathComponent("audit.key").path
        let (created, isNew) = try AuditKey.load(path: path, createIfMissing: true)
        #expect(isNew)
        let mode = try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int
        #expect(mode == 0o600)
        let (read, isNewAgain) = try AuditKey.load(path: path, createIfMissing: true)
        #expect(!isNewAgain)
        #expect(
            AuditChain(key: created).reference(table: "t", key: RecordKey([.integer(1)]))
                == AuditChain(key: read).reference(table: "t", key: RecordKey([.integer(1)])))
        chmod(path, 0o644)
        #expect(throws: AuditKey.LoadError.self) { try AuditKey.load(path: path, createIfMissing: false) }
    }
}

/// The MAC input must stay byte for byte what sealed every existing trail.
@Suite struct AuditMACInputTests {
    static func foundation(_ fields: [String]) -> [UInt8] {
        Array(try! JSONSerialization.data(withJSONObject: fields, options: [.sortedKeys]))
    }

    @Test func everyASCIICharacterIsWrittenAsJSONSerializationWritesIt() {
        for byte in 0..<0x80 {
            let text = String(UnicodeScalar(UInt8(byte)))
            #expect(
                AuditChain.macInput([text, "x" + text + "y"]) == Self.foundation([text, "x" + text + "y"]),
                "byte \(byte)")
        }
    }

    @Test func thousandsOfRandomStringsAreWrittenAsJSONSerializationWritesThem() {
        let pools: [[UInt32]] = [
            Array(0...0x7F), Array(0x80...0x2FF), [0x2028, 0x2029, 0xFEFF, 0xFFFD, 0x301, 0x85, 0xA0],
            Array(0x4E00...0x4E40), [0x1F642, 0x1F469, 0x200D, 0x1F4BB, 0x10FFFF],
        ]
        var state: UInt64 = 42
        func next() -> Int {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Int(truncatingIfNeeded: state >> 33)
        }
        for _ in 0..<3000 {
            let fields = (0..<(1 + next() % 12)).map { _ -> String in
                var text = String.UnicodeScalarView()
                for _ in 0..<(next() % 20) {
                    let pool = pools[next() % pools.count]
                    if let scalar = UnicodeScalar(pool[next() % pool.count]) { text.append(scalar) }
                }
                return String(text)
            }
            #expect(
                AuditChain.macInput(fields) == Self.foundation(fields),
                "\(fields.map { $0.unicodeScalars.map(\.value) })")
        }
    }
}
