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
        /// The trail entry's MAC: whole on closing lines (the position a copy reached), its first
        /// 16 hex digits on entries (enough to tell one entry from another; the seal covers them).
        public var tmac: String?
        /// When the trail entry was made, and by which run: left out of an entry whose are those of
        /// the entry before it, and read back into it.
        public var at: String?
        public var run: String?
        public var rule: String?
        public var action: String?
        public var table: String?
        public var ref: String?
        /// The fingerprint of the audit key whose reference key made the references (`AuditKey.fingerprint`):
        /// written on closing lines, for the entries they close; read into each entry.
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

        /// The line as sealed: a JSON object of its members but `mac`, in name order — written by
        /// hand (thousands of lines per run; Foundation's encoder was most of a run's time).
        func body() -> [UInt8] {
            var out: [UInt8] = [UInt8(ascii: "{")]
            var first = true
            func member(_ name: String, _ value: String?) {
                guard let value else { return }
                if !first { out.append(UInt8(ascii: ",")) }
                first = false
                out.append(contentsOf: Array("\"\(name)\":".utf8))
                Line.append(string: value, to: &out)
            }
            func member(_ name: String, _ value: Int64?) {
                guard let value else { return }
                if !first { out.append(UInt8(ascii: ",")) }
                first = false
                out.append(contentsOf: Array("\"\(name)\":\(value)".utf8))
            }
            member("action", action)
            member("at", at)
            member("before", before)
            member("count", count.map(Int64.init))
            member("genesis", genesis)
            member("hold", hold)
            member("kid", kid)
            member("kind", kind.rawValue)
            member("ref", ref)
            member("request", request)
            member("rule", rule)
            member("run", run)
            member("seq", seq)
            member("table", table)
            member("tmac", tmac)
            member("until", until)
            out.append(UInt8(ascii: "}"))
            return out
        }

        /// A JSON string: quotes, backslashes and control characters escaped, the rest as UTF-8.
        static func append(string: String, to out: inout [UInt8]) {
            out.append(UInt8(ascii: "\""))
            for byte in string.utf8 {
                switch byte {
                case UInt8(ascii: "\""): out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\"")])
                case UInt8(ascii: "\\"): out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\\")])
                case 0x0A: out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "n")])
                case 0x0D: out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "r")])
                case 0x09: out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "t")])
                case ..<0x20: out.append(contentsOf: Array(String(format: "\\u%04x", byte).utf8))
                default: out.append(byte)
                }
            }
            out.append(UInt8(ascii: "\""))
        }

        /// Lines a sync ends with: where the ledger stands in the trail.
        var closes: Bool { kind != .entry }
    }

    // MARK: Sealing

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
            var written = line
            if !line.closes {
                if line.run == lastRun { written.run = nil }
                if line.at == lastAt { written.at = nil }
                written.kid = nil
                (lastRun, lastAt) = (line.run, line.at)
            }
            var bytes = written.body()
            guard line.closes else {
                bytes.append(0x0A)
                mac.update(data: bytes)
                return bytes
            }
            bytes.removeLast()
            previous = close(covering: bytes)
            bytes.append(contentsOf: Array(",\"mac\":\"\(previous)\"}\n".utf8))
            return bytes
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
        for line in lines { out.append(contentsOf: sealer.bytes(of: line)) }
        return (Data(out), sealer.previous)
    }

    static let firstSeal = String(repeating: "0", count: 64)
    /// `,"mac":"` + 64 hex digits + `"}`: how a closing line ends.
    static let sealSuffixLength = 74

    // MARK: Reading

    /// The ledger's bytes (empty when there is none).
    func contents() throws -> Data {
        guard let data = FileManager.default.contents(atPath: path) else {
            if FileManager.default.fileExists(atPath: path) { throw EnforcementError.cannotWrite("cannot read the erasure ledger \(path): give the user running retentiond read access") }
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
        for (number, raw) in data.split(separator: 0x0A, omittingEmptySubsequences: true).enumerated() {
            guard let line = try? decoder.decode(Line.self, from: raw) else {
                throw EnforcementError.auditTampered("the erasure ledger \(path) line \(number + 1) is not a ledger line: the file was edited or damaged")
            }
            lines.append((line, raw, false))
        }
        // An entry without `run` or `at` has those of the entry before it; its key is the one its
        // block's closing line names.
        var run: String?, at: String?, block: [Int] = []
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
            let expected = raw.count > Self.sealSuffixLength ? sealer.close(covering: raw.dropLast(Self.sealSuffixLength)) : ""
            if expected != line.mac || !raw.suffix(Self.sealSuffixLength).starts(with: Array(",\"mac\":\"".utf8)) {
                let lines = blockStart == i + 1 ? "line \(i + 1)" : "lines \(blockStart)–\(i + 1)"
                problems.append("\(lines) (sealed by the `\(line.kind.rawValue)` line\(line.seq.map { " of trail entry \($0)" } ?? "")) do not verify: one was changed, removed or reordered, or the ledger was sealed with another audit key")
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
        do { lines = try Self.decode(data, path: path).filter { $0.sealed }.map(\.line) } catch let failure as EnforcementError {
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

    // MARK: Following the trail

    /// Entries of the trail the ledger copies.
    static let copied: Set<String> = [AuditAction.purge, .anonymise, .holdAdd, .holdRelease].map(\.rawValue).reduce(into: []) { $0.insert($1) }

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
        let file = try LockedFile(path: path)
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
        let data = try contents()
        let lines = try Self.decode(data, path: path).filter { $0.sealed }.map(\.line)
        guard !lines.isEmpty else { return nil }
        let problems = try verify(data)
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
            let lost = after.filter { line in line.seq.map { !(macs[$0]?.hasPrefix(line.tmac ?? "-") ?? false) } ?? false }
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

    /// Where the last sync ended.
    struct Tail {
        /// The last line that closes a sync (`Line.closes`), nil when there is none.
        var line: ErasureLedger.Line?
        /// The length of the file up to that line's start, and up to its end.
        var start = 0
        var end = 0
        /// The seal of the line before it when that line closes a copy too (then the last one
        /// seals nothing but its position, and may be replaced).
        var sealBefore: String?
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
                    guard let before = try? decoder.decode(ErasureLedger.Line.self, from: data[start(i - 1)..<ends[i - 1]]) else {
                        throw EnforcementError.auditTampered("the erasure ledger \(path) has a line that is not a ledger line before its last closing line: the file was edited or damaged; `retentiond audit verify` says where")
                    }
                    if before.closes { tail.sealBefore = before.mac }
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
