import Foundation
import Testing

@testable import RetentionCore

@Suite struct PolicyParserTests {
    static let valid = """
        version: 1
        time_zone: Europe/Paris
        state_dir: /srv/retention
        database: { sqlite: crm.sqlite }
        subjects:
          prospects:
            table: third_parties
            key: id
            filter: { kind: prospect, deleted: { is_null: true } }
            exempt:
              consent: { until: keep_until }
            rules:
              - id: prospect-purge
                register: "Prospection"
                legal_basis: "legitimate interest"
                clock: { latest: [last_contact_at, collected_at] }
                after: 3y
                action: purge
                children:
                  - { table: events, foreign_key: third_party_id }
              - id: prospect-anonymise
                register: "Prospection"
                legal_basis: "legitimate interest"
                clock: { column: last_contact_at, fallback: collected_at }
                after: 30 months
                action: anonymise
                fields:
                  email: null
                  name: { pseudonym: { prefix: "p-", length: 10 } }
                  phone: { mask: { keep_last: 2 } }
                  born: year
                  city: keep
                  note: { constant: "removed" }
          invoices:
            table: invoices
            key: [country, number]
            rules:
              - id: accounting
                register: "Comptabilité"
                legal_basis: "legal obligation"
                clock: { column: issued_on, anchor: fiscal_year_end }
                after: 10y
                action: flag
        """

    func parse(_ text: String) throws -> Policy {
        try PolicyParser(path: "/etc/retentiond/policy.yaml").parse(text, hash: "h").0
    }

    func errors(_ text: String) -> [String] {
        do {
            _ = try parse(text)
            return []
        } catch let invalid as PolicyInvalid {
            return invalid.errors.map(\.description)
        } catch {
            return ["\(error)"]
        }
    }

