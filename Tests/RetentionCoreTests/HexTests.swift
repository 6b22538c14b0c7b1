import Foundation
import Testing

@testable import RetentionCore

@Suite struct HexTests {
    @Test func bytesBecomeLowerCaseHexAndBack() throws {
        let bytes: [UInt8] = [0x00, 0x0F, 0xA5, 0xFF, 0x10]
        #expect(bytes.hexEncoded == "000fa5ff10")
        #expect(Data(hexString: "000FA5ff10") == Data(bytes))
        #expect(Data(hexString: "0g") == nil)
        #expect(Data(hexString: "abc") == nil)
        #expect([UInt8]().hexEncoded == "")
    }

    @Test func everyByteValueMatchesFoundationsFormatting() {
        let all = (0...255).map { UInt8($0) }
        #expect(all.hexEncoded == all.map { String(format: "%02x", $0) }.joined())
    }
}
