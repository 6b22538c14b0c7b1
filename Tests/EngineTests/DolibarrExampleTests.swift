import Foundation
import RetentionCore
import RetentionDemo
import RetentionEngine
import RetentionStore
import TestSupport
import Testing

/// etc/examples/dolibarr.yaml on a database shaped like Dolibarr's (the tables, columns and
/// foreign keys of its install SQL that the policy touches), on both databases. The expected
/// outcome is computed here from the rows' facts, by the register's lines, not taken from a run.
@Suite struct DolibarrExampleTests {
    // "now" is 2026-06-01T00:00:00Z, 02:00 in Paris; the policy's zone is Europe/Paris and
    // Dolibarr stores local wall-clock time, so the bounds below are Paris times.
    static let now = "2026-06-01 02:00:00"
    static let threeYearsAgo = "2023-06-01 02:00:00"
    /// An invoice is kept until 10 years after the end of its fiscal year (calendar year): one
    /// dated on or after 2016-01-01 is still kept at now.
    static let keptInvoicesFrom = "2016-01-01"

    struct Company {
        var id: Int
        var client: Int  // 0 none, 1 client, 2 prospect, 3 both
        var datec: String
        var tms: String
        var finRelation: String? = nil  // extrafields
        var consentUntil: String? = nil  // extrafields
    }
    struct Event {
        var id: Int
        var elementtype: String
        var element: Int
        var datep: String
    }
    struct Invoice {
        var id: Int
        var company: Int
        var datef: String?
        var lines: [Int]
    }
    struct Contact {
        var id: Int
        var company: Int
    }
    struct Ticket {
        var id: Int
        var status: Int
        var closed: String?
    }

    static let companies = [
        Company(id: 1, client: 2, datec: "2020-01-01 10:00:00", tms: "2021-01-01 10:00:00"),
        // a recent event of its own
        Company(id: 2, client: 2, datec: "2020-01-01 10:00:00", tms: "2021-01-01 10:00:00"),
        // a recent event of ticket 3, not its own
        Company(id: 3, client: 2, datec: "2020-01-01 10:00:00", tms: "2021-01-01 10:00:00"),
        // invoiced: not a mere prospect
        Company(id: 4, client: 2, datec: "2019-01-01 10:00:00", tms: "2020-01-01 10:00:00"),
        Company(id: 5, client: 2, datec: "2019-01-01 10:00:00", tms: "2020-01-01 10:00:00", consentUntil: "2027-01-01"),
        // a second before the bound
        Company(id: 6, client: 2, datec: "2019-01-01 10:00:00", tms: "2023-06-01 01:59:59"),
        Company(id: 7, client: 2, datec: "2019-01-01 10:00:00", tms: "2023-06-01 02:00:00"),  // at the bound
        Company(id: 10, client: 1, datec: "2015-01-01 10:00:00", tms: "2026-01-01 10:00:00", finRelation: "2026-01-01"),
        Company(id: 11, client: 1, datec: "2015-01-01 10:00:00", tms: "2020-01-01 10:00:00", finRelation: "2020-01-01"),
        Company(id: 12, client: 3, datec: "2012-01-01 10:00:00", tms: "2019-01-01 10:00:00", finRelation: "2019-01-01"),
        Company(id: 13, client: 1, datec: "2012-01-01 10:00:00", tms: "2019-01-01 10:00:00"),
        Company(
            id: 14, client: 1, datec: "2012-01-01 10:00:00", tms: "2020-01-01 10:00:00", finRelation: "2020-01-01",
            consentUntil: "2030-01-01"),
        Company(id: 15, client: 1, datec: "2012-01-01 10:00:00", tms: "2018-01-01 10:00:00", finRelation: "2018-01-01"),
        Company(id: 20, client: 0, datec: "2010-01-01 10:00:00", tms: "2010-01-01 10:00:00", finRelation: "2011-01-01"),
    ]
    static let events = [
        Event(id: 201, elementtype: "societe", element: 1, datep: "2022-01-01 09:00:00"),
        Event(id: 202, elementtype: "societe", element: 2, datep: "2024-01-01 09:00:00"),
        Event(id: 203, elementtype: "ticket", element: 3, datep: "2025-01-01 09:00:00"),
        Event(id: 204, elementtype: "societe", element: 3, datep: "2021-06-01 09:00:00"),
        Event(id: 205, elementtype: "ticket", element: 2, datep: "2023-01-01 09:00:00"),
        Event(id: 206, elementtype: "propal", element: 2, datep: "2020-01-01 09:00:00"),
    ]
    static let invoices = [
        Invoice(id: 1100, company: 11, datef: "2019-05-01", lines: [11001]),
        Invoice(id: 1200, company: 12, datef: "2014-03-01", lines: [12001, 12002]),
        Invoice(id: 1500, company: 15, datef: nil, lines: []),
        Invoice(id: 1600, company: 4, datef: "2022-02-01", lines: [16001]),
    ]
    static let contacts = [
        Contact(id: 101, company: 1), Contact(id: 110, company: 10), Contact(id: 111, company: 11),
        Contact(id: 130, company: 13), Contact(id: 140, company: 14), Contact(id: 150, company: 15),
    ]
    static let tickets = [
        Ticket(id: 2, status: 8, closed: "2023-01-01 12:00:00"), Ticket(id: 3, status: 1, closed: nil),
        Ticket(id: 4, status: 8, closed: "2025-01-01 12:00:00"),
        Ticket(id: 5, status: 9, closed: "2024-05-31 12:00:00"),
    ]

