import Foundation

/// A held run lock; released by `release()`, or at the latest when the last reference goes.
/// Whoever holds one runs its work inside `holding(_:)`, which keeps it held while the work runs.
public protocol RunLockHandle: AnyObject, Sendable {
    /// Throws `RunLocked.lost` when the lock is no longer held. Called inside every batch's
    /// transaction, before it commits, so a run that lost its lock changes nothing more.
    func confirm(in session: any WritingSession) throws
    /// Keeps the lock held until the calling task is cancelled: a lock that lapses unless renewed
    /// (a Galera cluster's lease) renews it here. Returns at once for a lock that needs no upkeep.
    func keepHeld() async
    /// Lets the lock go, and returns once another process could take it.
    func release() async
}

extension RunLockHandle {
    public func keepHeld() async {}

    /// Runs `body` with the lock kept held beside it (`keepHeld()` in a child task, ended when
    /// `body` ends), then lets the lock go whatever `body` does.
    public func holding<T>(_ body: () async throws -> T) async throws -> T {
        do {
            let result = try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { await self.keepHeld() }
                defer { group.cancelAll() }
                return try await body()
            }
            await release()
            return result
        } catch {
            await release()
            throw error
        }
    }
}

extension RecordStore {
    /// Runs `body` holding the run lock (`RunLockHandle.holding`), and lets it go before
    /// returning, whatever `body` does: the next command (a script's next erasure request) finds
    /// it free at once. Throws `RunLocked.held` when another run holds it.
    public func withRunLock<T>(_ body: (any RunLockHandle) async throws -> T) async throws -> T {
        let lock = try await acquireRunLock()
        return try await lock.holding { try await body(lock) }
    }
}
