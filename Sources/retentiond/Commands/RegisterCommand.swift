import ArgumentParser
import Foundation
import RetentionCore
import RetentionEngine

struct RegisterCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "register",
        abstract:
            "Render the retention section of the register of processing activities from the policy that is enforced.",
        discussion: """
            Per register entry, each rule's data, how long it is kept (in words), counted from which date, what happens then, \
            what keeps a record anyway, and its legal basis — from the policy itself, so the register and the enforcement \
            cannot drift apart. --figures adds, from a dry run on the database (read-only), each rule's records, those due now \
            and those kept and why, and what the rules that keep statistics have counted per period. Prints to standard output (--format md or html); changes nothing. Exit 0.
            """
    )

    enum Format: String, ExpressibleByArgument, CaseIterable { case md, html }

    @OptionGroup var options: PolicyOptions

    @Option(name: .long, help: ArgumentHelp("md (Markdown) or html (one self-contained page).", valueName: "format"))
    var format: Format = .md

    @Flag(
        name: .long,
        help:
            "Add live figures from a dry run on the database (records, due now, kept and why; what rules with `statistics` counted)."
    )
    var figures = false

    func run() async throws {
        try await reportingFailures {
            let policy: Policy
            var tallies: [String: RuleTally] = [:]
            var statistics: [String: [StatisticsRow]] = [:]
            let now = options.currentTime()
            // Both phases' rules (an archive's too), as the register of processing activities lists them.
            let (whole, settings, _) = try options.loadWholePolicy()
            policy = options.archive ? whole.enforced(in: .archive) : whole
            if figures {
                var phases = [options]
                if !options.archive, settings.archive != nil, !whole.enforced(in: .archive).rules.isEmpty {
                    var archive = options
                    archive.archive = true
                    if try await archive.archiveIsMade() { phases.append(archive) }
                }
                for phase in phases {
                    let (planner, _) = try await phase.loadPlanner(countingChildren: true)
                    let report = try await planner.dryRun(now: now, mode: .plan, planPath: nil)
                    for rule in report.rules { tallies[rule.rule] = rule }
                    let (table, rules) = (planner.policy.statisticsTable, planner.policy.statisticsRules.map(\.id))
                    statistics.merge(
                        try await planner.reader.read { session in
                            try Dictionary(
                                uniqueKeysWithValues: rules.map {
                                    (
                                        $0,
                                        try session.statisticsRows(
                                            table: table, ruleID: $0, periods: nil, openOnly: false)
                                    )
                                })
                        }
                    ) { a, _ in a }
                }
            }
            let register = Register(policy: policy, tallies: tallies, statistics: statistics, generatedAt: now)
            print(format == .md ? register.markdown() : register.html(), terminator: "")
            return .success
        }
    }
}
