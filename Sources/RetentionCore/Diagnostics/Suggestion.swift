/// "Did you mean" for a name that is not known: the closest known name when it is a few edits away,
/// else the list of known names. One helper for unknown policy keys, tables and columns.
public enum Suggestion {
    /// The hint for `name` among `known`: `did you mean `x`?`, or `<listing>: a, b, c`; nil when
    /// nothing is known.
    public static func hint(for name: String, among known: [String], listing: String) -> String? {
        guard let closest = known.min(by: { editDistance($0, name) < editDistance($1, name) }) else { return nil }
        return editDistance(closest, name) <= 3
            ? "did you mean `\(closest)`?" : "\(listing): \(known.joined(separator: ", "))"
    }

    /// Levenshtein distance between two names.
    static func editDistance(_ a: String, _ b: String) -> Int {
        let a = Array(a)
        let b = Array(b)
        if a.isEmpty { return b.count }
        if b.isEmpty { return a.count }
        var previous = Array(0...b.count)
        for i in 1...a.count {
            var current = [i] + Array(repeating: 0, count: b.count)
            for j in 1...b.count {
                current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
            }
            previous = current
        }
        return previous[b.count]
    }
}
