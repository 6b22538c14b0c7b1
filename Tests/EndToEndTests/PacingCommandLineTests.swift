import Foundation
import TestSupport
import Testing

/// `--sleep` and `--max-duration`: a run that shares the database stops at a batch boundary when
/// its time is up, says so with exit 11, and the next run finishes the work.
@Suite(.tags(.slow), .timeLimit(.minutes(30))) struct PacingCommandLineTests {
    let now = ["--now", "2026-06-01T00:00:00Z"]

    @Test func aRunPastItsMaximumDurationStopsAtABatchBoundaryAndExitsEleven() async throws {
        let w = try Workspace()
        // Batches of one record, a 5 ms pause after each and 1 ms allowed: the first batch always
        // runs, the pause then takes the run past its time, so it stops before the second.
        let stopped = try await w.run(["run", "--batch-size", "1", "--sleep", "5ms", "--max-duration", "1ms"] + now)
        #expect(stopped.status == 11, "\(stopped.stderr)")
        #expect(stopped.stderr.contains("after --max-duration; committed batches stay"))
        #expect(try w.count("SELECT count(*) FROM contacts") == 2, "one of the two due contacts, no more")
        #expect(try w.count("SELECT count(*) FROM retentiond_audit WHERE action = 'purge'") == 1)
        #expect(try w.count("SELECT count(*) FROM retentiond_audit WHERE action = 'run-completed'") == 0)

        let next = try await w.run(["run", "--sleep", "1ms"] + now)
        #expect(next.status == 0, "\(next.stderr)")
        #expect(try w.count("SELECT count(*) FROM contacts") == 1)
        #expect(try await w.run(["audit", "verify"]).status == 0)
    }

    @Test func badTimesAreRefusedWithTheFormToUse() async throws {
        let w = try Workspace()
        for bad in ["5", "0ms", "1.5s", "2d", "169h", "1 h"] {
            let result = try await w.run(["run", "--max-duration", bad] + now)
            #expect(result.status == 64, "\(bad)")
            #expect(
                result.stderr.contains(
                    "is not a length of time: give a whole number and ms, s, m or h, e.g. 250ms or 45m"),
                "\(bad): \(result.stderr)")
        }
        #expect(try await w.run(["run", "--sleep", "-1s"] + now).status == 64)
        #expect(try w.count("SELECT count(*) FROM contacts") == 3)
    }
}