    /// The product's tables as the demo builds them (RetentionDemo.ProductSchemas); on MariaDB, as
    /// Dolibarr's own MySQL install SQL creates them.
    static let schema = ProductSchemas.dolibarr
    static let mariadbSchema = ProductSchemas.dolibarrMySQL

    static func sqlText(_ value: String?) -> String { value.map { "'\($0)'" } ?? "NULL" }

    /// The row of `llx_paiement_facture` that pays invoice `id` (a dated one).
    static func paymentLink(_ id: Int) -> Int { id + 50000 }

    /// `tms` is a TIMESTAMP in Dolibarr's MySQL schema: an instant, which MariaDB takes in the
    /// session's zone (UTC for retentiond and these statements). The Paris wall-clock time above is
    /// written as the instant it names, as Dolibarr's server in Paris would have stored it.
    static func instant(_ parisWallClock: String, on backend: Backend) -> String {
        guard backend == .mariadb else { return parisWallClock }
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.dateFormat = "yyyy-MM-dd HH:mm:ss"
        formatter.timeZone = TimeZone(identifier: "Europe/Paris")!
        let date = formatter.date(from: parisWallClock)!
        formatter.timeZone = TimeZone(identifier: "UTC")!
        return formatter.string(from: date)
    }

    static func data(_ backend: Backend) -> [String] {
        var rows: [String] = []
        for c in companies {
            let tms = instant(c.tms, on: backend)
            rows.append(
                "INSERT INTO llx_societe VALUES (\(c.id), 'Société \(c.id)', \(c.client), \(c.client == 0 ? 1 : 0), '\(c.id) rue de la Paix', '7500\(c.id % 10)', 'Paris', '+33 1 00 00 00 \(c.id)', 'contact\(c.id)@example.fr', '\(c.datec)', '\(tms)')"
            )
            if c.finRelation != nil || c.consentUntil != nil {
                rows.append(
                    "INSERT INTO llx_societe_extrafields VALUES (\(c.id + 500), '\(tms)', \(c.id), \(sqlText(c.finRelation)), \(sqlText(c.consentUntil)))"
                )
            }
        }
        rows += events.map {
            "INSERT INTO llx_actioncomm VALUES (\($0.id), '\($0.datep)', NULL, '\($0.elementtype)', \($0.element), 'event \($0.id)')"
        }
        for i in invoices {
            rows.append(
                "INSERT INTO llx_facture VALUES (\(i.id), 'FA\(i.id)', \(i.company), \(sqlText(i.datef)), \(i.datef == nil ? 0 : 1))"
            )
            rows += i.lines.map { "INSERT INTO llx_facturedet VALUES (\($0), \(i.id), 'line \($0)')" }
            // Every dated invoice is paid, in one payment of its own, linked as Dolibarr links it.
            if let datef = i.datef {
                rows.append(
                    "INSERT INTO llx_paiement VALUES (\(i.id + 90000), 'PAY\(i.id)', '\(datef) 12:00:00', 100.5)")
                rows.append(
                    "INSERT INTO llx_paiement_facture VALUES (\(Self.paymentLink(i.id)), \(i.id + 90000), \(i.id), 100.5)"
                )
            }
        }
        rows += contacts.map {
            "INSERT INTO llx_socpeople VALUES (\($0.id), \($0.company), 'Nom\($0.id)', 'Prénom\($0.id)', 'p\($0.id)@example.fr', '+33 6 00 00 0\($0.id)')"
        }
        rows += tickets.map {
            "INSERT INTO llx_ticket VALUES (\($0.id), 'TS\($0.id)', 0, 'user\($0.id)@example.fr', 'help', \($0.status), \(sqlText($0.closed)))"
        }
        return rows
    }

