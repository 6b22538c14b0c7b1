import RetentionCore

/// Every line a command prints: text that came from outside (a hold's reason, a key, a review
/// column, an operator's name) is shown with its control characters made visible (`String.printable`),
/// so nothing retentiond prints can move the terminal's cursor, rewrite an earlier line or change
/// colours. Commands call `print` as usual; this is the one that takes their text.
func print(_ text: String, terminator: String = "\n") {
    Swift.print(text.printable, terminator: terminator)
}
