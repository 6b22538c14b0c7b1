import Foundation

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

extension RunLocked {
    /// Another process holds `lock` ("the run lock on postgres://…", "the lock /var/lib/…/run.lock").
    public static func heldByAnotherRun(_ lock: String) -> RunLocked {
        .held("another retentiond run holds \(lock); nothing was changed. Wait for it to finish, then run again")
    }

    /// The connection that held the lock on `location` was closed (`how`: "killed", "terminated").
    public static func connectionClosed(location: String, how: String) -> RunLocked {
        .lost(
            """
            the run lock on \(location) was lost (its connection was closed: \(how), or a server timeout); this batch \
            was rolled back and the run stopped, so no other run can overlap it
            """)
    }
}
