/// A database error reported without SQL text or bound values (which could hold personal data).
public struct StoreFailure: Error, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}
