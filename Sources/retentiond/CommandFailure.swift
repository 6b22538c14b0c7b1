import ArgumentParser
import Foundation
import Logging
import RetentionCore
import RetentionEngine
import Synchronization

/// How a command ends: every failure becomes a message on stderr (a line, or JSON with
/// `--log-format json`; with its syslog priority under the journal) and a documented exit status.
/// An error with the exit status it must end the process with.
struct CommandFailure: Error {
    var status: ExitStatus
    var message: String
    init(_ status: ExitStatus, _ message: String) {
        self.status = status
        self.message = message
    }
}

/// Runs a command body, turning every failure into a message on stderr and a documented exit status.
func reportingFailures(_ body: () async throws -> ExitStatus) async throws {
    let status: ExitStatus
    do {
        status = try await body()
    } catch let error as CommandFailure {
        printError(error.message)
        throw ExitCode(error.status.rawValue)
    } catch let error as ExitCode {
        throw error
    } catch let error as CleanExit {
        throw error
    } catch let error as ValidationError {
        throw error
    } catch {
        let failure = EnforcementError.from(error)
        if case .policyInvalid(let diagnostics) = failure {
            let ordered = diagnostics.sorted {
                ($0.location.file, $0.location.line, $0.location.column) < (
                    $1.location.file, $1.location.line, $1.location.column
                )
            }
            for d in ordered { printError(d.description, prefix: false) }
            let errors = diagnostics.filter { $0.severity == .error }.count
            printError("policy invalid: \(errors) error(s); nothing was changed")
        } else {
            printError(failure.description)
        }
        throw ExitCode(ExitStatus(failure.kind).rawValue)
    }
    if status != .success { throw ExitCode(status.rawValue) }
}

/// Under the journal, each line carries its syslog priority so errors are stored as errors.
private let journalPrefixes = LogFormat.stderrIsJournal()
/// With `--log-format json`, what the commands write to stderr beside the log is JSON too.
let messagesAsJSON = Atomic<Bool>(false)

/// One message on stderr: a line (with its syslog priority under the journal) or, with
/// `--log-format json`, one JSON object like the log's.
func writeMessage(_ text: String, level: Logger.Level) {
    if messagesAsJSON.load(ordering: .relaxed) {
        let object: [String: Any] = [
            "time": ISO8601DateFormatter().string(from: Date()), "level": level.rawValue, "label": "retentiond",
            "message": text,
        ]
        let data =
            (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes]))
            ?? Data()
        FileHandle.standardError.write(data + Data("\n".utf8))
    } else {
        let priority = journalPrefixes ? "<\(LineLogHandler.priority(level))>" : ""
        FileHandle.standardError.write(Data((priority + text.printable + "\n").utf8))
    }
}

func printError(_ message: String, prefix: Bool = true) {
    writeMessage((prefix ? "retentiond: error: " : "") + message, level: .error)
}

/// Outside `check`, a policy's warnings are one line, once per command: `check` lists them.
func noteWarnings(_ diagnostics: [Diagnostic]) {
    let count = diagnostics.filter { $0.severity == .warning }.count
    guard count > 0 else { return }
    writeMessage("the policy has \(count) warning(s); `retentiond check` lists them", level: .notice)
}

func printWarnings(_ diagnostics: [Diagnostic]) {
    for d in diagnostics where d.severity == .warning { writeMessage(d.description, level: .warning) }
}
