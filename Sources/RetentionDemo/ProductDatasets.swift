import Foundation
import RetentionCore

/// Synthetic data in the shape of Dolibarr's and Znuny's databases (`ProductSchemas`), with ages
/// that straddle the cutoffs of etc/examples/dolibarr.yaml and znuny.yaml. Same seed, same `now`:
/// same data.
extension DemoDataset {
    /// Wall-clock text (`YYYY-MM-DD HH:MM:SS`, or the day only) in a zone, as both products store it.
    struct WallClockText {
        var calendar: Calendar
        var now: Date
        init(zone: String, now: Date) {
            calendar = Calendar(identifier: .gregorian)
            calendar.timeZone = TimeZone(identifier: zone)!
            self.now = now
        }
        func text(_ date: Date, dayOnly: Bool = false) -> SQLValue {
            let c = calendar.dateComponents([.year, .month, .day, .hour, .minute, .second], from: date)
            return .text(
                dayOnly
                    ? String(format: "%04d-%02d-%02d", c.year!, c.month!, c.day!)
                    : String(
                        format: "%04d-%02d-%02d %02d:%02d:%02d", c.year!, c.month!, c.day!, c.hour!, c.minute!,
                        c.second!))
        }
    }

    /// A Dolibarr database: 400 third parties per unit of scale (prospects, clients, suppliers)
    /// with extra fields, contacts, events, invoices and 150 tickets. Stored in Paris time.
    public static func dolibarr(seed: UInt64, now: Date, scale: Int = 1) -> DemoDataset {
        var rng = SplitMix64(seed: seed)
        let clock = WallClockText(zone: "Europe/Paris", now: now)
        func ago(_ maxDays: Int, atLeast minDays: Int = 0) -> Date {
            now.addingTimeInterval(
                -Double(minDays + rng.next(upTo: max(1, maxDays - minDays))) * 86_400 - Double(rng.next(upTo: 86_400)))
        }
        func between(_ a: Date, _ b: Date) -> Date {
            a.addingTimeInterval(Double(rng.next(upTo: max(1, Int(b.timeIntervalSince(a))))))
        }
        var societe = Table(
            name: "llx_societe",
            columns: [
                "rowid", "nom", "client", "fournisseur", "address", "zip", "town", "phone", "email", "datec", "tms",
            ])
        var extra = Table(
            name: "llx_societe_extrafields",
            columns: ["rowid", "tms", "fk_object", "fin_relation", "consentement_jusqu_au"])
        var contacts = Table(
            name: "llx_socpeople", columns: ["rowid", "fk_soc", "lastname", "firstname", "email", "phone"])
        var events = Table(
            name: "llx_actioncomm", columns: ["id", "datep", "fk_soc", "elementtype", "fk_element", "label"])
        var invoices = Table(name: "llx_facture", columns: ["rowid", "ref", "fk_soc", "datef", "fk_statut"])
        var lines = Table(name: "llx_facturedet", columns: ["rowid", "fk_facture", "description"])
        var tickets = Table(
            name: "llx_ticket",
            columns: ["rowid", "ref", "fk_soc", "origin_email", "subject", "fk_statut", "date_close"])
        var payments = Table(name: "llx_paiement", columns: ["rowid", "ref", "datep", "amount"])
        var paid = Table(name: "llx_paiement_facture", columns: ["rowid", "fk_paiement", "fk_facture", "amount"])
        // Payments draw from a stream of their own: the rest of the data is as it was before they were added.
        var paying = SplitMix64(seed: seed ^ 0x5041_5945_4D45_4E54)

        for id in 1...(400 * scale) {
            let roll = rng.next(upTo: 100)
            let client = roll < 45 ? 2 : roll < 80 ? 1 : roll < 85 ? 3 : 0
            let last = DemoDataset.lastNames[rng.next(upTo: DemoDataset.lastNames.count)]
            let created = ago(14 * 365, atLeast: 30)
            let changed = between(created, now)
            societe.rows.append([
                .integer(Int64(id)),
                .text("\(DemoDataset.companies[rng.next(upTo: DemoDataset.companies.count)]) \(id)"),
                .integer(Int64(client)), .integer(client == 0 ? 1 : 0),
                .text("\(1 + rng.next(upTo: 120)) rue de la Paix"),
                .text("2920\(id % 10)"), .text("Brest"),
                .text(
                    String(
                        format: "+33 2 98 %02d %02d %02d", rng.next(upTo: 100), rng.next(upTo: 100), rng.next(upTo: 100)
                    )),
                .text("\(last.lowercased())\(id)@example.fr"), clock.text(created), clock.text(changed),
            ])
            let isClient = client == 1 || client == 3
            let ended: Date? = isClient && rng.next(upTo: 10) < 6 ? between(created, now) : nil
            let consent: Date? =
                isClient && rng.next(upTo: 10) == 0
                ? now.addingTimeInterval(Double(30 + rng.next(upTo: 900)) * 86_400) : nil
            if ended != nil || consent != nil {
                extra.rows.append([
                    .integer(Int64(extra.rows.count + 1)), clock.text(changed), .integer(Int64(id)),
                    ended.map { clock.text($0, dayOnly: true) } ?? .null,
                    consent.map { clock.text($0, dayOnly: true) } ?? .null,
                ])
            }
            for _ in 0..<rng.next(upTo: 3) {
                let first = DemoDataset.firstNames[rng.next(upTo: DemoDataset.firstNames.count)]
                contacts.rows.append([
                    .integer(Int64(contacts.rows.count + 1)), .integer(Int64(id)), .text(last), .text(first),
                    .text("\(first.lowercased()).\(last.lowercased())\(id)@example.fr"), .text("+33 6 00 00 00 00"),
                ])
            }
            if client != 0 {
                for _ in 0..<rng.next(upTo: 4) {
                    events.rows.append([
                        .integer(Int64(events.rows.count + 1)), clock.text(between(created, now)), .integer(Int64(id)),
                        .text("societe"), .integer(Int64(id)), .text("call"),
                    ])
                }
            }
            if isClient {
                for _ in 0..<(1 + rng.next(upTo: 3)) {
                    let invoiceID = Int64(invoices.rows.count + 1)
                    let draft = rng.next(upTo: 30) == 0
                    invoices.rows.append([
                        .integer(invoiceID), .text(String(format: "FA%06d", invoiceID)), .integer(Int64(id)),
                        draft ? .null : clock.text(between(created, ended ?? now), dayOnly: true),
                        .integer(draft ? 0 : 2),
                    ])
                    for _ in 0..<(1 + rng.next(upTo: 3)) {
                        lines.rows.append([
                            .integer(Int64(lines.rows.count + 1)), .integer(invoiceID), .text("service"),
                        ])
                    }
                    // Two invoices in three are paid, in one payment each.
                    if !draft, paying.next(upTo: 3) > 0,
                        case .text(let issued) = invoices.rows[invoices.rows.count - 1][3]
                    {
                        let paymentID = Int64(payments.rows.count + 1)
                        let amount = SQLValue.real(Double(10_000 + paying.next(upTo: 500_000)) / 100)
                        payments.rows.append([
                            .integer(paymentID), .text(String(format: "PAY%06d", paymentID)),
                            .text(issued + " 12:00:00"), amount,
                        ])
                        paid.rows.append([
                            .integer(Int64(paid.rows.count + 1)), .integer(paymentID), .integer(invoiceID), amount,
                        ])
                    }
                }
            }
        }
        let statuses = [0, 1, 3, 5, 8, 8, 8, 9]
        for id in 1...(150 * scale) {
            let status = statuses[rng.next(upTo: statuses.count)]
            let closed: SQLValue = status >= 8 ? clock.text(ago(5 * 365)) : .null
            tickets.rows.append([
                .integer(Int64(id)), .text(String(format: "TS%06d", id)),
                .integer(Int64(1 + rng.next(upTo: 400 * scale))),
                .text("user\(id)@example.fr"), .text("help"), .integer(Int64(status)), closed,
            ])
            if rng.next(upTo: 2) == 0 {
                // A ticket's event: same fk_element numbers as the third parties', told apart by elementtype.
                events.rows.append([
                    .integer(Int64(events.rows.count + 1)), clock.text(ago(5 * 365)), .null, .text("ticket"),
                    .integer(Int64(id)), .text("reply"),
                ])
            }
        }
        return DemoDataset(
            schema: ProductSchemas.dolibarr, mariadbSchema: ProductSchemas.dolibarrMySQL,
            wallClockZone: clock.calendar.timeZone,
            tables: [societe, extra, contacts, events, invoices, lines, payments, paid, tickets])
    }

