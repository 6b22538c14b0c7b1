import Crypto
import Foundation
import RetentionCore
import RetentionStore

/// What was erased, kept outside the database so that a restore cannot take it back
/// (`<state_dir>/erasure-ledger.jsonl`, 0600, beside the audit head).
///
/// One JSON line per record purged or anonymised, and per legal hold placed or released, copied
/// from the audit trail — its pseudonymous reference, the rule, the action, the run, the time and
/// the trail entry it copies (sequence number and MAC); never a personal value. Each line is
/// sealed with a key derived from the audit key, over the previous line's seal: a line changed,
/// removed or reordered is found by `verify`, as in the trail.
///
/// The ledger follows the trail: `sync` appends what the trail holds past the ledger's last
/// `through` line (the trail entry it was read up to), then a new `through` line. A database
/// restored from an older copy no longer holds that entry: the ledger then holds erasures the
/// database lost, and `LedgerReplay` re-applies them (`audit reanchor`); until it has, `sync`
/// refuses, so no enforcing run starts on a database whose erasures were undone.
public struct ErasureLedger: Sendable {
    public let path: String
    let key: AuditKey

    public static func path(stateDirectory: String) -> String { stateDirectory + "/erasure-ledger.jsonl" }

    public init(stateDirectory: String, key: AuditKey) {
        path = Self.path(stateDirectory: stateDirectory)
        self.key = key
    }

    /// One line of the ledger. Which fields are set depends on `kind`.
    public struct Line: Codable, Sendable, Equatable {
        public enum Kind: String, Codable, Sendable {
            /// The first line: the trail this ledger follows (its first entry's MAC).
            case start
            /// A trail entry copied: purge, anonymise, hold-add or hold-release.
            case entry
            /// The trail was read up to entry `seq`, whose MAC is `tmac`.
            case through
            /// Erasures a restore undid were re-applied (`count`), from the trail entry `seq` on.
            case replayed
            /// Entries older than `before` were dropped (`count`; `ledger.keep`), by a ledger that
            /// followed the trail whose first entry's MAC is `genesis`.
            case compacted
        }
        public var kind: Kind
        public var seq: Int64?
        public var tmac: String?
        public var at: String?
        public var run: String?
        public var rule: String?
        public var action: String?
        public var table: String?
        public var ref: String?
        /// The fingerprint of the audit key whose reference key made `ref` (`AuditKey.fingerprint`).
        public var kid: String?
        /// An erasure request's reference, or a hold's id.
        public var request: String?
        public var hold: String?
        /// When a hold placed ends, if it does (ISO 8601).
        public var until: String?
        public var genesis: String?
        public var count: Int?
        public var before: String?
        public var mac: String?

        public init(kind: Kind) { self.kind = kind }

        /// Lines a sync ends with: where the ledger stands in the trail.
        var closes: Bool { kind != .entry }
    }

    // MARK: Sealing

