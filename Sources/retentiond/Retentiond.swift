import ArgumentParser
import Foundation

@main
struct Retentiond: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "retentiond",
        abstract: "Enforce data retention policies on a database: flag, anonymise or purge what is past its time, and prove it.",
        discussion: """
            Start with `retentiond demo`. Then, on your own database:
              retentiond check --config FILE   validate the policy against the schema
              retentiond plan --config FILE    dry run: what would happen (no change)
              retentiond run --config FILE     plan and enforce (what the timer runs)

            Exit statuses: 0 success, 1 internal error, 2 changes planned (plan, dry
            run), 3 policy invalid, 4 safety limit hit, 5 locked by another run,
            6 database unavailable, 7 audit trail tampered, 8 refused (clock earlier
            than the last run, plan from another policy or database, missing audit
            key), 64 bad command line. See docs/operations.md.
            """,
        version: "0.1.0",
        subcommands: [DemoCommand.self, CheckCommand.self, PlanCommand.self, ApplyCommand.self, RunCommand.self, ServeCommand.self, FlaggedCommand.self, ExplainCommand.self, RegisterCommand.self, EraseCommand.self, ForecastCommand.self,
                      AuditCommand.self, HoldCommand.self]
    )
}
