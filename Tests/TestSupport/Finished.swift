import Synchronization

/// Set once a task started by a test returns, so a test waiting on the database for that task's
/// effect also stops waiting when the task ended without it (and then fails on what it sees).
public final class Finished: Sendable {
    private let value = Mutex(false)
    public init() {}
    public func set() { value.withLock { $0 = true } }
    public var isSet: Bool { value.withLock { $0 } }
}
