import Foundation
import Testing

@testable import RetentionCore

/// The archive's keys (docs/policy.md, "Archive"): how a policy says it, each mistake refused at
/// its line, and how one policy file becomes the two databases' policies.
@Suite struct ArchivePolicyTests {
    static func policy(archive: String = "archive: { sqlite: archive.sqlite }", rules: String) -> String {
        """
        version: 1
        time_zone: Europe/Paris
        state_dir: /srv/retention
        database: { sqlite: crm.sqlite }
        \(archive)
        subjects:
          invoices:
            table: invoices
            key: id
            rules:
        \(rules)
        """
    }

    static let moveAndEnd = """
              - { id: to-archive, register: "Accounting", legal_basis: "legal", clock: issued_on, after: 1y, action: archive,
                  children: [{ table: lines, foreign_key: invoice_id }], copies: [{ table: customers, foreign_key: customer_id }] }
              - { id: end, phase: archive, register: "Accounting", legal_basis: "legal", clock: issued_on, after: 10y, action: purge }
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

    @Test func onePolicyFileIsTwoDatabasesPolicies() throws {
        let (whole, settings, _) = try PolicyParser(path: "/etc/retentiond/policy.yaml").parse(
            Self.policy(rules: Self.moveAndEnd), hash: "h")
        #expect(settings.archive == .sqlite(path: "/srv/retention/archive.sqlite"))
        #expect(whole.archivingRules.map(\.id) == ["to-archive"])
        #expect(whole.rules.first?.actionName == "archive" && whole.rules.first?.auditAction == .archive)
        #expect(whole.rules.first?.copies.map(\.table.value) == ["customers"])

        let active = whole.enforced(in: .active)
        #expect(active.rules.map(\.id) == ["to-archive"])
        #expect(settings.enforced(in: .active) == settings)
        #expect(settings.database == .sqlite(path: "/srv/retention/crm.sqlite"))
        let archive = whole.enforced(in: .archive)
        #expect(archive.rules.map(\.id) == ["end"])
        #expect(archive.phase == .archive)
        #expect(archive.hash == whole.hash)
        let archiveSettings = settings.enforced(in: .archive)
        #expect(archiveSettings.database == .sqlite(path: "/srv/retention/archive.sqlite"))
        #expect(archiveSettings.stateDirectory == "/srv/retention/archive")
        #expect(archiveSettings.reportsDirectory == "/srv/retention/reports/archive")
        #expect(archiveSettings.keyFile == settings.keyFile, "one key: a record's reference is the same in both trails")
    }

    @Test func eachMistakeIsRefusedAtItsLine() {
        let noArchive = errors(Self.policy(archive: "", rules: Self.moveAndEnd))
        #expect(
            noArchive.contains { $0.contains("rule `to-archive` archives records, but the policy names no archive") })
        #expect(noArchive.contains { $0.contains("rule `end` governs the archive, but the policy names no archive") })
        #expect(
            errors(
                Self.policy(
                    archive: "archive: { postgres: { host: db, database: a, user: u } }", rules: Self.moveAndEnd)
            )
            .contains {
                $0.contains(":5:")
                    && $0.contains("the archive must be the same kind of database as `database` (sqlite), not postgres")
            })
        #expect(
            errors(Self.policy(archive: "archive: { sqlite: crm.sqlite }", rules: Self.moveAndEnd))
                .contains { $0.contains("the archive is the governed database itself") })
        let wrong = """
                  - { id: a, register: "A", legal_basis: "l", clock: issued_on, after: 1y, action: archive, phase: archive }
                  - { id: b, register: "A", legal_basis: "l", clock: issued_on, after: 1y, action: archive, children: auto }
                  - { id: c, register: "A", legal_basis: "l", clock: issued_on, after: 1y, action: archive, statistics: { period: year } }
                  - { id: d, register: "A", legal_basis: "l", clock: issued_on, after: 1y, action: purge, copies: [{ table: customers, foreign_key: customer_id }] }
                  - { id: e, register: "A", legal_basis: "l", clock: issued_on, after: 1y, action: purge, phase: later }
                  - { id: f, register: "A", legal_basis: "l", clock: issued_on, after: 1y, action: archive,
                      children: [{ table: lines, foreign_key: invoice_id, tree: { foreign_key: parent_id } }] }
            """
        let found = errors(Self.policy(rules: wrong))
        #expect(
            found.contains {
                $0.contains(":11:") && $0.contains("rule `a` archives records that are already in the archive")
            }, "\(found)")
        #expect(
            found.contains { $0.contains(":12:") && $0.contains("`children: auto` is for purge rules") }, "\(found)")
        #expect(
            found.contains { $0.contains(":13:") && $0.contains("`statistics` is for rules that erase") }, "\(found)")
        #expect(found.contains { $0.contains(":14:") && $0.contains("`copies` is for rules that archive") }, "\(found)")
        #expect(found.contains { $0.contains(":15:") && $0.contains("unknown phase `later`") }, "\(found)")
        #expect(
            found.contains {
                $0.contains(":16:") && $0.contains("child `lines` has a `tree`, which an archive does not move")
            }, "\(found)")
    }
}
