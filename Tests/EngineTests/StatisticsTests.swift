import Foundation
import RetentionCore
import RetentionEngine
import RetentionStore
import TestSupport
import Testing

/// Statistics that survive the purge (docs/policy.md, "Statistics"): what the statistics table
/// holds after each run is compared with the same aggregates computed from the tickets as they
/// were before it, read with plain SQL and folded here by the documented rules.
@Suite struct StatisticsTests {
    static let schema = [
        "CREATE TABLE customers (id INTEGER PRIMARY KEY, name VARCHAR(80) NOT NULL, email VARCHAR(80))",
        "CREATE TABLE tickets (id INTEGER PRIMARY KEY, queue VARCHAR(40) NOT NULL, customer_id INTEGER REFERENCES customers(id), title VARCHAR(80), closed_at VARCHAR(20), minutes INTEGER, amount DECIMAL(10,2))",
        "CREATE INDEX tickets_closed_at ON tickets(closed_at)",
        "CREATE TABLE messages (id INTEGER PRIMARY KEY, ticket_id INTEGER NOT NULL REFERENCES tickets(id), body VARCHAR(80))",
        "CREATE INDEX messages_ticket ON messages(ticket_id)",
    ]

    struct Ticket {
        var id: Int
        var queue: String
        var closed: String
        var minutes: Int?
        var amount: Decimal
    }

    /// 240 tickets closed every third day from 2023-01-01: most in `support`, every fourth in
    /// `billing`, every seventeenth in `legal` (groups of one or two a month), two messages each.
    static let tickets: [Ticket] = (1...240).map { i in
        let day = Calendar(identifier: .gregorian).date(
            byAdding: .day, value: (i - 1) * 3, to: Date.iso("2023-01-01T12:00:00Z"))!
        let f = DateFormatter()
        f.locale = Locale(identifier: "en_US_POSIX")
        f.timeZone = TimeZone(identifier: "UTC")
        f.dateFormat = "yyyy-MM-dd HH:mm:ss"
        let queue = i % 17 == 0 ? "legal" : i % 4 == 0 ? "billing" : "support"
        return Ticket(
            id: i, queue: queue, closed: f.string(from: day), minutes: i % 9 == 0 ? nil : i % 60,
            amount: Decimal(i * 125) / 100)
    }

    static var data: [String] {
        ["INSERT INTO customers VALUES (1, 'Alice Martin', 'alice@example.fr'), (2, 'Bruno Petit', 'bruno@example.fr')"]
            + tickets.map { t in
                "INSERT INTO tickets VALUES (\(t.id), '\(t.queue)', \(t.id % 2 + 1), 'ticket \(t.id)', '\(t.closed)', \(t.minutes.map(String.init) ?? "NULL"), \(t.amount))"
            }
            + tickets.map { t in
                "INSERT INTO messages VALUES (\(t.id * 10), \(t.id), 'hello'), (\(t.id * 10 + 1), \(t.id), 'thanks')"
            }
    }

    static func policy(statistics: String = "{ period: month, by: [queue], sum: [minutes, amount], min_group: 3 }")
        -> String
    {
        """
        subjects:
          tickets:
            table: tickets
            key: id
            rules:
              - id: ticket-purge
                register: "Support"
                legal_basis: "legitimate interest, 2 years"
                clock: closed_at
                after: 2y
                action: purge
                children:
                  - { table: messages, foreign_key: ticket_id }
                statistics: \(statistics)

        """
    }

    /// One statistics row as the test reads and expects it.
    struct Figure: Hashable, CustomStringConvertible {
        var period: String
        var group: String
        var records: Int64
        var minutes: Decimal
        var amount: Decimal
        var open: Bool
        var description: String {
            "\(period) \(group): \(records) records, \(minutes) min, \(amount) €\(open ? " (open)" : "")"
        }
    }

    static func figures(_ f: CRMFixture) async throws -> Set<Figure> {
        let rows = try await f.rows(
            "SELECT period, group_values, records, sums, period_open FROM retentiond_statistics WHERE rule_id = 'ticket-purge'"
        )
        return Set(
            rows.map { row in
                let sums = StatisticsRow.sums(from: row[3].textValue ?? "") ?? [:]
                guard case .integer(let records) = row[2], case .integer(let open) = row[4] else {
                    return Figure(period: "?", group: "?", records: -1, minutes: 0, amount: 0, open: false)
                }
                return Figure(
                    period: row[0].textValue ?? "", group: row[1].textValue ?? "", records: records,
                    minutes: sums["minutes"] ?? 0, amount: sums["amount"] ?? 0, open: open != 0)
            })
    }

