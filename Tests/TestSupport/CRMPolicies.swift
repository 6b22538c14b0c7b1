import Foundation

/// The policies over the test CRM that several suites share, written once.
public enum CRMPolicies {
    public static let declaredChildren = """
                children:
                  - table: notes
                    foreign_key: person_id
                    children:
                      - { table: attachments, foreign_key: note_id }
        """

    public static func prospectPurge(children: String = declaredChildren) -> String {
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

    public static let prospectPurge = prospectPurge()

    public static let anonymiseAction = """
                action: anonymise
                fields:
                  email: null
                  name: { pseudonym: { prefix: "p-", length: 10 } }
                  phone: { mask: { keep_last: 2 } }
                  born: year
                  opted: keep
        """

    public static func anonymise(
        action: String = anonymiseAction, filter: String = "{ kind: prospect }", exempt: String = ""
    ) -> String {
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

    public static let anonymise = anonymise()

    /// People's names anonymised three years after they were last seen (or collected), unless an
    /// order of theirs is younger than five years counted from the end of its fiscal year.
    public static let identityKeptByOrders = """
        subjects:
          people:
            table: people
            key: id
            rules:
              - id: identity
                register: "Clients"
                legal_basis: "contract; accounting"
                clock: { latest: [last_seen, collected] }
                after: 3y
                action: anonymise
                fields: { name: { constant: "anonymised" } }
                exempt:
                  related:
                    - table: orders
                      foreign_key: person_id
                      clock: { column: ordered_on, anchor: fiscal_year_end }
                      within: 5y
        """

    /// `contacts (id, email, last_seen)` with `total` rows, all last seen in 2019: every one due
    /// under `contactPurge`.
    public static func contacts(_ total: Int) -> [String] {
        [
            "CREATE TABLE contacts (id INTEGER PRIMARY KEY, email TEXT, last_seen TEXT NOT NULL)",
            "CREATE INDEX contacts_last_seen ON contacts(last_seen)",
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < \(total)) INSERT INTO contacts SELECT i, 'c' || i || '@example.fr', '2019-01-01' FROM n",
        ]
    }

    /// The smallest policy that deletes: contacts purged three years after they were last seen.
    public static let contactPurge = """
        subjects:
          contacts:
            table: contacts
            key: id
            rules:
              - id: contact-purge
                register: "Prospection"
                legal_basis: "legitimate interest"
                clock: last_seen
                after: 3y
                action: purge
        """
}
