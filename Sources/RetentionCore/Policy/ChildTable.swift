import Foundation

/// How a purge finds child rows.
public enum ChildSelection: Sendable {
    /// Only the listed child tables (and their own listed children).
    case declared([ChildTable])
    /// Every table whose foreign keys reference the purged table, recursively.
    case foreignKeys
}

/// A table whose rows a child's rows point to (`foreign_key` of the child → `references` of the
/// owned table), deleted with them when no other row points to them any more.
public struct OwnedTable: Sendable {
    public var table: Name
    /// Columns of the child that point at the owned row.
    public var foreignKey: [Name]
    /// Columns of the owned table they hold; its primary key when empty.
    public var references: [Name]
    /// Rules whose keeping this deletion is declared to override (docs/policy.md, "Precedence").
    public var overrides: [Name] = []

    public init(table: Name, foreignKey: [Name], references: [Name]) {
        self.table = table
        self.foreignKey = foreignKey
        self.references = references
    }
}

/// Rows of a child table that hang off other rows of the same table (`parent_id`, `via`): a
/// thread's replies, a group membership derived from another. They go with their root.
public struct ChildTree: Sendable {
    /// Columns of the table that point at another of its rows…
    public var foreignKey: [Name]
    /// …and the columns they hold (the self-referencing foreign key's, else the primary key) when empty.
    public var references: [Name]
    /// How many levels below a root are followed; nil: as many as the child's depth allows.
    public var depth: Int?
    public var location: SourceLocation

    public init(foreignKey: [Name], references: [Name], depth: Int?, location: SourceLocation) {
        self.foreignKey = foreignKey
        self.references = references
        self.depth = depth
        self.location = location
    }
}

/// What an anonymise rule does to a child's rows when it anonymises their parent.
public enum ChildAction: Sendable {
    case purge
    case anonymise([FieldStrategy])
}

/// A table whose rows belong to a purged (or anonymised) parent row.
public struct ChildTable: Sendable {
    public var table: Name
    /// Columns of the child that reference the parent's key (or `references`).
    public var foreignKey: [Name]
    /// Parent columns referenced; the parent's key when empty.
    public var references: [Name]
    /// Tables related to the child's rows, for its conditions (`dynamic_field.object_type`).
    public var relations: [Relation] = []
    /// Conditions a row must also meet to belong to the parent: the discriminator of a
    /// polymorphic child (`elementtype: ticket`), on its columns or its relations'.
    public var conditions: [FilterCondition]
    /// Match `foreign_key` and `references` case-insensitively.
    public var caseInsensitive: Bool
    /// Read the parent's referenced columns as text (`as: text`): a `foreign_key` of text holding
    /// the parent's numeric ids.
    public var asText = false
    /// Rows the child's rows point to that go with them once nothing else points to them
    /// (Znuny's `calendar_appointment` behind `calendar_appointment_ticket`).
    public var owns: [OwnedTable] = []
    /// What happens to the child's rows: deleted (a purge's children, always) or, under an
    /// anonymise rule, deleted or anonymised with their parent, in its transaction.
    public var action: ChildAction = .purge
    /// Rules whose keeping the deletion of this child's rows (and of everything below them) is
    /// declared to override: without it, a row another rule keeps keeps its record (docs/policy.md, "Precedence").
    public var overrides: [Name] = []
    public var children: [ChildTable]
    /// `children: auto` on the child: every table referencing it, recursively, as for a rule.
    public var autoChildren = false
    /// `tree:`: rows of this table reached through its self-reference go with their root.
    public var tree: ChildTree?

    public init(
        table: Name, foreignKey: [Name], references: [Name] = [], conditions: [FilterCondition] = [],
        caseInsensitive: Bool = false, children: [ChildTable] = []
    ) {
        self.table = table
        self.foreignKey = foreignKey
        self.references = references
        self.conditions = conditions
        self.caseInsensitive = caseInsensitive
        self.children = children
    }
}
