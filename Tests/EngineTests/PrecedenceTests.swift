import Foundation
import RetentionCore
import RetentionEngine
import RetentionStore
import TestSupport
import Testing

/// "Keeping wins": a row leaves the database only when every rule of the policy that governs its
/// table lets it go, whichever path reaches it — subject, child (declared or `auto`), owned row,
/// erasure — unless the deleting rule declares the deletion with `overrides`.
@Suite struct PrecedenceTests {
    // MARK: Owned rows

    static let peopleSchema = [
        "CREATE TABLE people (id INTEGER PRIMARY KEY, closed_at TEXT)",
        "CREATE INDEX people_closed_at ON people(closed_at)",
        "CREATE TABLE links (id INTEGER PRIMARY KEY, person_id INTEGER REFERENCES people(id), other_id INTEGER REFERENCES people(id))",
        "CREATE INDEX links_person ON links(person_id)",
        "CREATE INDEX links_other ON links(other_id)",
    ]

    static let peoplePolicy = """
        subjects:
          people:
            table: people
            key: id
            rules:
              - id: people-purge
                register: "People"
                legal_basis: "contract, 1 year after closing"
                clock: closed_at
                after: 1y
                action: purge
                children:
                  - table: links
                    foreign_key: person_id
                    owns:
                      - { table: people, foreign_key: other_id }

        """

    /// People 1–10 closed in 2020, 11–20 a month before now; link i points from i to i + 10.
    static var peopleData: [String] {
        (1...20).map { "INSERT INTO people VALUES (\($0), '\($0 <= 10 ? "2020-01-01" : "2026-05-01")')" }
            + (1...10).map { "INSERT INTO links VALUES (\($0), \($0), \($0 + 10))" }
    }

    @Test(arguments: Backend.allCases)
    func anOwnedRowThatIsNotDueUnderItsOwnRuleStays(_ backend: Backend) async throws {
        let f = try await CRMFixture(
            backend, schema: Self.peopleSchema, data: Self.peopleData, policy: Self.peoplePolicy)
        let report = try await f.run()
        // Expected, from the data: 1–10 are due and go with their links; 11–20 closed a month ago
        // are not due before 2027, so their own rule keeps them although nothing points at them any more.
        #expect(try await f.ids("people") == Array(11...20))
        #expect(try await f.ids("links") == [])
        #expect(report.rules[0].purged == 10)
        #expect(report.rules[0].childRowsPurged == ["links": 10])
        #expect(try await f.audit(action: "purge").count == 10)
        #expect(try await f.trail().verify().isValid)

        // A year later they are due, and a run takes them as subjects.
        let later = try await f.run(now: .iso("2027-06-01T00:00:00Z"))
        #expect(later.rules[0].purged == 10)
        #expect(try await f.ids("people") == [])
    }

    @Test(arguments: Backend.allCases)
    func anOwnedRowOfAnotherSubjectStaysWhileItsRuleKeepsIt(_ backend: Backend) async throws {
        let schema = [
            "CREATE TABLE tickets (id INTEGER PRIMARY KEY, closed_at TEXT)",
            "CREATE TABLE appointments (id INTEGER PRIMARY KEY, starts_at TEXT, keep_until TEXT)",
            "CREATE TABLE appointment_links (id INTEGER PRIMARY KEY, ticket_id INTEGER REFERENCES tickets(id), appointment_id INTEGER REFERENCES appointments(id))",
            "CREATE INDEX links_ticket ON appointment_links(ticket_id)",
            "CREATE INDEX links_appointment ON appointment_links(appointment_id)",
        ]
        // Tickets 1–3 are due (closed 2020). Appointment 100 is 2024's (kept 10 years), 101 is 2010's
        // (due under its rule), 102 is 2010's with consent until 2099.
        let data = [
            "INSERT INTO tickets VALUES (1, '2020-01-01'), (2, '2020-01-01'), (3, '2020-01-01')",
            "INSERT INTO appointments VALUES (100, '2024-01-01', NULL), (101, '2010-01-01', NULL), (102, '2010-01-01', '2099-01-01')",
            "INSERT INTO appointment_links VALUES (1, 1, 100), (2, 2, 101), (3, 3, 102)",
        ]
        let policy = """
            subjects:
              tickets:
                table: tickets
                key: id
                rules:
                  - id: ticket-purge
                    register: "Support"
                    legal_basis: "contract, 2 years"
                    clock: closed_at
                    after: 2y
                    action: purge
                    children:
                      - table: appointment_links
                        foreign_key: ticket_id
                        owns:
                          - { table: appointments, foreign_key: appointment_id }
              appointments:
                table: appointments
                key: id
                exempt:
                  consent: { until: keep_until }
                rules:
                  - id: appointment-records
                    register: "Agenda"
                    legal_basis: "legal obligation, 10 years"
                    clock: starts_at
                    after: 10y
                    action: purge

            """
        let f = try await CRMFixture(backend, schema: schema, data: data, policy: policy)
        _ = try await f.run()
        // Every ticket goes with its link (an owned row does not keep its record); only the appointment
        // its own rule lets go goes with it: 100 is inside its 10 years, 102 has consent.
        #expect(try await f.ids("tickets") == [])
        #expect(try await f.ids("appointment_links") == [])
        #expect(try await f.ids("appointments") == [100, 102])
    }

