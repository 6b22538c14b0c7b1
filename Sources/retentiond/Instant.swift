import ArgumentParser
import Foundation
import Logging

/// A moment given on the command line: an ISO-8601 instant (`2026-01-31T00:00:00Z`) or a date
/// (`2026-01-31`, midnight UTC). Parsed by the argument parser, so a bad value is a usage error.
struct Instant: ExpressibleByArgument, Sendable {
    let date: Date

    init(_ date: Date) { self.date = date }

    init?(argument: String) {
        let formatter = ISO8601DateFormatter()
        if let date = formatter.date(from: argument) {
            self.date = date
            return
        }
        formatter.formatOptions = [.withFullDate]
        guard let date = formatter.date(from: argument) else { return nil }
        self.date = date
    }

    static var defaultValueDescription: String { "ISO-8601, e.g. 2026-01-31T00:00:00Z or 2026-01-31" }
}

extension Logger.Level: @retroactive ExpressibleByArgument {
    public static var allValueStrings: [String] { allCases.map(\.rawValue) }
}
