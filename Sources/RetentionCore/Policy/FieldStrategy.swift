import Foundation

/// What an anonymisation does to one column.
public struct FieldStrategy: Sendable {
    public var column: Name
    public var strategy: AnonymisationStrategy
}
