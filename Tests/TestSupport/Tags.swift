import Testing

extension Tag {
    /// Suites that start the built binary, kill processes or work through 100k rows: seconds each,
    /// where the others take milliseconds. `swift test --skip EndToEndTests` runs the fast ones.
    @Tag public static var slow: Self
}
