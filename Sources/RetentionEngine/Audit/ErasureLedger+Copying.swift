import Crypto
import Foundation
import RetentionCore
import RetentionStore

/// Following the trail: what a copy adds, when old entries go, and a new key.
extension ErasureLedger {
    /// Entries of the trail the ledger copies.
    static let copied: Set<String> = [AuditAction.purge, .anonymise, .archive, .holdAdd, .holdRelease].map(\.rawValue).reduce(into: []) { $0.insert($1) }

    func line(copying entry: AuditEntry) -> Line? {
        guard Self.copied.contains(entry.action), !entry.subjectRef.isEmpty else { return nil }
        var line = Line(kind: .entry)
        line.seq = entry.seq
        // Enough of the trail entry's MAC to tell it from another (the ledger's seal covers it).
        line.tmac = String(entry.mac.prefix(16))
        line.at = entry.at
        line.run = entry.runID
        line.rule = entry.ruleID.isEmpty ? nil : entry.ruleID
        line.action = entry.action
        line.table = entry.table
        line.ref = entry.subjectRef
        // A run's own entries carry no detail worth a parse.
        if entry.detail.count > 2, let detail = try? JSONSerialization.jsonObject(with: Data(entry.detail.utf8)) as? [String: String] {
            line.request = detail["request"]
            line.hold = detail["hold_id"]
            line.until = detail["until"]
        }
        return line
    }

    /// What `sync` did.
    public struct SyncOutcome: Sendable, Equatable {
        public var copied = 0
        public var dropped = 0
    }

    /// Copies what the trail holds past the ledger's last position, under an exclusive lock on the
    /// ledger (two processes never append the same entries). Throws `auditTampered` when the
    /// trail no longer holds that position: erasures were undone by a restore and not re-applied.
    /// `keep`: entries older than it are dropped (`ledger.keep`), at most once a tenth of it late.
    @discardableResult
    public func sync(from store: any RecordReader, keep: RetentionDuration? = nil, now: Date = Date(), calendar: Calendar = .current) async throws -> SyncOutcome {
        try StateFiles.ensureDirectory((path as NSString).deletingLastPathComponent)
        let file = try await LockedFile.locking(path)
        defer { file.close() }
        // Only the end of the file is read: where the last sync stopped. Lines after its closing
        // line were cut short by a crash (the trail still has them, and they are copied again).
        let tail = try file.tail()
        let last = tail.line
        if tail.end < file.length { try file.truncate(to: tail.end) }
        let location = store.location
        // Where the trail stands against the ledger, in one read; then the copy.
        let (genesis, after) = try await store.read { [path] session -> (String?, Int64) in
            guard let genesis = try session.auditEntry(seq: 1)?.mac else { return (nil, 0) }
            guard let last else { return (genesis, 0) }
            guard try Self.stands(last, in: session) else {
                if last.kind == .start || last.kind == .compacted, try session.auditEntry(seq: 1)?.mac != last.genesis {
                    throw EnforcementError.auditTampered("the erasure ledger \(path) follows another audit trail than the one in \(location) (their first entries differ): this state directory served another database, or the trail was replaced; nothing was changed. Use this database's own state directory (docs/operations.md, \"After a restore\")")
                }
                throw EnforcementError.auditTampered(Self.replayPendingMessage(path: path, location: location))
            }
            return (genesis, last.seq ?? 0)
        }
        var outcome = SyncOutcome()
        if let genesis { outcome.copied = try await copy(from: store, after: after, last: last, tail: tail, genesis: genesis, into: file) }
        if let keep, let cutoff = keep.before(now, in: calendar) {
            outcome.dropped = try compact(file, before: cutoff, slack: keep)
        }
        return outcome
    }