    // MARK: The register, applied by hand

    static func consented(_ c: Company) -> Bool { (c.consentUntil ?? "") > now }

    static var purgedCompanies: Set<Int> {
        Set(
            companies.filter { c in
                guard c.client == 2, !invoices.contains(where: { $0.company == c.id }), !consented(c) else {
                    return false
                }
                let ownEvents = events.filter { $0.elementtype == "societe" && $0.element == c.id }.map(\.datep)
                return ([c.datec, c.tms] + ownEvents).max()! < threeYearsAgo
            }.map(\.id))
    }

    static func isClient(_ c: Company) -> Bool { c.client == 1 || c.client == 3 }

    /// End of relationship reached (contact data, contacts) and not consented.
    static var contactDataGone: Set<Int> {
        Set(companies.filter { isClient($0) && !consented($0) && ($0.finRelation ?? "9999") < now }.map(\.id))
    }

    static var billingIdentityGone: Set<Int> {
        Set(
            companies.filter { c in
                guard isClient(c), !consented(c), (c.finRelation ?? "9999") < threeYearsAgo else { return false }
                let keeping = invoices.filter {
                    $0.company == c.id && ($0.datef == nil || $0.datef! >= keptInvoicesFrom)
                }
                return keeping.isEmpty
            }.map(\.id))
    }

    /// An invoice leaves Dolibarr for the archive once its fiscal year (calendar year) and the next
    /// are over: one dated before 2025-01-01 has, at now. A draft (no date) never does.
    static let archivedInvoicesBefore = "2025-01-01"

    static var archivedInvoices: Set<Int> {
        Set(invoices.filter { ($0.datef ?? "9999") < archivedInvoicesBefore }.map(\.id))
    }

    /// In the archive, an invoice ends 10 years after its fiscal year.
    static var purgedInvoices: Set<Int> {
        Set(invoices.filter { ($0.datef ?? "9999") < keptInvoicesFrom }.map(\.id))
    }

    // What the first run's moves make due for the next (each rule acts on what the database holds
    // when it runs: the invoices moved after the clients' rules ran).
    static func liveInvoices(of company: Int) -> [Invoice] {
        invoices.filter { $0.company == company && !archivedInvoices.contains($0.id) }
    }

    static var purgedCompaniesLater: Set<Int> {
        Set(
            companies.filter { c in
                guard c.client == 2, !purgedCompanies.contains(c.id), liveInvoices(of: c.id).isEmpty, !consented(c)
                else { return false }
                let ownEvents = events.filter { $0.elementtype == "societe" && $0.element == c.id }.map(\.datep)
                return ([c.datec, c.tms] + ownEvents).max()! < threeYearsAgo
            }.map(\.id))
    }

