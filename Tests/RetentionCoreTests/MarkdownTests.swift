import Foundation
import RetentionCore
import Testing

/// Text from outside stays text in a report and on a terminal.
@Suite struct MarkdownTests {
    @Test func aLineBreakOrAPipeCannotForgeATableRow() {
        let forged = "DSR-1\n| forged | row |\r\n# heading"
        let text = Markdown.text(forged)
        #expect(!text.contains("\n") && !text.contains("\r"))
        #expect(text == #"DSR-1 \| forged \| row \|  # heading"#)
        // Split as a Markdown table row would be: the escaped pipes do not end the cell.
        let cells = "| \(text) | x |".replacingOccurrences(of: "\\|", with: "").split(separator: "|")
        #expect(cells.count == 2)
    }

    @Test func rawHTMLLinksAndEmphasisAreEscaped() {
        #expect(Markdown.text("<script>alert(1)</script>") == #"\<script\>alert(1)\</script\>"#)
        #expect(
            Markdown.text("[click](http://x) *bold* _it_ ~~s~~ &amp;")
                == #"\[click\](http://x) \*bold\* \_it\_ \~\~s\~\~ \&amp;"#)
        #expect(Markdown.text(#"back\slash `tick`"#) == #"back\\slash \`tick\`"#)
    }

    @Test func aCellKeepsItsCodeSpansButNotItsLineBreaksPipesOrHTML() {
        #expect(Markdown.cell("deleted, with `invoice_lines`") == "deleted, with `invoice_lines`")
        #expect(Markdown.cell("a|b\n<b>c</b>\u{1B}") == "a\\|b \\<b\\>c\\</b\\>\u{FFFD}")
    }

    @Test func aCodeSpanIsFencedLongerThanTheBackticksItHolds() {
        #expect(Markdown.code("order-purge") == "`order-purge`")
        #expect(Markdown.code("a`b") == "``a`b``")
        #expect(Markdown.code("``x") == "``` ``x ```")
        #expect(Markdown.code("a|b\nc") == "`a\\|b c`")
    }

    @Test func controlCharactersAreShownNotObeyed() {
        let escape = "\u{1B}[31mred\u{1B}[0m\rover\u{202E}txt\u{7}"
        #expect(escape.printable == "\u{FFFD}[31mred\u{FFFD}[0m\u{FFFD}over\u{FFFD}txt\u{FFFD}")
        #expect("tab\tand\nline".printable == "tab\tand\nline")
        #expect(Markdown.text("\u{1B}[2J") == "\u{FFFD}\\[2J")
        #expect("Ünïcödé — fine".printable == "Ünïcödé — fine")
    }
}
