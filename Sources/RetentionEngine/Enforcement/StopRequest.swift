import Synchronization

/// Asks a run to end at the next batch boundary (graceful shutdown): the batch under way commits
/// whole, no new one starts.
public final class StopRequest: Sendable {
    private let state = Mutex<(requested: Bool, hooks: [Int: @Sendable () -> Void], next: Int)>((false, [:], 0))

    public init() {}

    public var isRequested: Bool { state.withLock { $0.requested } }

    public func request() {
        let hooks = state.withLock { state -> [@Sendable () -> Void] in
            guard !state.requested else { return [] }
            state.requested = true
            return Array(state.hooks.values)
        }
        for hook in hooks { hook() }
    }

    /// Runs `action` when a stop is requested while `body` runs (at once if it already was): how a
    /// statement that could run for minutes is cut short (planning), where waiting for the next
    /// boundary would not do.
    func whileRunning<T>(onRequest action: @escaping @Sendable () -> Void, _ body: () async throws -> T) async rethrows -> T {
        let (id, already) = state.withLock { state -> (Int, Bool) in
            state.next += 1
            if !state.requested { state.hooks[state.next] = action }
            return (state.next, state.requested)
        }
        defer { _ = state.withLock { $0.hooks.removeValue(forKey: id) } }
        if already { action() }
        return try await body()
    }

    struct Stopped: Error {}
}