    @Test func parsesEveryConstructOfTheLanguage() throws {
        let (policy, settings, _) = try PolicyParser(path: "/etc/retentiond/policy.yaml").parse(Self.valid, hash: "h")
        #expect(policy.timeZone.identifier == "Europe/Paris")
        #expect(settings.database == .sqlite(path: "/srv/retention/crm.sqlite"))
        #expect(settings.keyFile == "/srv/retention/audit.key")
        #expect(settings.reportsDirectory == "/srv/retention/reports")
        #expect(settings.batchSize == 5000, "the documented default")
        #expect(policy.defaultSafety.maxPercent == 50)
        #expect(policy.rules.map(\.id) == ["prospect-purge", "prospect-anonymise", "accounting"])
        let purge = policy.rules[0]
        #expect(purge.clock.combination == .latest)
        #expect(purge.clock.columns.map(\.value) == ["last_contact_at", "collected_at"])
        #expect(purge.after == RetentionDuration(years: 3))
        #expect(purge.exemptions.consent.first?.column.value == "keep_until", "subject exemptions apply to every rule")
        guard case .purge(.declared(let children)) = purge.action else {
            Issue.record("not a declared purge")
            return
        }
        #expect(children.map(\.table.value) == ["events"])
        let anonymise = policy.rules[1]
        #expect(anonymise.clock.combination == .firstPresent)
        guard case .anonymise(let fields, _) = anonymise.action else {
            Issue.record("not anonymise")
            return
        }
        #expect(
            fields.map(\.strategy) == [
                .null, .pseudonym(prefix: "p-", length: 10),
                .mask(keepFirst: 0, keepLast: 2, character: "*", keepDomain: false),
                .year, .keep, .constant(.text("removed")),
            ])
        #expect(policy.rules[2].clock.fiscalYearEnd)
        #expect(policy.subjects[1].key.map(\.value) == ["country", "number"])
        #expect(policy.subjects[0].filter.count == 2)
        #expect(purge.location.line == 13)
    }

    @Test func theStateDirectoryCanBeReplaced() throws {
        let settings = try PolicyParser(path: "/x/p.yaml", stateDirectoryOverride: "/tmp/elsewhere").parse(
            Self.valid, hash: "h"
        ).settings
        #expect(settings.database == .sqlite(path: "/tmp/elsewhere/crm.sqlite"))
    }

    /// `ledger.keep`: how long the erasure ledger remembers an erasure; absent, for ever.
    @Test func theLedgerKeepsEntriesForItsDuration() throws {
        #expect(try parse(Self.valid).ledgerKeep == nil)
        let policy = try parse(
            Self.valid.replacingOccurrences(of: "state_dir:", with: "ledger: { keep: 13mo }\nstate_dir:"))
        #expect(policy.ledgerKeep == (try RetentionDuration(parsing: "13mo")))
        #expect(
            errors(Self.valid.replacingOccurrences(of: "state_dir:", with: "ledger: { kept: 13mo }\nstate_dir:"))
                .contains { $0.contains("unknown key `kept` in ledger") },
            "\(errors(Self.valid.replacingOccurrences(of: "state_dir:", with: "ledger: { kept: 13mo }\nstate_dir:")))")
    }

    @Test func unknownKeysAreReportedWithTheirPositionAndASuggestion() {
        let text = Self.valid.replacingOccurrences(of: "        after: 10y", with: "        afterr: 10y")
        let found = errors(text)
        #expect(
            found.contains(
                "/etc/retentiond/policy.yaml:42:9: error: unknown key `afterr` in rule `accounting`; did you mean `after`?"
            ))
        #expect(found.contains { $0.contains("rule `accounting` has no `after`") })
    }

    /// A key given twice, or a character no text holds, is reported where it is, not at 1:1.
    @Test func aDuplicateKeyAndAControlCharacterPointAtTheirPlace() {
        let twice = errors(
            Self.valid.replacingOccurrences(of: "        after: 10y", with: "        after: 10y\n        after: 1y"))
        #expect(
            twice == [
                "/etc/retentiond/policy.yaml:43:9: error: `after` is given twice in the same mapping (first at line 42); keep one"
            ], "\(twice)")
        let nul = errors(Self.valid.replacingOccurrences(of: "        after: 10y", with: "        after: 1\u{0}0y"))
        // libyaml reports the position its decoder had reached: the character (as from the files
        // tried by hand), or in this longer document the one just before it.
        #expect(
            nul.count == 1
                && (nul[0].hasPrefix(
                    "/etc/retentiond/policy.yaml:42:17: error: YAML: control characters are not allowed")
                    || nul[0].hasPrefix(
                        "/etc/retentiond/policy.yaml:42:16: error: YAML: control characters are not allowed")),
            "\(nul)")
    }

    @Test func badDurationsPointAtTheValue() {
        let found = errors(Self.valid.replacingOccurrences(of: "after: 30 months", with: "after: 30 fortnights"))
        #expect(
            found == [
                "/etc/retentiond/policy.yaml:25:16: error: rule `prospect-anonymise`.after: unknown duration unit `fortnights`; use y/years, mo/months, w/weeks, d/days, h/hours, min/minutes or s/seconds"
            ])
    }

    @Test func yamlSyntaxErrorsCarryALine() {
        let found = errors("version: 1\nsubjects:\n  a: [unclosed\n")
        #expect(found.count == 1)
        #expect(found[0].hasPrefix("/etc/retentiond/policy.yaml:4:"))
        #expect(found[0].contains("YAML syntax"))
    }

    @Test func everyRuleMustNameItsRegisterEntryAndLegalBasis() {
        let found = errors(Self.valid.replacingOccurrences(of: "        register: \"Comptabilité\"\n", with: ""))
        #expect(found.contains { $0.contains("rule `accounting` does not name its register entry") })
    }

    @Test func reportsEveryProblemAtOnce() {
        var text = Self.valid.replacingOccurrences(of: "time_zone: Europe/Paris", with: "time_zone: Mars/Olympus")
        text = text.replacingOccurrences(of: "action: flag", with: "action: shred")
        text = text.replacingOccurrences(of: "born: year", with: "born: blur")
        text = text.replacingOccurrences(of: "id: prospect-anonymise", with: "id: prospect-purge")
        let found = errors(text)
        #expect(found.contains { $0.contains(":2:12: error: unknown time zone `Mars/Olympus`") })
        #expect(found.contains { $0.contains("unknown action `shred`; use flag, anonymise, purge or archive") })
        #expect(found.contains { $0.contains("unknown anonymisation strategy `blur`") })
        #expect(
            found.contains {
                $0.contains("rule id `prospect-purge` is already used at /etc/retentiond/policy.yaml:13:")
            })
    }

    /// A batch size that makes a run more than twice as long as the default is said, not refused.
    @Test func aCostlyBatchSizeIsWarnedAbout() throws {
        func warnings(_ size: Int) throws -> [Diagnostic] {
            try PolicyParser(path: "/etc/retentiond/policy.yaml").parse(
                Self.valid.replacingOccurrences(of: "state_dir:", with: "batch_size: \(size)\nstate_dir:"), hash: "h"
            )
            .diagnostics.filter { $0.message.hasPrefix("batch_size") }
        }
        let small = try warnings(100)
        #expect(small.count == 1 && small[0].severity == .warning && small[0].message.contains("3.3 times"), "\(small)")
        #expect(try warnings(RunSettings.costlyBatchSize).isEmpty)
        #expect(try warnings(500).isEmpty)
    }

    @Test func typesAreChecked() {
        let found = errors(Self.valid.replacingOccurrences(of: "state_dir:", with: "batch_size: lots\nstate_dir:"))
        #expect(found.contains { $0.contains("batch_size must be a whole number from 1 to 5000") })
        let list = errors(Self.valid.replacingOccurrences(of: "key: [country, number]", with: "key: [country, 12x]"))
        #expect(list.contains { $0.contains("`12x` is not a valid key column") })
    }

    @Test func aClockIsEitherLatestOrAColumnWithFallback() {
        let found = errors(
            Self.valid.replacingOccurrences(
                of: "clock: { latest: [last_contact_at, collected_at] }", with: "clock: { latest: [a], column: b }"))
        #expect(found.contains { $0.contains("either `latest` or `column`") })
    }

    @Test func anEmptyOrMissingFileIsAnError() {
        #expect(
            errors("") == [
                "/etc/retentiond/policy.yaml:1:1: error: the policy is empty; start from etc/retentiond/retentiond.yaml and docs/policy.md"
            ])
        #expect(throws: PolicyInvalid.self) { try PolicyParser(path: "/nonexistent/p.yaml").parseFile() }
    }

    @Test func theShippedPolicyParses() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        let (policy, _, _) = try PolicyParser(path: root.appendingPathComponent("etc/retentiond/retentiond.yaml").path)
            .parseFile()
        #expect(policy.rules.count >= 10)
        #expect(policy.rules.allSatisfy { !$0.register.isEmpty && !$0.legalBasis.isEmpty })
    }
}
