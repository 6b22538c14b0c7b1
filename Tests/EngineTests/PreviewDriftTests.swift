import Foundation
import RetentionCore
import RetentionDemo
import RetentionEngine
import RetentionStore
import TestSupport
import Testing

/// What the DPO previews is what happens: on the demo databases (the shipped policy's CRM,
/// Dolibarr's and Znuny's shapes with their example policies, two seeds and scales each), on every
/// database, the dry run's rows per table equal the rows the run then deleted and changed, counted
/// in the database before and after — children, owned rows and rows two rules reach included —, no
/// planned record is "gone", and the records the run says its changes made due are those the next
/// run acts on.
@Suite(.tags(.slow)) struct PreviewDriftTests {
    enum Dataset: String, CaseIterable, CustomStringConvertible, Sendable {
        case crm, dolibarr, znuny
        var description: String { rawValue }
        var policy: String { self == .crm ? "etc/retentiond/retentiond.yaml" : "etc/examples/\(rawValue).yaml" }
        func build(seed: UInt64, scale: Int) -> DemoDataset {
            switch self {
            case .crm: return DemoDataset(seed: seed, now: CRMFixture.now, scale: scale)
            case .dolibarr: return DemoDataset.dolibarr(seed: seed, now: CRMFixture.now, scale: scale)
            case .znuny: return DemoDataset.znuny(seed: seed, now: CRMFixture.now, scale: scale)
            }
        }
    }

    @Test(arguments: Backend.allCases, Dataset.allCases)
    func theDryRunCountsTheRowsTheRunChanges(_ backend: Backend, _ dataset: Dataset) async throws {
        for (seed, scale) in [(UInt64(3), 1), (UInt64(11), 2)] {
            let data = dataset.build(seed: seed, scale: scale)
            let f = try await CRMFixture(
                backend, schema: [], data: [], wholePolicy: try CRMFixture.packageFile(dataset.policy))
            try await f.store().transaction { try data.load(into: $0, mariadb: backend == .mariadb) }
            try await f.gatherStatistics()
            let tables = data.tables.map(\.name)
            let before = try await rows(f, tables)
            let plan = try await f.plan()
            let run = try await f.run(allowMore: true)
            let after = try await rows(f, tables)
            let context = "\(dataset) seed \(seed) scale \(scale) on \(backend)"

            var lost: [String: Int] = [:]
            var changedRows: [String: Int] = [:]
            for table in tables {
                lost[table] = before[table]!.values.reduce(0, +) - after[table]!.values.reduce(0, +)
                // Rows that are there after and were not before: changed by the run (it inserts nothing).
                changedRows[table] = after[table]!.reduce(0) { $0 + max(0, $1.value - (before[table]![$1.key] ?? 0)) }
            }
            #expect(run.status == .complete, "\(context)")
            #expect(plan.tables == run.tables, "\(context): the preview is what the run did")
            for table in tables {
                #expect((run.tables?[table]?.deleted ?? 0) == lost[table], "\(context): rows of \(table) deleted")
                // A row two rules anonymise is two changes; a changed row still differs after.
                let changes = run.tables?[table]?.changed ?? 0
                #expect(
                    changedRows[table]! <= changes && (changes == 0) == (changedRows[table]! == 0),
                    "\(context): rows of \(table) changed")
            }
            for rule in run.rules {
                #expect(
                    rule.gone == 0 && rule.stale == 0, "\(context): \(rule.rule) found planned records gone or stale")
                #expect(rule.takenBy == plan.rules.first { $0.rule == rule.rule }?.takenBy, "\(context): \(rule.rule)")
            }
            // The records the run made due are exactly those the next run (at the same moment) acts on.
            let next = try await f.run(allowMore: true)
            let acted = next.rules.reduce(0) { $0 + $1.flagged + $1.anonymised + $1.purged }
            #expect(
                acted == run.totalBecameDue,
                "\(context): \(acted) changed by the next run, \(run.totalBecameDue) said to have become due")
            for rule in next.rules {
                let done = rule.flagged + rule.anonymised + rule.purged
                #expect(
                    done == (run.rules.first { $0.rule == rule.rule }?.becameDue ?? 0),
                    "\(context): \(rule.rule) next run")
            }
        }
    }

    static let ticketSchema = [
        "CREATE TABLE tickets (id INTEGER PRIMARY KEY, closed TEXT NOT NULL)",
        "CREATE TABLE appointments (id INTEGER PRIMARY KEY, title TEXT)",
        "CREATE TABLE links (id INTEGER PRIMARY KEY, ticket_id INTEGER NOT NULL REFERENCES tickets(id), appointment_id INTEGER NOT NULL REFERENCES appointments(id))",
        "CREATE INDEX links_ticket ON links(ticket_id)",
        "CREATE INDEX links_appointment ON links(appointment_id)",
        "CREATE TABLE notes (id INTEGER PRIMARY KEY, ticket_id INTEGER REFERENCES tickets(id), appointment_id INTEGER REFERENCES appointments(id), written TEXT NOT NULL)",
        "CREATE INDEX notes_ticket ON notes(ticket_id)",
        "CREATE INDEX notes_appointment ON notes(appointment_id)",
    ]

    static let ticketPolicy = """
        subjects:
          tickets:
            table: tickets
            key: id
            rules:
              - id: ticket-purge
                register: "Support"
                legal_basis: "2 years after closing"
                clock: closed
                after: 2y
                action: purge
                children:
                  - { table: notes, foreign_key: ticket_id }
                  - table: links
                    foreign_key: ticket_id
                    owns:
                      - { table: appointments, foreign_key: appointment_id }
          notes:
            table: notes
            key: id
            rules:
              - id: note-purge
                register: "Notes"
                legal_basis: "1 year"
                clock: written
                after: 1y
                action: purge

        """

    /// Owned rows and rows two rules reach, one record a batch: the dry run counts each row the run
    /// deletes, once, under the rule whose batch takes it; the later rule's records it took are
    /// "taken by" it, neither planned again nor "gone"; the trail records each deletion once.
    @Test(arguments: Backend.allCases)
    func ownedRowsAndRowsTwoRulesReachAreCountedOnceAsTheRunDeletesThem(_ backend: Backend) async throws {
        // Tickets 1, 2 and 4 closed in 2020 (due), 3 this year. Appointment 10 is linked from
        // tickets 1 and 2, 11 from 1 and 3, 12 from 2, 13 from 4 and a recent note (40), 14 from 4
        // and an old note of ticket 4 (41). Notes 41 and 43 are old notes of due tickets, 42 an
        // old note of no ticket, 40 a recent one.
        let data = [
            "INSERT INTO tickets VALUES (1, '2020-01-01'), (2, '2020-02-01'), (3, '2026-01-01'), (4, '2020-03-01')",
            "INSERT INTO appointments VALUES (10, 'a'), (11, 'b'), (12, 'c'), (13, 'd'), (14, 'e')",
            "INSERT INTO links VALUES (100, 1, 10), (101, 2, 10), (102, 1, 11), (103, 3, 11), (104, 2, 12), (105, 4, 13), (106, 4, 14)",
            "INSERT INTO notes VALUES (40, NULL, 13, '2026-05-01'), (41, 4, 14, '2020-01-01'), (42, NULL, NULL, '2020-01-01'), (43, 1, NULL, '2020-01-01')",
        ]
        let f = try await CRMFixture(
            backend, schema: Self.ticketSchema, data: data, policy: Self.ticketPolicy, batchSize: 1)
        var lines: [DetailLine] = []
        let plan = try await f.planner().dryRun(
            now: CRMFixture.now, mode: .plan, planPath: nil, detail: { lines.append($0) }, childRowsPerRecord: true)
        // An export's lines: each due ticket's own rows (owned appointments are not listed), and
        // the notes the ticket purge takes named as taken by it.
        func line(_ rule: String, _ id: Int64) -> DetailLine? {
            lines.first { $0.rule == rule && $0.key == RecordKey([.integer(id)]) }
        }
        func rows(_ rule: String, _ id: Int64) -> [String: Int] {
            Dictionary((line(rule, id)?.childRows ?? []).map { ($0.table, $0.rows) }, uniquingKeysWith: +)
        }
        #expect(
            rows("ticket-purge", 1) == ["links": 2, "notes": 1] && rows("ticket-purge", 2) == ["links": 2]
                && rows("ticket-purge", 4) == ["links": 2, "notes": 1])
        #expect(line("ticket-purge", 3) == nil, "not past its cutoff")
        #expect(
            line("note-purge", 41)?.takenBy == "ticket-purge" && line("note-purge", 43)?.takenBy == "ticket-purge"
                && line("note-purge", 42)?.takenBy == nil)
        let run = try await f.run()

        // Worked out from the data: 10 goes once both its tickets have gone, 12 and 14 with theirs
        // (14's note goes first, in the same batch); 11 stays for ticket 3, 13 for note 40.
        #expect(try await f.ids("tickets") == [3])
        #expect(try await f.ids("links") == [103])
        #expect(try await f.ids("appointments") == [11, 13])
        #expect(try await f.ids("notes") == [40])
        let expected: [String: RunReport.TableChange] = [
            "tickets": .init(deleted: 3), "links": .init(deleted: 6),
            "appointments": .init(deleted: 3), "notes": .init(deleted: 3),
        ]
        #expect(plan.tables == expected, "\(String(describing: plan.tables))")
        #expect(run.tables == expected, "\(String(describing: run.tables))")
        let notes = try #require(run.rules.first { $0.rule == "note-purge" })
        #expect(notes.due == 3 && notes.purged == 1 && notes.gone == 0 && notes.takenBy == ["ticket-purge": 2])
        #expect(plan.rules.first { $0.rule == "note-purge" }?.takenBy == ["ticket-purge": 2])
        #expect(
            plan.rules.first { $0.rule == "ticket-purge" }?.childRowsPurged == [
                "appointments": 3, "links": 6, "notes": 2,
            ])
        // The trail: the later rule's one record, the tickets, and the rows that went with them.
        let purges = try await f.audit(action: "purge")
        #expect(purges.filter { $0.ruleID == "note-purge" }.map(\.subjectRef) == [try f.reference("notes", 42)])
        #expect(
            Set(purges.filter { $0.ruleID == "ticket-purge" }.map(\.subjectRef))
                == Set(try [1, 2, 4].map { try f.reference("tickets", $0) }))
        var children: [String: Int] = [:]
        for entry in try await f.audit(action: "purge-children") {
            let detail = try JSONDecoder().decode([String: String].self, from: Data(entry.detail.utf8))
            children[entry.table, default: 0] += Int(detail["rows"] ?? "") ?? 0
        }
        #expect(children == ["appointments": 3, "links": 6, "notes": 2])
        #expect(try await f.trail().verify().isValid)
    }

    /// A flag after a purge on the same records: the records the purge deletes first are taken
    /// by it, neither planned for the flag nor "gone" when its batch comes.
    @Test(arguments: Backend.allCases)
    func aFlagAfterAPurgeOfTheSameRecordsFindsThemTakenNotGone(_ backend: Backend) async throws {
        let policy =
            CRMPolicies.prospectPurge(children: CRMPolicies.declaredChildren + "\n") + """
                      - id: prospect-review
                        register: "Prospection"
                        legal_basis: "legitimate interest, reviewed after 2 years"
                        clock: { latest: [last_seen, collected] }
                        after: 2y
                        action: flag

                """
        let f = try await CRMFixture(backend, policy: policy)
        let plan = try await f.plan()
        let run = try await f.run()
        // Prospects 1 and 2 are due for both; 5 only for the flag (its order keeps it from the
        // purge, not from a review); 4 has consent, 3 was seen last winter.
        let review = try #require(run.rules.first { $0.rule == "prospect-review" })
        #expect(plan.rules.first { $0.rule == "prospect-review" }?.takenBy == ["prospect-purge": 2])
        #expect(
            review.due == 3 && review.flagged == 1 && review.gone == 0 && review.takenBy == ["prospect-purge": 2],
            "\(review)")
        #expect(try await f.ids("people") == [3, 4, 5, 6, 7])
        #expect(try await f.audit(action: "flag").map(\.subjectRef) == [try f.reference("people", 5)])
    }

    /// Every row of each table, as a multiset (a table need not have a key).
    func rows(_ f: CRMFixture, _ tables: [String]) async throws -> [String: [[SQLValue]: Int]] {
        var result: [String: [[SQLValue]: Int]] = [:]
        for table in tables {
            var counts: [[SQLValue]: Int] = [:]
            for row in try await f.rows("SELECT * FROM \(table)") { counts[row, default: 0] += 1 }
            result[table] = counts
        }
        return result
    }
}
