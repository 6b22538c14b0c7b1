import Crypto
import Foundation

/// How one field is anonymised. Each strategy is a pure function of the old value (and a key).
public enum AnonymisationStrategy: Sendable, Hashable {
    /// Set to NULL.
    case null
    /// Replace by a fixed value.
    case constant(SQLValue)
    /// Replace by a keyed pseudonym: `prefix` + the first `length` hex digits of HMAC-SHA256(value).
    /// Equal inputs give equal pseudonyms (joins and counts still work), and without the key nobody
    /// can recompute them from a guessed value.
    case pseudonym(prefix: String, length: Int)
    /// Keep the first and last characters and mask the rest; `keepDomain` keeps an email's `@domain`.
    case mask(keepFirst: Int, keepLast: Int, character: Character, keepDomain: Bool)
    /// Generalise a date to the first day of its year, in the column's storage format.
    case year
    /// Leave the field as it is (stated explicitly so reviewers see it was considered).
    case keep

    public var name: String {
        switch self {
        case .null: return "null"
        case .constant: return "constant"
        case .pseudonym: return "pseudonym"
        case .mask: return "mask"
        case .year: return "year"
        case .keep: return "keep"
        }
    }

    /// The new value for `value`. `pseudonymKey` is the policy's key material for pseudonyms;
    /// `dateStorage` and `calendar` are needed by `year` only.
    public func apply(
        to value: SQLValue,
        pseudonymKey: SymmetricKey,
        dateStorage: DateStorage?,
        calendar: Calendar
    ) -> SQLValue {
        if value.isNull { return .null }
        switch self {
        case .null:
            return .null
        case .constant(let constant):
            return constant
        case .keep:
            return value
        case .pseudonym(let prefix, let length):
            let input = Data((value.textValue ?? value.description).utf8)
            let mac = HMAC<SHA256>.authenticationCode(for: input, using: pseudonymKey)
            let hex = mac.hexEncoded
            return .text(prefix + String(hex.prefix(max(4, min(length, 64)))))
        case .mask(let keepFirst, let keepLast, let character, let keepDomain):
            guard let text = value.textValue else { return .null }
            return .text(
                Self.mask(text, keepFirst: keepFirst, keepLast: keepLast, with: character, keepDomain: keepDomain))
        case .year:
            guard let storage = dateStorage,
                let date = DateCodec.parse(value, storage: storage, calendar: calendar)
            else { return .null }
            let year = calendar.component(.year, from: date)
            let start = calendar.date(from: DateComponents(year: year, month: 1, day: 1))!
            return DateCodec.render(start, storage: storage, layout: DateCodec.layout(of: value), calendar: calendar)
        }
    }

    static func mask(_ text: String, keepFirst: Int, keepLast: Int, with character: Character, keepDomain: Bool)
        -> String
    {
        var local = Substring(text)
        var domain = Substring("")
        if keepDomain, let at = text.lastIndex(of: "@") {
            local = text[..<at]
            domain = text[at...]
        }
        let chars = Array(local)
        // Never reveal more than a third of the value, whatever the policy asks: short values stay masked.
        let budget = chars.count / 3
        let first = min(keepFirst, budget)
        let last = min(keepLast, max(0, budget - first))
        var out = String(chars.prefix(first))
        out += String(repeating: character, count: max(1, chars.count - first - last))
        out += String(chars.suffix(last))
        return out + domain
    }
}
