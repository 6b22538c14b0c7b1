import Crypto
import Foundation
import RetentionCore
import RetentionStore

/// After a restore: what the database lost that the ledger holds, and closing the replay.
extension ErasureLedger {
    /// The erasures (and holds) the ledger records that the database no longer holds.
    public struct Lost: Sendable {
        /// The entries the trail lost, oldest first.
        public var entries: [Line]
        /// The newest position the ledger records that the trail still holds.
        var checkpoint: Line
        /// The MACs of the trail entries the ledger copied after the checkpoint (lost or not).
        var copiedAfterCheckpoint: Set<String>
    }

    /// Nil when the trail still holds the ledger's last position (nothing to re-apply); throws
    /// when the ledger is not intact or follows another trail (it must not drive a deletion).
    public func lost(in store: any RecordReader) async throws -> Lost? {
        let data = try contents()
        let lines = try Self.decode(data, path: path).filter { $0.sealed }.map(\.line)
        guard !lines.isEmpty else { return nil }
        let problems = try verify(data)
        guard problems.isEmpty else {
            throw EnforcementError.ledgerNotIntactToReplay(path: path, problems: problems.map { "\($0)" })
        }
        let location = store.location
        return try await store.read { [path] session -> Lost? in
            var checkpoint: Int?
            for index in lines.indices.reversed() where lines[index].closes {
                if try Self.stands(lines[index], in: session) {
                    checkpoint = index
                    break
                }
            }
            guard let checkpointIndex = checkpoint else {
                throw EnforcementError.ledgerOfAnotherTrail(path: path, location: location)
            }
            guard checkpointIndex != lines.indices.last(where: { lines[$0].closes }) else { return nil }
            let after = lines[(checkpointIndex + 1)...].filter { $0.kind == .entry }
            // The trail's entries past the checkpoint, as far as the ledger copied: which still stand.
            var macs: [Int64: String] = [:]
            var cursor = lines[checkpointIndex].seq ?? 0
            let last = after.compactMap(\.seq).max() ?? cursor
            while cursor < last {
                let page = try session.auditEntries(after: cursor, limit: 5000, filter: AuditFilter())
                for entry in page { macs[entry.seq] = entry.mac }
                guard let newest = page.last, page.count == 5000 else { break }
                cursor = newest.seq
            }
            let lost = after.filter { line in
                line.seq.map { !(macs[$0]?.hasPrefix(line.tmac ?? "-") ?? false) } ?? false
            }
            return Lost(
                entries: lost, checkpoint: lines[checkpointIndex], copiedAfterCheckpoint: Set(after.compactMap(\.tmac)))
        }
    }

    /// After the lost erasures were re-applied: copies the trail past the checkpoint (what the
    /// restored trail and the replay added, each entry once), then a `replayed` line that the next
    /// `sync` continues from.
    func closeReplay(_ lost: Lost, replayed: Int, in store: any RecordReader) async throws {
        let file = try await LockedFile.locking(path)
        defer { file.close() }
        let tail = try file.tail()
        let last = tail.line
        if tail.end < file.length { try file.truncate(to: tail.end) }
        let kid = key.fingerprint
        let additions = try await store.read { session -> [Line] in
            var additions: [Line] = []
            var cursor = lost.checkpoint.seq ?? 0
            var newest: AuditEntry?
            while true {
                let page = try session.auditEntries(after: cursor, limit: 5000, filter: AuditFilter())
                for entry in page where !lost.copiedAfterCheckpoint.contains(String(entry.mac.prefix(16))) {
                    if let line = self.line(copying: entry) { additions.append(line) }
                }
                guard let last = page.last else { break }
                newest = last
                cursor = last.seq
                if page.count < 5000 { break }
            }
            var closing = Line(kind: .replayed)
            closing.count = replayed
            closing.seq = newest?.seq ?? lost.checkpoint.seq
            closing.tmac = newest?.mac ?? lost.checkpoint.tmac
            closing.kid = kid
            closing.genesis = try session.auditEntry(seq: 1)?.mac
            return additions + [closing]
        }
        try file.write(sealed(additions, after: last?.mac ?? Self.firstSeal).text)
        try file.sync()
    }
}
