import ArgumentParser
import Foundation

/// `--format text|json`: text for people; json for scripts, one document on standard output with
/// the field names docs/operations.md ("Machine-readable output") lists, messages on stderr.
enum OutputFormat: String, ExpressibleByArgument, CaseIterable, Sendable {
    case text, json
}

/// Prints `value` as one pretty-printed JSON document (sorted keys, ISO-8601 dates).
func printJSON<T: Encodable>(_ value: T) throws {
    let encoder = JSONEncoder()
    encoder.dateEncodingStrategy = .iso8601
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
    print(String(decoding: try encoder.encode(value), as: UTF8.self))
}