    // MARK: Children

    static let ticketSchema = [
        "CREATE TABLE tickets (id INTEGER PRIMARY KEY, closed_at TEXT)",
        "CREATE INDEX tickets_closed_at ON tickets(closed_at)",
        "CREATE TABLE messages (id INTEGER PRIMARY KEY, ticket_id INTEGER NOT NULL REFERENCES tickets(id))",
        "CREATE INDEX messages_ticket ON messages(ticket_id)",
        "CREATE TABLE invoices (id INTEGER PRIMARY KEY, ticket_id INTEGER REFERENCES tickets(id), issued_on TEXT, hold_flag INTEGER NOT NULL DEFAULT 0)",
        "CREATE INDEX invoices_ticket ON invoices(ticket_id)",
        "CREATE INDEX invoices_issued_on ON invoices(issued_on)",
        "CREATE TABLE invoice_lines (id INTEGER PRIMARY KEY, invoice_id INTEGER NOT NULL REFERENCES invoices(id))",
        "CREATE INDEX lines_invoice ON invoice_lines(invoice_id)",
    ]

    /// Tickets 1–4 closed in 2020 (due after 1 year), 5 in 2026 (not due).
    /// Invoice 10 (ticket 1) is 2024's: inside its 10 years. Invoice 11 (ticket 2) is 2010's: due
    /// under its own rule. Invoice 12 (ticket 3) is 2010's but its flag keeps it. Ticket 4 has no invoice.
    static let ticketData = [
        "INSERT INTO tickets VALUES (1, '2020-01-01'), (2, '2020-01-01'), (3, '2020-01-01'), (4, '2020-01-01'), (5, '2026-01-01')",
        "INSERT INTO messages VALUES (1, 1), (2, 2), (3, 3), (4, 4), (5, 4), (6, 5)",
        "INSERT INTO invoices VALUES (10, 1, '2024-01-01', 0), (11, 2, '2010-01-01', 0), (12, 3, '2010-01-01', 1)",
        "INSERT INTO invoice_lines VALUES (100, 10), (101, 11), (102, 12)",
    ]

    static func ticketPolicy(overrides: String = "") -> String {
        """
        subjects:
          tickets:
            table: tickets
            key: id
            rules:
              - id: ticket-purge
                register: "Support"
                legal_basis: "contract, 1 year after closing"
                clock: closed_at
                after: 1y
                action: purge
                children: auto\(overrides)
          invoices:
            table: invoices
            key: id
            exempt:
              consent: { flag: hold_flag }
            rules:
              - id: accounting
                register: "Accounting"
                legal_basis: "legal obligation, 10 years"
                clock: { column: issued_on, anchor: fiscal_year_end }
                after: 10y
                action: purge
                children: auto

        """
    }

