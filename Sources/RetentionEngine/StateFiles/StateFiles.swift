import Foundation
import RetentionCore

/// Files retentiond keeps outside the database: the audit chain head, reports, plans.
/// Everything is written atomically (temporary file, fsync, rename) and readable by the owner only.
public enum StateFiles {
    /// The error for a file retentiond could not write, with what to do about it.
    static func cannotWrite(_ path: String, errno code: Int32) -> EnforcementError {
        .cannotWrite("cannot write \(path): \(String(cString: strerror(code))); "
            + (code == ENOSPC || code == EDQUOT ? "free space on its file system" : "give the user running retentiond write access to its directory, or choose another with --state-dir / --reports-dir"))
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
                if n <= 0 { failure = n == 0 ? EIO : errno; return }
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
        guard let data = FileManager.default.contents(atPath: path) else { return nil }
        return try? JSONDecoder().decode(RecordedHead.self, from: data)
    }

    /// Records the newest audit entry outside the database, so a truncated trail is detected.
    /// A head behind the recorded one of the same trail is ignored, unless `replacing`
    /// (re-anchoring after a restore).
    public static func recordHead(_ position: TrailPosition, database: String, stateDirectory: String, replacing: Bool = false) throws {
        if !replacing, let current = readHead(stateDirectory: stateDirectory),
           current.names(trailWithGenesis: position.genesis, at: database), current.seq >= position.head.seq { return }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let data = try encoder.encode(RecordedHead(database: database, genesis: position.genesis, seq: position.head.seq, mac: position.head.mac))
        try writePrivate(data, to: headPath(stateDirectory: stateDirectory))
    }

    /// Writes the JSON and Markdown forms of a report; returns their paths.
    public static func writeReport(_ report: RunReport, directory: String) throws -> (json: String, markdown: String) {
        let base = directory + "/" + report.runID
        try writePrivate(try report.json(), to: base + ".json")
        try writePrivate(Data(report.markdown().utf8), to: base + ".md")
        return (base + ".json", base + ".md")
    }
}
