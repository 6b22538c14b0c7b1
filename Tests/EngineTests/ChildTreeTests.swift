import Foundation
import RetentionCore
import RetentionEngine
import RetentionStore
import TestSupport
import Testing

/// A child table whose rows hang off other rows of the same table (group memberships derived
/// from another, replies to a comment): with `tree`, the rows hanging off a purged record's rows go
/// with them, level by level and deepest first, a loop stops, and a chain deeper than the tree
/// follows stops the batch rather than leave rows pointing at nothing. On every database.
@Suite struct ChildTreeTests {
    /// `via` points at the membership a row is derived from; `declared` says whether the
    /// database knows it as a foreign key.
    static func schema(declared: Bool) -> [String] {
        [
            "CREATE TABLE members (id INTEGER PRIMARY KEY, name TEXT NOT NULL, left_on TEXT)",
            "CREATE TABLE memberships (id INTEGER PRIMARY KEY, member_id INTEGER NOT NULL REFERENCES members (id), via INTEGER\(declared ? " REFERENCES memberships (id)" : ""), grp TEXT NOT NULL)",
            "CREATE INDEX memberships_member ON memberships (member_id)",
            "CREATE INDEX memberships_via ON memberships (via)",
        ]
    }
    // "now" is 2026-06-01: members 1 and 2 left in 2020 (due at 1 year), 3 is still a member.
    static let members = [
        "INSERT INTO members VALUES (1, 'Ana', '2020-01-01'), (2, 'Ben', '2020-01-01'), (3, 'Cleo', NULL)"
    ]

    static func policy(tree: String?, children: String? = nil) -> String {
        """
        subjects:
          members:
            table: members
            key: id
            rules:
              - id: members-1y
                register: "Membership"
                legal_basis: "contract"
                clock: left_on
                after: 1y
                action: purge
                children:
        \(children ?? "          - { table: memberships, foreign_key: member_id\(tree.map { ", tree: \($0)" } ?? "") }")

        """
    }

    func ids(_ f: CRMFixture) async throws -> [Int] {
        try await f.rows("SELECT id FROM memberships ORDER BY id").map { $0[0].int }
    }

    @Test(arguments: Backend.allCases)
    func rowsHangingOffAPurgedRecordsRowsGoWithThemLevelByLevel(_ backend: Backend) async throws {
        let data =
            Self.members + [
                // Ana's membership 10, one derived from it (11), one derived from that — held by Cleo (12).
                "INSERT INTO memberships VALUES (10, 1, NULL, 'staff'), (11, 1, 10, 'all'), (12, 3, 11, 'all'), (13, 3, NULL, 'staff')",
                // Ben's 20 and 21 point at each other (a loop: no foreign key stops it here).
                "INSERT INTO memberships VALUES (20, 2, 21, 'staff'), (21, 2, 20, 'all')",
            ]
        let f = try await CRMFixture(
            backend, schema: Self.schema(declared: false), data: Self.members.isEmpty ? [] : data,
            policy: Self.policy(tree: "{ foreign_key: via, references: [id] }"))
        let (resolved, diagnostics) = try await f.validate()
        try #require(resolved != nil, "\(diagnostics)")
        let plan = try await f.plan()
        #expect(plan.rules[0].childRowsPurged["memberships"] == 5, "10, 11, 12, 20, 21: each once, the loop included")
        let report = try await f.run()
        #expect(report.failure == nil, "\(report.message ?? "")")
        #expect(try await ids(f) == [13], "everything hanging off Ana's and Ben's memberships went; Cleo's own stays")
        #expect(try await f.rows("SELECT id FROM members ORDER BY id").map { $0[0].int } == [3])
        #expect(report.rules[0].childRowsPurged["memberships"] == 5)
        #expect(try await f.audit(action: "purge").count == 2)
    }

    @Test(arguments: Backend.allCases)
    func aDeclaredSelfReferenceIsFollowedDeepestFirstAndAChainDeeperThanTheTreeStopsTheBatch(_ backend: Backend)
        async throws
    {
        let untreed = try await CRMFixture(
            backend, schema: Self.schema(declared: true), data: Self.members, policy: Self.policy(tree: nil))
        let refused = try await untreed.validate()
        #expect(refused.0 == nil)
        #expect(
            refused.1.contains {
                $0.message.contains("points at other rows of child table `memberships`")
                    && ($0.hint ?? "").contains("tree: { foreign_key: via }")
            }, "\(refused.1)")

