import Foundation
import RetentionCore
import Synchronization

/// One batch of a plan: records of one rule, with their references already computed.
struct PlannedBatch: Sendable {
    var rule: String
    var keys: [RecordKey]
    /// Each key's pseudonymous reference (`AuditChain.reference`), computed outside the batch's
    /// transaction; a batch computes any it does not find here.
    var references: [RecordKey: String]
}

/// The entries of a plan file cut into batches: consecutive entries of one rule, at most `size`
/// each. `Applier.applyPlan` asks for the next batch before it applies the current one, so the
/// plan is read and the references hashed on another core while the database works.
final class PlanBatches: Sendable {
    private struct State {
        var reader: PlanReader
        /// The entry that ended the previous batch (another rule's, or one too many).
        var held: PlanDocument.Entry?
    }

    private let state: Mutex<State>
    private let size: Int
    private let tables: [String: String]
    private let chain: AuditChain?

    /// `chain` and `tables` (each rule's table, which its references name): to compute the
    /// references; without them, batches come with none.
    init(reader: sending PlanReader, size: Int, tables: [String: String] = [:], chain: AuditChain? = nil) {
        state = Mutex(State(reader: reader))
        self.size = size
        self.tables = tables
        self.chain = chain
    }

    /// The next batch, or nil at the end of the plan.
    func next() throws -> PlannedBatch? {
        let taken = try state.withLock { state -> (rule: String, keys: [RecordKey])? in
            var entry = state.held
            state.held = nil
            if entry == nil { entry = try Self.nextEntry(state.reader) }
            guard let first = entry else { return nil }
            var keys = [first.key]
            keys.reserveCapacity(size)
            while keys.count < size, let entry = try Self.nextEntry(state.reader) {
                guard entry.rule == first.rule else {
                    state.held = entry
                    break
                }
                keys.append(entry.key)
            }
            return (first.rule, keys)
        }
        guard let taken else { return nil }
        var references: [RecordKey: String] = [:]
        if let chain, let table = tables[taken.rule] {
            references.reserveCapacity(taken.keys.count)
            for key in taken.keys { references[key] = chain.reference(table: table, key: key) }
        }
        return PlannedBatch(rule: taken.rule, keys: taken.keys, references: references)
    }

    private static func nextEntry(_ reader: PlanReader) throws -> PlanDocument.Entry? {
        while let line = try reader.next() {
            if case .entry(let entry) = line { return entry }
        }
        return nil
    }
}
