import Crypto
import Foundation

/// Seals audit entries into a keyed hash chain and checks a chain for tampering.
///
/// Each entry's MAC covers its own fields and the previous entry's MAC, so editing, deleting or
/// reordering any entry breaks every MAC after it; the last head, kept outside the database,
/// catches a truncated tail.
public struct AuditChain: Sendable {
    let key: AuditKey
    /// HMAC states with their key already absorbed: each MAC copies one instead of hashing the key
    /// again (two SHA-256 blocks per entry saved, on every reference and every seal).
    private let referenceMAC: HMAC<SHA256>
    private let chainMAC: HMAC<SHA256>

    public init(key: AuditKey) {
        self.key = key
        referenceMAC = HMAC(key: key.referenceKey)
        chainMAC = HMAC(key: key.chainKey)
    }

    /// The pseudonymous reference of a record: a keyed digest of its table and key, stable across runs.
    public func reference(table: String, key recordKey: RecordKey) -> String {
        var mac = referenceMAC
        var input = table + "\u{0}" + recordKey.canonical
        input.withUTF8 { mac.update(data: UnsafeRawBufferPointer($0)) }
        return mac.finalize().hexEncoded
    }

    /// Seals drafts after `head`, returning the entries and the new head.
    public func seal(_ drafts: [AuditDraft], after head: AuditHead, at time: Date) -> (
        entries: [AuditEntry], head: AuditHead
    ) {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        let at = formatter.string(from: time)
        var previous = head
        var entries: [AuditEntry] = []
        entries.reserveCapacity(drafts.count)
        for draft in drafts {
            var entry = AuditEntry(
                seq: previous.seq + 1, runID: draft.runID, at: at, actor: draft.actor, policyHash: draft.policyHash,
                ruleID: draft.ruleID, action: draft.action.rawValue, table: draft.table, subjectRef: draft.subjectRef,
                fields: draft.fields.joined(separator: ","), detail: Self.detailJSON(draft.detail),
                prevMAC: previous.mac, mac: "")
            entry.mac = mac(of: entry)
            entries.append(entry)
            previous = AuditHead(seq: entry.seq, mac: entry.mac)
        }
        return (entries, previous)
    }

    public func mac(of entry: AuditEntry) -> String {
        let fields = [
            String(entry.seq), entry.runID, entry.at, entry.actor, entry.policyHash, entry.ruleID, entry.action,
            entry.table, entry.subjectRef, entry.fields, entry.detail, entry.prevMAC,
        ]
        var mac = chainMAC
        mac.update(data: Self.macInput(fields))
        return mac.finalize().hexEncoded
    }

    /// The bytes an entry's MAC covers: its fields as a JSON array of strings, an unambiguous
    /// encoding (no two field lists give the same bytes). Written byte for byte as Foundation's
    /// JSONSerialization writes it, which sealed every trail so far (`"`, `\` and `/` escaped with a
    /// backslash, `\b \t \n \f \r`, other control characters as `\u00xx`, everything else as
    /// UTF-8), without its cost per entry; a test compares the two on thousands of strings.
    static func macInput(_ fields: [String]) -> [UInt8] {
        var out: [UInt8] = [UInt8(ascii: "[")]
        out.reserveCapacity(fields.reduce(2) { $0 + $1.utf8.count + 3 })
        for (index, field) in fields.enumerated() {
            if index > 0 { out.append(UInt8(ascii: ",")) }
            JSONText.appendString(field, to: &out, escapingSlash: true)
        }
        out.append(UInt8(ascii: "]"))
        return out
    }

    static func detailJSON(_ detail: [String: String]) -> String {
        guard !detail.isEmpty else { return "{}" }
        let data = try! JSONSerialization.data(withJSONObject: detail, options: [.sortedKeys])
        return String(decoding: data, as: UTF8.self)
    }

    /// One problem found by `verify`.
    public struct Problem: Sendable, Hashable, CustomStringConvertible {
        public var seq: Int64
        public var message: String
        public var description: String { "entry \(seq): \(message)" }
    }

    /// A SHA-256 over every field of entries, in order, MAC included: what a key rotation seals the
    /// entries before it with. Unlike their MACs, it needs no key to recompute, so the trail verifies
    /// with the new key alone; any change to a sealed entry (even by someone holding the old key)
    /// changes it.
    public struct SealDigest {
        private var hash = SHA256()
        public private(set) var count: Int64 = 0

