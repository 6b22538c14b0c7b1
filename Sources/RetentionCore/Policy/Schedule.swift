import Foundation

/// When `retentiond serve` runs the policy: at a fixed interval or at a daily time, each run
/// moved by a random delay of up to `jitter` so that many hosts do not all start at once.
public struct Schedule: Sendable, Hashable {
    public enum Kind: Sendable, Hashable {
        /// Every so many seconds, counted from the end of the previous run.
        case every(seconds: Int)
        /// Every day at this local time in the policy's time zone.
        case daily(hour: Int, minute: Int)
    }

    public var kind: Kind
    public var jitterSeconds: Int
    /// Run once as soon as the service is ready, then follow the schedule.
    public var runAtStart: Bool

    public init(kind: Kind, jitterSeconds: Int = 0, runAtStart: Bool = false) {
        self.kind = kind
        self.jitterSeconds = jitterSeconds
        self.runAtStart = runAtStart
    }

    /// The longest `every` and `jitter` a policy may give: 366 days.
    public static let maximumSeconds = 366 * 86_400

    /// The default: every day at 03:00 in the policy's time zone, up to 15 minutes later.
    public static let `default` = Schedule(kind: .daily(hour: 3, minute: 0), jitterSeconds: 900)

    /// The next run after `date`; `jitter` is a number in 0..<1 (random in the service, fixed in tests).
    public func next(after date: Date, calendar: Calendar, jitter: Double) -> Date {
        let delay = Double(jitterSeconds) * min(max(jitter, 0), 0.999_999)
        switch kind {
        case .every(let seconds):
            return date.addingTimeInterval(Double(seconds) + delay)
        case .daily(let hour, let minute):
            let match = DateComponents(hour: hour, minute: minute, second: 0)
            let next =
                calendar.nextDate(after: date, matching: match, matchingPolicy: .nextTime)
                ?? date.addingTimeInterval(86_400)
            return next.addingTimeInterval(delay)
        }
    }

    public var description: String {
        var text: String
        switch kind {
        case .every(let seconds): text = "every \(seconds)s"
        case .daily(let hour, let minute): text = String(format: "daily at %02d:%02d", hour, minute)
        }
        if jitterSeconds > 0 { text += " (+ up to \(jitterSeconds)s)" }
        return text
    }
}