    /// The expected table, kept up to date run by run from the tickets each run erases — read
    /// from the database before the run with plain SQL — by the rules docs/policy.md states: a
    /// group of an open period counts exactly; once the rule's cutoff passes the end of its period
    /// (a month, in Paris), its groups of fewer than `minGroup` go to `other`; a record of a period
    /// already closed goes to its group if that group has a row, else to `other`.
    struct Model {
        var rows: [String: Figure] = [:]
        let minGroup: Int64

        static func month(_ closed: String) -> String { String(closed.prefix(7)) }

        mutating func erase(queue: String, closed: String, minutes: Decimal, amount: Decimal) {
            let period = Self.month(closed)
            var group = "{\"queue\":\"\(queue)\"}"
            let closedPeriod = rows.values.contains { $0.period == period && !$0.open }
            if rows["\(period) \(group)"] == nil, closedPeriod { group = "other" }
            var row =
                rows["\(period) \(group)"]
                ?? Figure(period: period, group: group, records: 0, minutes: 0, amount: 0, open: !closedPeriod)
            row.records += 1
            row.minutes += minutes
            row.amount += amount
            rows["\(period) \(group)"] = row
        }

        /// `through`: the first month not yet over at the run's cutoff ("2023-07").
        mutating func close(monthsBefore through: String) {
            for period in Set(rows.values.filter { $0.open && $0.period < through }.map(\.period)) {
                var other =
                    rows["\(period) other"]
                    ?? Figure(period: period, group: "other", records: 0, minutes: 0, amount: 0, open: false)
                var merged = false
                for (key, row) in rows where row.period == period && row.group != "other" && row.open {
                    if row.records < minGroup {
                        other.records += row.records
                        other.minutes += row.minutes
                        other.amount += row.amount
                        rows[key] = nil
                        merged = true
                    } else {
                        rows[key]?.open = false
                    }
                }
                if merged || rows["\(period) other"] != nil { rows["\(period) other"] = other }
            }
        }
    }

    /// Reads the due tickets as the database holds them before the run, then runs.
    static func runAndModel(_ f: CRMFixture, _ model: inout Model, now: String, cutoff: String, held: Set<Int> = [])
        async throws -> RunReport
    {
        let due = try await f.rows(
            "SELECT id, queue, closed_at, minutes, amount FROM tickets WHERE closed_at < '\(cutoff)' ORDER BY id")
        for row in due {
            guard case .integer(let id) = row[0], !held.contains(Int(id)) else { continue }
            let minutes: Decimal = row[3].isNull ? 0 : Decimal(string: row[3].textValue ?? "") ?? -1
            model.erase(
                queue: row[1].textValue ?? "", closed: row[2].textValue ?? "", minutes: minutes,
                amount: Decimal(string: row[4].textValue ?? "") ?? -1)
        }
        let report = try await f.run(now: Date.iso(now))
        model.close(monthsBefore: String(cutoff.prefix(7)))
        return report
    }

