import Foundation

/// Wall time as `EnforcementService` schedules by it: the time now, and waiting until a time.
/// The service runs on `SystemServiceClock`; tests give it a clock that jumps to each deadline,
/// so a schedule of days is checked in milliseconds, without a process or a real wait.
public protocol ServiceClock: Sendable {
    var now: Date { get }
    /// Returns at `deadline` (at once when it has passed); throws when the task is cancelled.
    func sleep(until deadline: Date) async throws
}

/// The system's wall clock: `Date()`, and `Task.sleep` for the time left.
public struct SystemServiceClock: ServiceClock {
    public init() {}

    public var now: Date { Date() }

    public func sleep(until deadline: Date) async throws {
        let delay = deadline.timeIntervalSinceNow
        if delay > 0 { try await Task.sleep(for: .milliseconds(Int64(delay * 1000))) }
    }
}
