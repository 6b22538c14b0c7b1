import Foundation

extension Sequence where Element == UInt8 {
    /// Lower-case hexadecimal, two digits a byte: MACs, references, pseudonyms, hashes, the key file.
    /// Written from a table straight into the string's storage (`String(format:)` per byte once
    /// dominated the audit's cost).
    public var hexEncoded: String {
        let bytes = Array(self)
        return String(unsafeUninitializedCapacity: bytes.count * 2) { out in
            for (i, byte) in bytes.enumerated() {
                out[2 * i] = hexDigits[Int(byte >> 4)]
                out[2 * i + 1] = hexDigits[Int(byte & 0x0F)]
            }
            return bytes.count * 2
        }
    }
}

private let hexDigits: [UInt8] = Array("0123456789abcdef".utf8)

extension Data {
    /// Parses hexadecimal text (either case); nil when it is not an even number of hex digits.
    init?(hexString: String) {
        var data = Data(capacity: hexString.utf8.count / 2)
        var iterator = hexString.utf8.makeIterator()
        while let high = iterator.next() {
            guard let low = iterator.next(), let h = Self.nibble(high), let l = Self.nibble(low) else { return nil }
            data.append(h << 4 | l)
        }
        self = data
    }

    private static func nibble(_ c: UInt8) -> UInt8? {
        switch c {
        case 48...57: return c - 48
        case 97...102: return c - 87
        case 65...70: return c - 55
        default: return nil
        }
    }
}