        public init() {}

        public mutating func add(_ entry: AuditEntry) {
            hash.update(
                data: AuditChain.macInput([
                    String(entry.seq), entry.runID, entry.at, entry.actor, entry.policyHash, entry.ruleID,
                    entry.action, entry.table, entry.subjectRef, entry.fields, entry.detail,
                    entry.prevMAC, entry.mac,
                ]))
            count += 1
        }

        /// The digest so far, as hex (the hash itself goes on).
        public var hex: String { hash.finalize().hexEncoded }
    }

    /// Checks entries given in ascending `seq` order, one at a time, so a trail of any length
    /// verifies in constant memory.
    ///
    /// `sealedThrough`: the entries up to this one were sealed by a key rotation (the entry after
    /// it, sealed with this chain's key): they are checked by their order, their links and the
    /// rotation's digest, not by MACs of a key that is gone.
    public struct Verifier {
        let chain: AuditChain
        let sealedThrough: Int64
        private var sealed = SealDigest()
        public private(set) var head = AuditHead.genesis
        public private(set) var problems: [Problem] = []
        public private(set) var count = 0

        public init(chain: AuditChain, sealedThrough: Int64 = 0) {
            self.chain = chain
            self.sealedThrough = sealedThrough
        }

        public mutating func check(_ entry: AuditEntry) {
            if entry.seq <= sealedThrough {
                sealed.add(entry)
                checkOrder(entry)
                head = AuditHead(seq: entry.seq, mac: entry.mac)
                return
            }
            if sealedThrough > 0, entry.seq == sealedThrough + 1 { checkSeal(entry) }
            checkOrder(entry)
            if chain.mac(of: entry) != entry.mac {
                problems.append(Problem(seq: entry.seq, message: "its content does not match its MAC (modified)"))
            }
            head = AuditHead(seq: entry.seq, mac: entry.mac)
        }

        /// The rotation entry against the entries it sealed: their number, their digest, the old head.
        private mutating func checkSeal(_ entry: AuditEntry) {
            let detail = (try? JSONSerialization.jsonObject(with: Data(entry.detail.utf8))) as? [String: String] ?? [:]
            guard entry.action == AuditAction.keyRotated.rawValue, let digest = detail["sealed_digest"],
                let entries = detail["sealed_entries"].flatMap({ Int64($0) })
            else {
                problems.append(
                    Problem(
                        seq: entry.seq, message: "is not the key rotation that sealed the entries before it (replaced)")
                )
                return
            }
            if entries != sealed.count || digest != sealed.hex {
                problems.append(
                    Problem(
                        seq: entry.seq,
                        message:
                            "the \(entries) entries this key rotation sealed no longer match its digest: an entry before it was modified, removed or added"
                    ))
            }
        }

        private mutating func checkOrder(_ entry: AuditEntry) {
            count += 1
            if entry.seq != head.seq + 1 {
                if entry.seq > head.seq + 1 {
                    problems.append(
                        Problem(
                            seq: head.seq + 1, message: "entries \(head.seq + 1)…\(entry.seq - 1) are missing (deleted)"
                        ))
                } else {
                    problems.append(
                        Problem(
                            seq: entry.seq, message: "out of order after entry \(head.seq) (reordered or duplicated)"))
                }
            }
            if entry.prevMAC != head.mac, entry.seq == head.seq + 1 {
                problems.append(
                    Problem(
                        seq: entry.seq,
                        message: "does not follow entry \(head.seq) (the chain was cut or reordered here)"))
            }
        }

        /// Compares the end of the chain with the head recorded outside the database.
        public mutating func finish(recordedHead: AuditHead?, macAtRecordedSeq: String?) {
            guard let recorded = recordedHead, recorded.seq > 0 else { return }
            if head.seq < recorded.seq {
                problems.append(
                    Problem(
                        seq: head.seq + 1,
                        message:
                            "the trail ends at entry \(head.seq) but entry \(recorded.seq) was recorded: entries were removed from the end (truncated)"
                    ))
            } else if let mac = macAtRecordedSeq, mac != recorded.mac {
                problems.append(
                    Problem(
                        seq: recorded.seq, message: "differs from the head recorded in the state directory (rewritten)")
                )
            }
        }
    }
}
