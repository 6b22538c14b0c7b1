import Foundation
import RetentionCore

/// A rule's clock: its date columns, and what makes a row an entry into a set of states.
extension SchemaValidator {
    /// The date columns of a clock seen from `scope`, each with the path to its related rows.
    mutating func clockColumns(
        _ clock: RetentionClock, from scope: NameScope, relations: SubjectRelations, role: String
    ) -> [DateColumn]? {
        var result: [DateColumn] = []
        for name in clock.columns {
            guard let (path, table, column) = reach(name, from: scope, relations: relations),
                var date = dateColumn(table, column, role: role)
            else { continue }
            date.path = path
            date.earliest = clock.earliest.contains(name.value)
            if clock.entered.contains(name.value) {
                guard let entry = entry(into: path, of: table, by: column, at: name) else { continue }
                date.path[path.count - 1].conditions.append(.entersSet(entry))
            }
            result.append(date)
        }
        return result.count == clock.columns.count ? result : nil
    }

    /// For `{ entered: relation.column }`: what makes a row of the relation's table an entry into
    /// its `where` — ordered by the clock column within the record's rows, ties broken by the
    /// table's key.
    mutating func entry(into path: [RelationStep], of table: TableInfo, by column: Name, at name: Name)
        -> RowEntry?
    {
        let relation = name.value.split(separator: ".")[0]
        guard let step = path.last, !step.conditions.isEmpty else {
            error(
                name.location,
                "`entered` reads when a record entered the rows its relation's `where` selects, and relation `\(relation)` has no `where`",
                hint:
                    "give `\(relation)` a `where` naming the set (e.g. `where: { closing_type.name: { in: [closed] } }`), or write `\(name.value)` for its latest value"
            )
            return nil
        }
        guard table.rowIdentity.count == 1, let key = table.rowIdentity.first else {
            error(
                name.location,
                "`entered` orders the rows of `\(table.name)` by `\(column.value)`, then by their key, and `\(table.name)` has no single-column primary key or unique index",
                hint:
                    "rows at the same time would have no order; add a key to `\(table.name)` or count from its latest value (`\(name.value)`)"
            )
            return nil
        }
        return RowEntry(
            table: table.name, partition: step.on.map(\.column), order: column.value, key: key,
            conditions: step.conditions)
    }
}
