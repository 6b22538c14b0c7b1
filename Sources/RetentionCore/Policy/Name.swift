import Foundation

/// An identifier from the policy (table or column name) with where it was written.
public struct Name: Sendable, Hashable, CustomStringConvertible {
    public var value: String
    public var location: SourceLocation
    public init(_ value: String, at location: SourceLocation) {
        self.value = value
        self.location = location
    }
    public var description: String { value }
}
