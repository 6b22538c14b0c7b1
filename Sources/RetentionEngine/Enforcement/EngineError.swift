import RetentionCore
import RetentionStore

/// Why an operation stopped, and its kind (which the command line maps to an exit status).
/// Messages never carry personal values.
public enum EnforcementError: Error, CustomStringConvertible {
    case policyInvalid([Diagnostic])
    /// The figures, and the planned counts per rule for the report of the refused run.
    case safetyLimit([String], [RuleTally])
    /// The policy differs from the one the last run enforced and makes more records due; nothing
    /// was changed until the change is accepted (`run --accept-policy-change`).
    case policyChangeUnreviewed(String)
    case locked(String)
    case databaseUnavailable(String)
    case refused(String)
    case auditKey(String)
    /// The audit trail or the holds it vouches for were changed outside retentiond: nothing is changed.
    case auditTampered(String)
    /// A file retentiond keeps (plan, audit head, report) cannot be written: permissions, a full disk.
    case cannotWrite(String)
    /// The command named a record, table or hold that is not there, or a key that cannot be one.
    case invalidRequest(String)
    case failed(String)

    public var kind: FailureKind {
        switch self {
        case .policyInvalid: return .policyInvalid
        case .safetyLimit, .policyChangeUnreviewed: return .safetyLimit
        case .locked: return .locked
        case .databaseUnavailable: return .databaseUnavailable
        case .refused, .auditKey: return .refused
        case .auditTampered: return .auditTampered
        case .cannotWrite: return .cannotWrite
        case .invalidRequest: return .invalidRequest
        case .failed: return .failed
        }
    }

    public var description: String {
        switch self {
        case .policyInvalid(let diagnostics): return diagnostics.map(\.description).joined(separator: "\n")
        case .safetyLimit(let lines, _):
            return "safety limit exceeded, nothing was changed:\n" + lines.map { "  \($0)" }.joined(separator: "\n")
                + "\nreview the plan (`retentiond plan --detail`), then re-run with --allow-more if it is right"
        case .policyChangeUnreviewed(let m), .locked(let m), .databaseUnavailable(let m), .refused(let m),
            .auditKey(let m), .auditTampered(let m), .cannotWrite(let m), .invalidRequest(let m), .failed(let m):
            return m
        }
    }

    /// One line for a status display (systemd's STATUS=, logs).
    public var summary: String {
        switch self {
        case .policyInvalid(let diagnostics):
            let errors = diagnostics.filter { $0.severity == .error }
            return "policy invalid (\(errors.count) error(s)), first: \(errors.first?.description ?? "")"
        case .safetyLimit(let lines, _):
            return "safety limit: " + (lines.first ?? "") + (lines.count > 1 ? " (and \(lines.count - 1) more)" : "")
        default:
            return String(description.split(separator: "\n").first ?? "")
        }
    }

    /// Maps store and policy errors onto the operator-facing kinds.
    public static func from(_ error: Error) -> EnforcementError {
        switch error {
        case let e as EnforcementError: return e
        case let e as PolicyInvalid: return .policyInvalid(e.diagnostics)
        case let e as DatabaseUnavailable: return .databaseUnavailable(e.description)
        case let e as StoreFailure: return .failed(e.description)
        case let e as AuditKey.LoadError: return .auditKey(e.description)
        case let e as Cutoff.Unavailable: return .failed(e.description)
        case let e as RunLocked:
            switch e {
            case .held(let message), .lost(let message): return .locked(message)
            case .failed(let message): return .failed(message)
            }
        default: return .failed("\(error)")
        }
    }
}
