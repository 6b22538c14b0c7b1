import Foundation
import RetentionCore

/// A table a relation or child probes for every record without an index to serve it.
public struct UnindexedScan: Sendable, Hashable {
    public var table: String
    /// What probes it (`relation \`events\``, `child \`notes\``) and where the policy says so.
    public var what: String
    public var location: SourceLocation
    /// What to do: the `CREATE INDEX` to run, in this database's quoting (or, on MariaDB, how a
    /// case-insensitive match can be served).
    public var remedy: String

    public init(table: String, what: String, location: SourceLocation, remedy: String) {
        self.table = table
        self.what = what
        self.location = location
        self.remedy = remedy
    }
}
