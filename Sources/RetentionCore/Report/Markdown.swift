/// Text from outside — the command line (`--request`, `--by`), the policy (rule ids, register
/// lines) or the database (keys, review columns, an error's reason) — made inert where a report
/// or a terminal shows it: it cannot end a table cell or a row, start a heading, a link or raw
/// HTML, nor move a terminal's cursor or rewrite what is already on screen.
public enum Markdown {
    /// `text` as literal Markdown on one line, placed after a label or in a table cell: line breaks
    /// become spaces, the punctuation of inline Markdown is escaped, control characters are `�`.
    public static func text(_ text: String) -> String {
        var out = ""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\n", "\r", "\t": out += " "
            // Inline constructs only: the text never starts a line (it is one line, after a label or in a cell).
            case "\\", "`", "*", "_", "[", "]", "<", ">", "|", "~", "&": out += "\\" + String(scalar)
            default: out.unicodeScalars.append(String.isInert(scalar) ? scalar : "\u{FFFD}")
            }
        }
        return out
    }

    /// Text that may hold Markdown of its own (code spans retentiond wrote around a table name, a
    /// register line as the policy words it), kept on one line in one table cell: line breaks become
    /// spaces, `|` and the angle brackets of raw HTML are escaped, control characters are `�`.
    public static func cell(_ text: String) -> String {
        var out = ""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\n", "\r", "\t": out += " "
            case "|", "<", ">": out += "\\" + String(scalar)
            default: out.unicodeScalars.append(String.isInert(scalar) ? scalar : "\u{FFFD}")
            }
        }
        return out
    }

    /// `text` as a code span on one line, fenced by more backticks than it holds in a row, its
    /// `|` escaped so that it stays in its table cell.
    public static func code(_ text: String) -> String {
        var inner = ""
        var run = 0
        var longest = 0
        for scalar in text.unicodeScalars {
            run = scalar == "`" ? run + 1 : 0
            longest = max(longest, run)
            switch scalar {
            case "\n", "\r", "\t": inner += " "
            case "|": inner += "\\|"
            default: inner.unicodeScalars.append(String.isInert(scalar) ? scalar : "\u{FFFD}")
            }
        }
        let fence = String(repeating: "`", count: longest + 1)
        let padded = inner.hasPrefix("`") || inner.hasSuffix("`") ? " \(inner) " : inner
        return fence + padded + fence
    }
}

extension String {
    /// The text with every control character but line feed and tab shown as `�`: safe to write to
    /// a terminal or a journal (no escape sequence, no carriage return over an earlier line, no
    /// reordering of what follows by bidirectional controls).
    public var printable: String {
        guard unicodeScalars.contains(where: { $0 != "\n" && $0 != "\t" && !Self.isInert($0) }) else { return self }
        var out = ""
        for scalar in unicodeScalars {
            out.unicodeScalars.append(scalar == "\n" || scalar == "\t" || Self.isInert(scalar) ? scalar : "\u{FFFD}")
        }
        return out
    }

    /// Neither a control character (C0, DEL, C1) nor a bidirectional embedding, override or isolate.
    static func isInert(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.value {
        case 0x00...0x1F, 0x7F...0x9F, 0x202A...0x202E, 0x2066...0x2069: return false
        default: return true
        }
    }
}