    @Test(arguments: Backend.allCases)
    func aChildThatAnotherRuleKeepsKeepsItsRecordAndTheReportNamesTheRule(_ backend: Backend) async throws {
        let f = try await CRMFixture(
            backend, schema: Self.ticketSchema, data: Self.ticketData, policy: Self.ticketPolicy())
        let (_, diagnostics) = try await f.validate()
        let warning = diagnostics.first { $0.message.contains("`invoices` that rule `ticket-purge` deletes") }
        #expect(warning?.severity == .warning && warning?.message.contains("`accounting`") == true, "\(diagnostics)")
        #expect(warning?.hint?.contains("overrides: [accounting]") == true)

        var detail: [DetailLine] = []
        let plan = try await f.planner().dryRun(now: CRMFixture.now, mode: .plan, planPath: nil) { detail.append($0) }
        let ticketPlan = plan.rules.first { $0.rule == "ticket-purge" }!
        #expect(ticketPlan.due == 2)
        #expect(ticketPlan.exempt == ["kept_by_rule": 2])
        #expect(ticketPlan.keptByRule == ["accounting": 2])
        #expect(ticketPlan.childRowsPurged == ["invoices": 1, "invoice_lines": 1, "messages": 3])
        let kept = detail.filter { $0.rule == "ticket-purge" && $0.decision == .exempt(.keptByRule) }
        #expect(kept.map(\.key) == [RecordKey([.integer(1)]), RecordKey([.integer(3)])])
        #expect(kept.allSatisfy { $0.keptBy == ["accounting"] })

        let report = try await f.run()
        // Expected, from the data: tickets 2 and 4 go with what hangs off them (invoice 11 is due under
        // its own rule, so it goes too, with its line); 1 and 3 stay with everything of theirs.
        #expect(try await f.ids("tickets") == [1, 3, 5])
        #expect(try await f.ids("messages") == [1, 3, 6])
        #expect(try await f.ids("invoices") == [10, 12])
        #expect(try await f.ids("invoice_lines") == [100, 102])
        let tickets = report.rules.first { $0.rule == "ticket-purge" }!
        #expect(tickets.purged == 2 && tickets.exempt == ["kept_by_rule": 2] && tickets.keptByRule == ["accounting": 2])
        #expect(tickets.childRowsPurged == ["invoices": 1, "invoice_lines": 1, "messages": 3])
        let purged = try await f.audit(action: "purge").filter { $0.ruleID == "ticket-purge" }.map(\.subjectRef)
            .sorted()
        #expect(purged == [try f.reference("tickets", 2), try f.reference("tickets", 4)].sorted())
        #expect(try await f.trail().verify().isValid)
        #expect(report.markdown().contains("2 kept_by_rule (accounting: 2)"))
        #expect(
            report.html(policy: try f.policy(), forecast: nil).contains(
                "2 by another rule that keeps it or a row its deletion would take (accounting: 2)"))

