import Crypto
import Foundation
import RetentionCore
import RetentionStore

/// Following the trail: what a copy adds, when old entries go, and a new key.
extension ErasureLedger {
    /// Entries of the trail the ledger copies.
    static let copied: Set<String> = [AuditAction.purge, .anonymise, .archive, .holdAdd, .holdRelease].map(\.rawValue)
        .reduce(into: []) { $0.insert($1) }

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
        if entry.detail.count > 2,
            let detail = try? JSONSerialization.jsonObject(with: Data(entry.detail.utf8)) as? [String: String]
        {
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

    /// Where a copy by this process left the ledger: lets the next copy go on from there without
    /// reading the file back or the trail again — only while nobody else wrote to the file since
    /// (the same file, at the same length), which `copy` checks under the lock.
    struct Continuation: Sendable {
        var sealer: Sealer
        /// The last trail entry copied or passed over, and its MAC.
        var through: Int64
        var throughMAC: String
        /// Entries written since the last closing line: not sealed until the next closing line.
        var unsealed: Int
        var file: LockedFile.Identity
    }

    /// Copies what the trail holds past the ledger's last position, under an exclusive lock on the
    /// ledger (two processes never append the same entries). Throws `auditTampered` when the
    /// trail no longer holds that position: erasures were undone by a restore and not re-applied.
    /// `keep`: entries older than it are dropped (`ledger.keep`), at most once a tenth of it late.
    @discardableResult
    public func sync(
        from store: any RecordReader, keep: RetentionDuration? = nil, now: Date = Date(), calendar: Calendar = .current
    ) async throws -> SyncOutcome {
        try await copy(from: store, closing: true, keep: keep, now: now, calendar: calendar).outcome
    }

    /// The one way lines join the ledger. Under the ledger's lock: where it stands — `continuing`
    /// when nobody wrote to the file since, else read from its last closing line (lines after it
    /// were cut short by a crash or belong to a copy that never closed: cut, and copied again from
    /// the trail, whose position there is checked) —, then the trail's entries past that position:
    /// those before `entries` read from the trail, `entries` (a batch just committed, in hand) as
    /// they are, and with `closing` the rest of the trail, a closing `through` line and one sync of
    /// the file. Without `closing` the lines written wait, unsealed, for a later closing copy.
    /// Returns where the copy left the ledger.
    func copy(
        from store: any RecordReader, entries: [AuditEntry] = [], continuing: Continuation? = nil, closing: Bool,
        keep: RetentionDuration? = nil, now: Date = Date(), calendar: Calendar = .current
    ) async throws -> (outcome: SyncOutcome, continuation: Continuation?) {
        try StateFiles.ensureDirectory((path as NSString).deletingLastPathComponent)
        let file = try await LockedFile.locking(path)
        defer { file.close() }
        var state: Continuation
        var start: Line?
        var tail: LockedFile.Tail?
        if let continuing, continuing.file == file.identity {
            state = continuing
        } else {
            let found = try file.tail()
            tail = found
            if found.end < file.length { try file.truncate(to: found.end) }
            guard let position = try await position(of: found.line, in: store) else { return (SyncOutcome(), nil) }
            state = Continuation(
                sealer: Sealer(key: key.ledgerKey, after: found.line?.mac ?? Self.firstSeal), through: position.through,
                throughMAC: found.line?.tmac ?? "", unsealed: 0, file: file.identity)
            if found.line == nil {
                start = Line(kind: .start)
                start?.genesis = position.genesis
                start?.kid = key.fingerprint
            }
        }
        var outcome = SyncOutcome()
        var moved = false
        var text: [UInt8] = []
        // Appends the lines of `page`'s entries past the ledger's position.
        func add(_ page: some Collection<AuditEntry>) {
            text.reserveCapacity(text.count + page.count * 200)
            for entry in page where entry.seq > state.through {
                if let line = line(copying: entry) {
                    state.sealer.write(line, into: &text)
                    state.unsealed += 1
                    outcome.copied += 1
                }
                (state.through, state.throughMAC) = (entry.seq, entry.mac)
                moved = true
            }
        }
        if let start { state.sealer.write(start, into: &text) }
        // The trail before `entries` (nothing, when they follow the ledger's position), then them,
        // then with `closing` the rest: a page at a time, written as read (memory stays flat).
        let before = entries.first?.seq ?? (closing ? .max : state.through + 1)
        while state.through + 1 < before {
            let page = try await store.read { [through = state.through] in
                try $0.auditEntries(after: through, limit: 5000, filter: AuditFilter())
            }
            add(page.prefix { $0.seq < before })
            try file.write(Data(text))
            text = []
            if page.count < 5000 || page.contains(where: { $0.seq >= before }) { break }
        }
        add(entries)
        try file.write(Data(text))
        text = []
        if closing, !entries.isEmpty {
            while true {
                let page = try await store.read { [through = state.through] in
                    try $0.auditEntries(after: through, limit: 5000, filter: AuditFilter())
                }
                add(page)
                try file.write(Data(text))
                text = []
                if page.count < 5000 { break }
            }
        }
        guard closing else {
            state.file = file.identity
            return (outcome, state)
        }
        guard moved || state.unsealed > 0 else {
            // Nothing past the position: the ledger stands where it stood.
            if let keep, let cutoff = keep.before(now, in: calendar) {
                outcome.dropped = try compact(file, before: cutoff, slack: keep)
            }
            state.file = file.identity
            return (outcome, outcome.dropped > 0 ? nil : state)
        }
        if state.unsealed == 0, start == nil, let tail, tail.line?.kind == .through, let before = tail.sealBefore {
            // Nothing erased since the last copy (a run that flagged or found nothing due), which
            // sealed nothing but its position: its `through` line is replaced, so the ledger
            // grows with what was erased, not with runs.
            try file.truncate(to: tail.start)
            state.sealer = Sealer(key: key.ledgerKey, after: before)
        }
        var through = Line(kind: .through)
        through.seq = state.through
        through.tmac = state.throughMAC
        through.kid = key.fingerprint
        try file.write(Data(state.sealer.bytes(of: through)))
        try file.sync()
        state.unsealed = 0
        if let keep, let cutoff = keep.before(now, in: calendar) {
            outcome.dropped = try compact(file, before: cutoff, slack: keep)
            if outcome.dropped > 0 { return (outcome, nil) }
        }
        state.file = file.identity
        return (outcome, state)
    }

    /// The trail's first entry's MAC and the entry the ledger stands at, read in one go; nil when
    /// the trail is empty. Throws when the trail no longer holds the ledger's position.
    private func position(of last: Line?, in store: any RecordReader) async throws -> (genesis: String, through: Int64)?
    {
        let location = store.location
        return try await store.read { [path] session -> (String, Int64)? in
            guard let genesis = try session.auditEntry(seq: 1)?.mac else { return nil }
            guard let last else { return (genesis, 0) }
            guard try Self.stands(last, in: session) else {
                if last.kind == .start || last.kind == .compacted, try session.auditEntry(seq: 1)?.mac != last.genesis {
                    throw EnforcementError.ledgerOfAnotherTrail(path: path, location: location)
                }
                throw EnforcementError.erasuresToReplay(ledgerPath: path, location: location)
            }
            return (genesis, last.seq ?? 0)
        }
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
        func date(_ line: Line) -> Date? {
            line.at.flatMap { parser.date(from: $0) ?? ISO8601DateFormatter().date(from: $0) }
        }
        let margin =
            (cutoff.timeIntervalSince1970
                - (slack.before(cutoff, in: Calendar(identifier: .gregorian))?.timeIntervalSince1970
                    ?? cutoff.timeIntervalSince1970))
            / 10
        // The oldest entry is among the first lines: the whole file is read only when some go.
        guard let oldest = try file.firstEntry().flatMap(date), oldest < cutoff.addingTimeInterval(-margin) else {
            return 0
        }
        let lines = try Self.decode(try file.contents(), path: path).filter { $0.sealed }.map(\.line)
        guard let genesis = lines.first(where: { $0.genesis != nil })?.genesis else { return 0 }
        // Everything up to the last entry older than the cutoff goes; the closing lines after it stay.
        guard let lastOld = lines.lastIndex(where: { $0.kind == .entry && (date($0).map { $0 < cutoff } ?? false) })
        else { return 0 }
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
            throw EnforcementError.ledgerNotIntactToRotate(path: path, first: "\(problems[0])")
        }
        try StateFiles.writePrivate(successor.sealed(lines, after: Self.firstSeal).text, to: path)
    }
}
