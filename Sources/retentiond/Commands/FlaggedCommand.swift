import ArgumentParser
import Foundation
import RetentionCore
import RetentionStore

struct FlaggedCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "flagged",
        abstract: "List the records a flag rule has flagged and that still exist, with their review columns.",
        discussion: """
            For the warning period a flag rule gives (for example, prospects flagged before their purge), so the people \
            responsible can act on each record: one line per record, its key then the subject's review_columns, tab-separated, \
            in key order. Changes nothing; the database is opened read-only. Exit 0, 3 when the rule is not a flag rule of the policy.
            """
    )

    @OptionGroup var options: PolicyOptions

    @Option(name: .long, help: ArgumentHelp("The flag rule's id.", valueName: "id"))
    var rule: String

    @Option(name: .long, help: ArgumentHelp("Print at most this many records (1 to 1,000,000).", valueName: "n"))
    var limit = 1000

    func validate() throws {
        guard (1...1_000_000).contains(limit) else { throw ValidationError("--limit must be from 1 to 1000000") }
    }

    func run() async throws {
        try await reportingFailures {
            let (policy, settings, _) = try options.loadPolicy()
            guard let found = policy.rules.first(where: { $0.id == rule }) else {
                let ids = policy.rules.filter { $0.action.auditAction == .flag }.map { "`\($0.id)`" }.joined(
                    separator: ", ")
                throw CommandFailure.noSuchRule(rule, in: policy.path, flagRules: ids)
            }
            guard found.action.auditAction == .flag else {
                throw CommandFailure.notAFlagRule(rule, action: found.actionName)
            }
            let subject = policy.subject(for: found)
            let store = try await options.openReader(settings.database)
            let table = subject.table.value
            let keyColumns = subject.key.map(\.value)
            let columns = subject.reviewColumns.map(\.value)
            let ruleID = rule
            let complete = try await store.read { try $0.rulesWithCompleteMarks(among: [ruleID]).contains(ruleID) }
            if !complete {
                printError(
                    "rule `\(rule)` has no complete marks yet (no enforcing run since retentiond began marking): run `retentiond run` once, then list again",
                    prefix: false)
            }
            print((keyColumns + columns).joined(separator: "\t"))
            var printed = 0
            var after: RecordKey?
            while printed < limit {
                let page = after
                let want = min(2000, limit - printed)
                let rows = try await store.read {
                    try $0.markedRecords(
                        ruleID: ruleID, table: table, keyColumns: keyColumns, columns: columns, after: page, limit: want
                    )
                }
                for row in rows { print(row.map { $0.isNull ? "" : ($0.textValue ?? "") }.joined(separator: "\t")) }
                printed += rows.count
                guard rows.count == want, let last = rows.last else { break }
                after = RecordKey(Array(last.prefix(keyColumns.count)))
            }
            if printed == limit {
                printError(
                    "the first \(limit) records are shown; more may follow (--limit N shows more)", prefix: false)
            }
            return .success
        }
    }
}
