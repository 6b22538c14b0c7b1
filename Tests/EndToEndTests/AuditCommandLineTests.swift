import Foundation
import Testing

/// The audit trail from the command line: verification and its exit statuses, the head recorded
/// outside the database (removed, restored, copied elsewhere, logged for the journal),
/// re-anchoring after a restore, and the audit key.
@Suite(.tags(.slow), .timeLimit(.minutes(30))) struct AuditCommandLineTests {
    let now = ["--now", "2026-06-01T00:00:00Z"]

    @Test func auditVerifyExitsSevenWhenTheTrailWasTamperedWith() async throws {
        let w = try Workspace()
        #expect(try await w.run(["run"] + now).status == 0)
        let ok = try await w.run(["audit", "verify"])
        #expect(ok.status == 0)
        #expect(ok.stdout.contains("audit trail intact: 3 entries"))

        let show = try await w.run(["audit", "show", "--subject", "contacts", "--key", "1"])
        #expect(show.status == 0)
        #expect(show.stdout.split(separator: "\n").count == 2, "a header and the entry")
        #expect(show.stdout.hasPrefix("seq\tat\trun\tactor\taction\trule\ttable\treference\tfields\tdetail\n"))
        #expect(show.stdout.contains("\tpurge\tcontact-purge\tcontacts\t"))
        #expect(!show.stdout.contains("old.one@example.fr"))
        // The same record by its table, and in the older spelling, which says how to write it now.
        #expect(try await w.run(["audit", "show", "--table", "contacts", "--key", "1"]).stdout == show.stdout)
        let older = try await w.run(["audit", "show", "--subject", "contacts:1"])
        #expect(
            older.stdout == show.stdout && older.stderr.contains("say `--table contacts --key 1`"), "\(older.stderr)")

        try w.execute(
            "DROP TRIGGER retentiond_audit_append_only_update; UPDATE retentiond_audit SET action = 'flag' WHERE seq = 1"
        )
        let tampered = try await w.run(["audit", "verify"])
        #expect(tampered.status == 7)
        #expect(tampered.stderr.contains("entry 1: its content does not match its MAC (modified)"))
    }

    @Test func aRestoredDatabaseIsRefusedUntilTheOperatorReanchorsIt() async throws {
        let w = try Workspace()
        #expect(
            try await w.run(
                ["hold", "add", "--table", "contacts", "--key", "2", "--reason", "case 1", "--by", "dpo"] + now
            ).status == 0)
        let backup = w.dir.appendingPathComponent("backup.sqlite").path
        try FileManager.default.copyItem(atPath: w.database, toPath: backup)
        #expect(try await w.run(["run"] + now).status == 0)
        #expect(try w.count("SELECT count(*) FROM contacts") == 2)
        for file in [w.database, w.database + "-wal", w.database + "-shm"] {
            try? FileManager.default.removeItem(atPath: file)
        }
        try FileManager.default.copyItem(atPath: backup, toPath: w.database)

        let refused = try await w.run(["run", "--now", "2026-06-02T00:00:00Z"])
        #expect(refused.status == 7)
        #expect(refused.stderr.contains("no longer extends the head recorded in"))
        #expect(try w.count("SELECT count(*) FROM contacts") == 3, "nothing changed")
        let verify = try await w.run(["audit", "verify"])
        #expect(verify.status == 7)

        // The preview: what re-anchoring accepts, and the purge the restore undid, to be done again.
        let preview = try await w.run(["audit", "reanchor", "--dry-run", "--now", "2026-06-02T00:00:00Z"])
        #expect(preview.status == 0, "\(preview.stderr)")
        #expect(
            preview.stdout.contains("would re-anchor the audit trail at entry 2 (the recorded head is entry 3)"),
            "\(preview.stdout)")
        #expect(
            preview.stdout.contains(
                "erasure ledger: 1 ledger entry the restore undid (dry run: nothing changed):\n  contact-purge\tpurge\tcontacts\t1\twould be purged"
            ), "\(preview.stdout)")
        #expect(try w.count("SELECT count(*) FROM contacts") == 3, "nothing changed")
        #expect(try await w.run(["audit", "reanchor", "--by", "ops"]).status == 64, "a reason is required")
        let json = try await w.run([
            "audit", "reanchor", "--dry-run", "--format", "json", "--now", "2026-06-02T00:00:00Z",
        ])
        let object = try #require(
            try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any], "\(json.stdout)")
        #expect(
            object["dryRun"] as? Bool == true && object["reanchored"] as? Bool == true && object["headSeq"] as? Int == 2
                && object["previousSeq"] as? Int == 3)
        let outcomes = try #require((object["replay"] as? [String: Any])?["outcomes"] as? [[String: Any]])
        #expect(
            outcomes.count == 1 && outcomes[0]["rule"] as? String == "contact-purge"
                && outcomes[0]["outcome"] as? String == "would be purged"
                && outcomes[0]["records"] as? Int == 1, "\(outcomes)")

        let reanchor = try await w.run([
            "audit", "reanchor", "--reason", "restore ticket 7", "--by", "ops", "--now", "2026-06-02T00:00:00Z",
        ])
        #expect(reanchor.status == 0, "\(reanchor.stderr)")
        #expect(reanchor.stdout.contains("audit trail re-anchored at entry 2 (the recorded head was entry 3)"))
        #expect(reanchor.stdout.contains("  contact-purge\tpurge\tcontacts\t1\tpurged"), "\(reanchor.stdout)")
        #expect(
            try w.count("SELECT count(*) FROM contacts") == 2,
            "contact 1 purged again before any run, 2 held, 3 not due")
        let verified = try await w.run(["audit", "verify"])
        // The hold, the purge the restore undid (kept: an older backup would undo it too) and its re-application.
        #expect(
            verified.status == 0 && verified.stdout.contains("erasure ledger intact: 3 entries"), "\(verified.stdout)")
        #expect(try await w.run(["run", "--now", "2026-06-02T00:01:00Z"]).status == 0)
        #expect(try w.count("SELECT count(*) FROM contacts") == 2)
        #expect(
            try w.count("SELECT count(*) FROM retentiond_audit WHERE action = 'audit-reanchored' AND actor = 'ops'")
                == 1)
    }

    /// Each head recorded is logged at `notice` under systemd (a copy in the journal), at `info` in a terminal.
    @Test func theHeadRecordedIsLoggedForTheJournalOnlyUnderSystemd() async throws {
        let w = try Workspace()
        let terminal = try await w.run(["run"] + now)
        #expect(terminal.status == 0 && !terminal.stderr.contains("audit head recorded"), "\(terminal.stderr)")
        let unit = try await BinaryRunner.runProgram(
            URL(fileURLWithPath: "/usr/bin/env"),
            [
                "INVOCATION_ID=0123456789abcdef", BinaryRunner.binary.path, "run", "--config", w.policy, "--now",
                "2026-06-02T00:00:00Z",
            ])
        #expect(unit.status == 0, "\(unit.stderr)")
        let head =
            try JSONSerialization.jsonObject(with: Data(contentsOf: w.dir.appendingPathComponent("audit-head.json")))
            as? [String: Any]
        let (seq, mac) = (try #require(head?["seq"] as? Int), try #require(head?["mac"] as? String))
        #expect(
            unit.stderr.contains("audit head recorded") && unit.stderr.contains("head=\(seq) mac=\(mac)"),
            "\(unit.stderr)")
    }

    /// A head removed from the state directory that recorded it is a finding (exit 7) until it is
    /// restored or the trail re-anchored; a state directory that never recorded one (a new host
    /// joining a shared run) is only warned about, and records it.
    @Test func aRemovedHeadIsRefusedAndAHeadNeverRecordedHereIsSaidAndRecorded() async throws {
        let w = try Workspace()
        #expect(try await w.run(["run"] + now).status == 0)
        let head = w.dir.appendingPathComponent("audit-head.json").path
        let copy = try Data(contentsOf: URL(fileURLWithPath: head))
        try FileManager.default.removeItem(atPath: head)
        let verify = try await w.run(["audit", "verify"])
        #expect(verify.status == 7 && verify.stderr.contains("is gone, but the trail"), "\(verify.stderr)")
        let run = try await w.run(["run", "--now", "2026-06-02T00:00:00Z"])
        #expect(run.status == 7 && run.stderr.contains("re-anchor"), "\(run.stderr)")
        #expect(!FileManager.default.fileExists(atPath: head), "nothing recorded over the loss")
        try copy.write(to: URL(fileURLWithPath: head))
        #expect(try await w.run(["audit", "verify"]).status == 0, "restored from the copy")

        let other = w.dir.appendingPathComponent("other").path
        try FileManager.default.createDirectory(atPath: other, withIntermediateDirectories: true)
        try FileManager.default.copyItem(
            atPath: w.dir.appendingPathComponent("audit.key").path, toPath: other + "/audit.key")
        let elsewhere = try await w.run([
            "run", "--now", "2026-06-02T00:00:00Z", "--state-dir", other, "--database-url", "sqlite:" + w.database,
        ])
        #expect(elsewhere.status == 0, "\(elsewhere.stderr)")
        #expect(elsewhere.stderr.contains("no head is recorded for the audit trail"))
        #expect(FileManager.default.fileExists(atPath: other + "/audit-head.json"), "the run records it there")
    }

    /// A copy of the head kept elsewhere vouches for the trail even when everything on the host is
    /// gone: the tool's tables dropped, the head and the key deleted. A `--head` naming no file is a
    /// mistake on the command line, not "no trail".
    @Test func aHeadCopyFindsATrailWipedWithItsKeyAndHead() async throws {
        let w = try Workspace()
        #expect(try await w.run(["run"] + now).status == 0)
        let copy = w.dir.appendingPathComponent("offsite-head.json").path
        try FileManager.default.copyItem(atPath: w.dir.appendingPathComponent("audit-head.json").path, toPath: copy)
        #expect(try await w.run(["audit", "verify", "--head", copy]).status == 0)

        let missing = try await w.run(["audit", "verify", "--head", w.dir.appendingPathComponent("nowhere.json").path])
        #expect(missing.status == 64)
        #expect(missing.stderr.contains("nowhere.json: no such file"), "\(missing.stderr)")

        try w.sql(
            ["retentiond_audit", "retentiond_holds", "retentiond_done", "retentiond_audit_refs"].map {
                "DROP TABLE IF EXISTS \($0)"
            })
        for file in ["audit-head.json", "audit.key"] {
            try FileManager.default.removeItem(atPath: w.dir.appendingPathComponent(file).path)
        }
        let wiped = try await w.run(["audit", "verify", "--head", copy])
        #expect(wiped.status == 7, "\(wiped.stdout) \(wiped.stderr)")
        #expect(wiped.stderr.contains("has no audit trail and there is no audit key"), "\(wiped.stderr)")
    }

    @Test func reanchorRefusesAnIntactTrail() async throws {
        let w = try Workspace()
        #expect(try await w.run(["run"] + now).status == 0)
        let reanchor = try await w.run(["audit", "reanchor", "--reason", "just because", "--by", "ops"])
        #expect(reanchor.status == 8)
        #expect(reanchor.stderr.contains("there is nothing to re-anchor"), "\(reanchor.stderr)")
        #expect(try w.count("SELECT count(*) FROM retentiond_audit WHERE action = 'audit-reanchored'") == 0)
    }

    @Test func aNewKeyIsAnnouncedAndAWrongKeyIsReportedAsSuch() async throws {
        let w = try Workspace()
        let first = try await w.run(["run"] + now)
        #expect(first.status == 0)
        #expect(first.stderr.contains("created a new audit key at"))
        #expect(first.stderr.contains("back it up now"))
        #expect(
            !(try await w.run(["run", "--now", "2026-06-01T00:01:00Z"]).stderr.contains("created a new audit key")))

        // Another key in its place (a restore from the wrong backup, another host's credential).
        let key = w.dir.appendingPathComponent("audit.key").path
        try FileManager.default.removeItem(atPath: key)
        try (String(repeating: "ab", count: 32) + "\n").write(toFile: key, atomically: true, encoding: .utf8)
        #expect(chmod(key, 0o600) == 0)
        for command in [["audit", "verify"], ["run", "--now", "2026-06-01T00:02:00Z"]] {
            let result = try await w.run(command)
            #expect(result.status == 8, "\(command)")
            #expect(result.stderr.contains("does not match the audit trail"), "\(command)")
            #expect(result.stderr.contains("the wrong key, not tampering"), "\(command)")
        }
    }
}
