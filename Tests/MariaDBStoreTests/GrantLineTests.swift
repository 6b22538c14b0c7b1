import Testing

@testable import RetentionMariaDB

/// `SHOW GRANTS` lines, as MariaDB writes them, read back as privileges and their object.
@Suite struct GrantLineTests {
    @Test func aGrantLineGivesItsPrivilegesColumnsAndObject() throws {
        let database = try #require(MariaDBSession.grant("GRANT SELECT, DELETE ON `crm`.* TO `reader`"))
        #expect(
            database.privileges.map(\.kind) == ["SELECT", "DELETE"] && database.database == "crm"
                && database.table == "*")
        let columns = try #require(
            MariaDBSession.grant("GRANT SELECT, UPDATE (`email`, `a``b`), DELETE ON `crm`.`people` TO `reader`"))
        #expect(columns.privileges.map(\.kind) == ["SELECT", "UPDATE", "DELETE"])
        #expect(columns.privileges[1].columns == ["email", "a`b"] && columns.privileges[0].columns.isEmpty)
        #expect(columns.table == "people")
        let everywhere = try #require(
            MariaDBSession.grant("GRANT ALL PRIVILEGES ON *.* TO `admin`@`%` WITH GRANT OPTION"))
        #expect(
            everywhere.privileges.map(\.kind) == ["ALL PRIVILEGES"] && everywhere.database == "*"
                && everywhere.table == "*")
        // Under the session's ANSI mode, as retentiond reads them.
        let ansi = try #require(
            MariaDBSession.grant("GRANT SELECT, UPDATE (\"e\"\"x\"), TRIGGER ON \"crm\".* TO \"reader\""))
        #expect(
            ansi.privileges.map(\.kind) == ["SELECT", "UPDATE", "TRIGGER"] && ansi.privileges[1].columns == ["e\"x"]
                && ansi.database == "crm" && ansi.table == "*")
        #expect(MariaDBSession.grant("GRANT `reader` TO `u1`@`%`") == nil)
        #expect(MariaDBSession.grant("SET DEFAULT ROLE `reader` FOR `u1`@`%`") == nil)
    }
}
