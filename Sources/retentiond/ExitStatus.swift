import ArgumentParser
import RetentionCore

/// The exit statuses of every command, documented in docs/operations.md and README.md.
enum ExitStatus: Int32, Sendable, CaseIterable {
    case success = 0
    case failure = 1
    /// A plan or dry run found records to change; `diff`: the new policy makes more records due.
    case changesPlanned = 2
    case policyInvalid = 3
    case safetyLimit = 4
    case locked = 5
    case databaseUnavailable = 6
    case auditInvalid = 7
    /// Refused before any change: the clock is earlier than the last run, or a plan does not match.
    case refused = 8
    /// The state directory (plans, audit head, reports) or a file given on the command line cannot be written.
    case cannotWrite = 9
    /// The run went through, but the database refused to change some records (listed in the report).
    case recordsFailed = 10
    /// `--max-duration` reached: committed batches stay, the next run continues.
    case timeLimit = 11
    /// A bad command line, or one naming what is not there (a record, a table, a hold).
    case usage = 64

    /// A few words for the overview of `retentiond --help`.
    var brief: String {
        switch self {
        case .success: "success"
        case .failure: "internal error"
        case .changesPlanned: "changes planned (plan, dry run; diff: more records due)"
        case .policyInvalid: "policy invalid"
        case .safetyLimit: "safety limit hit (or an unaccepted policy change)"
        case .locked: "locked by another run"
        case .databaseUnavailable: "database unavailable"
        case .auditInvalid: "audit trail tampered"
        case .refused: "refused (clock, plan, audit key, unindexed scan)"
        case .cannotWrite: "a state file cannot be written"
        case .recordsFailed: "the database refused some records"
        case .timeLimit: "stopped at --max-duration"
        case .usage: "bad command line"
        }
    }

    /// "Exit statuses: 0 success, 1 internal error, …", every status once, wrapped at 80 columns:
    /// written from the statuses themselves, so the help cannot leave one out.
    static var overview: String {
        var lines = [""]
        for (i, status) in allCases.enumerated() {
            // A status's number stays with the first word of its meaning.
            var words = (status.brief + (i == allCases.count - 1 ? "." : ",")).split(separator: " ").map(String.init)
            words[0] = "\(status.rawValue) " + words[0]
            if i == 0 { words.insert(contentsOf: ["Exit", "statuses:"], at: 0) }
            for word in words {
                if lines[lines.count - 1].count + word.count + 1 > 76 { lines.append("") }
                lines[lines.count - 1] += (lines[lines.count - 1].isEmpty ? "" : " ") + word
            }
        }
        return lines.joined(separator: "\n")
    }

    init(_ kind: FailureKind) {
        switch kind {
        case .policyInvalid: self = .policyInvalid
        case .safetyLimit: self = .safetyLimit
        case .locked: self = .locked
        case .databaseUnavailable: self = .databaseUnavailable
        case .auditTampered: self = .auditInvalid
        case .refused: self = .refused
        case .cannotWrite: self = .cannotWrite
        case .timeLimit: self = .timeLimit
        case .invalidRequest: self = .usage
        case .failed: self = .failure
        }
    }
}
