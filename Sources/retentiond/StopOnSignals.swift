import Dispatch
import Foundation
import RetentionEngine
import Synchronization

/// Turns SIGTERM and SIGINT into a stop request for a one-shot command (`run`, `apply`), as `serve`
/// does: the batch under way commits whole, no new one starts, and the command still writes its
/// report and metrics. A second signal ends the process at once (the batch under way rolls back).
final class StopOnSignals {
    let stop = StopRequest()
    private let received = ReceivedSignal()
    private let sources: [any DispatchSourceSignal]

    /// The first signal received, shared with the handlers.
    private final class ReceivedSignal: Sendable {
        let number = Mutex<Int32?>(nil)
    }

    init() {
        let queue = DispatchQueue(label: "retentiond.signals")
        var sources: [any DispatchSourceSignal] = []
        let received = self.received
        let stop = self.stop
        for number in [SIGTERM, SIGINT] {
            Glibc.signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: queue)
            source.setEventHandler {
                let first = received.number.withLock { current -> Bool in
                    guard current == nil else { return false }
                    current = number
                    return true
                }
                guard first else {
                    Glibc.signal(number, SIG_DFL)
                    raise(number)
                    return
                }
                // Asked for, not an error: said at notice, as the run's own lines are.
                writeMessage("retentiond: stopping at the next batch boundary (\(number == SIGTERM ? "SIGTERM" : "SIGINT")); send it again to stop at once", level: .notice)
                stop.request()
            }
            source.resume()
            sources.append(source)
        }
        self.sources = sources
    }

    /// The exit status a stopped command ends with: 128 + the signal, as the shell reports it.
    var exitStatus: Int32? { received.number.withLock { $0 }.map { 128 + $0 } }

    deinit {
        for source in sources { source.cancel() }
    }
}
