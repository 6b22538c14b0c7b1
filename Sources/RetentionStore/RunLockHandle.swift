import Foundation

/// A held run lock; released by `release()`, or at the latest when the last reference goes.
public protocol RunLockHandle: AnyObject, Sendable {
    /// Throws `RunLocked.lost` when the lock is no longer held. Called inside every batch's
    /// transaction, before it commits, so a run that lost its lock changes nothing more.
    func confirm(in session: any WritingSession) throws
    /// Lets the lock go, and returns once another process could take it.
    func release() async
}

extension RecordStore {
    /// Runs `body` holding the run lock, and lets it go before returning, whatever `body` does:
    /// the next command (a script's next erasure request) finds it free at once. Throws
    /// `RunLocked.held` when another run holds it.
    public func withRunLock<T>(_ body: (any RunLockHandle) async throws -> T) async throws -> T {
        let lock = try await acquireRunLock()
        do {
            let result = try await body(lock)
            await lock.release()
            return result
        } catch {
            await lock.release()
            throw error
        }
    }
}

/// Why a run lock could not be taken.
public enum RunLocked: Error, CustomStringConvertible {
    /// Another process holds it.
    case held(String)
    case failed(String)
    /// It was held, and is no longer (its connection was closed).
    case lost(String)

    public var description: String {
        switch self {
        case .held(let m), .failed(let m), .lost(let m): return m
        }
    }
}
