/// Writes JSON strings exactly as Foundation's JSONSerialization does: `"` and `\` (and,
/// where asked, `/`) escaped with a backslash, `\b \t \n \f \r`, other control characters as
/// `\u00xx`, everything else as UTF-8. For the two places whose cost per line matters: the audit
/// chain's MAC input (which must stay byte-identical to what sealed every trail) and plan entries.
public enum JSONText {
    private static let digits: [UInt8] = Array("0123456789abcdef".utf8)

    /// `text` as a JSON string, quotes included (`/` not escaped).
    public static func quoted(_ text: String) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(text.utf8.count + 2)
        appendString(text, to: &out, escapingSlash: false)
        return String(decoding: out, as: UTF8.self)
    }

    /// Runs of bytes that need no escape (nearly all of a MAC input: hex digits, ids, times)
    /// are copied whole; only the bytes that need one are written one by one.
    static func appendString(_ text: String, to out: inout [UInt8], escapingSlash: Bool) {
        out.append(UInt8(ascii: "\""))
        var text = text
        text.withUTF8 { bytes in
            var clean = 0
            for i in bytes.indices {
                let byte = bytes[i]
                guard
                    byte < 0x20 || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\")
                        || (escapingSlash && byte == UInt8(ascii: "/"))
                else { continue }
                out.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[clean..<i]))
                switch byte {
                case 0x08: out += [UInt8(ascii: "\\"), UInt8(ascii: "b")]
                case 0x09: out += [UInt8(ascii: "\\"), UInt8(ascii: "t")]
                case 0x0A: out += [UInt8(ascii: "\\"), UInt8(ascii: "n")]
                case 0x0C: out += [UInt8(ascii: "\\"), UInt8(ascii: "f")]
                case 0x0D: out += [UInt8(ascii: "\\"), UInt8(ascii: "r")]
                case 0x00..<0x20: out += Array("\\u00".utf8) + [digits[Int(byte >> 4)], digits[Int(byte & 0x0F)]]
                default: out += [UInt8(ascii: "\\"), byte]
                }
                clean = i + 1
            }
            out.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[clean...]))
        }
        out.append(UInt8(ascii: "\""))
    }
}
