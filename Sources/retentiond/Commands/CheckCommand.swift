import ArgumentParser
import Foundation
import RetentionCore
import RetentionEngine
import RetentionStore

struct CheckCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check",
        abstract: "Validate a policy: YAML, keys, types, durations, then against the live database schema.",
        discussion: "Problems are printed as file:line:column: error|warning: … with what to do; active legal holds that protect no record exactly are listed too. For each purge rule, the tree of child tables it deletes from (declared, or found by `children: auto`) is printed with the columns that link them. On PostgreSQL, every privilege the policy needs (SELECT on what it reads, DELETE on what purges reach, UPDATE on anonymised columns) is checked for the connecting role, and all that are missing are listed with the GRANT statements to run (exit 3; with --for-planning, only what `plan` needs). Exit 0 when valid (warnings allowed), 3 when invalid, 6 when the database is unavailable. Changes nothing."
    )

    @OptionGroup var options: PolicyOptions

    @Flag(name: .long, help: "Check only the privileges `plan` needs (SELECT), for a role that reviews but does not enforce.")
    var forPlanning = false

    func run() async throws {
        try await reportingFailures {
            let (policy, parseWarnings) = try options.loadPolicy()
            let store = try await options.openReader(policy)
            let (resolved, diagnostics) = try await Enforcer.validate(policy, store: store)
            let all = parseWarnings + diagnostics
            guard let resolved else { throw EnforcementError.policyInvalid(all) }
            printWarnings(all)
            for rule in policy.rules { print(Self.childTree(rule, resolved: resolved), terminator: "") }
            let needs = resolved.privilegesNeeded.filter { !forPlanning || $0.kind == .select }
            let privileges = try await store.read { try $0.privileges(needs) }
            if !privileges.missing.isEmpty {
                for need in privileges.missing {
                    printError("error: role `\(privileges.role ?? "?")` may not \(need.kind.rawValue) \(need.column.map { "column `\($0)` of " } ?? "")`\(need.table)`, which the policy needs", prefix: false)
                }
                printError("grant what is missing (as the tables' owner), then check again:\n  " + privileges.grants.joined(separator: "\n  "), prefix: false)
                return .policyInvalid
            }
            let holds = try await HoldRegistry.unmatched(in: store, at: options.currentTime())
            for message in holds { printError("warning: " + message, prefix: false) }
            let warnings = all.filter { $0.severity == .warning }.count + holds.count
            print("\(policy.path): valid: \(policy.subjects.count) subjects, \(policy.rules.count) rules, \(warnings) warning(s), database \(store.location)")
            return .success
        }
    }

    /// What a purge rule deletes, children before their parent: each child with the columns
    /// linking it to its parent, and whether conditions (a discriminator) restrict it.
    static func childTree(_ rule: RetentionRule, resolved: ResolvedPolicy) -> String {
        guard case .purge = rule.action else { return "" }
        let table = resolved.policy.subject(for: rule).table.value
        let shape = resolved.shape(of: rule)
        var text = "purge rule `\(rule.id)` deletes from \(table)"
        text += shape.childPaths.isEmpty ? " only\n" : " and, first:\n"
        for path in shape.childPaths {
            let link = path[path.count - 1]
            let parent = path.count > 1 ? path[path.count - 2].table : table
            let pairs = zip(link.foreignKey, link.referenced).map { "\($0) = \(parent).\($1)" }.joined(separator: ", ")
            let extras = (link.caseInsensitive ? ", case-insensitive" : "") + (link.conditions.isEmpty ? "" : ", \(link.conditions.count) condition(s)")
                + (link.owned ? ", once nothing else points at it" : "")
            text += String(repeating: "  ", count: path.count) + "\(link.table) (\(pairs)\(extras))\n"
        }
        for reference in shape.undeclaredReferences {
            text += "  kept while referenced from \(reference.table) (\(reference.columns.joined(separator: ", ")))\n"
        }
        return text
    }
}
