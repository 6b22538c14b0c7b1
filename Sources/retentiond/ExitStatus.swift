import ArgumentParser
import RetentionCore

/// The exit statuses of every command, documented in docs/operations.md and README.md.
enum ExitStatus: Int32, Sendable {
    case success = 0
    case failure = 1
    /// A plan or dry run found records to change.
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
