import Foundation
import PostgresNIO
import Synchronization

/// The result of one query, handed from the event loop to the waiting session thread. The first
/// answer wins: the query's own, or the link's news that the connection closed.
final class Outcome<Value: Sendable>: InFlight {
    private let semaphore = DispatchSemaphore(value: 0)
    private let result = Mutex<Result<Value, any Error>?>(nil)

    func fail(_ error: any Error) { set(.failure(error)) }

    func set(_ value: Result<Value, any Error>) {
        let first = result.withLock { current -> Bool in
            guard current == nil else { return false }
            current = value
            return true
        }
        if first { semaphore.signal() }
    }

    func wait() -> Result<Value, any Error> {
        semaphore.wait()
        return result.withLock { $0! }
    }
}

/// What a session waits on (a query's `Outcome`, whatever its value's type), failed by the link
/// when the connection closes.
protocol InFlight: AnyObject, Sendable {
    func fail(_ error: any Error)
}

/// A connection and the one query waiting on it. Sessions run one at a time on the store's queue,
/// so at most one query is in flight; when the connection closes (the server or the network
/// dropped it), that query is failed at once instead of waiting forever.
final class PostgresLink: Sendable {
    struct Closed: Error {}
    let connection: PostgresConnection
    /// The server process serving the connection (`pg_backend_pid()`), whose statement
    /// `PostgresStore.interrupt` cancels.
    let backendPID: Int32?
    private let state = Mutex<(inFlight: (any InFlight)?, closed: Bool)>((nil, false))

    init(_ connection: PostgresConnection, backendPID: Int32? = nil) {
        self.connection = connection
        self.backendPID = backendPID
        connection.closeFuture.whenComplete { [weak self] _ in self?.connectionClosed() }
    }

    private func connectionClosed() {
        let waiting = state.withLock { state -> (any InFlight)? in
            state.closed = true
            defer { state.inFlight = nil }
            return state.inFlight
        }
        waiting?.fail(Closed())
    }

    /// Registers the query about to be sent; false when the connection is already closed.
    func track(_ outcome: any InFlight) -> Bool {
        state.withLock { state in
            guard !state.closed else { return false }
            state.inFlight = outcome
            return true
        }
    }

    func untrack() { state.withLock { $0.inFlight = nil } }

    var isClosed: Bool { state.withLock { $0.closed } || connection.isClosed }
}
