import Foundation

/// Runs blocking work (waiting for a child process, reading a pipe or a socket, starting a server)
/// on a thread of its own and suspends until it is done. Swift Testing runs tests on the
/// cooperative pool, which has one thread per core (two here): a test that blocked one of them
/// would hold up every other suite.
public func offThePool<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        let thread = Thread { continuation.resume(with: Result { try body() }) }
        thread.stackSize = 1 << 20
        thread.start()
    }
}
