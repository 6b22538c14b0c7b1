import ArgumentParser
import Foundation
import RetentionCore
import RetentionEngine

struct CheckCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check",
        abstract: "Validate a policy: YAML, keys, types, durations, then against the live database schema.",
        discussion: "Problems are printed as file:line:column: error|warning: … with what to do; active legal holds that protect no record exactly are listed too. Exit 0 when valid (warnings allowed), 3 when invalid, 6 when the database is unavailable. Changes nothing."
    )

    @OptionGroup var options: PolicyOptions

    func run() async throws {
        try await reportingFailures {
            let (policy, parseWarnings) = try options.loadPolicy()
            let store = try await options.openReader(policy)
            let (resolved, diagnostics) = try await Enforcer.validate(policy, store: store)
            let all = parseWarnings + diagnostics
            guard resolved != nil else { throw EnforcementError.policyInvalid(all) }
            printWarnings(all)
            let holds = try await HoldRegistry.unmatched(in: store, at: options.currentTime())
            for message in holds { printError("warning: " + message, prefix: false) }
            let warnings = all.filter { $0.severity == .warning }.count + holds.count
            print("\(policy.path): valid: \(policy.subjects.count) subjects, \(policy.rules.count) rules, \(warnings) warning(s), database \(store.location)")
            return .success
        }
    }
}
