import Foundation

/// The saved form of a dry run, one JSON object a line: a header, one line per planned record, a trailer.
///
/// `retentiond apply` reads it back. The trailer proves the file is complete; the header names the
/// policy (by hash) and the database (by location and schema fingerprint) it was made for.
public enum PlanDocument {
    public static let format = "retentiond-plan/1"

    public struct Header: Codable, Sendable {
        public var format: String
        public var planID: String
        public var createdAt: Date
        public var now: Date
        public var policyHash: String
        public var policyPath: String
        public var database: String
        public var schemaFingerprint: String
        public var rules: [RuleHeader]

        public init(
            planID: String, createdAt: Date, now: Date, policyHash: String, policyPath: String,
            database: String, schemaFingerprint: String, rules: [RuleHeader]
        ) {
            self.format = PlanDocument.format
            self.planID = planID
            self.createdAt = createdAt
            self.now = now
            self.policyHash = policyHash
            self.policyPath = policyPath
            self.database = database
            self.schemaFingerprint = schemaFingerprint
            self.rules = rules
        }
    }

    public struct RuleHeader: Codable, Sendable {
        public var id: String
        public var action: String
        public var table: String
        public var cutoff: Cutoff

        public init(id: String, action: String, table: String, cutoff: Cutoff) {
            self.id = id
            self.action = action
            self.table = table
            self.cutoff = cutoff
        }
    }

    public struct Entry: Codable, Sendable {
        public var rule: String
        public var key: RecordKey
        public var action: String
        public var clock: [SQLValue]
        public init(rule: String, key: RecordKey, action: String, clock: [SQLValue]) {
            self.rule = rule
            self.key = key
            self.action = action
            self.clock = clock
        }
    }

    public struct Trailer: Codable, Sendable {
        public var complete: Bool
        public var entries: Int
        public var rules: [RuleTally]

        public init(complete: Bool, entries: Int, rules: [RuleTally]) {
            self.complete = complete
            self.entries = entries
            self.rules = rules
        }
    }

    /// One line of a plan file.
    public enum Line: Codable, Sendable {
        case header(Header)
        case entry(Entry)
        case trailer(Trailer)

        private enum CodingKeys: String, CodingKey { case header, entry, trailer }

        public init(from decoder: Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            if let h = try c.decodeIfPresent(Header.self, forKey: .header) {
                self = .header(h)
            } else if let e = try c.decodeIfPresent(Entry.self, forKey: .entry) {
                self = .entry(e)
            } else if let t = try c.decodeIfPresent(Trailer.self, forKey: .trailer) {
                self = .trailer(t)
            } else {
                throw DecodingError.dataCorrupted(.init(codingPath: [], debugDescription: "not a plan line"))
            }
        }

        public func encode(to encoder: Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            switch self {
            case .header(let h): try c.encode(h, forKey: .header)
            case .entry(let e): try c.encode(e, forKey: .entry)
            case .trailer(let t): try c.encode(t, forKey: .trailer)
            }
        }
    }

    public static func encoder() -> JSONEncoder {
        let e = JSONEncoder()
        e.dateEncodingStrategy = .iso8601
        e.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return e
    }

    public static func decoder() -> JSONDecoder {
        let d = JSONDecoder()
        d.dateDecodingStrategy = .iso8601
        return d
    }
}