        // With the database's foreign key (checked row by row on MariaDB), rows go deepest first.
        // Ana's 10; Cleo's 11 derived from it, and 12 from 11; Cleo's own 13.
        let chain =
            Self.members + [
                "INSERT INTO memberships VALUES (10, 1, NULL, 'a'), (11, 3, 10, 'b'), (12, 3, 11, 'c'), (13, 3, NULL, 'd')"
            ]
        let f = try await CRMFixture(
            backend, schema: Self.schema(declared: true), data: chain, policy: Self.policy(tree: "{ foreign_key: via }")
        )
        let report = try await f.run()
        #expect(report.failure == nil, "\(report.message ?? "")")
        #expect(try await ids(f) == [13])

        // Followed one level only: 12 would be left pointing at 11. Ana's record is refused (its
        // batch rolled back, then tried record by record), nothing of hers changes; Ben's goes.
        let shallow = try await CRMFixture(
            backend, schema: Self.schema(declared: true), data: chain,
            policy: Self.policy(tree: "{ foreign_key: via, depth: 1 }"))
        let stopped = try await shallow.run()
        #expect(stopped.failures.count == 1)
        #expect(stopped.failures.first?.reference == (try shallow.reference("members", 1)))
        #expect(
            stopped.failures.first?.reason.contains("hang more than 1 level(s) below") == true, "\(stopped.failures)")
        #expect(try await ids(shallow) == [10, 11, 12, 13])
        #expect(try await shallow.rows("SELECT id FROM members ORDER BY id").map { $0[0].int } == [1, 3])
        #expect(try await shallow.audit(action: "purge").map(\.subjectRef) == [try shallow.reference("members", 2)])
    }

    @Test(arguments: Backend.allCases)
    func childrenAutoFollowsASelfReferenceAtAnyLevel(_ backend: Backend) async throws {
        let data =
            Self.members + [
                "INSERT INTO memberships VALUES (10, 1, NULL, 'a'), (11, 1, 10, 'b'), (12, 3, 11, 'c'), (13, 3, NULL, 'd')"
            ]
        let onRule = try await CRMFixture(
            backend, schema: Self.schema(declared: true), data: data,
            policy: Self.policy(tree: nil).replacingOccurrences(
                of: "children:\n          - { table: memberships, foreign_key: member_id }", with: "children: auto"))
        let report = try await onRule.run()
        #expect(report.failure == nil, "\(report.message ?? "")")
        #expect(try await ids(onRule) == [13])

        // `children: auto` below a declared child: the memberships' own referencing tables, and their tree.
        let below = try await CRMFixture(
            backend,
            schema: [
                "CREATE TABLE members (id INTEGER PRIMARY KEY, name TEXT NOT NULL, left_on TEXT)",
                "CREATE TABLE accounts (id INTEGER PRIMARY KEY, member_id INTEGER NOT NULL REFERENCES members (id))",
            ]
                + Self.schema(declared: true).dropFirst().map {
                    $0.replacingOccurrences(of: "REFERENCES members (id)", with: "REFERENCES accounts (id)")
                        .replacingOccurrences(of: "member_id", with: "account_id")
                },
            data: Self.members + [
                "INSERT INTO accounts VALUES (100, 1), (300, 3)",
                "INSERT INTO memberships VALUES (10, 100, NULL, 'a'), (11, 100, 10, 'b'), (12, 300, 11, 'c'), (13, 300, NULL, 'd')",
            ],
            policy: Self.policy(
                tree: nil, children: "          - { table: accounts, foreign_key: member_id, children: auto }"))
        let (resolved, diagnostics) = try await below.validate()
        try #require(resolved != nil, "\(diagnostics)")
        let second = try await below.run()
        #expect(second.failure == nil, "\(second.message ?? "")")
        #expect(try await ids(below) == [13])
        #expect(try await below.rows("SELECT id FROM accounts ORDER BY id").map { $0[0].int } == [300])
    }
}
