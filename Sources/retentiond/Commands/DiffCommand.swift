import ArgumentParser
import Foundation
import RetentionCore
import RetentionEngine

struct DiffCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "diff",
        abstract: "Before a policy change runs: what it changes, rule by rule, and how many records it makes due.",
        discussion: """
            Compares the policy as it was (OLD) with the policy as changed (NEW, default --config, else the installed \
            policy), rule by rule (rules are matched by id), in the words of the register: the records a rule covers, how \
            long they are kept, counted from which date, what is done then, what keeps them. Each change says which way it \
            goes: more records due (a shorter period, an exemption removed, a table added to a purge, a harsher action, a \
            new rule), more kept, or either (a new clock or filter). Then, on NEW's database, opened read-only, the records \
            each rule finds due now and within 12 months under each policy, counted as `plan` counts them (--no-counts \
            to skip the database). OLD is counted with NEW's database, state directory and audit key. \
            Exit 0 when no rule makes more records due or does more to them, 2 when one does (review before it runs), 3 \
            when either file is not a valid policy.
            """
    )

    @Argument(help: ArgumentHelp("The policy as it was: the one enforced so far.", valueName: "old"))
    var old: String

    @Argument(
        help: ArgumentHelp("The policy as changed (default: --config, else the installed policy).", valueName: "new"))
    var new: String?

    @OptionGroup var options: PolicyOptions

    enum Format: String, ExpressibleByArgument, CaseIterable, Sendable { case text, json, html }

    @Option(
        name: .long,
        help: ArgumentHelp(
            "text; json (the same, as one object); or html (one self-contained page, for the people who sign the change off).",
            valueName: "format"))
    var format: Format = .text

    @Flag(name: .long, help: "List the changes only, without counting records on the database.")
    var noCounts = false

    func validate() throws {
        if let new, options.config != nil, options.config != new {
            throw ValidationError("give the new policy either as the second argument or as --config, not both")
        }
    }

    func run() async throws {
        try await reportingFailures {
            var options = self.options
            if let new { options.config = new }
            let (whole, _, oldWarnings) = try PolicyParser(path: self.old, credentialsDirectory: credentialsDirectory)
                .parseFile()
            let old = whole.enforced(in: options.phase)
            noteWarnings(oldWarnings)
            var diff: PolicyDiff
            if noCounts {
                let (new, _, warnings) = try options.loadPolicy()
                noteWarnings(warnings)
                diff = PolicyDiff(old: old, new: new)
            } else {
                let (planner, diagnostics) = try await options.loadPlanner()
                noteWarnings(diagnostics)
                diff = PolicyDiff(old: old, new: planner.policy)
                try await PolicyChangeCounter(planner: planner).count(&diff, old: old, now: options.currentTime())
            }
            switch format {
            case .json: try printJSON(diff)
            case .text: print(diff.text(), terminator: "")
            case .html: print(diff.html(), terminator: "")
            }
            return diff.makesMoreDue ? .changesPlanned : .success
        }
    }
}
