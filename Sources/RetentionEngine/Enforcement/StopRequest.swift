import Synchronization

/// Asks a run to end at the next batch boundary (graceful shutdown): the batch under way commits
/// whole, no new one starts.
public final class StopRequest: Sendable {
    private let requested = Mutex(false)

    public init() {}

    public var isRequested: Bool { requested.withLock { $0 } }

    public func request() { requested.withLock { $0 = true } }

    struct Stopped: Error {}
}
