import Foundation
import Yams

/// `schedule:`, read by `retentiond serve`.
extension PolicyReader {
    mutating func schedule(_ node: Node) -> Schedule? {
        guard let map = mapping(node, "schedule") else { return nil }
        checkKeys(map, allowed: ["every", "daily", "jitter", "run_at_start"], in: "schedule")
        var kind: Schedule.Kind?
        if let every = map.value("every"), let d = duration(every, "schedule.every") {
            if let seconds = d.fixedSeconds, (1...Schedule.maximumSeconds).contains(seconds) {
                kind = .every(seconds: seconds)
            } else {
                error(
                    every, "schedule.every must be a fixed length from one second to 366 days",
                    hint: "use days, hours, minutes or seconds, e.g. `every: 6h`")
            }
        }
        if let daily = map.value("daily"), let text = string(daily, "schedule.daily") {
            let parts = text.split(separator: ":").compactMap { Int($0) }
            if kind != nil {
                error(daily, "a schedule has either `every` or `daily`, not both")
            } else if parts.count == 2, (0...23).contains(parts[0]), (0...59).contains(parts[1]) {
                kind = .daily(hour: parts[0], minute: parts[1])
            } else {
                error(
                    daily, "schedule.daily must be a time `HH:MM` in the policy's time zone",
                    hint: "e.g. `daily: \"03:30\"`")
            }
        }
        if kind == nil, map.value("every") == nil, map.value("daily") == nil {
            error(
                node, "a schedule needs `every` or `daily`",
                hint: "e.g. `schedule: { daily: \"03:00\", jitter: 15min }`")
        }
        var jitter = 0
        if let j = map.value("jitter"), let d = duration(j, "schedule.jitter") {
            if let seconds = d.fixedSeconds, seconds <= Schedule.maximumSeconds {
                jitter = seconds
            } else {
                error(j, "schedule.jitter must be a fixed length (days, hours, minutes, seconds) of at most 366 days")
            }
        }
        var atStart = false
        if let s = map.value("run_at_start") {
            if case .scalar(let scalar) = s, let b = Bool(scalar.string) {
                atStart = b
            } else {
                error(s, "run_at_start takes true or false")
            }
        }
        return kind.map { Schedule(kind: $0, jitterSeconds: jitter, runAtStart: atStart) }
    }

    static let serverKeys = ["host", "port", "socket", "database", "user", "password_file", "password_env", "tls"]
}
