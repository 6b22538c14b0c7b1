import ArgumentParser
import Foundation
import RetentionCore
import RetentionEngine

struct PlanCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "plan",
        abstract: "Dry run: show, per rule, the cutoff and how many records are due or exempt. Changes nothing in the database.",
        discussion: """
            The database is opened read-only: not a byte of it changes. A report (JSON and Markdown) is written to the reports directory.
            --out saves the plan for `retentiond apply`. --detail prints every record's key, clock value and planned action.
            Exit 0 when nothing is due, 2 when changes are planned.
            """
    )

    @OptionGroup var options: PolicyOptions

    @Option(name: .long, help: ArgumentHelp("Save the plan to this file (0600) for `retentiond apply`.", valueName: "file"))
    var out: String?

    @Flag(name: .long, help: "Print each record's key, clock value and planned action (or exemption).")
    var detail = false

    func run() async throws {
        try await reportingFailures {
            let (planner, diagnostics) = try await options.loadPlanner()
            printWarnings(diagnostics)
            let report = try await planner.dryRun(now: options.currentTime(), mode: .plan, planPath: out,
                                                  detail: detail ? { print(PlanCommand.describe($0)) } : nil)
            let paths = try StateFiles.writeReport(report, policy: planner.policy)
            print(Summary.table(report, enforcing: false))
            print("\n\(report.totalDue) record(s) due; nothing was changed.")
            let limits = SafetyCheck.violations(report.rules, policy: planner.policy)
            if !limits.isEmpty {
                print("a run would stop at its safety limits, before any change (exit 4):\n  " + limits.joined(separator: "\n  ")
                      + "\nif this plan is right, run with --allow-more")
            }
            if let out {
                let stateDir = options.stateDir.map { " --state-dir \($0)" } ?? ""
                let database = options.databaseURL.map { " --database-url \($0)" } ?? ""
                print("plan: \(out)  (apply with: retentiond apply \(out) --config \(planner.policy.path)\(stateDir)\(database))")
            }
            print("report: \(paths.markdown)\n        \(paths.json)")
            return report.totalDue > 0 ? .changesPlanned : .success
        }
    }

    static func describe(_ line: DetailLine) -> String {
        let decision: String
        switch line.decision {
        case .act: decision = "due"
        case .exempt(let reason): decision = "exempt (\(reason.rawValue))"
        case .alreadyDone: decision = "already done"
        }
        return "\(line.rule)\t\(line.key)\t\(line.clock.map(\.description).joined(separator: ","))\t\(decision)"
    }
}