    /// A Znuny database: 400 tickets per unit of scale with their history, articles and dynamic
    /// fields, 120 customer users with preferences. Stored in UTC.
    public static func znuny(seed: UInt64, now: Date, scale: Int = 1) -> DemoDataset {
        var rng = SplitMix64(seed: seed)
        let clock = WallClockText(zone: "UTC", now: now)
        func ago(_ maxDays: Int) -> Date {
            now.addingTimeInterval(-Double(rng.next(upTo: max(1, maxDays))) * 86_400 - Double(rng.next(upTo: 86_400)))
        }
        var types = Table(name: "ticket_state_type", columns: ["id", "name"])
        types.rows = ProductSchemas.znunyStateTypes.map { [.integer(Int64($0.0)), .text($0.1)] }
        var states = Table(name: "ticket_state", columns: ["id", "name", "type_id"])
        states.rows = ProductSchemas.znunyStates.map { [.integer(Int64($0.0)), .text($0.1), .integer(Int64($0.2))] }
        let fields = Table(
            name: "dynamic_field", columns: ["id", "name", "object_type"],
            rows: [
                [.integer(1), .text("TicketProduct"), .text("Ticket")],
                [.integer(2), .text("CustomerSize"), .text("CustomerUser")],
            ])
        var users = Table(
            name: "customer_user",
            columns: ["id", "login", "email", "first_name", "last_name", "valid_id", "change_time"])
        var preferences = Table(
            name: "customer_preferences", columns: ["user_id", "preferences_key", "preferences_value"])
        var tickets = Table(
            name: "ticket",
            columns: ["id", "tn", "title", "ticket_state_id", "customer_user_id", "create_time", "change_time"])
        var history = Table(name: "ticket_history", columns: ["id", "name", "ticket_id", "state_id", "create_time"])
        var articles = Table(name: "article", columns: ["id", "ticket_id", "create_time"])
        var mime = Table(name: "article_data_mime", columns: ["id", "article_id", "a_from", "a_subject", "a_body"])
        var values = Table(name: "dynamic_field_value", columns: ["id", "field_id", "object_id", "value_text"])
        var appointments = Table(name: "calendar_appointment", columns: ["id", "title", "description", "start_time"])
        var appointmentLinks = Table(
            name: "calendar_appointment_ticket", columns: ["calendar_id", "ticket_id", "rule_id", "appointment_id"])

        var logins: [String] = []
        for id in 1...(120 * scale) {
            let first = DemoDataset.firstNames[rng.next(upTo: DemoDataset.firstNames.count)]
            let login = "\(first.lowercased())\(id)"
            logins.append(login)
            users.rows.append([
                .integer(Int64(id)), .text(login), .text("\(login)@example.fr"), .text(first), .text("Client"),
                .integer(rng.next(upTo: 10) < 3 ? 2 : 1), clock.text(ago(4 * 365)),
            ])
            for key in ["UserLanguage", "UserTheme"].prefix(1 + rng.next(upTo: 2)) {
                preferences.rows.append([
                    .text(rng.next(upTo: 5) == 0 ? login.uppercased() : login), .text(key), .text("fr"),
                ])
            }
            if rng.next(upTo: 3) == 0 {
                values.rows.append([
                    .integer(Int64(values.rows.count + 1)), .integer(2), .integer(Int64(id)), .text("small"),
                ])
            }
        }
        for id in 1...(400 * scale) {
            let created = ago(6 * 365)
            var moves: [(Int, Date)] = [(1, created)]
            let roll = rng.next(upTo: 100)
            let final =
                roll < 50 ? 3 : roll < 55 ? 4 : roll < 60 ? 5 : roll < 63 ? 10 : roll < 85 ? 2 : roll < 95 ? 1 : 6
            if final != 1 {
                var at = created.addingTimeInterval(Double(1 + rng.next(upTo: 60)) * 86_400)
                if [3, 4, 5, 10].contains(final), rng.next(upTo: 10) == 0 {
                    moves.append((3, at))  // closed once, reopened, closed again later
                    at = at.addingTimeInterval(Double(1 + rng.next(upTo: 400)) * 86_400)
                    moves.append((2, at))
                    at = at.addingTimeInterval(Double(1 + rng.next(upTo: 60)) * 86_400)
                }
                moves.append((final, min(at, now)))
            }
            let login = logins[rng.next(upTo: logins.count)]
            tickets.rows.append([
                .integer(Int64(id)), .text(String(format: "2026%06d", id)), .text("ticket \(id)"),
                .integer(Int64(final)),
                .text(rng.next(upTo: 10) == 0 ? login.capitalized : login), clock.text(created),
                clock.text(moves.last!.1),
            ])
            for (state, at) in moves {
                history.rows.append([
                    .integer(Int64(history.rows.count + 1)), .text("StateUpdate"), .integer(Int64(id)),
                    .integer(Int64(state)), clock.text(at),
                ])
            }
            for _ in 0..<(1 + rng.next(upTo: 3)) {
                let articleID = Int64(articles.rows.count + 1)
                articles.rows.append([.integer(articleID), .integer(Int64(id)), clock.text(created)])
                mime.rows.append([
                    .integer(articleID), .integer(articleID), .text("\(login)@example.fr"), .text("help"),
                    .text("message"),
                ])
            }
            if rng.next(upTo: 2) == 0 {
                values.rows.append([
                    .integer(Int64(values.rows.count + 1)), .integer(1), .integer(Int64(id)), .text("product"),
                ])
            }
            // One ticket in ten has an appointment; some appointments are shared with the previous ticket.
            if rng.next(upTo: 10) == 0 {
                let shared = rng.next(upTo: 3) == 0 && !appointments.rows.isEmpty
                if !shared {
                    appointments.rows.append([
                        .integer(Int64(appointments.rows.count + 1)), .text("visit"), .text("on site with \(login)"),
                        clock.text(created),
                    ])
                }
                appointmentLinks.rows.append([
                    .integer(1), .integer(Int64(id)), .text("rule-\(id)"), .integer(Int64(appointments.rows.count)),
                ])
            }
        }
        return DemoDataset(
            schema: ProductSchemas.znuny, mariadbSchema: ProductSchemas.znunyMySQL,
            wallClockZone: clock.calendar.timeZone,
            tables: [
                types, states, fields, users, preferences, tickets, history, articles, mime, values,
                appointments, appointmentLinks,
            ])
    }
}
