import Foundation
import TestSupport
import Testing

@testable import RetentionEngine

/// A stop asked for while something long runs (planning) reaches it through a child task that
/// ends with it: never left running, never missed, whenever the request comes.
@Suite struct StopRequestTests {
    @Test func aRequestDuringTheBodyRunsTheActionUntilTheBodyEnds() async throws {
        let stop = StopRequest()
        let acted = Finished()
        let result = try await stop.whileRunning({
            acted.set()
            // Runs until cancelled, as the planning pass's interrupts do.
            while !Task.isCancelled { try? await Task.sleep(for: .milliseconds(5)) }
        }) {
            stop.request()
            while !acted.isSet { try await Task.sleep(for: .milliseconds(5)) }
            return 42
        }
        #expect(result == 42, "the body's result, once the action was cancelled")
    }

    @Test func aRequestBeforeTheBodyRunsTheActionAtOnce() async throws {
        let stop = StopRequest()
        stop.request()
        let acted = Finished()
        try await stop.whileRunning({ acted.set() }) {
            while !acted.isSet { try await Task.sleep(for: .milliseconds(5)) }
        }
        #expect(acted.isSet)
    }

    @Test func withoutARequestTheActionNeverRunsAndTheBodyEndsAlone() async throws {
        let stop = StopRequest()
        let acted = Finished()
        let value = try await stop.whileRunning({ acted.set() }) { "done" }
        #expect(value == "done")
        stop.request()
        #expect(!acted.isSet, "a request after the body ended reaches nothing")
    }

    @Test func aBodyThatThrowsEndsTheWatchToo() async throws {
        struct Failure: Error {}
        let stop = StopRequest()
        await #expect(throws: Failure.self) {
            try await stop.whileRunning({}) { throw Failure() }
        }
    }

    @Test func aCancelledWaitReturnsWithoutARequest() async {
        let stop = StopRequest()
        let waiting = Task { await stop.requested() }
        waiting.cancel()
        await waiting.value
        #expect(!stop.isRequested)
    }
}