    static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }()

    /// The seal of `line` (its `mac` left out) after the line sealed `previous`.
    func seal(_ line: Line, after previous: String) throws -> String {
        var body = line
        body.mac = nil
        var mac = HMAC<SHA256>(key: key.ledgerKey)
        mac.update(data: Data((previous + "\n").utf8))
        mac.update(data: try Self.encoder.encode(body))
        return Data(mac.finalize()).hexEncoded
    }

    /// `lines` sealed one after the other from `previous`, as the text to append.
    func sealed(_ lines: [Line], after previous: String) throws -> (text: Data, last: String) {
        var out = Data()
        var previous = previous
        for var line in lines {
            line.mac = try seal(line, after: previous)
            previous = line.mac!
            out.append(try Self.encoder.encode(line))
            out.append(0x0A)
        }
        return (out, previous)
    }

    static let firstSeal = String(repeating: "0", count: 64)

    // MARK: Reading

    /// Every line, in order; throws when a line is not one the ledger writes.
    public func lines() throws -> [Line] {
        guard let data = FileManager.default.contents(atPath: path) else {
            if FileManager.default.fileExists(atPath: path) { throw EnforcementError.cannotWrite("cannot read the erasure ledger \(path): give the user running retentiond read access") }
            return []
        }
        let decoder = JSONDecoder()
        var lines: [Line] = []
        for (number, text) in data.split(separator: 0x0A, omittingEmptySubsequences: true).enumerated() {
            guard let line = try? decoder.decode(Line.self, from: text) else {
                throw EnforcementError.auditTampered("the erasure ledger \(path) line \(number + 1) is not a ledger line: the file was edited or damaged")
            }
            lines.append(line)
        }
        return lines
    }

    /// Problems in the ledger's seals, first line first (empty when intact or absent).
    public func verify(_ lines: [Line]) throws -> [String] {
        var problems: [String] = []
        guard let first = lines.first else { return [] }
        if first.kind != .start && first.kind != .compacted {
            problems.append("line 1 is a `\(first.kind.rawValue)` line: the ledger's beginning was removed")
        }
        var previous = Self.firstSeal
        for (i, line) in lines.enumerated() {
            if try seal(line, after: previous) != line.mac {
                problems.append("line \(i + 1) (\(line.kind.rawValue)\(line.seq.map { " of trail entry \($0)" } ?? "")) does not verify: it was changed, or a line before it was removed or reordered, or the ledger was sealed with another audit key")
                if problems.count >= 20 { break }
            }
            previous = line.mac ?? ""
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
        let lines: [Line]
        do { lines = try self.lines() } catch let failure as EnforcementError {
            result.problems = [failure.description]
            return result
        }
        result.entries = lines.filter { $0.kind == .entry }.count
        result.problems = try verify(lines)
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

    // MARK: Following the trail

    /// Entries of the trail the ledger copies.
    static let copied: Set<String> = [AuditAction.purge, .anonymise, .holdAdd, .holdRelease].map(\.rawValue).reduce(into: []) { $0.insert($1) }

    func line(copying entry: AuditEntry) -> Line? {
        guard Self.copied.contains(entry.action), !entry.subjectRef.isEmpty else { return nil }
        var line = Line(kind: .entry)
        line.seq = entry.seq
        line.tmac = entry.mac
        line.at = entry.at
        line.run = entry.runID
        line.rule = entry.ruleID.isEmpty ? nil : entry.ruleID
        line.action = entry.action
        line.table = entry.table
        line.ref = entry.subjectRef
        line.kid = key.fingerprint
        if let detail = try? JSONSerialization.jsonObject(with: Data(entry.detail.utf8)) as? [String: String] {
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
        let file = try LockedFile(path: path)
        defer { file.close() }
        // Only the end of the file is read: where the last sync stopped. Lines after its closing
        // line were cut short by a crash (the trail still has them, and they are copied again).
        let tail = try file.tail()
        let last = tail.line
        if tail.end < file.length { try file.truncate(to: tail.end) }
        let location = store.location
        let key = self.key
        // Copied page by page, each page sealed and written as it is read (memory stays flat
        // whatever the run erased); the closing `through` line, then one sync of the file.
        let copied = try await store.read { [path] session -> Int in
            guard let genesis = try session.auditEntry(seq: 1)?.mac else { return 0 }
            var previous = last?.mac ?? Self.firstSeal
            var pending: [Line] = []
            var after: Int64 = 0
            if let last {
                guard try Self.stands(last, in: session) else {
                    if last.kind == .start || last.kind == .compacted, try session.auditEntry(seq: 1)?.mac != last.genesis {
                        throw EnforcementError.auditTampered("the erasure ledger \(path) follows another audit trail than the one in \(location) (their first entries differ): this state directory served another database, or the trail was replaced; nothing was changed. Use this database's own state directory (docs/operations.md, \"After a restore\")")
                    }
                    throw EnforcementError.auditTampered(Self.replayPendingMessage(path: path, location: location))
                }
                after = last.seq ?? 0
            } else {
                var start = Line(kind: .start)
                start.genesis = genesis
                start.kid = key.fingerprint
                pending.append(start)
            }
            var copied = 0
            var newest: AuditEntry?
            while true {
                let page = try session.auditEntries(after: after, limit: 5000, filter: AuditFilter())
                for entry in page {
                    if let line = self.line(copying: entry) { pending.append(line); copied += 1 }
                }
                guard let last = page.last else { break }
                newest = last
                after = last.seq
                let (text, seal) = try self.sealed(pending, after: previous)
                try file.write(text)
                (previous, pending) = (seal, [])
                if page.count < 5000 { break }
            }
            guard let newest else { return 0 }
            if copied == 0, last?.kind == .through {
                // Nothing erased since the last copy (a run that flagged or found nothing due):
                // its `through` line is replaced, so the ledger grows with what was erased, not with runs.
                try file.truncate(to: tail.start)
                previous = tail.previousSeal
            }
            var through = Line(kind: .through)
            through.seq = newest.seq
            through.tmac = newest.mac
            try file.write(try self.sealed([through], after: previous).text)
            try file.sync()
            return copied
        }
        var outcome = SyncOutcome(copied: copied)
        if let keep, let cutoff = keep.before(now, in: calendar) {
            outcome.dropped = try compact(file, before: cutoff, slack: keep)
        }
        return outcome
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
        let (lines, _) = try file.readLines()
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
        try StateFiles.writePrivate(try sealed(Array(kept), after: Self.firstSeal).text, to: path)
        return dropped
    }

    /// Seals the whole ledger again with `newKey` (an audit key rotation), after checking it with
    /// this one; nothing when there is no ledger or it is already sealed with `newKey`.
    func reseal(with newKey: AuditKey) throws {
        let lines = try self.lines()
        guard !lines.isEmpty else { return }
        let successor = ErasureLedger(path: path, key: newKey)
        if try successor.verify(lines).isEmpty { return }
        let problems = try verify(lines)
        guard problems.isEmpty else {
            throw EnforcementError.auditTampered("the erasure ledger \(path) is not intact (\(problems[0])); it was not sealed with the new key. `retentiond audit verify` lists the problems")
        }
        try StateFiles.writePrivate(try successor.sealed(lines, after: Self.firstSeal).text, to: path)
    }

    init(path: String, key: AuditKey) {
        self.path = path
        self.key = key
    }

    // MARK: After a restore

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
        let lines = try self.lines()
        guard !lines.isEmpty else { return nil }
        let problems = try verify(lines)
        guard problems.isEmpty else {
            throw EnforcementError.auditTampered("the erasure ledger \(path) is not intact (\(problems.count) problem(s), first: \(problems[0])): it cannot be trusted to say what to erase again, so nothing was changed. Restore it from a copy kept elsewhere (docs/operations.md, \"After a restore\")")
        }
        let location = store.location
        return try await store.read { [path] session -> Lost? in
            var checkpoint: Int?
            for index in lines.indices.reversed() where lines[index].closes {
                if try Self.stands(lines[index], in: session) { checkpoint = index; break }
            }
            guard let checkpointIndex = checkpoint else {
                throw EnforcementError.auditTampered("the erasure ledger \(path) follows another audit trail than the one in \(location) (their first entries differ); nothing was changed. Use this database's own state directory")
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
            let lost = after.filter { line in line.seq.map { macs[$0] != line.tmac } ?? false }
            return Lost(entries: lost, checkpoint: lines[checkpointIndex], copiedAfterCheckpoint: Set(after.compactMap(\.tmac)))
        }
    }

    /// After the lost erasures were re-applied: copies the trail past the checkpoint (what the
    /// restored trail and the replay added, each entry once), then a `replayed` line that the next
    /// `sync` continues from.
    func closeReplay(_ lost: Lost, replayed: Int, in store: any RecordReader) async throws {
        let file = try LockedFile(path: path)
        defer { file.close() }
        let tail = try file.tail()
        let last = tail.line
        if tail.end < file.length { try file.truncate(to: tail.end) }
        let additions = try await store.read { session -> [Line] in
            var additions: [Line] = []
            var cursor = lost.checkpoint.seq ?? 0
            var newest: AuditEntry?
            while true {
                let page = try session.auditEntries(after: cursor, limit: 5000, filter: AuditFilter())
                for entry in page where !lost.copiedAfterCheckpoint.contains(entry.mac) {
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
            closing.genesis = try session.auditEntry(seq: 1)?.mac
            return additions + [closing]
        }
        try file.write(try sealed(additions, after: last?.mac ?? Self.firstSeal).text)
        try file.sync()
    }
}

/// The ledger file, open and locked (`flock`, exclusive) until closed.
final class LockedFile: @unchecked Sendable {
    let path: String
    let fd: Int32

    init(path: String) throws {
        fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw StateFiles.cannotWrite(path, errno: errno) }
        self.path = path
        guard flock(fd, LOCK_EX) == 0 else {
            let code = errno
            Foundation.close(fd)
            throw StateFiles.cannotWrite(path, errno: code)
        }
    }

    func close() { Foundation.close(fd) }

    var length: Int {
        var info = stat()
        return fstat(fd, &info) == 0 ? Int(info.st_size) : 0
    }

    func contents() throws -> Data {
        var data = Data()
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        var offset: off_t = 0
        while true {
            let n = pread(fd, &buffer, buffer.count, offset)
            if n < 0 { throw StateFiles.cannotWrite(path, errno: errno) }
            if n == 0 { break }
            data.append(buffer, count: n)
            offset += off_t(n)
        }
        return data
    }

    /// The lines that parse, up to the first that does not (a line cut short by a crash), and the
    /// length of the file they take.
    func readLines() throws -> ([ErasureLedger.Line], Int) {
        let data = try contents()
        let decoder = JSONDecoder()
        var lines: [ErasureLedger.Line] = []
        var start = data.startIndex
        while let end = data[start...].firstIndex(of: 0x0A) {
            guard let line = try? decoder.decode(ErasureLedger.Line.self, from: data[start..<end]) else { break }
            lines.append(line)
            start = end + 1
        }
        return (lines, start - data.startIndex)
    }

    /// Where the last sync ended.
    struct Tail {
        /// The last line that closes a sync (`Line.closes`), nil when there is none.
        var line: ErasureLedger.Line?
        /// The length of the file up to that line's start, and up to its end.
        var start = 0
        var end = 0
        /// The seal of the line before it (`firstSeal` when it is the first).
        var previousSeal = ErasureLedger.firstSeal
    }

    /// Reads back from the end of the file only as far as the last closing line and the line
    /// before it.
    func tail() throws -> Tail {
        let size = length
        var window = 1 << 16
        let decoder = JSONDecoder()
        while true {
            let from = max(0, size - window)
            let data = try read(from: from, count: size - from)
            // The first line of the window may be cut: it is read whole when the window grows.
            var ends: [Int] = []
            var index = data.startIndex
            while let newline = data[index...].firstIndex(of: 0x0A) { ends.append(newline); index = newline + 1 }
            func start(_ i: Int) -> Int { i == 0 ? data.startIndex : ends[i - 1] + 1 }
            func whole(_ i: Int) -> Bool { i > 0 || from == 0 }
            search: for i in ends.indices.reversed() {
                guard whole(i) else { break }
                guard let line = try? decoder.decode(ErasureLedger.Line.self, from: data[start(i)..<ends[i]]), line.closes else { continue }
                var tail = Tail(line: line, start: from + (start(i) - data.startIndex), end: from + (ends[i] - data.startIndex) + 1)
                if i > 0 {
                    guard whole(i - 1) else { break search }
                    guard let before = try? decoder.decode(ErasureLedger.Line.self, from: data[start(i - 1)..<ends[i - 1]]), let seal = before.mac else {
                        throw EnforcementError.auditTampered("the erasure ledger \(path) has a line that is not a ledger line before its last closing line: the file was edited or damaged; `retentiond audit verify` says where")
                    }
                    tail.previousSeal = seal
                }
                return tail
            }
            if from == 0 { return Tail() }
            window *= 4
        }
    }

    /// The first `entry` line, read from the beginning of the file.
    func firstEntry() throws -> ErasureLedger.Line? {
        let decoder = JSONDecoder()
        var offset = 0
        var carry = Data()
        while true {
            let chunk = try read(from: offset, count: 1 << 16)
            if chunk.isEmpty { return nil }
            offset += chunk.count
            carry.append(chunk)
            while let newline = carry.firstIndex(of: 0x0A) {
                let line = try? decoder.decode(ErasureLedger.Line.self, from: carry[carry.startIndex..<newline])
                carry = Data(carry[(newline + 1)...])
                if let line, line.kind == .entry { return line }
            }
        }
    }

    func read(from offset: Int, count: Int) throws -> Data {
        var buffer = [UInt8](repeating: 0, count: count)
        var done = 0
        while done < count {
            let n = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress! + done, count - done, off_t(offset + done)) }
            if n < 0 { throw StateFiles.cannotWrite(path, errno: errno) }
            if n == 0 { break }
            done += n
        }
        return Data(buffer.prefix(done))
    }

    func truncate(to length: Int) throws {
        guard ftruncate(fd, off_t(length)) == 0 else { throw StateFiles.cannotWrite(path, errno: errno) }
    }

    /// Writes `data` at the end of the file (not yet synced: `sync` after the last write).
    func write(_ data: Data) throws {
        var offset = off_t(length)
        try data.withUnsafeBytes { buffer in
            var written = 0
            while written < buffer.count {
                let n = pwrite(fd, buffer.baseAddress! + written, buffer.count - written, offset)
                guard n > 0 else { throw StateFiles.cannotWrite(path, errno: n == 0 ? EIO : errno) }
                written += n
                offset += off_t(n)
            }
        }
    }

    func sync() throws {
        guard fsync(fd) == 0 else { throw StateFiles.cannotWrite(path, errno: errno) }
    }
}
