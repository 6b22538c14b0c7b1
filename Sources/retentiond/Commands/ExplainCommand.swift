import ArgumentParser
import Foundation
import RetentionCore
import RetentionEngine

struct ExplainCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "explain",
        abstract:
            "Why one record is still kept, and when it will go: every rule of its subject, its clock, when it is due, what keeps it.",
        discussion: """
            The answer to a data subject's "why do you still have my data?" and "when will it go?": for the record of \
            --subject named by the subject's key, each rule's clock value, the day the rule's time is up, and what keeps it \
            (a legal hold, consent, a related record that must still be kept, a reference) — computed by the same queries as \
            `plan`, at --now. A record no longer in the application's database is looked for in the archive (the policy's \
            `archive`), whose rules then say when it goes from there. Prints no personal data beyond the key given. Changes nothing; the database is opened read-only. \
            Exit 0; 64 when the subject is not in the policy or no record has the key.
            """
    )

    enum Format: String, ExpressibleByArgument, CaseIterable { case text, json }

    @OptionGroup var options: PolicyOptions

    @OptionGroup var record: RecordOptions

    @Option(name: .long, help: ArgumentHelp("text (for people) or json (for scripts).", valueName: "format"))
    var format: Format = .text

    func run() async throws {
        try await reportingFailures {
            // A record no longer in the application's database is looked for in the archive.
            let whole = try options.loadWholePolicy()
            var phases = [options]
            if !options.archive, whole.settings.archive != nil, !whole.policy.enforced(in: .archive).rules.isEmpty {
                var archive = options
                archive.archive = true
                phases.append(archive)
            }
            var explanation: Explanation?
            for (i, phase) in phases.enumerated() {
                if i > 0, try await !phase.archiveIsMade() { break }
                do {
                    explanation = try await Self.explain(record, in: phase)
                    break
                } catch let failure as CommandFailure where i + 1 < phases.count && failure.status == .usage {
                    continue
                } catch EnforcementError.invalidRequest where i + 1 < phases.count {
                    continue
                }
            }
            guard let explanation else {
                throw CommandFailure.noSuchRecord(subject: record.subject, key: record.key)
            }
            switch format {
            case .json:
                let encoder = JSONEncoder()
                encoder.dateEncodingStrategy = .iso8601
                encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
                print(String(decoding: try encoder.encode(explanation), as: UTF8.self))
            case .text:
                print(
                    "\(explanation.subject) \(explanation.table):\(explanation.key)"
                        + (explanation.phase == Phase.archive.rawValue ? " — in the archive" : ""))
                for rule in explanation.rules {
                    print("\nrule \(rule.rule) (\(rule.action)) — \(rule.register)")
                    print("  legal basis: \(rule.legalBasis)")
                    if rule.applies { print("  clock: \(rule.clock ?? "(empty)")") }
                    print("  \(rule.verdict)")
                }
            }
            return .success
        }
    }

    /// The explanation of the record in one phase's database.
    static func explain(_ record: RecordOptions, in options: PolicyOptions) async throws -> Explanation {
        _ = try record.subject(in: try options.loadPolicy().policy)
        let (planner, _) = try await options.loadPlanner()
        // As validated: its names spelled as the database holds them.
        let found = try record.subject(in: planner.resolved.policy)
        return try await Explainer(resolved: planner.resolved, reader: planner.reader).explain(
            subject: found, keyText: record.key, now: options.currentTime())
    }
}
