import Foundation

extension PlanDocument {
    /// Entry lines are nearly all of a plan: they are written and read here, byte by byte, in the
    /// JSON `JSONEncoder` would write, instead of through `JSONEncoder` and `JSONDecoder` (about
    /// ten microseconds a line, most of a large run's planning and applying). Anything outside the
    /// simple shape written here — a real or a blob in a key or clock, a line edited by hand,
    /// keys in another order, spaces — returns nil, and the caller goes through Codable instead,
    /// so every valid plan line still reads the same.
    public enum EntryLine {
        static let prefix = Array(#"{"entry":{"#.utf8)

        /// `{"entry":{"action":…,"clock":[…],"key":[…],"rule":…}}`, or nil when a value is a real or a blob.
        public static func encode(_ entry: Entry) -> [UInt8]? {
            var out: [UInt8] = []
            return encode(entry, into: &out) ? out : nil
        }

        /// Appends the line of `entry` to `out` (a plan holds a line per record: written without
        /// building anything else); false, with `out` as it was, when a value is a real or a blob.
        public static func encode(_ entry: Entry, into out: inout [UInt8]) -> Bool {
            let start = out.count
            func literal(_ text: StaticString) { text.withUTF8Buffer { out.append(contentsOf: $0) } }
            literal(#"{"entry":{"action":"#)
            string(entry.action, into: &out)
            literal(#","clock":"#)
            guard values(entry.clock, into: &out) else {
                out.removeSubrange(start...)
                return false
            }
            literal(#","key":"#)
            guard values(entry.key.values, into: &out) else {
                out.removeSubrange(start...)
                return false
            }
            literal(#","rule":"#)
            string(entry.rule, into: &out)
            literal("}}")
            return true
        }

        private static func values(_ values: [SQLValue], into out: inout [UInt8]) -> Bool {
            out.append(UInt8(ascii: "["))
            for (i, value) in values.enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                switch value {
                case .null: out += [UInt8(ascii: "n"), UInt8(ascii: "u"), UInt8(ascii: "l"), UInt8(ascii: "l")]
                case .integer(let n): decimal(n, into: &out)
                case .text(let s): string(s, into: &out)
                case .real, .blob: return false
                }
            }
            out.append(UInt8(ascii: "]"))
            return true
        }

        /// `n` in decimal, as `String(n)` writes it.
        static func decimal(_ n: Int64, into out: inout [UInt8]) {
            if n < 0 { out.append(UInt8(ascii: "-")) }
            // Digits of the magnitude, least significant first, read off a negative number
            // (Int64.min has no positive counterpart).
            var rest = n < 0 ? n : -n
            let first = out.count
            repeat {
                out.append(UInt8(ascii: "0") + UInt8(-(rest % 10)))
                rest /= 10
            } while rest != 0
            out[first...].reverse()
        }

        private static func string(_ s: String, into out: inout [UInt8]) {
            JSONText.appendString(s, to: &out, escapingSlash: false)
        }

        /// The entry of a line in the shape `encode` writes; nil for anything else.
        public static func decode(_ line: some Collection<UInt8>) -> Entry? {
            var p = Parser(bytes: Array(line))
            guard p.literal(prefix) else { return nil }
            var action: String?
            var clock: [SQLValue]?
            var key: [SQLValue]?
            var rule: String?
            for (i, name) in ["action", "clock", "key", "rule"].enumerated() {
                if i > 0 { guard p.byte(UInt8(ascii: ",")) else { return nil } }
                guard p.string() == name, p.byte(UInt8(ascii: ":")) else { return nil }
                switch name {
                case "action": action = p.string()
                case "clock": clock = p.values()
                case "key": key = p.values()
                default: rule = p.string()
                }
            }
            guard p.literal(Array("}}".utf8)), p.atEnd, let action, let clock, let key, let rule else { return nil }
            return Entry(rule: rule, key: RecordKey(key), action: action, clock: clock)
        }

        struct Parser {
            let bytes: [UInt8]
            var i = 0

            var atEnd: Bool { i == bytes.count }

            mutating func byte(_ b: UInt8) -> Bool {
                guard i < bytes.count, bytes[i] == b else { return false }
                i += 1
                return true
            }

            mutating func literal(_ text: [UInt8]) -> Bool {
                guard bytes.count - i >= text.count, bytes[i..<(i + text.count)].elementsEqual(text) else {
                    return false
                }
                i += text.count
                return true
            }

            /// A string with the escapes `encode` writes (and `\/`); nil for `\u` beyond control characters.
            mutating func string() -> String? {
                guard byte(UInt8(ascii: "\"")) else { return nil }
                // Nearly every string has no escape: taken whole up to its closing quote.
                let start = i
                while i < bytes.count, bytes[i] != UInt8(ascii: "\\"), bytes[i] >= 0x20 {
                    if bytes[i] == UInt8(ascii: "\"") {
                        defer { i += 1 }
                        return String(decoding: bytes[start..<i], as: UTF8.self)
                    }
                    i += 1
                }
                var out = Array(bytes[start..<i])
                while i < bytes.count {
                    let b = bytes[i]
                    i += 1
                    switch b {
                    case UInt8(ascii: "\""): return String(decoding: out, as: UTF8.self)
                    case UInt8(ascii: "\\"):
                        guard i < bytes.count else { return nil }
                        let e = bytes[i]
                        i += 1
                        switch e {
                        case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): out.append(e)
                        case UInt8(ascii: "n"): out.append(0x0A)
                        case UInt8(ascii: "r"): out.append(0x0D)
                        case UInt8(ascii: "t"): out.append(0x09)
                        case UInt8(ascii: "b"): out.append(0x08)
                        case UInt8(ascii: "f"): out.append(0x0C)
                        case UInt8(ascii: "u"):
                            guard bytes.count - i >= 4,
                                let code = UInt8(String(decoding: bytes[i..<(i + 4)], as: UTF8.self), radix: 16),
                                code < 0x20
                            else { return nil }
                            out.append(code)
                            i += 4
                        default: return nil
                        }
                    case 0..<0x20: return nil
                    default: out.append(b)
                    }
                }
                return nil
            }

            /// An integer in decimal, `-` for a negative one; nil when there are no digits or it
            /// does not fit in 64 bits.
            mutating func integer() -> Int64? {
                let negative = byte(UInt8(ascii: "-"))
                let start = i
                var n: Int64 = 0
                while i < bytes.count, bytes[i] >= UInt8(ascii: "0"), bytes[i] <= UInt8(ascii: "9") {
                    let digit = Int64(bytes[i] - UInt8(ascii: "0"))
                    // Accumulated as a negative number: Int64.min has no positive counterpart.
                    let (times, o1) = n.multipliedReportingOverflow(by: 10)
                    let (next, o2) = times.subtractingReportingOverflow(digit)
                    guard !o1, !o2 else { return nil }
                    n = next
                    i += 1
                }
                guard i > start else { return nil }
                if negative { return n }
                guard n != .min else { return nil }
                return -n
            }

            /// `[…]` of strings, integers and nulls; nil for anything else (reals go through Codable).
            mutating func values() -> [SQLValue]? {
                guard byte(UInt8(ascii: "[")) else { return nil }
                var values: [SQLValue] = []
                if byte(UInt8(ascii: "]")) { return values }
                while true {
                    guard i < bytes.count else { return nil }
                    switch bytes[i] {
                    case UInt8(ascii: "\""):
                        guard let s = string() else { return nil }
                        values.append(.text(s))
                    case UInt8(ascii: "n"):
                        guard literal(Array("null".utf8)) else { return nil }
                        values.append(.null)
                    default:
                        guard let n = integer() else { return nil }
                        values.append(.integer(n))
                    }
                    if byte(UInt8(ascii: "]")) { return values }
                    guard byte(UInt8(ascii: ",")) else { return nil }
                }
            }
        }
    }
}
