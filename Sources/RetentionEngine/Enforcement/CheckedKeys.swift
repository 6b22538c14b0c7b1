import RetentionCore
import RetentionStore

extension ResolvedPolicy {
    /// A key the database does not enforce (`key_uniqueness: checked`) is checked again before
    /// each plan and each application of one: while a value names several rows (or a row has
    /// none), no record of any rule is acted on — a batch deleting by that key would take rows it
    /// never decided on. (Within a run, a batch whose statement changes another number of rows than
    /// it audits is rolled back: a duplicate made meanwhile stops the run there.)
    func refuseAmbiguousKeys(in reader: any RecordReader) async throws {
        guard !schema.checkedKeys.isEmpty else { return }
        let found = try await reader.read { [keys = schema.checkedKeys] session in
            try keys.sorted { $0.key < $1.key }.map {
                ($0.key, $0.value, try session.ambiguousKeys(table: $0.key, keyColumns: $0.value))
            }
        }
        let problems = found.filter { !$0.2.isEmpty }.map { table, key, ambiguous in
            let subjects = policy.subjects.filter { $0.table.value == table }.map(\.id).joined(separator: ", ")
            return "subject \(subjects): \(ambiguous.describe(table, key))"
        }
        guard !problems.isEmpty else { return }
        throw EnforcementError.keysNotUnique(problems)
    }
}
