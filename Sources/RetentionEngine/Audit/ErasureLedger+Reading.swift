import Crypto
import Foundation
import RetentionCore
import RetentionStore

/// Reading the ledger back: its lines, their seals (`audit verify`), where it stands in the trail.
extension ErasureLedger {
    /// The ledger's bytes (empty when there is none).
    func contents() throws -> Data {
        guard let data = FileManager.default.contents(atPath: path) else {
            if FileManager.default.fileExists(atPath: path) {
                throw EnforcementError.ledgerUnreadable(path: path)
            }
            return Data()
        }
        return data
    }

    /// The sealed lines, in order (lines after the last seal — a copy cut short — left out); throws
    /// when a line is not one the ledger writes.
    public func lines() throws -> [Line] {
        try Self.decode(try contents(), path: path).filter { $0.sealed }.map(\.line)
    }

    static func decode(_ data: Data, path: String) throws -> [(line: Line, raw: Data.SubSequence, sealed: Bool)] {
        let decoder = JSONDecoder()
        var lines: [(line: Line, raw: Data.SubSequence, sealed: Bool)] = []
        // A last line without its newline is being written (a run copies its batches as they
        // commit) or was cut short by a crash: it follows the last seal, and is left out.
        let whole =
            data.last == 0x0A ? data[...] : data[..<(data.lastIndex(of: 0x0A).map { $0 + 1 } ?? data.startIndex)]
        for (number, raw) in whole.split(separator: 0x0A, omittingEmptySubsequences: true).enumerated() {
            guard let line = try? decoder.decode(Line.self, from: raw) else {
                throw EnforcementError.notALedgerLine(path: path, line: number + 1)
            }
            lines.append((line, raw, false))
        }
        // An entry without `run` or `at` has those of the entry before it; its key is the one its
        // block's closing line names.
        var run: String?
        var at: String?
        var block: [Int] = []
        for i in lines.indices {
            if lines[i].line.closes {
                for j in block { lines[j].line.kid = lines[i].line.kid }
                block = []
                continue
            }
            if lines[i].line.run == nil { lines[i].line.run = run } else { run = lines[i].line.run }
            if lines[i].line.at == nil { lines[i].line.at = at } else { at = lines[i].line.at }
            block.append(i)
        }
        if let last = lines.lastIndex(where: { $0.line.closes }) {
            for i in 0...last { lines[i].sealed = true }
        }
        return lines
    }

    /// Problems in the ledger's seals, first block first (empty when intact or absent).
    public func verify(_ data: Data) throws -> [String] {
        let lines = try Self.decode(data, path: path)
        guard let first = lines.first else { return [] }
        var problems: [String] = []
        if first.line.kind != .start && first.line.kind != .compacted {
            problems.append("line 1 is a `\(first.line.kind.rawValue)` line: the ledger's beginning was removed")
        }
        var sealer = Sealer(key: key.ledgerKey, after: Self.firstSeal)
        var blockStart = 1
        for (i, (line, raw, _)) in lines.enumerated() {
            guard line.closes else {
                sealer.add(raw: raw)
                sealer.add(raw: [0x0A])
                continue
            }
            let expected =
                raw.count > Self.sealSuffixLength ? sealer.close(covering: raw.dropLast(Self.sealSuffixLength)) : ""
            if expected != line.mac || !raw.suffix(Self.sealSuffixLength).starts(with: Array(",\"mac\":\"".utf8)) {
                let lines = blockStart == i + 1 ? "line \(i + 1)" : "lines \(blockStart)–\(i + 1)"
                problems.append(
                    "\(lines) (sealed by the `\(line.kind.rawValue)` line\(line.seq.map { " of trail entry \($0)" } ?? "")) do not verify: one was changed, removed or reordered, or the ledger was sealed with another audit key"
                )
                if problems.count >= 20 { break }
                // Go on from the seal as written, so one bad block is not reported again for every block after it.
                sealer = Sealer(key: key.ledgerKey, after: line.mac ?? "")
            }
            blockStart = i + 2
        }
        return problems
    }

    /// What `audit verify` says of the ledger.
    public struct Verification: Sendable {
        public var exists = false
        public var entries = 0
        public var problems: [String] = []
        /// The ledger holds erasures the database no longer holds (a restore not yet re-applied).
        public var replayPending = false
    }

    public func verification(against store: any RecordReader) async throws -> Verification {
        guard FileManager.default.fileExists(atPath: path) else { return Verification() }
        var result = Verification(exists: true)
        let data = try contents()
        let lines: [Line]
        do { lines = try Self.decode(data, path: path).filter { $0.sealed }.map(\.line) } catch let failure
            as EnforcementError
        {
            result.problems = [failure.description]
            return result
        }
        result.entries = lines.filter { $0.kind == .entry }.count
        result.problems = try verify(data)
        if result.problems.isEmpty, let last = lines.last(where: \.closes) {
            result.replayPending = try await !store.read { try Self.stands(last, in: $0) }
        }
        return result
    }

    /// Whether the trail in `session` still holds the position `line` records.
    static func stands(_ line: Line, in session: any StoreSession) throws -> Bool {
        switch line.kind {
        case .start, .compacted:
            return try session.auditEntry(seq: 1)?.mac == line.genesis
        case .through, .replayed:
            guard let seq = line.seq else { return false }
            return try session.auditEntry(seq: seq)?.mac == line.tmac
        case .entry:
            return false
        }
    }
}
