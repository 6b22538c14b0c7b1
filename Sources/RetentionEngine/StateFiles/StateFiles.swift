import Crypto
import Foundation
import RetentionCore

/// Files retentiond keeps outside the database: the audit chain head, reports, plans.
/// Everything is written atomically (temporary file, fsync, rename) and readable by the owner only.
public enum StateFiles {
    /// The error for a file retentiond could not write, with what to do about it.
    static func cannotWrite(_ path: String, errno code: Int32) -> EnforcementError {
        .cannotWrite(
            "cannot write \(path): \(String(cString: strerror(code))); "
                + (code == ENOSPC || code == EDQUOT
                    ? "free space on its file system"
                    : "give the user running retentiond write access to its directory, or choose another with --state-dir / --reports-dir")
        )
    }

    /// Why this user could not write into directory `path` (`what` says what goes there), or nil:
    /// the directory, or the nearest ancestor it would be created in, must be a writable directory.
    public static func writeProblem(directory path: String, holding what: String) -> String? {
        var candidate = path.isEmpty ? "." : path
        var info = stat()
        while stat(candidate, &info) != 0 {
            let parent = (candidate as NSString).deletingLastPathComponent
            if parent == candidate || parent.isEmpty {
                candidate = "."
                break
            }
            candidate = parent
        }
        let created = candidate == path ? "" : " (where \(path) would be created)"
        if stat(candidate, &info) == 0, info.st_mode & S_IFMT != S_IFDIR {
            return
                "\(candidate)\(created) is not a directory: \(what) cannot be written; choose another with --state-dir / --reports-dir"
        }
        guard access(candidate, W_OK) != 0 else { return nil }
        return
            "the directory \(candidate)\(created) is not writable by this user (uid \(getuid())): \(what) go there; grant write access (under systemd, the unit's StateDirectory= or ReadWritePaths=), or choose another with --state-dir / --reports-dir"
    }

    /// Creates `path` and its parents (0700); the current directory when `path` is empty.
    public static func ensureDirectory(_ path: String) throws {
        guard !path.isEmpty else { return }
        var built = path.hasPrefix("/") ? "" : "."
        for component in path.split(separator: "/") {
            built += "/" + component
            var info = stat()
            if stat(built, &info) == 0 {
                guard info.st_mode & S_IFMT == S_IFDIR else { throw cannotWrite(built, errno: ENOTDIR) }
                continue
            }
            if mkdir(built, 0o700) != 0, errno != EEXIST { throw cannotWrite(built, errno: errno) }
        }
    }

    /// Writes `data` to `path` atomically with mode 0600.
    public static func writePrivate(_ data: Data, to path: String) throws {
        try ensureDirectory((path as NSString).deletingLastPathComponent)
        let temporary = path + ".tmp-\(getpid())"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        guard fd >= 0 else { throw cannotWrite(temporary, errno: errno) }
        var failure: Int32 = 0
        data.withUnsafeBytes { buffer in
            var offset = 0
            while offset < buffer.count {
                let n = write(fd, buffer.baseAddress! + offset, buffer.count - offset)
                if n <= 0 {
                    failure = n == 0 ? EIO : errno
                    return
                }
                offset += n
            }
            if fsync(fd) != 0 { failure = errno }
        }
        close(fd)
        if failure == 0, rename(temporary, path) != 0 { failure = errno }
        guard failure == 0 else {
            unlink(temporary)
            throw cannotWrite(path, errno: failure)
        }
    }

    public static func headPath(stateDirectory: String) -> String { stateDirectory + "/audit-head.json" }

    /// Names the head file of `stateDirectory` on this host (a digest of the host name and the
    /// directory's real path, nothing readable), recorded in the trail by the entries that close a
    /// run, a rotation and a re-anchoring: a trail that names it had its head recorded here, so a
    /// head missing here was removed — not never written, as on a new host joining a shared run.
    public static func headFileIdentity(stateDirectory: String) -> String {
        // gethostname, not ProcessInfo.hostName, which may wait on a DNS lookup.
        var buffer = [CChar](repeating: 0, count: 256)
        gethostname(&buffer, buffer.count - 1)
        let host = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        let real =
            realpath(stateDirectory, nil).map { path -> String in
                defer { free(path) }
                return String(cString: path)
            } ?? stateDirectory
        let bytes = Array((host + "\u{0}" + real).utf8)
        return String(SHA256.hash(data: bytes).map { String(format: "%02x", $0) }.joined().prefix(16))
    }

    /// The newest entry of one trail, kept outside its database.
    public struct RecordedHead: Codable, Sendable, Equatable {
        /// Where the trail was last written (for people; the trail is identified by `genesis`).
        public var database: String
        /// The MAC of the trail's first entry; absent in heads written by older versions.
        public var genesis: String?
        public var seq: Int64
        public var mac: String

        public init(database: String, genesis: String?, seq: Int64, mac: String) {
            self.database = database
            self.genesis = genesis
            self.seq = seq
            self.mac = mac
        }

