import ArgumentParser
import Foundation
import RetentionCore
import RetentionEngine
import RetentionStore

struct HoldCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "hold",
        abstract: "Manage legal holds: a held record is never anonymised or purged (nor purged through a parent).",
        subcommands: [Add.self, List.self, Release.self]
    )

    static func registry(_ options: PolicyOptions) async throws -> HoldRegistry {
        let (policy, settings, _) = try options.loadPolicy()
        let store = try await options.openStore(settings.database)
        guard let key = try await loadKey(settings: settings, store: store, create: true, logger: options.logger())
        else {
            throw CommandFailure.noAuditKey()
        }
        var registry = HoldRegistry(store: store, key: key, stateDirectory: settings.stateDirectory)
        registry.policy = policy
        return registry
    }

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Place a hold on one record (audited).")
        @OptionGroup var options: PolicyOptions

        @Option(name: .long, help: "The table of the record, named by its primary key.")
        var table: String?

        @Option(
            name: .long,
            help: ArgumentHelp(
                "Or: the policy subject of the record, named by the subject's key.", valueName: "subject"))
        var subject: String?

        @Option(
            name: .long,
            help: ArgumentHelp(
                "The record's key exactly as stored (KEY1,KEY2 for composite keys, or a JSON array such as [\"FR\", \"F-3,bis\"] when a value holds a comma): a whole number for an integer column, the text as is for a text column (007 stays 007).",
                valueName: "key"))
        var key: String

        func validate() throws {
            guard (table == nil) != (subject == nil) else {
                throw ValidationError(
                    "give either --table TABLE (with the primary key) or --subject SUBJECT (with the subject's key)")
            }
        }

        @Option(name: .long, help: "Why (a case reference, not personal details: the reason is shown by `hold list`).")
        var reason: String

        @Option(name: .long, help: "Who places the hold (recorded in the audit trail).")
        var by: String

        @Option(
            name: .long,
            help: ArgumentHelp(
                "The hold lapses at this ISO-8601 instant, or at the start of this date in the policy's time zone; it must be in the future. Without it, the hold lasts until released.",
                valueName: "date"))
        var until: Instant?

        func run() async throws {
            try await reportingFailures {
                let policy = try options.loadPolicy().policy
                let now = options.currentTime()
                let untilDate = until?.date(in: policy.timeZone)
                if let untilDate, untilDate <= now {
                    throw ValidationError(
                        "--until \(Self.describe(untilDate, policy.timeZone)) is not in the future (now: \(Self.describe(now, policy.timeZone))): a hold that has lapsed holds nothing; give the date it must last until"
                    )
                }
                let name: HoldRegistry.RecordName
                if let subject {
                    guard let found = policy.subjects.first(where: { $0.id == subject }) else {
                        throw ValidationError(
                            "the policy has no subject `\(subject)`; it has: \(policy.subjects.map(\.id).joined(separator: ", "))"
                        )
                    }
                    name = .subjectKey(found)
                } else {
                    name = .primaryKey(table: table ?? "")
                }
                var registry = try await HoldCommand.registry(options)
                registry.onWait = { writeMessage("retentiond: waiting: \($0)", level: .notice) }
                let hold = try await registry.add(
                    name, keyText: key, reason: reason, by: by, until: untilDate, now: now)
                print(
                    "hold \(hold.id) placed on \(hold.table):\(hold.key)"
                        + (untilDate.map { " until \(Self.describe($0, policy.timeZone))" } ?? ""))
                let others = try await registry.list(includeReleased: false)
                    .filter { $0.id != hold.id && $0.table == hold.table && $0.key == hold.key && $0.isActive(at: now) }
                if !others.isEmpty {
                    writeMessage(
                        "note: \(hold.table):\(hold.key) was already held by hold \(others.map { String($0.id) }.joined(separator: ", ")); it stays held until every hold on it is released or lapses",
                        level: .notice)
                }
                return .success
            }
        }

        /// `2030-01-01T00:00:00+01:00 (Europe/Paris)`: the moment in the zone dates are read in.
        static func describe(_ date: Date, _ zone: TimeZone) -> String {
            let formatter = ISO8601DateFormatter()
            formatter.timeZone = zone
            return "\(formatter.string(from: date)) (\(zone.identifier))"
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List holds (active ones unless --all).")
        @OptionGroup var options: PolicyOptions

        @Flag(name: .long, help: "Include released holds.")
        var all = false

        @Option(
            name: .long,
            help: ArgumentHelp(
                "text, or json: an array of holds (docs/operations.md, \"Machine-readable output\").",
                valueName: "format"))
        var format: OutputFormat = .text

        /// One hold as `--format json` prints it.
        struct Listed: Encodable {
            var id: Int64
            var table: String
            var key: String
            var reason: String
            var placedBy: String
            var placedAt: Date
            var until: Date?
            var releasedBy: String?
            var releasedAt: Date?
            var state: String
        }

        func run() async throws {
            try await reportingFailures {
                let store = try await options.openReader(try options.loadPolicy().settings.database)
                let holds = try await store.read { try $0.holds(includeReleased: all) }
                let f = ISO8601DateFormatter()
                let now = options.currentTime()
                if format == .json {
                    try printJSON(
                        holds.map { h in
                            Listed(
                                id: h.id, table: h.table, key: h.key.description, reason: h.reason,
                                placedBy: h.placedBy, placedAt: h.placedAt,
                                until: h.until, releasedBy: h.releasedBy, releasedAt: h.releasedAt,
                                state: h.releasedAt != nil ? "released" : h.isActive(at: now) ? "active" : "lapsed")
                        })
                    return .success
                }
                print("id\ttable:key\tplaced by\tplaced at\tuntil\tstate\treason")
                for h in holds {
                    let state =
                        h.releasedAt.map { "released by \(h.releasedBy ?? "?") \(f.string(from: $0))" }
                        ?? (h.isActive(at: now) ? "active" : "lapsed")
                    print(
                        "\(h.id)\t\(h.table):\(h.key)\t\(h.placedBy)\t\(f.string(from: h.placedAt))\t\(h.until.map { f.string(from: $0) } ?? "-")\t\(state)\t\(h.reason)"
                    )
                }
                return .success
            }
        }
    }

    struct Release: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Release a hold (audited); the record is then subject to its rules again.")
        @OptionGroup var options: PolicyOptions

        @Argument(help: "The hold id (see `retentiond hold list`).")
        var id: Int64

        @Option(name: .long, help: "Who releases the hold (recorded in the audit trail).")
        var by: String

        func run() async throws {
            try await reportingFailures {
                let registry = try await HoldCommand.registry(options)
                let hold = try await registry.release(id: id, by: by, now: options.currentTime())
                print("hold \(hold.id) on \(hold.table):\(hold.key) released")
                return .success
            }
        }
    }
}
