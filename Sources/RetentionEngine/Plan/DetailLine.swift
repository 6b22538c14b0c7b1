import RetentionCore
import RetentionStore

/// One line of `plan --detail`: a record, its clock, and what the rule does to it.
public struct DetailLine: Sendable {
    public var rule: String
    public var key: RecordKey
    public var clock: [SQLValue]
    public var decision: Decision
    /// For `kept_by_rule`: the rules that keep the record or a row its deletion would take; for
    /// `related_record`: where the rule's related records are (relations or tables; `explain`
    /// names the records themselves).
    public var keptBy: [String] = []
    /// The clock's inputs by name (`last_contact_at`, `events.datep`), and which of them the
    /// clock took (the latest, or the first set), when any is set.
    public var clockNames: [String] = []
    public var clockUsed: Int?
    /// For a due record: the earlier rule of the run that deletes it first (it is counted there).
    public var takenBy: String?
    /// For a due record, when asked for (`plan --format csv|jsonl`): the rows of each child table
    /// that belong to it (deleted, or anonymised by an anonymise rule's declared children). A row
    /// two due records share counts under each; owned rows, which go only once nothing points at
    /// them, are not listed. The report's per-table counts are the exact totals.
    public var childRows: [(table: String, rows: Int)] = []
}
