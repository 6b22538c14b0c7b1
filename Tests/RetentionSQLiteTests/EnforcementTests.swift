import Foundation
import GRDB
import Testing
@testable import RetentionCore
@testable import RetentionEngine

/// Each action, checked row by row in the database and in the audit trail beside it.
@Suite struct EnforcementTests {
    static let declaredChildren = """
                children:
                  - table: notes
                    foreign_key: person_id
                    children:
                      - { table: attachments, foreign_key: note_id }
        """

    static func prospectPurge(children: String = declaredChildren) -> String {
        """
        subjects:
          prospects:
            table: people
            key: id
            filter: { kind: prospect }
            exempt:
              consent: { until: keep_until }
            rules:
              - id: prospect-purge
                register: "Prospection"
                legal_basis: "legitimate interest, 3 years"
                clock: { latest: [last_seen, collected] }
                after: 3y
                action: purge

        """ + children
    }

    static let prospectPurge = prospectPurge()

    @Test func purgeDeletesTheRecordsAndTheirDeclaredChildrenAndNothingElse() async throws {
        let f = try Fixture(policy: Self.prospectPurge)
        let report = try await f.run()

        // 1 (last seen 2020) and 2 (never seen, collected 2019) are past 3 years; 3 is recent;
        // 4 consented until 2027; 5 has an order (orders is not a declared child); 6 and 7 are clients.
        #expect(try f.ids("people") == [3, 4, 5, 6, 7])
        #expect(try f.ids("notes") == [13])
        #expect(try f.ids("attachments") == [101])
        #expect(try f.ids("orders") == [1000, 1001])

        let tally = try #require(report.rules.first)
        #expect(report.status == .complete)
        #expect(tally.pastCutoff == 4)
        #expect(tally.purged == 2)
        #expect(tally.exempt == ["consent": 1, "referenced_by_undeclared_table": 1])
        #expect(tally.childRowsPurged == ["notes": 3, "attachments": 1])

        let purges = try f.audit(action: "purge")
        #expect(purges.map { $0["subject_ref"] as String } == [try f.reference("people", 1), try f.reference("people", 2)])
        #expect(purges.allSatisfy { ($0["rule_id"] as String) == "prospect-purge" && ($0["run_id"] as String) == report.runID })
        let children = try f.audit(action: "purge-children")
        #expect(Set(children.map { "\($0["table_name"] as String):\($0["detail"] as String)" })
                == ["notes:{\"parent_table\":\"people\",\"rows\":\"3\"}", "attachments:{\"parent_table\":\"people\",\"rows\":\"1\"}"])
        #expect(try f.audit(action: "run-completed").count == 1)
    }

    @Test func childrenAutoFollowsForeignKeysRecursively() async throws {
        let policy = Self.prospectPurge(children: "        children: auto")
        let f = try Fixture(policy: policy)
        let report = try await f.run()
        // orders is now a child too, so person 5 goes with its order.
        #expect(try f.ids("people") == [3, 4, 6, 7])
        #expect(try f.ids("orders") == [1001])
        #expect(try f.ids("attachments") == [101])
        #expect(report.rules[0].childRowsPurged == ["notes": 3, "attachments": 1, "orders": 1])
    }

    static let anonymiseAction = """
                action: anonymise
                fields:
                  email: null
                  name: { pseudonym: { prefix: "p-", length: 10 } }
                  phone: { mask: { keep_last: 2 } }
                  born: year
                  opted: keep
        """

    static func anonymise(action: String = anonymiseAction, filter: String = "{ kind: prospect }", exempt: String = "") -> String {
        """
        subjects:
          prospects:
            table: people
            key: id
            filter: \(filter)
        \(exempt)    rules:
              - id: prospect-anonymise
                register: "Prospection"
                legal_basis: "legitimate interest"
                clock: { column: last_seen, fallback: collected }
                after: 3y

        """ + action
    }

    static let anonymise = anonymise()

    @Test func anonymiseRewritesOnlyTheListedFieldsOfDueRecords() async throws {
        let f = try Fixture(policy: Self.anonymise)
        let before = try f.query("SELECT * FROM people ORDER BY id")
        let report = try await f.run()
        #expect(report.rules[0].anonymised == 4)

        let after = try f.query("SELECT * FROM people ORDER BY id")
        for (old, new) in zip(before, after) {
            let id: Int64 = old["id"]
            if [1, 2, 4, 5].contains(id) {
                #expect((new["email"] as String?) == nil)
                let name: String = new["name"]
                #expect(name.hasPrefix("p-") && name.count == 12 && name != (old["name"] as String))
                #expect((new["collected"] as String) == (old["collected"] as String), "unlisted columns are kept")
                #expect((new["kind"] as String) == "prospect")
            } else {
                #expect(old == new, "record \(id) is not due or not a prospect and must not change")
            }
        }
        let alice = after[0]
        #expect((alice["phone"] as String) == "***************44")
        #expect((alice["born"] as String) == "1980-01-01")
        let bruno = after[1]
        #expect((bruno["born"] as String) == "1975-01-01")

        let entries = try f.audit(action: "anonymise")
        #expect(entries.count == 4)
        #expect(entries.allSatisfy { ($0["fields"] as String) == "email,name,phone,born" })
        #expect(Set(entries.map { $0["subject_ref"] as String }) == Set(try [1, 2, 4, 5].map { try f.reference("people", $0) }))
    }

    @Test func aSecondRunChangesNothingNew() async throws {
        let f = try Fixture(policy: Self.anonymise)
        _ = try await f.run()
        let afterFirst = try f.query("SELECT * FROM people ORDER BY id")
        let entriesAfterFirst = try f.audit().count
        let second = try await f.run(now: Fixture.now.addingTimeInterval(86_400))
        #expect(second.rules[0].anonymised == 0)
        #expect(second.rules[0].alreadyDone == 4)
        #expect(second.rules[0].due == 0)
        #expect(try f.query("SELECT * FROM people ORDER BY id") == afterFirst)
        #expect(try f.audit().count == entriesAfterFirst + 1, "only the run-completed entry is new")
    }

    @Test func flagChangesNoDataAndFlagsEachRecordOnce() async throws {
        let policy = Self.anonymise(action: "        action: flag")
        let f = try Fixture(policy: policy)
        let before = try f.query("SELECT * FROM people ORDER BY id")
        let first = try await f.run()
        #expect(first.rules[0].flagged == 4)
        #expect(try f.query("SELECT * FROM people ORDER BY id") == before)
        #expect(try f.audit(action: "flag").count == 4)
        let second = try await f.run(now: Fixture.now.addingTimeInterval(86_400))
        #expect(second.rules[0].flagged == 0)
        #expect(try f.audit(action: "flag").count == 4)
    }

    @Test func batchesCoverEveryRecordWhateverTheBatchSize() async throws {
        let f = try Fixture(policy: Self.anonymise, batchSize: 1)
        let report = try await f.run()
        #expect(report.rules[0].anonymised == 4)
        #expect(try f.query("SELECT count(*) AS n FROM people WHERE email IS NULL").first?["n"] == 4)
        let trail = try await f.trail()
        #expect(try await trail.verify().isValid)
    }

    @Test func theDryRunLeavesTheFileByteIdentical() async throws {
        let f = try Fixture(policy: Self.prospectPurge)
        let digest = try f.fileDigest()
        let plan = try await f.plan(out: f.dir.appendingPathComponent("p.plan").path)
        #expect(plan.totalDue == 2)
        #expect(try f.fileDigest() == digest)

        // Also once the tool's own tables exist and records were already processed.
        _ = try await f.run()
        let afterRun = try f.fileDigest()
        let again = try await f.plan(now: Fixture.now.addingTimeInterval(86_400 * 400))
        #expect(again.totalDue > 0)
        #expect(try f.fileDigest() == afterRun)
    }

    @Test func purgedAndAnonymisedValuesDoNotLingerInTheFile() async throws {
        let f = try Fixture(policy: Self.prospectPurge)
        #expect(try f.rawBytes().range(of: Data("alice.martin@example.fr".utf8)) != nil)
        _ = try await f.run()
        let raw = try f.rawBytes()
        for gone in ["alice.martin@example.fr", "bruno.petit@example.fr", "Alice asked for a quote", "quote-alice.pdf"] {
            #expect(raw.range(of: Data(gone.utf8)) == nil, "\(gone) is still in the database file")
        }
        #expect(raw.range(of: Data("chloe.durand@example.fr".utf8)) != nil, "kept records are still there")

        let g = try Fixture(policy: EnforcementTests.anonymise)
        _ = try await g.run()
        #expect(try g.rawBytes().range(of: Data("alice.martin@example.fr".utf8)) == nil)
    }

    @Test func theReportIsWrittenForPeopleAndMachinesAndOnlyForTheOwner() async throws {
        let f = try Fixture(policy: Self.prospectPurge)
        let report = try await f.run()
        let paths = try StateFiles.writeReport(report, directory: f.dir.appendingPathComponent("reports").path)
        for path in [paths.json, paths.markdown] {
            let mode = try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int
            #expect(mode == 0o600)
        }
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        let decoded = try decoder.decode(RunReport.self, from: Data(contentsOf: URL(fileURLWithPath: paths.json)))
        #expect(decoded.rules.map(\.purged) == [2])
        #expect(decoded.policyHash == report.policyHash)
        let markdown = try String(contentsOfFile: paths.markdown, encoding: .utf8)
        #expect(markdown.contains("| `prospect-purge` | prospects (`people`) | purge |"))
        #expect(!markdown.contains("alice"), "no review columns: no personal values, not even keys")
    }
}