    static var billingIdentityGoneLater: Set<Int> {
        Set(
            companies.filter { c in
                guard isClient(c), !consented(c), !billingIdentityGone.contains(c.id),
                    (c.finRelation ?? "9999") < threeYearsAgo
                else { return false }
                return liveInvoices(of: c.id).filter { $0.datef == nil || $0.datef! >= keptInvoicesFrom }.isEmpty
            }.map(\.id))
    }

    static var purgedTickets: Set<Int> {
        let twoYearsAgo = "2024-06-01 02:00:00"
        return Set(tickets.filter { [8, 9].contains($0.status) && ($0.closed ?? "9999") < twoYearsAgo }.map(\.id))
    }

    @Test(arguments: Backend.allCases)
    func theExamplePolicyKeepsTheRegistersPromisesRowByRow(_ backend: Backend) async throws {
        let f = try await CRMFixture(
            backend, schema: Self.schema, mariadbSchema: Self.mariadbSchema, data: Self.data(backend),
            wholePolicy: try CRMFixture.packageFile("etc/examples/dolibarr.yaml"))
        let (resolved, diagnostics) = try await f.validate()
        #expect(resolved != nil, "\(diagnostics)")
        #expect(!diagnostics.contains { $0.severity == .error })
        if backend == .mariadb { try await followTheIndexAdvice(diagnostics, f) }

        // Expected, by the register's lines (sanity: each case of the fixture is exercised).
        #expect(Self.purgedCompanies == [1, 3, 6])
        #expect(Self.contactDataGone == [10, 11, 12, 15])
        #expect(Self.billingIdentityGone == [12])
        #expect(Self.purgedInvoices == [1200])
        #expect(Self.archivedInvoices == [1100, 1200, 1600])
        #expect(Self.purgedCompaniesLater == [4], "a prospect invoiced only in closed years")
        #expect(Self.billingIdentityGoneLater == [11], "a client whose invoices are all in the archive")
        #expect(Self.purgedTickets == [2, 5])

        let report = try await f.run()
        #expect(report.failure == nil)
        // A child table a batch reached without changing a row is not listed, as a plan does not list it.
        #expect(
            report.rules.allSatisfy {
                !$0.childRowsPurged.values.contains(0) && !$0.childRowsAnonymised.values.contains(0)
            },
            "\(report.rules.map { ($0.rule, $0.childRowsPurged, $0.childRowsAnonymised) })")

        let societe = try await f.rows(
            "SELECT rowid, nom, address, zip, town, phone, email FROM llx_societe ORDER BY rowid")
        #expect(Set(societe.map { $0[0].int }) == Set(Self.companies.map(\.id)).subtracting(Self.purgedCompanies))
        for row in societe {
            let id = row[0].int
            let contactGone = Self.contactDataGone.contains(id)
            let billingGone = Self.billingIdentityGone.contains(id)
            #expect((row[5] == .null) == contactGone, "phone of \(id)")
            #expect((row[6] == .null) == contactGone, "email of \(id)")
            #expect(row[6] == .null || row[6] == .text("contact\(id)@example.fr"))
            #expect((row[2] == .null && row[3] == .null && row[4] == .null) == billingGone, "address of \(id)")
            if billingGone {
                #expect(row[1].textValue?.hasPrefix("client-") == true && row[1].textValue?.count == 19)
            } else {
                #expect(row[1] == .text("Société \(id)"))
            }
        }

