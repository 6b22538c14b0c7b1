import ArgumentParser
import Foundation
import Logging
import RetentionEngine
import RetentionStore

/// A moment given on the command line: an ISO-8601 instant (`2026-01-31T00:00:00Z`) or a date
/// (`2026-01-31`, midnight UTC, or midnight in a time zone given by the command: `date(in:)`).
/// Parsed by the argument parser, so a bad value is a usage error.
struct Instant: ExpressibleByArgument, Sendable {
    let date: Date
    /// For a bare date: its year, month and day, to be placed in a time zone.
    let day: DateComponents?

    init(_ date: Date) {
        self.date = date
        day = nil
    }

    init?(argument: String) {
        let formatter = ISO8601DateFormatter()
        if let date = formatter.date(from: argument) {
            self.date = date
            day = nil
            return
        }
        formatter.formatOptions = [.withFullDate]
        guard let date = formatter.date(from: argument) else { return nil }
        self.date = date
        var utc = Calendar(identifier: .gregorian)
        utc.timeZone = TimeZone(identifier: "UTC")!
        day = utc.dateComponents([.year, .month, .day], from: date)
    }

    /// The moment: an instant as given, a bare date at midnight in `timeZone`.
    func date(in timeZone: TimeZone) -> Date {
        guard let day else { return date }
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = timeZone
        return calendar.date(from: day) ?? date
    }

    static var defaultValueDescription: String { "ISO-8601, e.g. 2026-01-31T00:00:00Z or 2026-01-31" }
}

// swift-format-ignore: AvoidRetroactiveConformances
// A log level is an option's value; neither library declares it.
extension Logger.Level: @retroactive ExpressibleByArgument {
    public static var allValueStrings: [String] { allCases.map(\.rawValue) }
}

/// A length of time given on the command line: a whole number and a unit, `ms`, `s`, `m` or `h`
/// (`250ms`, `30s`, `45m`, `2h`), from 1 ms to 7 days.
struct TimeSpan: Sendable {
    let duration: Duration

    static func parse(_ argument: String) throws -> TimeSpan {
        let units: [(String, Int64)] = [("ms", 1), ("s", 1000), ("m", 60_000), ("h", 3_600_000)]
        guard
            let (unit, milliseconds) = units.first(where: {
                argument.hasSuffix($0.0) && Int64(argument.dropLast($0.0.count)) != nil
            }),
            let count = Int64(argument.dropLast(unit.count)), count > 0, count <= 7 * 24 * 3_600_000 / milliseconds
        else {
            throw ValidationError(
                "`\(argument)` is not a length of time: give a whole number and ms, s, m or h, e.g. 250ms or 45m (at most 7 days)"
            )
        }
        return TimeSpan(duration: .milliseconds(count * milliseconds))
    }
}

/// `--sleep` and `--max-duration`: how a run shares a database in production use.
struct PacingOptions: ParsableArguments {
    @Option(
        name: .long,
        help: ArgumentHelp(
            "Pause after each batch, so the application's own transactions get their locks in between (e.g. 200ms).",
            valueName: "time"),
        transform: TimeSpan.parse)
    var sleep: TimeSpan?

    @Option(
        name: .long,
        help: ArgumentHelp(
            "Start no batch after this much applying time (e.g. 45m; the first batch always runs): the run stops at a batch boundary, exit 11, and the next run continues.",
            valueName: "time"),
        transform: TimeSpan.parse)
    var maxDuration: TimeSpan?

    @Option(
        name: .long,
        help: ArgumentHelp(
            "How long a batch waits for a lock another session holds (a row the application is changing; on SQLite, the database) before it is rolled back and the run stops, exit 6; the next run continues (default: 10s).",
            valueName: "time"),
        transform: TimeSpan.parse)
    var lockWait: TimeSpan = TimeSpan(duration: defaultLockWait)

    var pacing: Pacing { Pacing(pause: sleep?.duration, maxDuration: maxDuration?.duration) }
}
