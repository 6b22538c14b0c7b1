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

    /// Runs `body`; once a stop is requested while it runs (at once if it already was),
    /// `whenRequested` runs beside it in a child task, cancelled when `body` ends: how a statement
    /// that could run for minutes is cut short (planning), where waiting for the next boundary
    /// would not do.
    func whileRunning<T>(_ whenRequested: @escaping @Sendable () async -> Void, _ body: () async throws -> T)
        async throws -> T
    {
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { [self] in
                await requested()
                guard !Task.isCancelled else { return }
                await whenRequested()
            }
            defer { group.cancelAll() }
            return try await body()
        }
    }

    /// Returns once a stop is requested (at once if it already was), or when the task is cancelled.
    func requested() async {
        let waiter = Waiter()
        let (id, already) = state.withLock { state -> (Int, Bool) in
            state.next += 1
            if !state.requested { state.hooks[state.next] = { waiter.resume() } }
            return (state.next, state.requested)
        }
        defer { _ = state.withLock { $0.hooks.removeValue(forKey: id) } }
        if already { return }
        await withTaskCancellationHandler {
            await withCheckedContinuation { waiter.wait(with: $0) }
        } onCancel: {
            waiter.resume()
        }
    }

    /// One `requested()` call's continuation, resumed once: by the request or by cancellation,
    /// whichever comes first, even before the continuation exists.
    private final class Waiter: Sendable {
        private let state = Mutex<(continuation: CheckedContinuation<Void, Never>?, resumed: Bool)>((nil, false))

        func wait(with continuation: CheckedContinuation<Void, Never>) {
            let now = state.withLock { state -> Bool in
                if state.resumed { return true }
                state.continuation = continuation
                return false
            }
            if now { continuation.resume() }
        }

        func resume() {
            let continuation = state.withLock { state -> CheckedContinuation<Void, Never>? in
                guard !state.resumed else { return nil }
                state.resumed = true
                defer { state.continuation = nil }
                return state.continuation
            }
            continuation?.resume()
        }
    }

    struct Stopped: Error {}
}
