import Foundation
import RetentionCore
import RetentionStore
import TestSupport
import Testing

@testable import RetentionEngine

/// The erasure ledger: what was purged or anonymised since a backup is erased again after the
/// backup is restored, before any other rule runs; holds placed since are placed again; the ledger
/// verifies like the trail. Backups are made and restored with the databases' own tools.
@Suite struct ErasureLedgerTests {
    static let later = CRMFixture.now.addingTimeInterval(86_400)
    static let afterRestore = CRMFixture.now.addingTimeInterval(2 * 86_400)

    static func people(_ f: CRMFixture) async throws -> [Int64: [SQLValue]] {
        var rows: [Int64: [SQLValue]] = [:]
        for row in try await f.rows("SELECT id, name, email, phone FROM people ORDER BY id") {
            if case .integer(let id) = row[0] { rows[id] = row }
        }
        return rows
    }

    @Test(arguments: Backend.allCases)
    func whatWasErasedSinceTheBackupIsErasedAgainAfterTheRestore(_ backend: Backend) async throws {
        let f = try await CRMFixture(backend, policy: ErasureTests.policy)
        // The first run: prospects 1 and 2 purged (with notes 10-12 and attachment 100), client 6's contact anonymised.
        _ = try await f.run()
        let backup = try await f.backup()
        let atBackup = try await Self.people(f)

        // After the backup: client 7 stops being seen and prospect 8 arrives and goes; both erased by
        // the next run. Prospect 3 asks to be erased. Client 7 is held once anonymised.
        try await f.sql([
            "UPDATE people SET last_seen = '2024-01-01' WHERE id = 7",
            "INSERT INTO people VALUES (8, 'prospect', 'Hugo Lefèvre', 'hugo@example.fr', NULL, NULL, '2020-01-01', '2019-01-01', NULL, 0)",
            "INSERT INTO notes VALUES (14, 8, 'Hugo at the fair')",
        ])
        let second = try await f.run(now: Self.later)
        #expect(second.rules.first { $0.rule == "prospect-purge" }?.purged == 1)
        #expect(second.rules.first { $0.rule == "client-contact" }?.anonymised == 1)
        let policy = try f.policy()
        _ = try await f.enforcer().erase(
            subject: policy.subjects[0], keyText: "3", request: "REQ-9", now: Self.later, dryRun: false)
        _ = try await f.holds().add(
            table: "people", keyText: "7", reason: "audit by the tax office", by: "dpo", until: nil, now: Self.later)
        let beforeRestore = try await f.snapshot()
        let peopleBeforeRestore = try await Self.people(f)
        #expect(peopleBeforeRestore[3] == nil && peopleBeforeRestore[7]?[2] == .null, "3 erased, 7's email anonymised")

        try await f.restore(backup)
        #expect(try await Self.people(f) == atBackup, "the restore brought 3 and 7's contact back")
        // Nothing runs on the restored database: the trail no longer extends its head.
        await expectTamperingRefused { _ = try await f.run(now: Self.afterRestore) }

        // The preview changes nothing and says what the replay does.
        let enforcer = try await f.enforcer()
        let restored = try await f.snapshot()
        let preview = try await enforcer.reanchor(reason: "restore ticket 12", now: Self.afterRestore, dryRun: true)
        #expect(try await f.snapshot() == restored)
        #expect(preview.needed)
        let previewed = try #require(preview.replay)
        #expect(
            previewed.outcomes.contains(
                ReplayReport.Outcome(
                    rule: "prospect-purge", action: "purge", table: "people", outcome: "would be purged", records: 1)),
            "3")
        #expect(
            previewed.outcomes.contains(
                ReplayReport.Outcome(
                    rule: "prospect-purge", action: "purge", table: "people", outcome: "not in the restored database",
                    records: 1)), "8")
        #expect(
            previewed.outcomes.contains {
                $0.rule == "client-contact" && $0.outcome.hasPrefix("kept: ") && $0.records == 1
            }, "7 is held again: \(previewed.outcomes)")
        #expect(previewed.holdsPlacedAgain == 1)

        let done = try await enforcer.reanchor(reason: "restore ticket 12", now: Self.afterRestore, dryRun: false)
        let replay = try #require(done.replay)
        #expect(
            replay.outcomes.contains(
                ReplayReport.Outcome(
                    rule: "prospect-purge", action: "purge", table: "people", outcome: "purged", records: 1)))
        #expect(replay.holdsPlacedAgain == 1)

        // Every erased record is as it was before the restore; 7, held since its anonymisation, is
        // kept as the backup had it (the hold keeps it from any change), and held again.
        var expected = peopleBeforeRestore
        expected[7] = atBackup[7]
        #expect(try await Self.people(f) == expected)
        #expect(try await f.rows("SELECT * FROM notes ORDER BY id") == beforeRestore["notes"])
        #expect(try await f.rows("SELECT * FROM attachments ORDER BY id") == beforeRestore["attachments"])
        let holds = try await f.holds().list(includeReleased: false)
        #expect(
            holds.count == 1 && holds[0].key == RecordKey([.integer(7)])
                && holds[0].reason.contains("placed again after a restore"))

        // The re-applied purge names the ledger entry it comes from and the request; the trail verifies.
        let purges = try await f.audit(action: "purge").filter { $0.detail.contains("reapplied_seq") }
        let three = try f.reference("people", 3)
        #expect(
            purges.count == 1 && purges.first?.subjectRef == three && purges.first?.detail.contains("REQ-9") == true)
        let verification = try await f.trail().verify()
        #expect(
            verification.isValid,
            "\(verification.problems) \(verification.anchorProblems) \(verification.ledgerProblems)")
        #expect((verification.ledgerEntries ?? 0) > 0)

        // Runs go on; nothing is re-applied twice, and the next re-anchoring has nothing to do.
        let next = try await f.run(now: Self.afterRestore.addingTimeInterval(60))
        #expect(next.succeeded)
        #expect(try await Self.people(f) == expected)
        await #expect(throws: EnforcementError.self) {
            _ = try await enforcer.reanchor(
                reason: "again", now: Self.afterRestore.addingTimeInterval(120), dryRun: false)
        }
    }

    /// A replay cut short (here: re-anchored by the older path, as a crash right after it leaves
    /// things) stops every enforcing run until `reanchor` is run again and finishes it.
    @Test(arguments: [Backend.sqlite, .postgres])
    func runsRefuseUntilTheReplayIsDone(_ backend: Backend) async throws {
        let f = try await CRMFixture(backend, policy: CRMPolicies.prospectPurge)
        _ = try await f.run()
        let backup = try await f.backup()
        let before = try await f.snapshot()
        // After the backup, prospect 3 stops being seen: the next run purges it, with note 13 and attachment 101.
        try await f.sql(["UPDATE people SET last_seen = '2020-01-01' WHERE id = 3"])
        #expect(try await f.run(now: CRMFixture.now.addingTimeInterval(60)).rules[0].purged == 1)
        let erased = try await f.snapshot()
        #expect(erased != before)
        try await f.restore(backup)
        _ = try await AuditAnchor.reanchor(
            try await f.store(), stateDirectory: f.dir.path, key: try f.key, reason: "restore", by: "ops",
            now: Self.later)
        let refused = await #expect(throws: EnforcementError.self) { _ = try await f.run(now: Self.later) }
        #expect(refused?.kind == .auditTampered)
        #expect("\(refused.map { "\($0)" } ?? "")".contains("audit reanchor"))
        #expect(try await f.snapshot() == before, "nothing changed")
        #expect(try await f.trail().verify().ledgerProblems.count == 1)

        let done = try await f.enforcer().reanchor(reason: "finish", now: Self.later, dryRun: false)
        #expect(done.head == nil, "the trail was anchored already: only the replay was left")
        #expect(try await f.snapshot() == erased)
        #expect(try await f.run(now: Self.later.addingTimeInterval(60)).succeeded)
    }

    /// The ledger is sealed line by line: a line changed or removed is found, and a ledger that
    /// does not verify is never replayed.
    @Test func aChangedLedgerIsFoundAndNeverReplayed() async throws {
        let f = try await CRMFixture(.sqlite, policy: CRMPolicies.prospectPurge)
        let backup = try await f.backup()
        _ = try await f.run()
        let path = ErasureLedger.path(stateDirectory: f.dir.path)
        var lines = try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n").map(String.init)
        #expect(lines.count == 4, "start, two purges, through: \(lines)")
        #expect(try await f.trail().verify().isValid)
        // A record's reference replaced by another's: it would erase the wrong person.
        lines[1] = lines[1].replacingOccurrences(
            of: #""ref":"[0-9a-f]+""#, with: "\"ref\":\"\(try f.reference("people", 5))\"", options: .regularExpression)
        #expect(lines[1].contains(try f.reference("people", 5)))
        try (lines.joined(separator: "\n") + "\n").write(toFile: path, atomically: true, encoding: .utf8)
        let verification = try await f.trail().verify()
        #expect(
            verification.ledgerProblems.first?.contains("lines 2–4 (sealed by the `through` line") == true,
            "\(verification.ledgerProblems)")
        try await f.restore(backup)
        let restored = try await f.snapshot()
        await expectTamperingRefused {
            _ = try await f.enforcer().reanchor(reason: "x", now: Self.later, dryRun: false)
        }
        #expect(try await f.snapshot() == restored)
    }

    /// A copy cut short by a crash (its closing line never written, its last entry half) is
    /// dropped back to the last closing line and copied again from the trail: the ledger ends
    /// exactly as an uninterrupted copy leaves it. Its end is found by reading back from the end of
    /// the file only (further than one read here: the cut copy is longer).
    @Test func aCopyCutShortByACrashIsCopiedAgainFromTheTrail() async throws {
        let people = (1...600).map {
            "INSERT INTO people VALUES (\(100 + $0), 'prospect', 'P\($0)', 'p\($0)@example.fr', NULL, NULL, '2020-01-01', '2019-01-01', NULL, 0)"
        }
        let f = try await CRMFixture(.sqlite, data: people, policy: CRMPolicies.prospectPurge)
        #expect(try await f.run().rules[0].purged == 600)
        let path = ErasureLedger.path(stateDirectory: f.dir.path)
        let whole = try Data(contentsOf: URL(fileURLWithPath: path))
        let lines = whole.split(separator: 0x0A)
        #expect(lines.count == 602, "start, 600 purges, through")
        var cut = Data(lines.dropLast(2).joined(separator: [0x0A]))
        cut.append(0x0A)
        cut.append(lines[600].prefix(lines[600].count / 2))
        #expect(cut.count > 1 << 16)
        try cut.write(to: URL(fileURLWithPath: path))
        let outcome = try await ErasureLedger(stateDirectory: f.dir.path, key: try f.key).sync(
            from: try await f.reader())
        #expect(outcome.copied == 600)
        #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == whole)
        #expect(try await f.trail().verify().isValid)
    }

    static let manyProspects = (1...250).map {
        "INSERT INTO people VALUES (\(100 + $0), 'prospect', 'P\($0)', 'p\($0)@example.fr', NULL, NULL, '2020-01-01', '2019-01-01', NULL, 0)"
    }

    /// A run copies each batch's entries into the ledger as the batch commits and seals them at its
    /// end: the ledger is, byte for byte, what one copy of the whole trail makes.
    @Test(arguments: Backend.allCases)
    func aRunCopiesItsBatchesAsTheyCommit(_ backend: Backend) async throws {
        let f = try await CRMFixture(
            backend, data: Self.manyProspects, policy: CRMPolicies.prospectPurge, batchSize: 40)
        #expect(try await f.run().rules[0].purged == 250)
        let path = ErasureLedger.path(stateDirectory: f.dir.path)
        let other = f.dir.appendingPathComponent("other").path
        let copied = try await ErasureLedger(stateDirectory: other, key: try f.key).sync(from: try await f.reader())
        #expect(copied.copied == 250)
        #expect(
            try Data(contentsOf: URL(fileURLWithPath: path))
                == Data(contentsOf: URL(fileURLWithPath: ErasureLedger.path(stateDirectory: other))))
        let entries = try ErasureLedger(stateDirectory: f.dir.path, key: try f.key).lines().filter { $0.kind == .entry }
        #expect(Set(entries.compactMap(\.seq)).count == 250)
        #expect(try await f.trail().verify().isValid)
    }

    /// The copies a run makes as its batches commit: entries in hand go on after the last copy
    /// without reading the file back; a gap before them (another writer's entries) is read from
    /// the trail; when another process copied meanwhile (it cuts the lines left unsealed and copies
    /// them from the trail itself), the next copy starts from where that one left the ledger and
    /// copies nothing twice.
    @Test(arguments: Backend.allCases)
    func batchCopiesGoOnWhereTheLedgerStands(_ backend: Backend) async throws {
        let f = try await CRMFixture(
            backend, data: Self.manyProspects, policy: CRMPolicies.prospectPurge, batchSize: 40)
        _ = try await f.run()
        let path = ErasureLedger.path(stateDirectory: f.dir.path)
        let whole = try Data(contentsOf: URL(fileURLWithPath: path))
        let reader = try await f.reader()
        let trail = try await reader.read { try $0.auditEntries(after: 0, limit: 10_000, filter: AuditFilter()) }
        #expect(trail.count > 250)
        let ledger = ErasureLedger(stateDirectory: f.dir.path, key: try f.key)

        try FileManager.default.removeItem(atPath: path)
        var at = try await ledger.copy(from: reader, entries: Array(trail[0..<60]), closing: false).continuation
        at = try await ledger.copy(from: reader, entries: Array(trail[60..<120]), continuing: at, closing: false)
            .continuation
        #expect(
            at?.unsealed
                == trail[0..<120].filter { ErasureLedger.copied.contains($0.action) && !$0.subjectRef.isEmpty }.count)
        // Entries 120..<200 are not in hand: read from the trail.
        at = try await ledger.copy(from: reader, entries: Array(trail[200...]), continuing: at, closing: false)
            .continuation
        _ = try await ledger.copy(from: reader, continuing: at, closing: true)
        #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == whole)

        try FileManager.default.removeItem(atPath: path)
        at = try await ledger.copy(from: reader, entries: Array(trail[0..<60]), closing: false).continuation
        #expect(
            try await ledger.sync(from: reader).copied == 250,
            "another process: the unsealed lines are cut and copied again")
        at = try await ledger.copy(from: reader, entries: Array(trail[60..<120]), continuing: at, closing: false)
            .continuation
        #expect(at?.unsealed == 0, "everything was copied already")
        _ = try await ledger.copy(from: reader, continuing: at, closing: true)
        #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == whole)
        #expect(try await f.trail().verify().isValid)

        // A line being written when the ledger is read (or cut by a crash) is left out, and the
        // next copy completes it.
        try FileManager.default.removeItem(atPath: path)
        at = try await ledger.copy(from: reader, entries: Array(trail[0..<60]), closing: false).continuation
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        try handle.seekToEnd()
        try handle.write(contentsOf: Data(#"{"action":"purge","kind":"en"#.utf8))
        try handle.close()
        #expect(try ledger.lines().map(\.kind) == [.start], "the entries are not sealed yet")
        #expect(try await f.trail().verify().isValid, "a copy under way is no damage")
        _ = try await ledger.copy(from: reader, entries: Array(trail[60...]), continuing: at, closing: true)
        #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == whole)
    }

    /// The ledger grows with what was erased, not with runs: a run that erases nothing moves the
    /// last `through` line on instead of adding one (once one seals nothing but its position).
    @Test func runsThatEraseNothingDoNotGrowIt() async throws {
        let f = try await CRMFixture(.sqlite, policy: CRMPolicies.prospectPurge)
        _ = try await f.run()
        let ledger = ErasureLedger(stateDirectory: f.dir.path, key: try f.key)
        let first = try ledger.lines()
        #expect(first.map(\.kind) == [.start, .entry, .entry, .through])
        for minute in 1...3 { _ = try await f.run(now: CRMFixture.now.addingTimeInterval(Double(minute) * 60)) }
        // The line that seals the purges stays; after it, one line the later runs move on.
        let after = try ledger.lines()
        #expect(after.map(\.kind) == [.start, .entry, .entry, .through, .through])
        #expect(after.last?.seq == (try await f.reader().read { try $0.auditHead().seq }), "it follows the trail's end")
        #expect(try await f.trail().verify().isValid)
    }

    /// A key rotation seals the ledger again under the new key: it still verifies, and the runs
    /// after it go on copying the trail into it.
    @Test(arguments: [Backend.sqlite, .postgres])
    func aKeyRotationSealsTheLedgerAgain(_ backend: Backend) async throws {
        let f = try await CRMFixture(backend, policy: CRMPolicies.prospectPurge)
        _ = try await f.run()
        let old = try f.key
        _ = try await f.enforcer().rotateKey(keyPath: try f.settings().keyFile, reason: "yearly", now: CRMFixture.now)
        let new = try f.key
        #expect(old.fingerprint != new.fingerprint)
        let lines = try ErasureLedger(stateDirectory: f.dir.path, key: new).lines()
        let file = try Data(contentsOf: URL(fileURLWithPath: ErasureLedger.path(stateDirectory: f.dir.path)))
        #expect(try ErasureLedger(stateDirectory: f.dir.path, key: new).verify(file).isEmpty)
        #expect(try !ErasureLedger(stateDirectory: f.dir.path, key: old).verify(file).isEmpty)
        #expect(
            lines.filter { $0.kind == .entry }.allSatisfy { $0.kid == old.fingerprint },
            "references made by the old key say so")
        try await f.sql(["UPDATE people SET last_seen = '2020-01-01' WHERE id = 3"])
        _ = try await f.run(now: CRMFixture.now.addingTimeInterval(60))
        let after = try ErasureLedger(stateDirectory: f.dir.path, key: new).lines()
        #expect(after.last { $0.kind == .entry }?.kid == new.fingerprint)
        let verification = try await f.trail().verify()
        #expect(verification.isValid, "\(verification.ledgerProblems)")
    }

    /// `ledger.keep`: entries older than the oldest backup that can be restored are dropped, and the
    /// ledger still verifies.
    @Test func entriesOlderThanKeepAreDropped() async throws {
        let f = try await CRMFixture(.sqlite, policy: "ledger: { keep: 30d }\n" + CRMPolicies.prospectPurge)
        _ = try await f.run()
        let ledger = ErasureLedger(stateDirectory: f.dir.path, key: try f.key)
        let before = try ledger.lines()
        #expect(before.filter { $0.kind == .entry }.count == 2)
        let reader = try await f.reader()
        // Forty days on, the two purges are past keep (and past its tenth of slack).
        let outcome = try await ledger.sync(
            from: reader, keep: try f.policy().ledgerKeep, now: Date().addingTimeInterval(40 * 86_400))
        #expect(outcome.dropped == 2)
        let after = try ledger.lines()
        #expect(
            after.first?.kind == .compacted && after.first?.count == 2 && after.filter { $0.kind == .entry }.isEmpty)
        #expect(try ledger.verify(Data(contentsOf: URL(fileURLWithPath: ledger.path))).isEmpty)
        #expect(try await f.trail().verify().isValid)
        // Ten days on, nothing more goes and nothing is rewritten.
        #expect(
            try await ledger.sync(
                from: reader, keep: try f.policy().ledgerKeep, now: Date().addingTimeInterval(10 * 86_400)
            ).dropped == 0)
    }
}
