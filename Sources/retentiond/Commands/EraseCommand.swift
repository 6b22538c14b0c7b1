import ArgumentParser
import Foundation
import RetentionCore
import RetentionEngine

struct EraseCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "erase",
        abstract:
            "Carry out a data subject's erasure request (GDPR art. 17) on one record, through the policy's rules.",
        discussion: """
            Applies now, in order, each rule of --subject that changes data (anonymise, purge) to the record named by the \
            subject's key, as if its time were up: the clock is not waited for and consent no longer keeps it (the request \
            withdraws it), but legal holds, related records that must still be kept (a legal obligation such as invoices) and \
            references still keep what they keep — and are reported as the reason. Children go as in a scheduled run. Every \
            change is audited with the request's reference and --by; a report for the DPO (what was erased, what was kept and \
            why) is printed and written to the reports directory. --dry-run says what would happen and changes nothing. \
            With an archive (docs/policy.md, "Archive"), a rule that archives moves the record there, and the request then \
            meets the archive's rules, which wait for their clocks: a legal obligation keeps what it keeps until its time is up. \
            Exit 0; 64 when the subject is not in the policy or no record has the key; 5 when a run holds the lock.
            """
    )

    @OptionGroup var options: PolicyOptions

    @OptionGroup var record: RecordOptions

    @Option(
        name: .long,
        help: ArgumentHelp(
            "The request's reference (a ticket or letter number), recorded in the audit trail.", valueName: "ref"))
    var request: String

    @Option(name: .long, help: ArgumentHelp("Who carries it out (recorded as the actor).", valueName: "name"))
    var by: String

    @Flag(name: .long, help: "Say what would happen; change nothing.")
    var dryRun = false

    func validate() throws {
        guard !request.trimmingCharacters(in: .whitespaces).isEmpty else {
            throw ValidationError("--request needs the request's reference")
        }
        guard !by.trimmingCharacters(in: .whitespaces).isEmpty else {
            throw ValidationError("--by needs who carries the request out")
        }
    }

    func run() async throws {
        try await reportingFailures {
            // The request reaches the archive too: a record moved there (before, or by this very
            // request) meets the archive's rules, which wait for their clocks.
            let whole = try options.loadWholePolicy()
            var phases = [options]
            if !options.archive, whole.settings.archive != nil,
                whole.policy.enforced(in: .archive).subjects.contains(where: { $0.id == record.subject })
            {
                var archive = options
                archive.archive = true
                phases.append(archive)
            }
            var erased = 0
            for (i, phase) in phases.enumerated() {
                if i > 0, try await !phase.archiveIsMade() { break }
                do {
                    try await erase(in: phase)
                    erased += 1
                } catch let failure as CommandFailure where phases.count > 1 && failure.status == .usage {
                    continue
                } catch EnforcementError.invalidRequest where phases.count > 1 {
                    continue
                }
            }
            if erased == 0 {
                throw CommandFailure.noSuchRecord(subject: record.subject, key: record.key)
            }
            return .success
        }
    }

    /// The request carried out in one phase's database, its report printed and written.
    func erase(in phase: PolicyOptions) async throws {
        let (policy, settings, _) = try phase.loadPolicy()
        _ = try record.subject(in: policy)
        let (enforcer, _) = try await phase.loadEnforcer(actor: by)
        // As validated: its names spelled as the database holds them.
        let found = try record.subject(in: enforcer.resolved.policy)
        let report = try await enforcer.erase(
            subject: found, keyText: record.key, request: request, now: phase.currentTime(), dryRun: dryRun)
        let paths = try StateFiles.writeErasure(report, policy: policy, settings: settings)
        if policy.phase == .archive { print("in the archive (\(settings.database.displayName)):") }
        print(report.markdown())
        print("report: \(paths.markdown)\n        \(paths.json)")
    }
}
