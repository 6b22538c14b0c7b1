import Foundation
import RetentionCore
import RetentionEngine
import TestSupport
import Testing

/// What `check` accepts runs: a policy past what the databases can execute (children nested too
/// deep, a relation chain too long, an `in:` list too long) is refused at its line with the
/// limit, instead of passing `check` and failing every run.
@Suite struct PolicyLimitsTests {
    /// `levels` tables below `t0`, each referencing the one above; one due record with a row at every level.
    static func tree(_ levels: Int) -> (schema: [String], data: [String]) {
        var schema = ["CREATE TABLE t0 (id INTEGER PRIMARY KEY, closed_at TEXT)"]
        var data = ["INSERT INTO t0 VALUES (1, '2019-01-01'), (2, '2026-05-01')"]
        for level in 1...max(levels, 1) where levels > 0 {
            schema.append(
                "CREATE TABLE t\(level) (id INTEGER PRIMARY KEY, up INTEGER NOT NULL REFERENCES t\(level - 1)(id))")
            schema.append("CREATE INDEX t\(level)_up ON t\(level)(up)")
            data.append("INSERT INTO t\(level) VALUES (1, 1), (2, 2)")
        }
        return (schema, data)
    }

    static func policy(children: String) -> String {
        """
        subjects:
          roots:
            table: t0
            key: id
            rules:
              - id: root-purge
                register: "Trees"
                legal_basis: "contract, 3 years"
                clock: closed_at
                after: 3y
                action: purge
                children: \(children)

        """
    }

    /// `children:` declared as a chain `t1 → t2 → … → t<levels>`, in flow style on one line.
    static func declared(_ levels: Int) -> String {
        "["
            + (1...levels).reversed().reduce("") { inner, level in
                "{ table: t\(level), foreign_key: up" + (inner.isEmpty ? "" : ", children: [\(inner)]") + " }"
            } + "]"
    }

    @Test(arguments: Backend.allCases)
    func aTreeAsDeepAsAcceptedIsPurgedWholeAndOneLevelMoreIsRefusedAtCheck(_ backend: Backend) async throws {
        let depth = 10
        let (schema, data) = Self.tree(depth)
        let f = try await CRMFixture(backend, schema: schema, data: data, policy: Self.policy(children: "auto"))
        let report = try await f.run()
        #expect(report.succeeded && report.rules[0].purged == 1, "\(report.message ?? "")")
        for level in 0...depth { #expect(try await f.ids("t\(level)") == [2], "level \(level)") }
        #expect(try await f.trail().verify().isValid)

        try await f.sql(["CREATE TABLE t11 (id INTEGER PRIMARY KEY, up INTEGER NOT NULL REFERENCES t10(id))"])
        let (resolved, diagnostics) = try await f.validate()
        #expect(resolved == nil)
        let error = diagnostics.first { $0.severity == .error }
        #expect(
            error?.message.contains(
                "`children: auto` of rule `root-purge` reaches `t11` 11 levels below the subject; at most 10") == true,
            "\(diagnostics)")
        #expect(error?.location.line == 11, "at the rule's id: \(diagnostics)")
    }

    @Test func aDeclaredChildTooDeepIsRefusedAtItsLine() async throws {
        let (schema, data) = Self.tree(11)
        let f = try await CRMFixture(
            .sqlite, schema: schema, data: data, policy: Self.policy(children: Self.declared(11)))
        let (resolved, diagnostics) = try await f.validate()
        #expect(resolved == nil)
        #expect(
            diagnostics.contains {
                $0.severity == .error && $0.message.hasPrefix("child `t11` is 11 levels below the subject; at most 10")
            }, "\(diagnostics)")
        let (ten, tenData) = Self.tree(10)
        let accepted = try await CRMFixture(
            .sqlite, schema: ten, data: tenData, policy: Self.policy(children: Self.declared(10)))
        let (tenResolved, tenDiagnostics) = try await accepted.validate()
        #expect(tenResolved != nil, "ten levels declared are accepted: \(tenDiagnostics)")
    }

    /// The errors of the policy whose subject filters `kind` on `condition`.
    static func errors(filteringKindOn condition: String) -> [Diagnostic] {
        let header = "version: 1\ntime_zone: UTC\ndatabase: { sqlite: crm.sqlite }\n"
        let text =
            header
            + policy(children: "[]").replacingOccurrences(
                of: "    key: id\n", with: "    key: id\n    filter: { kind: \(condition) }\n")
        do {
            _ = try PolicyParser(path: "policy.yaml").parse(text, hash: "h")
            return []
        } catch let invalid as PolicyInvalid {
            return invalid.errors
        } catch {
            return []
        }
    }

    @Test func anInListTooLongOrHoldingAMappingIsRefusedAtItsLine() throws {
        func errors(_ list: String) -> [Diagnostic] { Self.errors(filteringKindOn: "{ in: \(list) }") }
        let long = "[" + (1...1001).map(String.init).joined(separator: ", ") + "]"
        #expect(
            errors(long).first?.message.hasPrefix("`in` lists 1001 values; at most 1000") == true, "\(errors(long))")
        #expect(errors(long).first?.location.line == 8, "at the filter")
        #expect(
            errors("[a, { b: c }]").first?.message.contains("this item is a mapping, which no value equals") == true,
            "\(errors("[a, { b: c }]"))")
        let thousand = "[" + (1...1000).map(String.init).joined(separator: ", ") + "]"
        #expect(errors(thousand).isEmpty)
    }

    /// `equals` and `not` take one plain value: a list or a mapping would have been read as null
    /// (`IS NULL`), matching records nobody meant.
    @Test func anEqualsOrNotHoldingAListOrAMappingIsRefusedAtItsLine() throws {
        func errors(_ condition: String) -> [Diagnostic] { Self.errors(filteringKindOn: condition) }
        let list = errors("{ equals: [prospect, client] }")
        #expect(
            list.first?.message == "`equals` takes one plain value; this is a list"
                && list.first?.hint?.contains("in: [a, b]") == true, "\(list)")
        #expect(list.first?.location.line == 8, "at the filter")
        #expect(
            errors("{ not: { a: b } }").first?.message == "`not` takes one plain value; this is a mapping",
            "\(errors("{ not: { a: b } }"))")
        #expect(errors("{ equals: prospect }").isEmpty && errors("{ not: null }").isEmpty)
    }

    @Test func aRelationChainTooLongIsRefusedAtItsLine() async throws {
        let steps = 17
        var schema = ["CREATE TABLE t0 (id INTEGER PRIMARY KEY, closed_at TEXT)"]
        var relations = ""
        for step in 1...steps {
            schema.append("CREATE TABLE r\(step) (id INTEGER PRIMARY KEY, up INTEGER)")
            relations += "      r\(step): { table: r\(step), on: { up: \(step == 1 ? "id" : "r\(step - 1).id") } }\n"
        }
        let policy = Self.policy(children: "[]").replacingOccurrences(
            of: "    key: id\n", with: "    key: id\n    relations:\n\(relations)")
        let f = try await CRMFixture(.sqlite, schema: schema, data: [], policy: policy)
        let (resolved, diagnostics) = try await f.validate()
        #expect(resolved == nil)
        let error = diagnostics.first { $0.severity == .error }
        #expect(
            error?.message.hasPrefix("relation `r17` is 17 steps from the subject's row; at most 16") == true,
            "\(diagnostics)")
        #expect(error?.location.line == 27, "at the relation: \(diagnostics)")
    }
}
