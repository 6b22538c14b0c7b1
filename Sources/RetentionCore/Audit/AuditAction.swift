/// What an audit entry records. The trail stores the raw value.
public enum AuditAction: String, Sendable, CaseIterable {
    case flag
    case anonymise
    case purge
    case purgeChildren = "purge-children"
    /// A record moved to the archive database (`action: archive`): copied there, then deleted here.
    case archive
    /// Child rows moved to the archive with their parent (a count per table, no keys).
    case archiveChildren = "archive-children"
    /// Child rows anonymised with their parent by an anonymise rule (a count per table, no keys).
    case anonymiseChildren = "anonymise-children"
    case runCompleted = "run-completed"
    case holdAdd = "hold-add"
    case holdRelease = "hold-release"
    /// An operator re-anchored the trail after a legitimate restore (the lost head is in the detail).
    case reanchored = "audit-reanchored"
    /// The audit key was replaced: this entry, the first sealed with the new key, seals every entry
    /// before it by their digest (so the trail verifies with the new key alone) and names the old head.
    case keyRotated = "audit-key-rotated"
    /// An operator accepted a policy change that makes more records due (`run
    /// --accept-policy-change`): the old and new policies' digests and each rule's counts.
    case policyChangeAccepted = "policy-change-accepted"
}
