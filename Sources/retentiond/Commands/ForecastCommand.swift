import ArgumentParser
import Foundation
import RetentionCore
import RetentionEngine

struct ForecastCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "forecast",
        abstract: "How many records each rule will find due in each coming month and week.",
        discussion: """
            What the warning periods and the next timer runs will meet: per rule, the records whose time will be up in each \
            calendar month (and each week) of --horizon, counted with the same clocks, filters and relations as `plan`, one \
            statement per rule. Records already due, already done or held themselves now are not counted (a hold on a child row is decided when the time comes); consent and related \
            records are decided when the time comes. Changes nothing; the database is opened read-only. Exit 0.
            """
    )

    @OptionGroup var options: PolicyOptions

    @Option(
        name: .long, help: ArgumentHelp("How far ahead, in months: 1mo to 24mo (or 1y, 2y).", valueName: "duration"))
    var horizon = "12mo"

    /// What `forecast` prints.
    enum Format: String, ExpressibleByArgument, CaseIterable {
        case text, json, html
    }

    @Option(
        name: .long,
        help: ArgumentHelp(
            "text (a table), json, or html (one self-contained page with a chart per rule).", valueName: "format"))
    var format: Format = .text

    func months() throws -> Int {
        guard let d = try? RetentionDuration(parsing: horizon), d.days == 0, d.hours == 0, d.minutes == 0,
            d.seconds == 0,
            (1...24).contains(d.years * 12 + d.months)
        else {
            throw ValidationError("--horizon takes whole months from 1mo to 24mo (or 1y, 2y), not `\(horizon)`")
        }
        return d.years * 12 + d.months
    }

    func validate() throws { _ = try months() }

    func run() async throws {
        try await reportingFailures {
            let (planner, diagnostics) = try await options.loadPlanner()
            noteWarnings(diagnostics)
            let forecast = try await Forecaster(resolved: planner.resolved, reader: planner.reader).forecast(
                now: options.currentTime(), months: try months())
            switch format {
            case .json: try printJSON(forecast)
            case .html:
                print(forecast.html(policyPath: planner.policy.path, policyHash: planner.policy.hash), terminator: "")
            case .text: print(forecast.text(), terminator: "")
            }
            return .success
        }
    }
}
