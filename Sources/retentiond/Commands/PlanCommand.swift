import ArgumentParser
import Foundation
import RetentionCore
import RetentionEngine

struct PlanCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "plan",
        abstract:
            "Dry run: show, per rule, the cutoff and how many records are due or exempt. Changes nothing in the database.",
        discussion: """
            The database is opened read-only: not a byte of it changes. A report (JSON and Markdown) is written to the reports directory.
            --out saves the plan for `retentiond apply`. --detail prints every record's key, clock value and planned action.
            Exit 0 when nothing is due, 2 when changes are planned.
            """
    )

    @OptionGroup var options: PolicyOptions

    @Option(
        name: .long, help: ArgumentHelp("Save the plan to this file (0600) for `retentiond apply`.", valueName: "file"))
    var out: String?

    @Flag(
        name: .long,
        help:
            "Print each record's rule, key, clock value and planned action (or exemption) as tab-separated lines under a header on standard output; the summary then goes to standard error."
    )
    var detail = false

    /// What `plan` prints on standard output.
    enum Format: String, ExpressibleByArgument, CaseIterable {
        case text, json, csv, jsonl
        var export: PlanExport.Format? { self == .csv ? .csv : self == .jsonl ? .jsonl : nil }
    }

    @Option(
        name: .long,
        help: ArgumentHelp(
            "text; json: the report (docs/operations.md, \"Machine-readable output\"); csv or jsonl: one line per record (rule, action, key, decision, reason, kept_by, clock, clock_from, taken_by, child_rows), written as the plan goes, the summary on standard error.",
            valueName: "format"))
    var format: Format = .text

    func validate() throws {
        if detail && format == .json {
            throw ValidationError("--detail prints lines of text; with --format json, read the report's rules instead")
        }
        if detail && format.export != nil {
            throw ValidationError("--format \(format.rawValue) already prints one line per record; leave out --detail")
        }
    }

    func run() async throws {
        try await reportingFailures {
            try await Self.dryRun(options, mode: .plan, format: format, detail: detail, out: out)
        }
    }

    /// The one dry run `plan` and `run --dry-run` share: the same pass, report, summary, safety
    /// limit warning and exit status (2 when changes are planned).
    static func dryRun(
        _ options: PolicyOptions, mode: RunReport.Mode, format: Format, detail: Bool = false, out: String? = nil
    ) async throws -> ExitStatus {
        let (planner, diagnostics) = try await options.loadPlanner(countingChildren: true)
        noteWarnings(diagnostics)
        var lines: ((DetailLine) -> Void)?
        if detail {
            print("rule\tkey\tclock\tdecision")
            lines = { print(PlanCommand.describe($0)) }
        } else if let export = format.export {
            if export == .csv { print(PlanExport.csvHeader) }
            let actions = Dictionary(
                planner.policy.rules.map { ($0.id, $0.actionName) }, uniquingKeysWith: { a, _ in a })
            lines = { print(PlanExport.line($0, action: actions[$0.rule] ?? "", format: export)) }
        }
        let report = try await planner.dryRun(
            now: options.currentTime(), mode: mode, planPath: out, detail: lines,
            childRowsPerRecord: format.export != nil)
        let paths = try StateFiles.writeReport(
            report, policy: planner.policy, settings: planner.settings,
            forecast: await planner.reportForecast(now: report.now))
        if format == .json {
            try printJSON(report)
            return report.totalDue > 0 ? .changesPlanned : .success
        }
        // With --detail (or csv, jsonl), standard output holds the lines only; the summary goes beside them.
        let say: (String) -> Void =
            detail || format.export != nil ? { FileHandle.standardError.write(Data(($0 + "\n").utf8)) } : { print($0) }
        say(Summary.table(report, enforcing: false))
        say("\n\(mode == .dryRun ? "dry run: " : "")\(report.totalDue) record(s) due; nothing was changed.")
        let limits = SafetyCheck.violations(report.rules, policy: planner.policy)
        if !limits.isEmpty {
            say(
                "a run would stop at its safety limits, before any change (exit 4):\n  "
                    + limits.joined(separator: "\n  ")
                    + "\nif this plan is right, run with --allow-more")
        }
        if let out {
            let stateDir = options.stateDir.map { " --state-dir \($0)" } ?? ""
            let database = options.databaseURL.map { " --database-url \($0)" } ?? ""
            say(
                "plan: \(out)  (apply with: retentiond apply \(out) --config \(planner.policy.path)\(stateDir)\(database))"
            )
        }
        say("report: \(paths.markdown)\n        \(paths.json)")
        return report.totalDue > 0 ? .changesPlanned : .success
    }

    static func describe(_ line: DetailLine) -> String {
        let decision: String
        switch line.decision {
        case .act: decision = line.takenBy.map { "due (taken by rule \($0): deleted there first)" } ?? "due"
        case .exempt(.keptByRule): decision = "exempt (kept_by_rule: \(line.keptBy.joined(separator: ", ")))"
        case .exempt(.relatedRecord): decision = "exempt (related_record: \(line.keptBy.joined(separator: ", ")))"
        case .exempt(let reason): decision = "exempt (\(reason.rawValue))"
        case .alreadyDone: decision = "already done"
        }
        return "\(line.rule)\t\(line.key)\t\(clock(line))\t\(decision)"
    }

    /// One value as it is; several as the one the clock took, where from, and the others:
    /// `2018-10-04 from last_contact_at (collected_at 2017-08-06)`.
    static func clock(_ line: DetailLine) -> String {
        guard line.clock.count > 1, line.clockNames.count == line.clock.count else {
            return line.clock.map(\.description).joined(separator: ",")
        }
        guard let used = line.clockUsed else {
            return "none set (" + zip(line.clockNames, line.clock).map { "\($0) \($1)" }.joined(separator: ", ") + ")"
        }
        let others = line.clock.indices.filter { $0 != used }.map { "\(line.clockNames[$0]) \(line.clock[$0])" }
        return "\(line.clock[used]) from \(line.clockNames[used]) (\(others.joined(separator: ", ")))"
    }
}