    @Test(arguments: Backend.allCases)
    func theFiguresOfWhatWasPurgedSurviveItRunAfterRun(_ backend: Backend) async throws {
        let f = try await CRMFixture(
            backend, schema: Self.schema, data: Self.data, policy: Self.policy(), batchSize: 16)
        var model = Model(minGroup: 3)
        // Ticket 17 (legal, closed 2023-02-18) is held through the first two runs.
        let hold = try await f.holds().add(
            table: "tickets", keyText: "17", reason: "dispute", by: "dpo", until: nil,
            now: Date.iso("2025-06-01T00:00:00Z"))

        // Run 1: closed before 2023-07-01 (Paris) are due; January to June 2023 are over.
        let first = try await Self.runAndModel(f, &model, now: "2025-07-01T00:00:00Z", cutoff: "2023-07-01", held: [17])
        #expect(first.rules[0].purged == 60)
        #expect(try await Self.figures(f) == Set(model.rows.values), "run 1")
        // The run's reports say what it counted, per month.
        let perMonth = Dictionary(grouping: Self.tickets.filter { $0.closed < "2023-07-01" && $0.id != 17 }) {
            String($0.closed.prefix(7))
        }.mapValues(\.count)
        #expect(first.rules[0].counted == perMonth)
        #expect(
            first.markdown().contains(
                "- kept as statistics (counted per period, then erased): 60 record(s): 2023-01 \(perMonth["2023-01"]!), 2023-02 "
            ))
        #expect(
            first.html(policy: try f.policy(), forecast: nil).contains(
                "<p>Kept as statistics (counted per period, then erased): 60 record(s): 2023-01 "))

        // Run 2: through 2023-12-09; December 2023 is still open, its groups counted exactly.
        _ = try await Self.runAndModel(f, &model, now: "2025-12-10T00:00:00Z", cutoff: "2023-12-10", held: [17])
        #expect(try await Self.figures(f) == Set(model.rows.values), "run 2")
        #expect(try await Self.figures(f).contains { $0.period == "2023-12" && $0.open })

        // The hold is released: ticket 17 is erased late, into February 2023, closed since run 1.
        _ = try await f.holds().release(id: hold.id, by: "dpo", now: Date.iso("2026-01-15T00:00:00Z"))
        _ = try await Self.runAndModel(f, &model, now: "2026-02-01T00:00:00Z", cutoff: "2024-02-01")
        let figures = try await Self.figures(f)
        #expect(figures == Set(model.rows.values), "run 3")

        // What the documented rules promise, whatever the model says.
        let purged = Self.tickets.filter { $0.closed < "2024-02-01" }
        #expect(figures.reduce(0) { $0 + $1.records } == Int64(purged.count), "every erased ticket is counted once")
        #expect(figures.reduce(Decimal(0)) { $0 + $1.amount } == purged.reduce(Decimal(0)) { $0 + $1.amount })
        #expect(
            !figures.contains { !$0.open && $0.group != "other" && $0.records < 3 },
            "no closed group smaller than min_group")
        #expect(figures.contains { $0.group == "other" }, "the legal queue's ones and twos were merged")
        #expect(!figures.contains { $0.open && $0.period < "2024-02" }, "every month before the cutoff is closed")
        #expect(try await f.count("SELECT count(*) FROM tickets") == Self.tickets.count - purged.count)

        // A run with nothing new to erase changes nothing.
        _ = try await f.run(now: Date.iso("2026-02-01T00:05:00Z"))
        #expect(try await Self.figures(f) == figures)
        #expect(try await f.trail().verify().isValid)
    }

    /// A month left open when the policy's `period` became `quarter` is still closed — and its
    /// small groups merged — once it is over.
    @Test(arguments: [Backend.sqlite])
    func aPeriodOfAnotherKindIsClosedToo(_ backend: Backend) async throws {
        let f = try await CRMFixture(backend, schema: Self.schema, data: Self.data, policy: Self.policy())
        _ = try await f.run(now: Date.iso("2025-12-10T00:00:00Z"))
        #expect(try await Self.figures(f).contains { $0.period == "2023-12" && $0.open })
        try f.write(policy: Self.policy(statistics: "{ period: quarter, by: [queue], min_group: 3 }"))
        _ = try await f.run(now: Date.iso("2026-01-05T00:00:00Z"))
        let figures = try await Self.figures(f)
        #expect(!figures.contains { $0.period == "2023-12" && $0.open }, "\(figures)")
        #expect(!figures.contains { !$0.open && $0.group != "other" && $0.records < 3 }, "\(figures)")
        #expect(figures.contains { $0.period == "2024-Q1" && $0.open }, "new counts follow the new declaration")
    }

    @Test(arguments: Backend.allCases)
    func aStaleEntryOfASavedPlanCountsNothing(_ backend: Backend) async throws {
        // In a table the policy names — a reserved word of SQL, quoted everywhere.
        let f = try await CRMFixture(
            backend, schema: Self.schema, data: Self.data,
            policy: "statistics: { table: order }\n" + Self.policy(statistics: "{ period: year }"))
        let planPath = f.dir.appendingPathComponent("review.plan").path
        let now = Date.iso("2025-02-01T00:00:00Z")
        let plan = try await f.plan(now: now, out: planPath)
        #expect(plan.totalDue == 11)
        // Between review and apply: ticket 4 is reopened (no longer due), ticket 5 deleted by the application.
        try await f.sql([
            "UPDATE tickets SET closed_at = '2025-01-20 12:00:00' WHERE id = 4",
            "DELETE FROM messages WHERE ticket_id = 5", "DELETE FROM tickets WHERE id = 5",
        ])
        let report = try await f.enforcer().apply(planPath: planPath, wallClock: now, allowMore: false)
        #expect(report.rules[0].purged == 9)
        #expect(report.rules[0].stale == 1)
        #expect(report.rules[0].gone == 1)
        let rows = try await f.rows("SELECT period, group_values, records, sums FROM \"order\"")
        #expect(
            rows.map { $0.map(\.description) } == [["2023", "{}", "9", "{}"]],
            "only what the apply erased, in the open year 2023")
    }

    @Test(arguments: Backend.allCases)
    func anErasureRequestIsCountedAndTheAnonymisedAreCountedOnce(_ backend: Backend) async throws {
        let policy = """
            subjects:
              tickets:
                table: tickets
                key: id
                rules:
                  - id: ticket-anonymise
                    register: "Support"
                    legal_basis: "legitimate interest"
                    clock: closed_at
                    after: 1y
                    action: anonymise
                    fields: { title: null, customer_id: null }
                    statistics: { period: quarter, by: [queue], min_group: 2 }

            """
        let f = try await CRMFixture(backend, schema: Self.schema, data: Self.data, policy: policy)
        let enforcer = try await f.enforcer()
        let subject = try f.policy().subjects[0]
        _ = try await enforcer.erase(
            subject: subject, keyText: "200", request: "REQ-1", now: Date.iso("2025-01-10T00:00:00Z"), dryRun: false)
        _ = try await f.run(now: Date.iso("2025-01-10T00:00:00Z"))
        _ = try await f.run(now: Date.iso("2025-01-10T00:10:00Z"))
        let rows = try await f.rows(
            "SELECT period, group_values, records FROM retentiond_statistics WHERE rule_id = 'ticket-anonymise'")
        var counted: [String: Int64] = [:]
        for row in rows { if case .integer(let n) = row[2] { counted[row[0].textValue ?? "", default: 0] += n } }
        // Due: closed before 2024-01-10 (Paris); ticket 200 (closed 2024-08-20) by the request, in its own quarter.
        var expected: [String: Int64] = [:]
        for t in Self.tickets where t.closed < "2024-01-10" || t.id == 200 {
            let month = Int(t.closed.dropFirst(5).prefix(2))!
            expected["\(t.closed.prefix(4))-Q\((month - 1) / 3 + 1)", default: 0] += 1
        }
        #expect(counted == expected)
        #expect(
            try await f.count("SELECT count(*) FROM tickets WHERE title IS NULL") == Int(expected.values.reduce(0, +)))
        // 2023's quarters are over at the cutoff: none keeps a queue group of one.
        #expect(
            !rows.contains {
                $0[0].textValue?.hasPrefix("2023") == true && $0[1].textValue != "other" && $0[2] == .integer(1)
            })
    }

    @Test(arguments: [Backend.sqlite])
    func statisticsThatWouldKeepPersonalDataAreRefused(_ backend: Backend) async throws {
        let cases: [(statistics: String, says: String)] = [
            ("{ period: month, by: [id] }", "is the key of `tickets`"),
            ("{ period: month, by: [closed_at] }", "is the rule's clock"),
            ("{ period: month, by: [customer_id] }", "points at `customers`, whose records the policy governs"),
            ("{ period: month, by: [title] }", "is anonymised by rule `ticket-title`"),
            ("{ period: month, sum: [queue] }", "not a number"),
            ("{ period: month, by: [nosuch] }", "has no column `nosuch`"),
        ]
        for (statistics, says) in cases {
            let policy =
                Self.policy(statistics: statistics) + """
                          - id: ticket-title
                            register: "Support"
                            legal_basis: "legitimate interest"
                            clock: closed_at
                            after: 1y
                            action: anonymise
                            fields: { title: null }
                      customers:
                        table: customers
                        key: id
                        rules:
                          - id: customer-flag
                            register: "Clients"
                            legal_basis: "contract"
                            clock: { column: name }
                            after: 1y
                            action: flag

                    """
            let f = try await CRMFixture(backend, schema: Self.schema, data: [], policy: policy)
            let (resolved, diagnostics) = try await f.validate()
            #expect(resolved == nil, "\(statistics)")
            let error = diagnostics.first { $0.severity == .error }
            #expect(error?.message.contains(says) == true, "\(statistics): \(diagnostics.map(\.message))")
            let line = try String(contentsOfFile: f.policyPath, encoding: .utf8).split(
                separator: "\n", omittingEmptySubsequences: false
            )
            .firstIndex { $0.contains("statistics:") }.map { $0 + 1 }
            #expect(error?.location.line == line, "\(statistics): points at the statistics line")
            if statistics.hasSuffix("by: [title] }") {
                // The table they go to is the tool's own: never a table the policy governs, nor another.
                for (table, says) in [
                    ("customers", "the statistics table `customers` is a table the policy governs"),
                    ("messages", "`messages` exists but is not a statistics table"),
                ] {
                    try f.write(policy: "statistics: { table: \(table) }\n" + policy)
                    let (_, found) = try await f.validate()
                    #expect(
                        found.contains { $0.severity == .error && $0.message.contains(says) }, "\(found.map(\.message))"
                    )
                }
            }
        }
    }
}
