import Foundation

/// "Unless the person agreed otherwise": a column that extends retention.
public struct Consent: Sendable {
    public enum Kind: String, Sendable { case until, flag }
    /// `until`: a date column, exempt while it is in the future. `flag`: exempt while true/non-zero.
    public var kind: Kind
    public var column: Name
}