        /// True when this head belongs to the trail whose first entry has MAC `genesis`, or — for an
        /// older head without one — was recorded for `location`.
        public func names(trailWithGenesis genesis: String?, at location: String) -> Bool {
            if let own = self.genesis, let genesis { return own == genesis }
            return database == location
        }
    }

    public static func readHead(stateDirectory: String) -> RecordedHead? {
        readHead(path: headPath(stateDirectory: stateDirectory))
    }

    /// A head from any file: the state directory's, or a copy kept elsewhere (`audit verify --head`).
    public static func readHead(path: String) -> RecordedHead? {
        if case .recorded(let head) = headFile(path: path) { return head }
        return nil
    }

    /// What a head file holds: nothing (no such file), something that is not a head (a directory,
    /// a file this user may not read, text that is not a head — a finding, never "no head"), or a head.
    public enum HeadFile: Sendable {
        case missing
        case unreadable(String)
        case recorded(RecordedHead)
    }

    public static func headFile(path: String) -> HeadFile {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else { return .missing }
        if isDirectory.boolValue { return .unreadable("it is a directory") }
        guard let data = FileManager.default.contents(atPath: path) else {
            return .unreadable("this user may not read it")
        }
        guard let head = try? JSONDecoder().decode(RecordedHead.self, from: data) else {
            return .unreadable("it does not hold a recorded head")
        }
        return .recorded(head)
    }

    /// Records the newest audit entry outside the database, so a truncated trail is detected.
    /// A head behind the recorded one of the same trail is ignored, unless `replacing`
    /// (re-anchoring after a restore).
    public static func recordHead(
        _ position: TrailPosition, database: String, stateDirectory: String, replacing: Bool = false
    ) throws {
        if !replacing, let current = readHead(stateDirectory: stateDirectory),
            current.names(trailWithGenesis: position.genesis, at: database), current.seq >= position.head.seq
        {
            return
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let data = try encoder.encode(
            RecordedHead(database: database, genesis: position.genesis, seq: position.head.seq, mac: position.head.mac))
        try writePrivate(data, to: headPath(stateDirectory: stateDirectory))
    }

    /// Writes the JSON, Markdown and HTML forms of a report to the reports directory, then
    /// deletes the reports older than `reports.keep`; returns the new report's paths.
    public static func writeReport(
        _ report: RunReport, policy: Policy, settings: RunSettings, forecast: Forecast? = nil, now: Date = Date()
    ) throws -> (json: String, markdown: String, html: String) {
        let directory = settings.reportsDirectory
        let base = directory + "/" + report.runID
        try writePrivate(try report.json(), to: base + ".json")
        try writePrivate(Data(report.markdown().utf8), to: base + ".md")
        try writePrivate(Data(report.html(policy: policy, forecast: forecast).utf8), to: base + ".html")
        if let cutoff = settings.reportsKeep.before(now, in: policy.calendar) {
            pruneReports(in: directory, before: cutoff)
        }
        return (base + ".json", base + ".md", base + ".html")
    }

    /// An erasure request's report, beside the run reports (`<run id>.erasure.json` and `.md`,
    /// 0600) and kept as long as they are: it names the record's key.
    public static func writeErasure(
        _ report: ErasureReport, policy: Policy, settings: RunSettings, now: Date = Date()
    ) throws -> (json: String, markdown: String) {
        let base = settings.reportsDirectory + "/" + report.runID + ".erasure"
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        try writePrivate(try encoder.encode(report), to: base + ".json")
        try writePrivate(Data(report.markdown().utf8), to: base + ".md")
        if let cutoff = settings.reportsKeep.before(now, in: policy.calendar) {
            pruneReports(in: settings.reportsDirectory, before: cutoff)
        }
        return (base + ".json", base + ".md")
    }

    /// Deletes the reports (`<run id>.json`, `.md` and `.html`, as written above) whose run started before
    /// `cutoff`, judged by the time in their name. Nothing else in the directory is touched.
    static func pruneReports(in directory: String, before cutoff: Date) {
        let parser = DateFormatter()
        parser.locale = Locale(identifier: "en_US_POSIX")
        parser.timeZone = TimeZone(identifier: "UTC")
        parser.dateFormat = "yyyyMMdd'T'HHmmss'Z'"
        for name in (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? [] {
            guard name.hasSuffix(".json") || name.hasSuffix(".md") || name.hasSuffix(".html"),
                let dash = name.firstIndex(of: "-"),
                name.distance(from: name.startIndex, to: dash) == 16,
                let started = parser.date(from: String(name[..<dash])),
                started < cutoff
            else { continue }
            let suffix = name[name.index(after: dash)...].split(separator: ".").first ?? ""
            guard !suffix.isEmpty, suffix.allSatisfy(\.isHexDigit) else { continue }
            unlink(directory + "/" + name)
        }
    }
}
