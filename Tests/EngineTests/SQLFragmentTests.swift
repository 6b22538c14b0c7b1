import Foundation
import RetentionCore
import RetentionStore
import Testing

/// What each interpolation of `SQL` writes into the text, and what it binds: the names a policy
/// or a schema brings are quoted whichever form they travel in (one, a list, a row value), and
/// values never reach the text.
@Suite struct SQLFragmentTests {
    static let hostile = #"a "quoted" name"#

    @Test func namesAreQuotedAloneInListsAndInRowValues() {
        let names = ["id", Self.hostile]
        let sql: SQL =
            "SELECT \(columns: names, of: "s") FROM \(ident: "t") AS s GROUP BY \(idents: names) ORDER BY \(row: names, of: "s")"
        #expect(
            sql.description
                == #"SELECT s."id", s."a ""quoted"" name" FROM "t" AS s GROUP BY "id", "a ""quoted"" name" ORDER BY (s."id", s."a ""quoted"" name")"#
        )
        let one: SQL = "\(row: ["id"], of: "x") = \(column: "id", of: "y")"
        #expect(one.description == #"x."id" = y."id""#)
        #expect(sql.bindings.isEmpty)
    }

    @Test func aliasesAndNumbersAreWrittenValuesAreBound() {
        let sql: SQL =
            "SELECT \(literal: 16) * v.\(alias: "column2") FROM \(ident: "t") AS \(alias: "r0_1") WHERE x = \(.text("'; DROP TABLE t; --"))"
        #expect(sql.description == #"SELECT 16 * v.column2 FROM "t" AS r0_1 WHERE x = ?"#)
        #expect(sql.bindings == [.text("'; DROP TABLE t; --")])
        let numbered = SQLDialect(
            numberedPlaceholders: true, flagIsSet: { $0 }, canonicalKey: { $0.joined() }, keyValueKind: { _ in .other },
            textOf: { $0 }, lockRows: "")
        #expect(sql.text(for: numbered) == #"SELECT 16 * v.column2 FROM "t" AS r0_1 WHERE x = $1"#)
    }
}
