import ArgumentParser
import Foundation
import RetentionCore

@main
struct Retentiond: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "retentiond",
        abstract:
            "Enforce data retention policies on a database: flag, anonymise or purge what is past its time, and prove it.",
        discussion: """
            Start with `retentiond demo`. Then, on your own database:
              retentiond check --config FILE   validate the policy against the schema
              retentiond plan --config FILE    dry run: what would happen (no change)
              retentiond run --config FILE     plan and enforce (what the timer runs)

            \(ExitStatus.overview) See docs/operations.md.
            """,
        version: "0.1.0",
        subcommands: [
            DemoCommand.self, CheckCommand.self, PlanCommand.self, ApplyCommand.self, RunCommand.self,
            ServeCommand.self, FlaggedCommand.self, ExplainCommand.self, RegisterCommand.self, EraseCommand.self,
            ForecastCommand.self,
            DiffCommand.self, AuditCommand.self, HoldCommand.self,
        ]
    )

    /// As the argument parser runs a command, except that a first word that names no command is
    /// said to be one, with the nearest command: the parser would stop at the first option it
    /// cannot place instead (`retentiond plna --state-dir x`: "Unknown option '--state-dir'").
    static func main() async {
        let arguments = Array(CommandLine.arguments.dropFirst())
        if let first = arguments.first, !first.hasPrefix("-") {
            let commands = configuration.subcommands.compactMap { $0.configuration.commandName } + ["help"]
            if !commands.contains(first) {
                let hint = Suggestion.hint(for: first, among: commands, listing: "the commands are") ?? ""
                FileHandle.standardError.write(
                    Data(
                        "Error: `\(first)` is not a retentiond command; \(hint)\n  See 'retentiond --help' for more information.\n"
                            .utf8))
                Foundation.exit(ExitStatus.usage.rawValue)
            }
        }
        await main(arguments)
    }
}
