import ArgumentParser
import Foundation
import RetentionCore
import RetentionEngine
import RetentionSQLite
import RetentionStore

struct CheckCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check",
        abstract: "Validate a policy: YAML, keys, types, durations, then against the live database schema.",
        discussion:
            "Problems are printed as file:line:column: error|warning: … with what to do; active legal holds that protect no record exactly are listed too. For each purge rule, the tree of child tables it deletes from (declared, or found by `children: auto`) is printed with the columns that link them. On PostgreSQL, every privilege the policy needs (SELECT on what it reads, DELETE on what purges reach, UPDATE on anonymised columns) and the tool's own tables need (CREATE on the schema; SELECT, INSERT… on the retentiond_* tables once they exist) is checked for the connecting role, and all that are missing are listed with the GRANT statements to run (exit 3; with --for-planning, only the SELECTs `plan` needs). The user running it must be able to write the reports directory and, to enforce, the state directory and (SQLite) the database file and its directory: each that is not is named (exit 3). Exit 0 when valid (warnings allowed), 3 when invalid, 6 when the database is unavailable. Changes nothing."
    )

    @OptionGroup var options: PolicyOptions

    @Flag(
        name: .long,
        help: "Check only the privileges `plan` needs (SELECT), for a role that reviews but does not enforce.")
    var forPlanning = false

    @Option(
        name: .long,
        help: ArgumentHelp(
            "text, or json: one document with the verdict, every diagnostic, missing privileges and what each purge deletes (docs/operations.md, \"Machine-readable output\").",
            valueName: "format"))
    var format: OutputFormat = .text

    /// What `--format json` prints.
    struct Result: Encodable {
        struct Purge: Encodable {
            var rule: String
            var table: String
            /// Child tables, parents first: each with its depth, the columns linking it, and how it is matched.
            var children: [Child]
            var keptWhileReferencedFrom: [String]
            /// Other subjects sharing the purged table whose rules must also let a record go
            /// (docs/policy.md, "Precedence"), and the rules an `overrides` named there.
            var keptBy: [String]
            var overrides: [String]
        }
        struct Child: Encodable {
            var table: String
            var depth: Int
            var links: [String]
            var conditions: Int
            var caseInsensitive: Bool
            var owned: Bool
            /// The subjects whose rules must also let these rows go, and the rules an `overrides` named.
            var keptBy: [String]
            var overrides: [String]
        }
        struct Privilege: Encodable {
            /// The table's name (or the sequence's, or the schema's: see `on`).
            var table: String
            var privilege: String
            var column: String?
            /// table, sequence or schema.
            var on: String
        }
        var policy: String
        var valid: Bool
        var database: String?
        var subjects: Int
        var rules: Int
        var diagnostics: [Diagnostic]
        var unmatchedHolds: [String] = []
        var missingPrivileges: [Privilege] = []
        var grants: [String] = []
        /// What keeps this user from writing what the commands write: the reports and state
        /// directories, and on SQLite the database file and its directory.
        var writeAccess: [String] = []
        var purges: [Purge] = []
        /// Tables more than one rule acts on (as subject, child or owned rows), with how each does.
        var overlaps: [Overlap] = []
        /// Where the archive is and who can read it (the policy's `archive`).
        var archive: ArchiveAccess?
    }
    struct Overlap: Encodable {
        var table: String
        var rules: [String]
    }

    func run() async throws {
        try await reportingFailures {
            let policy: Policy
            let settings: RunSettings
            let parseWarnings: [Diagnostic]
            do {
                (policy, settings, parseWarnings) = try options.loadPolicy()
            } catch let invalid as PolicyInvalid where format == .json {
                try printJSON(
                    Result(
                        policy: options.config ?? "", valid: false, database: nil, subjects: 0, rules: 0,
                        diagnostics: invalid.diagnostics))
                return .policyInvalid
            }
            let store = try await options.openReader(settings.database)
            let (resolved, diagnostics) = try await Enforcer.validate(policy, store: store)
            let all = parseWarnings + diagnostics
            var result = Result(
                policy: policy.path, valid: resolved != nil, database: store.location, subjects: policy.subjects.count,
                rules: policy.rules.count, diagnostics: all)
            guard let resolved else {
                if format == .json {
                    try printJSON(result)
                    return .policyInvalid
                }
                throw EnforcementError.policyInvalid(all)
            }
            let toolNeeds = resolved.toolTablePrivileges(enforcing: !forPlanning)
            let needs = resolved.privilegesNeeded.filter { !forPlanning || $0.kind == .select } + toolNeeds
            let privileges = try await store.read { try $0.privileges(needs) }
            // Holds are read only where the role may: otherwise the missing SELECT is what `check` reports.
            if !privileges.missing.contains(where: { $0.table == "retentiond_holds" && $0.kind == .select }) {
                result.unmatchedHolds = try await HoldRegistry.unmatched(
                    in: store, at: options.currentTime(), policy: resolved.policy)
            }
            result.missingPrivileges = privileges.missing.map {
                .init(
                    table: $0.table, privilege: $0.kind.rawValue, column: $0.column, on: $0.object.rawValue.lowercased()
                )
            }
            result.grants = privileges.grants
            if case .sqlite(let path) = settings.database, !forPlanning {
                result.writeAccess = SQLiteStore.writeAccessProblems(path: path)
            }
            // `plan` writes reports; an enforcing command also the chain head and its plans.
            result.writeAccess += [
                StateFiles.writeProblem(directory: settings.reportsDirectory, holding: "reports"),
                forPlanning
                    ? nil
                    : StateFiles.writeProblem(
                        directory: settings.stateDirectory, holding: "the audit chain head and plans"),
            ].compactMap { $0 }
            result.valid = privileges.missing.isEmpty && result.writeAccess.isEmpty
            result.purges = resolved.rules.compactMap(Self.purge)
            result.overlaps = Self.overlaps(resolved)
            if !options.archive { result.archive = try await archiveAccess(resolved, live: store) }
            if format == .json {
                try printJSON(result)
                return result.valid ? .success : .policyInvalid
            }
            printWarnings(all)
            for rule in resolved.rules { print(Self.childTree(rule, resolved: resolved), terminator: "") }
            if !result.overlaps.isEmpty {
                print("tables more than one rule acts on (keeping wins: docs/policy.md, \"Precedence\"):")
                for overlap in result.overlaps { print("  \(overlap.table): " + overlap.rules.joined(separator: "; ")) }
            }
            if let archive = result.archive {
                print(Self.describe(archive), terminator: "")
                for warning in archive.warnings { printError("warning: " + warning, prefix: false) }
            }
            for message in result.unmatchedHolds { printError("warning: " + message, prefix: false) }
            if !privileges.missing.isEmpty {
                for need in privileges.missing {
                    let neededBy =
                        need.object == .schema
                        ? "to create retentiond's own tables"
                        : toolNeeds.contains(need) ? "which retentiond's own tables need" : "which the policy needs"
                    printError(
                        "error: role `\(privileges.role ?? "?")` may not \(need.description), \(neededBy)",
                        prefix: false)
                }
                printError(
                    "grant what is missing (as the tables' owner), then check again:\n  "
                        + privileges.grants.joined(separator: "\n  "), prefix: false)
            }
            for problem in result.writeAccess { printError("error: " + problem, prefix: false) }
            if !result.valid { return .policyInvalid }
            let warnings =
                all.filter { $0.severity == .warning }.count + result.unmatchedHolds.count
                + (result.archive?.warnings.count ?? 0)
            print(
                "\(policy.path): valid: \(policy.subjects.count) subjects, \(policy.rules.count) rules, \(warnings) warning(s), database \(store.location)"
            )
            return .success
        }
    }

    static func purge(_ resolved: ResolvedRule) -> Result.Purge? {
        let (rule, shape, table) = (resolved.rule, resolved.shape, resolved.table)
        guard case .purge = rule.action else { return nil }
        let children = shape.childPaths.map { path -> Result.Child in
            let link = path[path.count - 1]
            let parent = path.count > 1 ? path[path.count - 2].table : table
            return Result.Child(
                table: link.table, depth: path.count,
                links: zip(link.foreignKey, link.referenced).map {
                    "\($0) = \(parent).\($1)\(link.parentAsText ? " as text" : "")"
                },
                conditions: link.conditions.count, caseInsensitive: link.caseInsensitive, owned: link.owned,
                keptBy: link.keptBy, overrides: link.overrides)
        }
        return Result.Purge(
            rule: rule.id, table: table, children: children,
            keptWhileReferencedFrom: shape.undeclaredReferences.map {
                "\($0.table)(\($0.columns.joined(separator: ", ")))"
            },
            keptBy: shape.subjectKeptBy, overrides: shape.subjectOverrides)
    }

    /// What a purge rule deletes, children before their parent: each child with the columns
    /// linking it to its parent, whether conditions (a discriminator) restrict it, and which other
    /// subjects' rules must also let its rows go (or which an `overrides` set aside).
    static func childTree(_ resolvedRule: ResolvedRule, resolved: ResolvedPolicy) -> String {
        let (rule, shape, table) = (resolvedRule.rule, resolvedRule.shape, resolvedRule.table)
        guard case .purge = rule.action else { return "" }
        var text =
            rule.archives
            ? "archive rule `\(rule.id)` moves from \(table) into the archive"
            : "purge rule `\(rule.id)` deletes from \(table)"
        text += shape.childPaths.isEmpty ? " only\n" : " and, first:\n"
        for path in shape.childPaths {
            let link = path[path.count - 1]
            let parent = path.count > 1 ? path[path.count - 2].table : table
            let pairs = zip(link.foreignKey, link.referenced).map {
                "\($0) = \(parent).\($1)\(link.parentAsText ? " as text" : "")"
            }.joined(separator: ", ")
            let extras =
                (link.caseInsensitive ? ", case-insensitive" : "")
                + (link.conditions.isEmpty ? "" : ", \(link.conditions.count) condition(s)")
                + (link.owned ? ", once nothing else points at it" : "")
                + Self.precedence(link.keptBy, link.overrides, policy: resolved.policy)
            text += String(repeating: "  ", count: path.count) + "\(link.table) (\(pairs)\(extras))\n"
        }
        if !shape.subjectKeptBy.isEmpty || !shape.subjectOverrides.isEmpty {
            text +=
                "  each record \(Self.precedence(shape.subjectKeptBy, shape.subjectOverrides, policy: resolved.policy).dropFirst(2))\n"
        }
        for reference in shape.undeclaredReferences {
            text += "  kept while referenced from \(reference.table) (\(reference.columns.joined(separator: ", ")))\n"
        }
        return text
    }

    /// Every table that more than one rule acts on — as its subject, or on child or owned rows —
    /// and how each rule does, with what decides where one deletes and another keeps.
    static func overlaps(_ resolved: ResolvedPolicy) -> [Overlap] {
        let policy = resolved.policy
        var byTable: [String: [String]] = [:]
        var rulesByTable: [String: Set<String>] = [:]
        for entry in resolved.rules {
            let rule = entry.rule
            byTable[entry.table, default: []].append("`\(rule.id)` (\(rule.actionName), subject `\(rule.subjectID)`)")
            rulesByTable[entry.table, default: []].insert(rule.id)
        }
        for entry in resolved.rules {
            let (rule, shape) = (entry.rule, entry.shape)
            let anonymised = Set(
                shape.childWork.compactMap { work -> String? in
                    if case .anonymise(let path, _, _, _) = work {
                        return path[path.count - 1].table
                    } else {
                        return nil
                    }
                })
            var seen = Set<String>()
            for path in shape.childPaths {
                let link = path[path.count - 1]
                guard seen.insert(link.table + (link.owned ? "/owned" : "")).inserted else { continue }
                let how =
                    anonymised.contains(link.table) && !link.owned
                    ? "anonymises child rows"
                    : link.owned ? "deletes owned rows" : "deletes child rows"
                byTable[link.table, default: []].append(
                    "`\(rule.id)` \(how)" + precedence(link.keptBy, link.overrides, policy: policy))
                rulesByTable[link.table, default: []].insert(rule.id)
            }
        }
        return byTable.keys.sorted().filter { rulesByTable[$0, default: []].count > 1 }.map {
            Overlap(table: $0, rules: byTable[$0]!)
        }
    }

    /// ", only where subject `invoices` (rule `accounting-records`) lets it go", ", overriding `x`".
    static func precedence(_ keptBy: [String], _ overrides: [String], policy: Policy) -> String {
        var text = ""
        for id in keptBy {
            guard let subject = policy.subjects.first(where: { $0.id == id }) else { continue }
            let rules = subject.rules.filter { if case .purge = $0.action { return true } else { return false } }.map {
                "`\($0.id)`"
            }
            text +=
                rules.isEmpty
                ? ", never while subject `\(id)` holds it (it purges nothing)"
                : ", only where subject `\(id)` lets it go (\(rules.joined(separator: ", ")))"
        }
        if !overrides.isEmpty { text += ", overriding \(overrides.map { "`\($0)`" }.joined(separator: ", "))" }
        return text
    }
}
