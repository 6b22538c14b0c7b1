import Crypto
import Foundation
import RetentionCore
import RetentionStore

/// How the ledger's lines are sealed: one seal per copy, over every byte since the last one.
extension ErasureLedger {
    /// Seals lines as they are written. Only the lines that close a copy (`Line.closes`) carry a
    /// seal: an HMAC, under a key derived from the audit key, of the previous seal and of every byte
    /// written since — the entries copied and the closing line itself up to its `mac` member. One
    /// seal per copy, not per entry: a run that erased a hundred thousand records hashes their
    /// lines once and seals them once.
    struct Sealer {
        let key: SymmetricKey
        private var mac: HMAC<SHA256>
        /// The last seal made (or the one the sealer started after).
        private(set) var previous: String

        init(key: SymmetricKey, after previous: String) {
            self.key = key
            self.previous = previous
            mac = HMAC(key: key)
            mac.update(data: Array((previous + "\n").utf8))
        }

        /// The run and time of the last entry written: the next one leaves them out when they
        /// are the same (as the key's fingerprint, which the closing line after them says).
        private var lastRun: String?
        private var lastAt: String?

        /// The bytes of `line` as written, newline included.
        mutating func bytes(of line: Line) -> [UInt8] {
            var out: [UInt8] = []
            write(line, into: &out)
            return out
        }

        /// Appends the bytes of `line` as written, newline included, to `out`.
        mutating func write(_ line: Line, into out: inout [UInt8]) {
            let start = out.count
            guard line.closes else {
                line.write(
                    into: &out, run: line.run == lastRun ? nil : line.run, at: line.at == lastAt ? nil : line.at,
                    kid: nil)
                (lastRun, lastAt) = (line.run, line.at)
                out.append(0x0A)
                out.withUnsafeBytes { mac.update(data: UnsafeRawBufferPointer(rebasing: $0[start...])) }
                return
            }
            line.write(into: &out, run: line.run, at: line.at, kid: line.kid)
            out.removeLast()
            previous = out.withUnsafeBytes { close(covering: UnsafeRawBufferPointer(rebasing: $0[start...])) }
            out.append(contentsOf: Array(",\"mac\":\"\(previous)\"}\n".utf8))
        }

        /// The seal of what was added since the last one, ending with `closing` (a closing
        /// line's bytes before its `mac` member); starts the next block.
        mutating func close(covering closing: some Sequence<UInt8>) -> String {
            mac.update(data: Array(closing))
            let seal = Data(mac.finalize()).hexEncoded
            mac = HMAC(key: key)
            mac.update(data: Array((seal + "\n").utf8))
            return seal
        }

        /// Adds a line as read from the file (an entry, newline included) without sealing.
        mutating func add(raw bytes: some Sequence<UInt8>) { mac.update(data: Array(bytes)) }
    }

    /// `lines` as the text to append after the seal `previous`, and the last seal.
    func sealed(_ lines: [Line], after previous: String) -> (text: Data, last: String) {
        var sealer = Sealer(key: key.ledgerKey, after: previous)
        var out: [UInt8] = []
        for line in lines { sealer.write(line, into: &out) }
        return (Data(out), sealer.previous)
    }

    static let firstSeal = String(repeating: "0", count: 64)
    /// `,"mac":"` + 64 hex digits + `"}`: how a closing line ends.
    static let sealSuffixLength = 74
}