        // An anonymisation changes only the fields the policy names: on MariaDB, `tms` (ON UPDATE
        // CURRENT_TIMESTAMP, a clock of the prospects' rule) keeps its value on the rows it changed.
        let tms = try await f.rows("SELECT rowid, CAST(tms AS TEXT) FROM llx_societe ORDER BY rowid")
        #expect(
            tms.map { $0[1].textValue ?? "" }
                == Self.companies.filter { !Self.purgedCompanies.contains($0.id) }.map {
                    Self.instant($0.tms, on: backend)
                })

        let contacts = try await f.rows(
            "SELECT rowid, lastname, firstname, email, phone FROM llx_socpeople ORDER BY rowid")
        let remainingContacts = Self.contacts.filter { !Self.purgedCompanies.contains($0.company) }
        #expect(contacts.map { $0[0].int } == remainingContacts.map(\.id))
        for (row, contact) in zip(contacts, remainingContacts) {
            let gone = Self.contactDataGone.contains(contact.company)
            #expect(row[1].textValue?.hasPrefix("contact-") == gone, "lastname of contact \(contact.id)")
            #expect(row[2..<5].allSatisfy { $0 == .null } == gone, "firstname, email, phone of contact \(contact.id)")
        }

        let remainingEvents = Self.events.filter { e in
            !(e.elementtype == "societe" && Self.purgedCompanies.contains(e.element))
                && !(e.elementtype == "ticket" && Self.purgedTickets.contains(e.element))
        }
        #expect(
            try await f.rows("SELECT id FROM llx_actioncomm ORDER BY id").map { $0[0].int }
                == remainingEvents.map(\.id),
            "a polymorphic child goes only with the object its elementtype names")
        #expect(
            try await f.rows("SELECT fk_object FROM llx_societe_extrafields ORDER BY fk_object").map { $0[0].int }
                == Self.companies.filter {
                    ($0.finRelation != nil || $0.consentUntil != nil) && !Self.purgedCompanies.contains($0.id)
                }.map(\.id))
        #expect(
            Set(try await f.rows("SELECT rowid FROM llx_facture").map { $0[0].int })
                == Set(Self.invoices.map(\.id)).subtracting(Self.archivedInvoices))
        #expect(
            Set(try await f.rows("SELECT rowid FROM llx_facturedet").map { $0[0].int })
                == Set(Self.invoices.filter { !Self.archivedInvoices.contains($0.id) }.flatMap(\.lines)))
        #expect(
            Set(try await f.rows("SELECT fk_facture FROM llx_paiement_facture").map { $0[0].int })
                == Set(Self.invoices.filter { $0.datef != nil && !Self.archivedInvoices.contains($0.id) }.map(\.id)))
        #expect(
            try await f.count("SELECT count(*) FROM llx_paiement") == Self.invoices.filter { $0.datef != nil }.count,
            "the payments themselves stay")
        #expect(
            Set(try await f.rows("SELECT rowid FROM llx_ticket").map { $0[0].int })
                == Set(Self.tickets.map(\.id)).subtracting(Self.purgedTickets))

        // The audit trail has one entry per record changed, under the rule that changed it.
        let audit = try await f.audit()
        func audited(_ rule: String) -> Int {
            audit.filter { $0.ruleID == rule && ["purge", "anonymise"].contains($0.action) }.count
        }
        #expect(audited("dolibarr-prospect") == Self.purgedCompanies.count)
        #expect(audited("dolibarr-client-contact-data") == Self.contactDataGone.count)
        #expect(audited("dolibarr-client-billing-identity") == Self.billingIdentityGone.count)
        // The contacts went with their company, audited as one count per table beside it.
        let contactsEntries = audit.filter {
            $0.ruleID == "dolibarr-client-contact-data" && $0.action == "anonymise-children"
        }
        #expect(contactsEntries.map(\.table) == ["llx_socpeople"])
        #expect(
            contactsEntries.map {
                $0.detail.contains(
                    "\"rows\":\"\(Self.contacts.filter { Self.contactDataGone.contains($0.company) }.count)\"")
            } == [true], "\(contactsEntries.map(\.detail))")
        #expect(
            audit.filter { $0.ruleID == "dolibarr-invoices-archive" && $0.action == "archive" }.count
                == Self.archivedInvoices.count)
        #expect(audited("dolibarr-tickets") == Self.purgedTickets.count)
        #expect(try await f.trail().verify().isValid)

        // The archive: the moved invoices and lines, and their clients' rows as they were then
        // (company 12 already anonymised by the run's earlier rule, the others as Dolibarr held them).
        let moved = Self.invoices.filter { Self.archivedInvoices.contains($0.id) }
        f.phase = .archive
        #expect(Set(try await f.rows("SELECT rowid FROM llx_facture").map { $0[0].int }) == Self.archivedInvoices)
        #expect(
            Set(try await f.rows("SELECT rowid FROM llx_facturedet").map { $0[0].int }) == Set(moved.flatMap(\.lines)))
        #expect(
            Set(try await f.rows("SELECT rowid FROM llx_paiement_facture").map { $0[0].int })
                == Set(moved.map { Self.paymentLink($0.id) }),
            "what was paid on them moved with them")
        let copied = try await f.rows("SELECT rowid, nom, address FROM llx_societe ORDER BY rowid")
        #expect(copied.map { $0[0].int } == Set(moved.map(\.company)).sorted())
        for row in copied where !Self.billingIdentityGone.contains(row[0].int) {
            #expect(row[1] == .text("Société \(row[0].int)") && row[2] == .text("\(row[0].int) rue de la Paix"))
        }

        // The next run acts on what the moves made due: a prospect invoiced only in closed years, a
        // client whose invoices are all archived — their identity kept in the archive.
        f.phase = .active
        let second = try await f.run()
        #expect(second.rules.first { $0.rule == "dolibarr-prospect" }?.purged == Self.purgedCompaniesLater.count)
        #expect(
            second.rules.first { $0.rule == "dolibarr-client-billing-identity" }?.anonymised
                == Self.billingIdentityGoneLater.count)
        #expect(
            Set(try await f.rows("SELECT rowid FROM llx_societe").map { $0[0].int })
                == Set(Self.companies.map(\.id)).subtracting(Self.purgedCompanies).subtracting(
                    Self.purgedCompaniesLater))
        let billing = try await f.rows("SELECT rowid FROM llx_societe WHERE address IS NULL ORDER BY rowid").map {
            $0[0].int
        }
        #expect(Set(billing) == Self.billingIdentityGone.union(Self.billingIdentityGoneLater))
        // A third finds nothing new.
        let again = try await f.run()
        #expect(again.rules.allSatisfy { $0.purged == 0 && $0.anonymised == 0 })

        // The archive's own run: invoices past their ten years end there, with the clients' rows
        // no archived invoice names any more; the others stay as they were copied.
        f.phase = .archive
        let archiveRun = try await f.run()
        #expect(archiveRun.failure == nil)
        let remaining = moved.filter { !Self.purgedInvoices.contains($0.id) }
        // A client's row goes on the run after its last invoice (the run plans before it deletes).
        let orphaned = Set(moved.map(\.company)).subtracting(remaining.map(\.company))
        #expect(archiveRun.rules.first { $0.rule == "dolibarr-archived-clients" }?.becameDue == orphaned.count)
        #expect(try await f.run().rules.first { $0.rule == "dolibarr-archived-clients" }?.purged == orphaned.count)
        #expect(Set(try await f.rows("SELECT rowid FROM llx_facture").map { $0[0].int }) == Set(remaining.map(\.id)))
        #expect(
            Set(try await f.rows("SELECT rowid FROM llx_facturedet").map { $0[0].int })
                == Set(remaining.flatMap(\.lines)))
        #expect(
            Set(try await f.rows("SELECT rowid FROM llx_paiement_facture").map { $0[0].int })
                == Set(remaining.map { Self.paymentLink($0.id) }))
        let kept = try await f.rows("SELECT rowid, nom, address FROM llx_societe ORDER BY rowid")
        #expect(kept.map { $0[0].int } == Set(remaining.map(\.company)).sorted())
        #expect(
            kept.allSatisfy { $0[1] == .text("Société \($0[0].int)") && $0[2] == .text("\($0[0].int) rue de la Paix") },
            "the archive keeps the identity the invoices were issued to, although Dolibarr's is anonymised or gone")
        #expect(try await f.trail().verify().isValid)
    }

    /// Dolibarr's MySQL keys index neither `llx_societe.datec` (a clock of the prospects),
    /// `llx_actioncomm.fk_element` (their events, matched by a relation and a child) nor
    /// `llx_ticket.date_close` (the tickets' clock): `check` advises the three, in statements the `mariadb` client runs under its default SQL mode
    /// (backticks; "…" would be a string there), after which it advises nothing more.
    func followTheIndexAdvice(_ diagnostics: [Diagnostic], _ f: CRMFixture) async throws {
        let advice = Set(diagnostics.compactMap(\.hint).filter { $0.hasPrefix("CREATE INDEX") })
        #expect(
            advice == [
                "CREATE INDEX `llx_societe_datec_idx` ON `llx_societe` (`datec`)",
                "CREATE INDEX `llx_actioncomm_fk_element_idx` ON `llx_actioncomm` (`fk_element`)",
                "CREATE INDEX `llx_ticket_date_close_idx` ON `llx_ticket` (`date_close`)",
            ], "\(diagnostics)")
        guard case .mariadb(let location) = try f.settings().database else {
            Issue.record("not MariaDB")
            return
        }
        let server = try MariaDBServer.shared.get()
        #expect(try await server.sql(location.database, "SELECT @@sql_mode").contains("ANSI") == false)
        for statement in advice.sorted() { try await server.sql(location.database, statement) }
        let (_, after) = try await f.validate()
        #expect(!after.contains { $0.hint?.hasPrefix("CREATE INDEX") == true }, "\(after)")
    }

    /// On PostgreSQL, a role given what docs/postgresql.md's role example grants besides (CONNECT,
    /// USAGE and CREATE on the schema) and then exactly the GRANTs `check` lists runs the example
    /// to its end: the contacts' columns the clients' rule anonymises included.
    @Test func aRoleGivenTheGrantsCheckListsRunsTheExample() async throws {
        let f = try await CRMFixture(
            .postgres, schema: Self.schema, data: Self.data(.postgres),
            wholePolicy: try CRMFixture.packageFile("etc/examples/dolibarr.yaml"))
        let role = "dolibarr_\(UInt32.random(in: 0...UInt32.max))"
        guard case .postgres(var location) = try f.settings().database else {
            Issue.record("not PostgreSQL")
            return
        }
        try await f.sql([
            "CREATE ROLE \(role) LOGIN", "GRANT CONNECT ON DATABASE \(location.database) TO \(role)",
            "GRANT USAGE, CREATE ON SCHEMA public TO \(role)",
        ])
        location.user = role
        f.databaseOverride = .postgres(location)
        let (resolved, _) = try await f.validate()
        let policy = try #require(resolved)
        let report = try await f.reader().read {
            try $0.privileges(policy.privilegesNeeded + policy.toolTablePrivileges(enforcing: true))
        }
        #expect(
            report.grants.contains(
                "GRANT SELECT, UPDATE (\"email\", \"firstname\", \"lastname\", \"phone\"), DELETE ON \"llx_socpeople\" TO \"\(role)\";"
            ),
            "\(report.grants)")
        f.databaseOverride = nil
        try await f.sql(report.grants.map { String($0.dropLast()) })
        f.databaseOverride = .postgres(location)

        let run = try await f.run()
        #expect(run.failure == nil, "\(run.message ?? "")")
        let anonymised = try await f.rows("SELECT count(*) FROM llx_socpeople WHERE lastname LIKE 'contact-%'")
        #expect(
            anonymised == [[.integer(Int64(Self.contacts.filter { Self.contactDataGone.contains($0.company) }.count))]])
        #expect(try await f.trail().verify().isValid)
    }
}

