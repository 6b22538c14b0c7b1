import Foundation

/// What happens to a record whose time is up.
public enum RuleAction: Sendable {
    /// Record that it is due (audit and report), change nothing: a warning period.
    case flag
    /// Overwrite personal fields in place; the row stays. Declared children are anonymised or
    /// deleted with it (`ChildTable.action`).
    case anonymise([FieldStrategy], children: [ChildTable] = [])
    /// Delete the row and its declared (or foreign-key-found) child rows, children first.
    case purge(ChildSelection)

    public var name: String { auditAction.rawValue }

    /// What the audit trail records for each record this action changes.
    public var auditAction: AuditAction {
        switch self {
        case .flag: return .flag
        case .anonymise: return .anonymise
        case .purge: return .purge
        }
    }
}
