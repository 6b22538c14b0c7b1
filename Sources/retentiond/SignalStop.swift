import Foundation
import RetentionEngine
import Synchronization
import UnixSignals

/// What SIGTERM and SIGINT did to a one-shot command (`run`, `apply`), as they do to `serve`: the
/// first asks `stop` (the batch under way commits whole, no new one starts, and the command still
/// writes its report and metrics); a second ends the process at once (the batch under way rolls back).
final class SignalStop: Sendable {
    let stop = StopRequest()
    private let received = Mutex<Int32?>(nil)

    /// The exit status a stopped command ends with: 128 + the signal, as the shell reports it.
    var exitStatus: Int32? { received.withLock { $0 }.map { 128 + $0 } }

    /// True for the first signal received.
    fileprivate func receive(_ number: Int32) -> Bool {
        received.withLock { current in
            guard current == nil else { return false }
            current = number
            return true
        }
    }
}

/// Runs `body` while SIGTERM and SIGINT are watched (swift-service-lifecycle's
/// `UnixSignalsSequence`, in a child task that ends with `body`).
func watchingSignals<T>(_ body: (SignalStop) async throws -> T) async throws -> T {
    let signals = SignalStop()
    // Ignored by default from here on: a signal is the watcher's, never the default action's
    // (which would end the process in the middle of a batch).
    for number in [SIGTERM, SIGINT] { Glibc.signal(number, SIG_IGN) }
    let sequence = await UnixSignalsSequence(trapping: .sigterm, .sigint)
    return try await withThrowingTaskGroup(of: Void.self) { group in
        group.addTask {
            for await signal in sequence {
                let number = signal.rawValue
                guard signals.receive(number) else {
                    Glibc.signal(number, SIG_DFL)
                    raise(number)
                    return
                }
                // Asked for, not an error: said at notice, as the run's own lines are.
                writeMessage(
                    "retentiond: stopping at the next batch boundary (\(number == SIGTERM ? "SIGTERM" : "SIGINT")); send it again to stop at once",
                    level: .notice)
                signals.stop.request()
            }
        }
        defer { group.cancelAll() }
        return try await body(signals)
    }
}