extension DolibarrExampleTests {
    /// On MariaDB, a user whose privileges come from its default role: the tool's tables created
    /// once by an administrator (docs/mariadb.md, "Privileges"), the role given CREATE and TRIGGER
    /// on the database as the docs say, then SELECT (which `check` asks for first, the columns being
    /// hidden without it), then exactly the GRANTs `check` lists (written for the user, granted to the role), after which `check`
    /// lists nothing and the example runs to its end as that user.
    @Test func aUserWhoseRoleHasTheGrantsCheckListsRunsTheExampleOnMariaDB() async throws {
        let f = try await CRMFixture(
            .mariadb, schema: Self.schema, mariadbSchema: Self.mariadbSchema, data: Self.data(.mariadb),
            wholePolicy: try CRMFixture.packageFile("etc/examples/dolibarr.yaml"))
        try await f.store().transaction { try $0.prepareToolTables() }
        guard case .mariadb(var location) = try f.settings().database else {
            Issue.record("not MariaDB")
            return
        }
        let suffix = UInt32.random(in: 0...UInt32.max)
        let (user, role) = ("dolibarr_\(suffix)", "dolibarr_role_\(suffix)")
        // Besides: what creating the tool's tables needs (docs/mariadb.md), which also lets the user reach the database.
        try await f.sql(
            [
                "CREATE USER '\(user)'@'%'", "CREATE ROLE \(role)",
                "GRANT CREATE, TRIGGER ON \(location.database).* TO \(role)",
                "GRANT \(role) TO '\(user)'@'%'", "SET DEFAULT ROLE \(role) FOR '\(user)'@'%'",
            ], asWritten: true)
        location.user = user
        f.databaseOverride = .mariadb(location)
        // MariaDB shows a user only the columns it holds a privilege on: `check` says so, with the first GRANT.
        let (_, hidden) = try await f.validate()
        #expect(
            hidden.contains {
                $0.message
                    == "the columns of `llx_societe` are hidden from this database user: it holds no privilege on the table"
            }, "\(hidden)")
        f.databaseOverride = nil
        try await f.sql(["GRANT SELECT ON \(location.database).* TO \(role)"], asWritten: true)
        f.databaseOverride = .mariadb(location)
        func grants() async throws -> [String] {
            let (resolved, diagnostics) = try await f.validate()
            let policy = try #require(resolved, "\(diagnostics)")
            return try await f.reader().read {
                try $0.privileges(policy.privilegesNeeded + policy.toolTablePrivileges(enforcing: true))
            }.grants
        }
        let listed = try await grants()
        #expect(
            listed.contains(
                "GRANT UPDATE (`email`, `firstname`, `lastname`, `phone`), DELETE ON `\(location.database)`.`llx_socpeople` TO '\(user)'@'%';"
            ),
            "\(listed)")
        #expect(listed.contains { $0.contains("`retentiond_audit`") }, "the tool's tables too: \(listed)")
        f.databaseOverride = nil
        try await f.sql(
            listed.map { $0.replacingOccurrences(of: " TO '\(user)'@'%';", with: " TO \(role)") }, asWritten: true)
        f.databaseOverride = .mariadb(location)
        let left = try await grants()
        #expect(left == [], "held through the role: \(left)")

        let run = try await f.run()
        #expect(run.failure == nil, "\(run.message ?? "")")
        let anonymised = try await f.rows("SELECT count(*) FROM llx_socpeople WHERE lastname LIKE 'contact-%'")
        #expect(
            anonymised == [[.integer(Int64(Self.contacts.filter { Self.contactDataGone.contains($0.company) }.count))]])
        #expect(try await f.trail().verify().isValid)
    }
}

extension SQLValue {
    /// An integer column's value (-1 for anything else), for comparing ids.
    var int: Int { if case .integer(let i) = self { return Int(i) } else { return -1 } }
}
