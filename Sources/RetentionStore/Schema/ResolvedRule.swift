import Foundation
import RetentionCore

/// A rule as the engine reads it: the rule, its subject, and its shape on the live schema — one
/// value from the validator.
public struct ResolvedRule: Sendable {
    public let rule: RetentionRule
    public let subject: Subject
    public let shape: RuleShape

    public var id: String { rule.id }
    /// The subject's table, as the database spells it.
    public var table: String { subject.table.value }
}
