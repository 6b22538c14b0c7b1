import Foundation
import Testing

@testable import RetentionCore

/// How the policy language reads relations, and what it says when a relation is written wrong.
@Suite struct RelationParsingTests {
    static func policy(subject: String, clock: String = "closed_at", filter: String = "{ kind: x }") -> String {
        """
        version: 1
        time_zone: Europe/Paris
        database: { sqlite: crm.sqlite }
        subjects:
          tickets:
            table: ticket
            key: id
            filter: \(filter)
        \(subject)
            rules:
              - id: r
                register: "Support"
                legal_basis: "contract"
                clock: \(clock)
                after: 2y
                action: purge
        """
    }

    static let relations = """
            relations:
              state: { table: ticket_state, on: { id: ticket_state_id } }
              state_type: { table: ticket_state_type, on: { id: state.type_id } }
              events: { table: llx_actioncomm, on: { fk_element: id }, where: { elementtype: ticket }, match: exact }
        """

    func parse(_ text: String) throws -> Policy {
        try PolicyParser(path: "/etc/retentiond/policy.yaml").parse(text, hash: "h").0
    }

    func errors(_ text: String) -> [String] {
        do {
            _ = try parse(text)
            return []
        } catch let invalid as PolicyInvalid {
            return invalid.diagnostics.filter { $0.severity == .error }.map(\.description)
        } catch {
            return ["\(error)"]
        }
    }

    @Test func relationsChainsAndAggregatesAreRead() throws {
        let policy = try parse(
            Self.policy(
                subject: Self.relations, clock: "{ latest: [closed_at, { earliest: events.datep }] }",
                filter: "{ state_type.name: { in: [closed, merged] }, events: { exists: true } }"))
        let subject = policy.subjects[0]
        #expect(subject.relations.map(\.name.value) == ["state", "state_type", "events"])
        #expect(subject.relations[1].parent == "state")
        #expect(subject.relations[1].on.map { [$0.column.value, $0.parentColumn.value] } == [["id", "state.type_id"]])
        #expect(subject.relations[0].parent == nil)
        #expect(subject.relations[2].conditions.count == 1)
        #expect(subject.filter.map(\.column.value) == ["state_type.name", "events"])
        let clock = subject.rules[0].clock
        #expect(clock.columns.map(\.value) == ["closed_at", "events.datep"])
        #expect(clock.earliest == ["events.datep"])
    }