    /// Copies the trail past entry `after` into `file` (after its closing line `last`), page by
    /// page, each page read on its own and sealed and written as it is read (memory stays flat
    /// whatever a run erased), then the closing `through` line and one sync of the file; returns
    /// the entries copied.
    private func copy(from store: any RecordReader, after: Int64, last: Line?, tail: LockedFile.Tail, genesis: String,
                      into file: LockedFile) async throws -> Int {
        let kid = key.fingerprint
        var sealer = Sealer(key: key.ledgerKey, after: last?.mac ?? Self.firstSeal)
        var pending: [Line] = []
        if last == nil {
            var start = Line(kind: .start)
            start.genesis = genesis
            start.kid = kid
            pending.append(start)
        }
        var copied = 0
        var newest: AuditEntry?
        var cursor = after
        while true {
            let page = try await store.read { [cursor] in try $0.auditEntries(after: cursor, limit: 5000, filter: AuditFilter()) }
            for entry in page {
                if let line = line(copying: entry) { pending.append(line); copied += 1 }
            }
            guard let lastEntry = page.last else { break }
            newest = lastEntry
            cursor = lastEntry.seq
            var text: [UInt8] = []
            text.reserveCapacity(pending.count * 200)
            for line in pending { text.append(contentsOf: sealer.bytes(of: line)) }
            try file.write(Data(text))
            pending = []
            if page.count < 5000 { break }
        }
        guard let newest else { return 0 }
        if copied == 0, last?.kind == .through, let before = tail.sealBefore {
            // Nothing erased since the last copy (a run that flagged or found nothing due), which
            // sealed nothing but its position: its `through` line is replaced, so the ledger
            // grows with what was erased, not with runs.
            try file.truncate(to: tail.start)
            sealer = Sealer(key: key.ledgerKey, after: before)
        }
        var through = Line(kind: .through)
        through.seq = newest.seq
        through.tmac = newest.mac
        through.kid = kid
        try file.write(Data(sealer.bytes(of: through)))
        try file.sync()
        return copied
    }

    static func replayPendingMessage(path: String, location: String) -> String {
        "the erasure ledger \(path) records erasures that the database \(location) no longer holds (its audit trail no longer holds the entry the ledger was last read up to): the database was restored from an older copy and what was erased since has not been erased again; nothing was changed. See what re-applying them does with `retentiond audit reanchor --dry-run`, then run `retentiond audit reanchor --reason … --by …` (docs/operations.md, \"After a restore\")"
    }

    /// Drops the entries older than `cutoff` when the oldest is older than `cutoff` by a tenth of
    /// `slack` (so the file is rewritten about ten times per `keep`, not on every run): the rest is
    /// sealed again after a `compacted` line that says how many went and until when.
    func compact(_ file: LockedFile, before cutoff: Date, slack: RetentionDuration) throws -> Int {
        let parser = ISO8601DateFormatter()
        parser.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        func date(_ line: Line) -> Date? { line.at.flatMap { parser.date(from: $0) ?? ISO8601DateFormatter().date(from: $0) } }
        let margin = (cutoff.timeIntervalSince1970 - (slack.before(cutoff, in: Calendar(identifier: .gregorian))?.timeIntervalSince1970 ?? cutoff.timeIntervalSince1970)) / 10
        // The oldest entry is among the first lines: the whole file is read only when some go.
        guard let oldest = try file.firstEntry().flatMap(date), oldest < cutoff.addingTimeInterval(-margin) else { return 0 }
        let lines = try Self.decode(try file.contents(), path: path).filter { $0.sealed }.map(\.line)
        guard let genesis = lines.first(where: { $0.genesis != nil })?.genesis else { return 0 }
        // Everything up to the last entry older than the cutoff goes; the closing lines after it stay.
        guard let lastOld = lines.lastIndex(where: { $0.kind == .entry && (date($0).map { $0 < cutoff } ?? false) }) else { return 0 }
        let dropped = lines[...lastOld].filter { $0.kind == .entry }.count
        var head = Line(kind: .compacted)
        head.genesis = genesis
        // With those an earlier compaction dropped.
        head.count = dropped + (lines.first?.kind == .compacted ? lines.first?.count ?? 0 : 0)
        head.before = ISO8601DateFormatter().string(from: cutoff)
        head.kid = key.fingerprint
        let kept = [head] + lines[(lastOld + 1)...]
        // Written whole and renamed into place: a crash leaves the old ledger or the new one.
        try StateFiles.writePrivate(sealed(Array(kept), after: Self.firstSeal).text, to: path)
        return dropped
    }

    /// Seals the whole ledger again with `newKey` (an audit key rotation), after checking it with
    /// this one; nothing when there is no ledger or it is already sealed with `newKey`.
    func reseal(with newKey: AuditKey) throws {
        let data = try contents()
        let lines = try Self.decode(data, path: path).filter { $0.sealed }.map(\.line)
        guard !lines.isEmpty else { return }
        let successor = ErasureLedger(path: path, key: newKey)
        if try successor.verify(data).isEmpty { return }
        let problems = try verify(data)
        guard problems.isEmpty else {
            throw EnforcementError.auditTampered("the erasure ledger \(path) is not intact (\(problems[0])); it was not sealed with the new key. `retentiond audit verify` lists the problems")
        }
        try StateFiles.writePrivate(successor.sealed(lines, after: Self.firstSeal).text, to: path)
    }
}
