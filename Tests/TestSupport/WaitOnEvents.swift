import Dispatch
import RetentionStore

// What a test waits on instead of time (CONTRIBUTING.md): an application's transaction that holds
// its locks until released, and a run's first committed batch.

extension RecordStore {
    /// An application's transaction on this store: does `body`, then stays open, holding its
    /// locks, until `release` is signalled (or ten minutes have passed: a way out should the test
    /// otherwise hang, so that it fails instead — long enough that a run slowed down by a loaded
    /// machine still meets the lock: under two suites and two busy loops, one run took a minute to
    /// reach its first commit, and a one-minute way out let the application go before the run met
    /// it). Returns once `body` has run; `open` ends with the transaction.
    public func transactionKeptOpen(_ body: @escaping @Sendable (any WritingSession) throws -> Void) async throws
        -> (release: DispatchSemaphore, open: Task<Void, Error>)
    {
        let (locked, ended) = (Finished(), Finished())
        let release = DispatchSemaphore(value: 0)
        let open = Task {
            defer { ended.set() }
            try await transaction { session in
                try body(session)
                locked.set()
                _ = release.wait(timeout: .now() + 600)
            }
        }
        while !locked.isSet, !ended.isSet { try await Task.sleep(for: .milliseconds(20)) }
        if !locked.isSet { try await open.value }  // `body` failed: its error
        return (release, open)
    }
}

extension RecordReader {
    /// How many entries of changes (purges and anonymisations) the trail holds: how far a run has
    /// gone, counted in records, as its batches commit.
    public func auditedChanges() async throws -> Int {
        try await read { session in
            guard try session.tableExists("retentiond_audit") else { return 0 }
            guard
                case .integer(let count) = try session.rows(
                    "SELECT count(*) FROM retentiond_audit WHERE action IN ('anonymise', 'purge')", []
                ).first?.first
            else { return 0 }
            return Int(count)
        }
    }
}