    @Test func aColumnOfAnotherTableSaysThatRelationsReachIt() {
        let found = errors(Self.policy(subject: "", clock: "ticket_history.create_time"))
        #expect(found.count == 1)
        #expect(
            found.first?.contains(
                "policy.yaml:14:16: error: `ticket_history.create_time` names a column of another table, but `ticket_history` is not a relation of this subject"
            ) == true)
        #expect(
            found.first?.contains(
                "related tables are reached through relations: declare `relations: { ticket_history: { table: ticket_history, on:"
            ) == true)
    }

    @Test func existsTestsRelationsAndRelationsNeedAColumnOrExists() {
        #expect(
            errors(Self.policy(subject: Self.relations, filter: "{ kind: { exists: true } }")).contains {
                $0.contains("`exists` tests a relation, and `kind` is not one")
            })
        #expect(
            errors(Self.policy(subject: Self.relations, filter: "{ state: 3 }")).contains {
                $0.contains("`state` is a relation: test one of its columns (`state.COLUMN`) or whether it has rows")
            })
    }

    @Test func aRelationNeedsATableAndOnColumnsFromOneRow() {
        let found = errors(
            Self.policy(
                subject: """
                        relations:
                          a: { on: { x: id } }
                          b: { table: t, on: { x: id, y: a.z } }
                          c: { table: t, on: { x: nowhere.z }, match: sometimes }
                    """))
        #expect(found.contains { $0.contains("relation `a` needs `table`") })
        #expect(
            found.contains {
                $0.contains("relation `b`.on mixes columns of the subject's table and of other relations")
            })
        #expect(
            found.contains {
                $0.contains("`nowhere.z` names a column of another table, but `nowhere` is not a relation")
            })
        #expect(found.contains { $0.contains("unknown match `sometimes`") })
    }

    @Test func aRelatedExemptionNamesARelationOrATableAndSaysWhatAnUndatedRowDoes() {
        func exempt(_ item: String) -> [String] {
            errors(Self.policy(subject: Self.relations + "\n    exempt:\n      related:\n        - \(item)"))
        }
        #expect(exempt("{ relation: state, clock: changed, within: 1y, undated: keep }").isEmpty)
        #expect(
            exempt("{ relation: stat }").contains {
                $0.contains("`stat` is not a relation of this subject") && $0.contains("did you mean `state`?")
            })
        #expect(
            exempt("{ relation: state, table: t, foreign_key: x }").contains {
                $0.contains("either a `relation` or a `table`")
            })
        #expect(
            exempt("{ relation: state, clock: changed, within: 1y, undated: maybe }").contains {
                $0.contains("unknown value `maybe` for `undated`")
            })
        #expect(exempt("{ relation: state, undated: keep }").contains { $0.contains("`undated` needs a `clock`") })
    }

    /// Relations declared once for a table at the top level: every subject and child on that table
    /// has them, its own may start from them, a name declared twice is refused, and relations of a
    /// table nothing governs are warned about.
    @Test func relationsDeclaredOnceForATableAreEverySubjectsAndChilds() throws {
        let shared = """
            relations:
              ticket:
                state: { table: ticket_state, on: { id: ticket_state_id } }
                state_type: { table: ticket_state_type, on: { id: state.type_id } }
              article:
                sender: { table: article_sender_type, on: { id: article_sender_type_id } }

            """
        let text = Self.policy(
            subject: """
                    relations:
                      closing: { table: ticket_history, on: { ticket_id: id }, where: { state_type.name: closed } }
                """, filter: "{ state_type.name: { in: [closed, merged] } }"
        )
        .replacingOccurrences(of: "subjects:", with: shared + "subjects:")
        .replacingOccurrences(
            of: "        action: purge",
            with: """
                        action: purge
                        children:
                          - { table: article, foreign_key: ticket_id, where: { sender.name: customer } }
                """)
        let policy = try parse(text)
        let subject = policy.subjects[0]
        #expect(subject.relations.map(\.name.value) == ["state", "state_type", "closing"], "the table's, then its own")
        guard case .purge(.declared(let children)) = subject.rules[0].action else {
            Issue.record("no declared children")
            return
        }
        #expect(children[0].relations.map(\.name.value) == ["sender"])
        #expect(children[0].conditions.map(\.column.value) == ["sender.name"])

        let twice = errors(
            text.replacingOccurrences(of: "closing: { table: ticket_history", with: "state: { table: ticket_history"))
        #expect(
            twice.contains { $0.contains("relation `state` is already declared for table `ticket` at the top level") },
            "\(twice)")
        let misspelt = text.replacingOccurrences(
            of: "  article:\n", with: "  articel:\n    owner: { table: users, on: { id: owner_id } }\n  article:\n")
        let (_, _, warnings) = try PolicyParser(path: "/etc/retentiond/policy.yaml").parse(misspelt, hash: "h")
        #expect(
            warnings.contains {
                $0.message.contains(
                    "relations are declared for table `articel`, which no subject or declared child has")
                    && $0.hint?.contains("`article`") == true
            },
            "\(warnings)")
    }

    @Test func theStorageTimeZoneIsReadApartFromThePolicyZone() throws {
        let text = Self.policy(subject: "").replacingOccurrences(
            of: "time_zone: Europe/Paris", with: "time_zone: Europe/Paris\nstorage_time_zone: UTC")
        let policy = try parse(text)
        #expect(policy.calendar.timeZone.identifier == "Europe/Paris")
        #expect(policy.storageCalendar.timeZone.secondsFromGMT() == 0)
        #expect(try parse(Self.policy(subject: "")).storageCalendar.timeZone.identifier == "Europe/Paris")
        #expect(
            errors(text.replacingOccurrences(of: "storage_time_zone: UTC", with: "storage_time_zone: Mars/Olympus"))
                .contains { $0.contains("unknown time zone `Mars/Olympus`") })
    }
}
