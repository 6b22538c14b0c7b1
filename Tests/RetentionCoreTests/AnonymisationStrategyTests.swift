import Crypto
import Foundation
import Testing

@testable import RetentionCore

@Suite struct AnonymisationStrategyTests {
    let key = SymmetricKey(data: Data(repeating: 7, count: 32))
    let calendar: Calendar = {
        var c = Calendar(identifier: .gregorian)
        c.timeZone = TimeZone(identifier: "Europe/Paris")!
        return c
    }()

    func apply(_ s: AnonymisationStrategy, _ v: SQLValue, storage: DateStorage? = nil, key: SymmetricKey? = nil)
        -> SQLValue
    {
        s.apply(to: v, pseudonymKey: key ?? self.key, dateStorage: storage, calendar: calendar)
    }

    @Test func nullConstantAndKeep() {
        #expect(apply(.null, .text("a@b.fr")) == .null)
        #expect(apply(.constant(.text("anonymised")), .text("Dupont")) == .text("anonymised"))
        #expect(apply(.keep, .text("Dupont")) == .text("Dupont"))
        #expect(apply(.constant(.text("x")), .null) == .null, "a NULL stays NULL: there was nothing to hide")
    }

    @Test func pseudonymsAreStablePerKeyAndDifferAcrossKeys() {
        let s = AnonymisationStrategy.pseudonym(prefix: "client-", length: 12)
        let a = apply(s, .text("Dupont"))
        #expect(a == apply(s, .text("Dupont")))
        #expect(a != apply(s, .text("Durand")))
        #expect(a != apply(s, .text("Dupont"), key: SymmetricKey(data: Data(repeating: 8, count: 32))))
        guard case .text(let text) = a else {
            Issue.record("not text")
            return
        }
        #expect(text.hasPrefix("client-"))
        #expect(text.count == "client-".count + 12)
        #expect(!text.contains("Dupont"))
    }

    @Test func masksKeepOnlyWhatThePolicyAllowsAndNeverMoreThanAThird() {
        #expect(
            apply(.mask(keepFirst: 1, keepLast: 0, character: "*", keepDomain: true), .text("jeanne.dupont@example.fr"))
                == .text("j************@example.fr"))
        #expect(
            apply(.mask(keepFirst: 0, keepLast: 2, character: "*", keepDomain: false), .text("+33 6 12 34 56 78"))
                == .text("***************78"))
        #expect(apply(.mask(keepFirst: 3, keepLast: 3, character: "#", keepDomain: false), .text("Jo")) == .text("##"))
    }

    @Test func yearKeepsTheStorageFormat() {
        #expect(apply(.year, .text("1984-06-17"), storage: .iso8601) == .text("1984-01-01"))
        #expect(apply(.year, .text("1984-06-17 10:20:00"), storage: .iso8601) == .text("1984-01-01 00:00:00"))
        let june = Int64(ISO8601DateFormatter().date(from: "1984-06-17T10:00:00Z")!.timeIntervalSince1970)
        let january = Int64(ISO8601DateFormatter().date(from: "1983-12-31T23:00:00Z")!.timeIntervalSince1970)
        #expect(apply(.year, .integer(june), storage: .unix) == .integer(january))
        #expect(
            apply(.year, .text("not a date"), storage: .iso8601) == .null, "an unreadable date is removed, not kept")
    }
}
