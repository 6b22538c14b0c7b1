import RetentionEngine
import Testing

/// Expects `body` to be refused as tampering (`audit-tampered`, exit status 7), having changed nothing.
func expectTamperingRefused(sourceLocation: Testing.SourceLocation = #_sourceLocation, _ body: () async throws -> Void)
    async
{
    do {
        try await body()
        Issue.record("not refused", sourceLocation: sourceLocation)
    } catch {
        #expect(EnforcementError.from(error).kind == .auditTampered, "\(error)", sourceLocation: sourceLocation)
    }
}
