import Foundation

/// A held run lock; released when the last reference goes.
public protocol RunLockHandle: AnyObject, Sendable {
    /// Throws `RunLocked.lost` when the lock is no longer held. Called inside every batch's
    /// transaction, before it commits, so a run that lost its lock changes nothing more.
    func confirm(in session: any WritingSession) throws
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
