import ArgumentParser
import Foundation
import Logging

/// How log lines are written to stderr.
enum LogFormat: String, ExpressibleByArgument, CaseIterable {
    /// Human-readable lines; under the journal, syslog priority prefixes and no timestamp.
    case text
    /// One JSON object a line, for log shippers.
    case json

    /// True when stderr is connected to the journal (systemd sets `$JOURNAL_STREAM` to its device and inode).
    static func stderrIsJournal(environment: [String: String] = ProcessInfo.processInfo.environment) -> Bool {
        guard let value = environment["JOURNAL_STREAM"] else { return false }
        let parts = value.split(separator: ":")
        var info = stat()
        guard parts.count == 2, fstat(STDERR_FILENO, &info) == 0 else { return false }
        return parts[0] == String(info.st_dev) && parts[1] == String(info.st_ino)
    }

    func handler(label: String, level: Logger.Level) -> any LogHandler {
        switch self {
        case .json:
            return LineLogHandler(label: label, logLevel: level, style: .json)
        case .text:
            if Self.stderrIsJournal() { return LineLogHandler(label: label, logLevel: level, style: .journal) }
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
    }
}

/// Writes one line per event to stderr, for the journal (`<priority>message`) or as JSON.
/// Messages and metadata come from retentiond's own code, which never logs personal values.
struct LineLogHandler: LogHandler {
    enum Style { case journal, json }

    let label: String
    var logLevel: Logger.Level
    let style: Style
    var metadata: Logger.Metadata = [:]
    var metadataProvider: Logger.MetadataProvider?

    init(label: String, logLevel: Logger.Level, style: Style) {
        self.label = label
        self.logLevel = logLevel
        self.style = style
    }

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    /// syslog priorities, as sd-daemon(3) prefixes: the journal stores them as the entry's priority.
    static func priority(_ level: Logger.Level) -> Int {
        switch level {
        case .trace, .debug: return 7
        case .info: return 6
        case .notice: return 5
        case .warning: return 4
        case .error: return 3
        case .critical: return 2
        }
    }

    func log(event: LogEvent) {
        var all = metadata
        if let provided = metadataProvider?.get() { all.merge(provided) { _, new in new } }
        if let extra = event.metadata { all.merge(extra) { _, new in new } }
        let line: String
        switch style {
        case .journal:
            let fields = all.sorted { $0.key < $1.key }.map { " \($0.key)=\($0.value)" }.joined()
            // One entry per line: newlines inside a message would split it into several entries.
            line =
                "<\(Self.priority(event.level))>\(event.message.description.replacingOccurrences(of: "\n", with: " | "))\(fields)"
        case .json:
            var object: [String: Any] = [
                "time": ISO8601DateFormatter().string(from: Date()),
                "level": event.level.rawValue,
                "label": label,
                "message": event.message.description,
            ]
            if !all.isEmpty { object["metadata"] = all.mapValues { "\($0)" } }
            let data =
                (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes]))
                ?? Data()
            line = String(decoding: data, as: UTF8.self)
        }
        FileHandle.standardError.write(Data((line + "\n").utf8))
    }
}
