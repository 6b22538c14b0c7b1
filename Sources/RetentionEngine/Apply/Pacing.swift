import Foundation

/// How a run shares the database with the application it serves (as pt-archiver's `--sleep` and
/// `--run-time`): a pause after each batch, so the application's own transactions get the locks
/// in between, and a time after which the run stops at the next batch boundary, so it ends
/// within a maintenance window. Committed batches stay; the next run finishes the work.
public struct Pacing: Sendable {
    /// Waited after each committed batch.
    public var pause: Duration?
    /// Once this much time has passed since applying started, no new batch starts (the first one
    /// always does, so every run makes progress).
    public var maxDuration: Duration?

    public init(pause: Duration? = nil, maxDuration: Duration? = nil) {
        self.pause = pause
        self.maxDuration = maxDuration
    }

    /// The moment applying must stop starting batches, counted from `start`.
    func deadline(from start: ContinuousClock.Instant) -> ContinuousClock.Instant? {
        maxDuration.map { start + $0 }
    }

    /// Thrown at a batch boundary once the deadline has passed.
    struct TimeLimitReached: Error {}
}
