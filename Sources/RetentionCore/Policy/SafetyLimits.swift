import Foundation

/// Per-run limits that stop everything before any change when exceeded.
public struct SafetyLimits: Sendable, Hashable, Codable {
    public var maxRecords: Int?
    public var maxPercent: Double?
    public init(maxRecords: Int? = nil, maxPercent: Double? = nil) {
        self.maxRecords = maxRecords
        self.maxPercent = maxPercent
    }
    public func overriding(with other: SafetyLimits?) -> SafetyLimits {
        SafetyLimits(maxRecords: other?.maxRecords ?? maxRecords, maxPercent: other?.maxPercent ?? maxPercent)
    }
}
