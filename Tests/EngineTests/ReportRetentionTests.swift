import Foundation
import RetentionCore
import RetentionEngine
import TestSupport
import Testing

/// Reports may hold record keys: they have a retention of their own (`reports.keep`).
@Suite struct ReportRetentionTests {
    @Test func writingAReportDeletesTheReportsOlderThanTheirRetentionAndNothingElse() async throws {
        let f = try await CRMFixture(.sqlite, policy: "reports: { keep: 30d }\n" + CRMPolicies.prospectPurge)
        let settings = try f.settings()
        #expect(settings.reportsKeep == (try RetentionDuration(parsing: "30d")))
        let reports = settings.reportsDirectory
        try FileManager.default.createDirectory(atPath: reports, withIntermediateDirectories: true)
        let kept = [
            "20261101T000000Z-1a2b.json", "20261101T000000Z-1a2b.md", "notes.md", "20250101T000000Z-zz.json",
            "20250101T000000Z-1a2b.json.bak", "summary-20250101.md",
        ]
        let old = [
            "20250101T000000Z-1a2b.json", "20250101T000000Z-1a2b.md", "20250101T000000Z-1a2b.html",
            "20261025T235959Z-ff.json",
            "20250101T000000Z-1a2b.erasure.md",
        ]
        for name in kept + old {
            _ = FileManager.default.createFile(atPath: reports + "/" + name, contents: Data("x".utf8))
        }

        let report = try await f.plan()
        // Now is 2026-11-25T12:00Z in the test: 30 days before is 2026-10-26T12:00 (Paris, no DST change).
        let paths = try StateFiles.writeReport(
            report, policy: try f.policy(), settings: settings, now: Date.iso("2026-11-25T12:00:00Z"))
        let left = Set(try FileManager.default.contentsOfDirectory(atPath: reports))
        #expect(
            left
                == Set(
                    kept + [paths.json, paths.markdown, paths.html].map { URL(fileURLWithPath: $0).lastPathComponent }))
    }

    @Test func theRetentionDefaultsTo400DaysAndMustBeADuration() async throws {
        let f = try await CRMFixture(.sqlite, policy: CRMPolicies.prospectPurge)
        #expect(try f.settings().reportsKeep == (try RetentionDuration(parsing: "400d")))
        try f.write(policy: "reports: { keep: forever }\n" + CRMPolicies.prospectPurge)
        do {
            _ = try PolicyParser(path: f.policyPath).parseFile()
            Issue.record("`keep: forever` was accepted")
        } catch {
            #expect(
                "\(error)".contains("policy.yaml:6:18: error: reports.keep: `forever` is not a duration"), "\(error)")
        }
    }
}