        // `explain` names the rule that keeps ticket 1.
        let explanation = try await Explainer(resolved: try await f.validate().0!, reader: try await f.reader())
            .explain(subject: try f.policy().subjects[0], keyText: "1", now: CRMFixture.now)
        #expect(explanation.rules[0].keptBy == ["kept_by_rule"] && explanation.rules[0].keptByRules == ["accounting"])
        #expect(explanation.rules[0].verdict.contains("`accounting` (invoices)"), "\(explanation.rules[0].verdict)")
    }

    @Test(arguments: Backend.allCases)
    func aDeletionDeclaredWithOverridesGoesAndCheckSaysSo(_ backend: Backend) async throws {
        let f = try await CRMFixture(
            backend, schema: Self.ticketSchema, data: Self.ticketData,
            policy: Self.ticketPolicy(overrides: "\n        overrides: [accounting]"))
        let (resolved, diagnostics) = try await f.validate()
        #expect(!diagnostics.contains { $0.message.contains("keeping wins") }, "\(diagnostics)")
        let links = try #require(resolved).rules[0].shape.childPaths.map { $0[$0.count - 1] }
        #expect(links.first { $0.table == "invoices" }?.overrides == ["accounting"])
        #expect(links.allSatisfy { $0.keptBy.isEmpty })

        let report = try await f.run()
        #expect(report.rules[0].purged == 4)
        #expect(try await f.ids("tickets") == [5])
        #expect(try await f.ids("messages") == [6])
        #expect(try await f.ids("invoices") == [])
        #expect(try await f.ids("invoice_lines") == [])
    }

    @Test func overridesMustNameARuleOfThePolicy() throws {
        let text =
            "version: 1\ntime_zone: UTC\ndatabase: { sqlite: crm.sqlite }\n"
            + Self.ticketPolicy(overrides: "\n        overrides: [acounting]")
        do {
            _ = try PolicyParser(path: "policy.yaml").parse(text, hash: "h")
            Issue.record("an override of an unknown rule was accepted")
        } catch let invalid as PolicyInvalid {
            let error = invalid.errors.first { $0.message.contains("`overrides` names rule `acounting`") }
            #expect(error?.hint == "did you mean `accounting`?", "\(invalid.diagnostics)")
            #expect(error?.location.line == 16, "\(invalid.diagnostics)")
        }
    }

    @Test(arguments: Backend.allCases)
    func anErasureRequestCannotRemoveWhatALongerRuleKeeps(_ backend: Backend) async throws {
        let f = try await CRMFixture(
            backend, schema: Self.ticketSchema, data: Self.ticketData, policy: Self.ticketPolicy())
        let enforcer = try await f.enforcer()
        let tickets = try f.policy().subjects[0]
        // Ticket 5 is not due, but a request takes it now; ticket 1's invoice is inside its 10 years.
        let five = try await enforcer.erase(
            subject: tickets, keyText: "5", request: "DSR-1", now: CRMFixture.now, dryRun: false)
        #expect(five.steps.map(\.outcome) == ["purged"])
        let one = try await enforcer.erase(
            subject: tickets, keyText: "1", request: "DSR-2", now: CRMFixture.now, dryRun: false)
        #expect(one.steps.map(\.outcome) == ["kept"])
        #expect(one.steps[0].reason?.contains("`accounting` (invoices)") == true, "\(one.steps)")
        #expect(try await f.ids("tickets") == [1, 2, 3, 4])
        #expect(try await f.ids("messages") == [1, 2, 3, 4, 5])
        #expect(try await f.ids("invoices") == [10, 11, 12])
        #expect(try await f.audit(action: "purge").count == 1)
    }

    // MARK: Several rules over one row

    /// Documents hang off cases; two subjects govern documents: contracts (kept 10 years after
    /// signing) and confidential ones (kept 5 years after filing, or while flagged). A document
    /// that is both goes only when both let it go.
    @Test(arguments: Backend.allCases)
    func aRowGovernedByThreeRulesGoesOnlyWhenEveryOneLetsItGo(_ backend: Backend) async throws {
        let schema = [
            "CREATE TABLE cases (id INTEGER PRIMARY KEY, closed_at TEXT)",
            "CREATE TABLE documents (id INTEGER PRIMARY KEY, case_id INTEGER NOT NULL REFERENCES cases(id), kind TEXT, confidential INTEGER, signed_on TEXT, filed_on TEXT)",
            "CREATE INDEX documents_case ON documents(case_id)",
        ]
        // Every case is due. Document (case): 1 contract and confidential, both due → goes. 2: the
        // contract is due, its confidentiality not (filed 2024) → kept. 3: the contract is not due
        // (signed 2020), confidentiality due → kept. 4: a due contract, not confidential → goes.
        // 5: a plain letter, no subject governs it → goes.
        let data = [
            "INSERT INTO cases VALUES (1, '2015-01-01'), (2, '2015-01-01'), (3, '2015-01-01'), (4, '2015-01-01'), (5, '2015-01-01')",
            "INSERT INTO documents VALUES (1, 1, 'contract', 1, '2010-01-01', '2010-01-01'), (2, 2, 'contract', 1, '2010-01-01', '2024-01-01'),"
                + " (3, 3, 'contract', 1, '2020-01-01', '2010-01-01'), (4, 4, 'contract', 0, '2010-01-01', '2010-01-01'), (5, 5, 'letter', 0, NULL, NULL)",
        ]
        let policy = """
            subjects:
              cases:
                table: cases
                key: id
                rules:
                  - id: case-purge
                    register: "Cases"
                    legal_basis: "contract, 5 years"
                    clock: closed_at
                    after: 5y
                    action: purge
                    children:
                      - { table: documents, foreign_key: case_id }
              contracts:
                table: documents
                key: id
                filter: { kind: contract }
                rules:
                  - id: contract-records
                    register: "Contracts"
                    legal_basis: "legal obligation, 10 years"
                    clock: signed_on
                    after: 10y
                    action: purge
              confidential:
                table: documents
                key: id
                filter: { confidential: 1 }
                rules:
                  - id: confidential-records
                    register: "Confidential"
                    legal_basis: "legal obligation, 5 years"
                    clock: filed_on
                    after: 5y
                    action: purge

            """
        let f = try await CRMFixture(backend, schema: schema, data: data, policy: policy)
        let report = try await f.run()
        #expect(try await f.ids("cases") == [2, 3])
        #expect(try await f.ids("documents") == [2, 3])
        let cases = report.rules[0]
        #expect(cases.purged == 3 && cases.keptByRule == ["confidential-records": 1, "contract-records": 1])
        // The two document subjects share their table and overlap: each one's purge answers to the
        // other. Documents 1 and 4 went with their cases; 2 and 3 are each kept by the other rule.
        let contracts = report.rules[1]
        let confidential = report.rules[2]
        // Their due documents went first with their cases: taken by the case rule, not "gone".
        #expect(
            contracts.purged == 0 && contracts.gone == 0 && contracts.takenBy == ["case-purge": 2]
                && contracts.keptByRule == ["confidential-records": 1])
        #expect(
            confidential.purged == 0 && confidential.gone == 0 && confidential.takenBy == ["case-purge": 1]
                && confidential.keptByRule == ["contract-records": 1])
    }

    /// Two subjects on one table whose filters overlap: a record purged by one is kept while the
    /// other's rules keep it; subjects told apart by one column's values never ask each other.
    @Test(arguments: Backend.allCases)
    func aRecordThatIsAlsoAnotherSubjectsIsKeptByItsRules(_ backend: Backend) async throws {
        let policy = """
            subjects:
              leads:
                table: people
                key: id
                filter: { kind: prospect }
                rules:
                  - id: lead-purge
                    register: "Leads"
                    legal_basis: "legitimate interest, 3 years"
                    clock: collected
                    after: 3y
                    action: purge
                    children:
                      - { table: notes, foreign_key: person_id, children: [{ table: attachments, foreign_key: note_id }] }
              subscribers:
                table: people
                key: id
                filter: { opted: 1 }
                rules:
                  - id: newsletter
                    register: "Newsletter"
                    legal_basis: "consent, until withdrawn"
                    clock: keep_until
                    after: 0d
                    action: anonymise
                    fields: { email: null }
              clients:
                table: people
                key: id
                filter: { kind: client }
                rules:
                  - id: client-purge
                    register: "Clients"
                    legal_basis: "contract"
                    clock: collected
                    after: 3y
                    action: purge
                    children: auto

            """
        // Prospects 1–5 and clients 6–7 were collected before 2020: all due. Prospect 4 and client 6
        // have opted in: the subscribers' rules only anonymise, so they keep those rows. Prospect 5's
        // order keeps it (an undeclared reference); client 7 goes.
        let f = try await CRMFixture(
            backend, data: CRMFixture.data + ["UPDATE people SET opted = 1 WHERE id = 4"], policy: policy)
        let (resolved, _) = try await f.validate()
        let rules = try #require(resolved)
        #expect(rules.rule(id: "lead-purge")?.shape.subjectKeptBy == ["subscribers"])
        #expect(
            rules.rule(id: "client-purge")?.shape.subjectKeptBy == ["subscribers"],
            "clients and leads are told apart by kind")
        let report = try await f.run()
        #expect(try await f.ids("people") == [4, 5, 6])
        #expect(try await f.ids("notes") == [])
        #expect(try await f.ids("orders") == [1000, 1001])
        let leads = report.rules[0]
        #expect(
            leads.purged == 3 && leads.keptByRule == ["newsletter": 1]
                && leads.exempt["referenced_by_undeclared_table"] == 1)
        #expect(report.rules[2].purged == 1 && report.rules[2].keptByRule == ["newsletter": 1])
    }
}
