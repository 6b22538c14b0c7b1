import Foundation
import RetentionCore

/// A rule's `statistics` outlive the records they count, so they must not carry what identifies
/// a person (docs/policy.md, "Statistics"): they are grouped and summed only by columns of the
/// record's own table that the policy does not treat as personal or identifying.
extension SchemaValidator {
    mutating func validateStatistics(_ rule: RetentionRule, subject: Subject, table: TableInfo) -> Bool {
        guard let statistics = rule.statistics else { return true }
        var ok = true
        let personal = personalColumns(of: table.name)
        let clock = Set(rule.clock.columns.map(\.value))
        let people = Set(policy.subjects.map(\.table.value))
        for (name, role) in statistics.by.map({ ($0, "by") }) + statistics.sum.map({ ($0, "sum") }) {
            guard let column = column(table, name) else {
                ok = false
                continue
            }
            let refused: String?
            if subject.key.contains(where: { $0.value == name.value }) {
                refused = "is the key of `\(subject.id)`: a group per key is a group per record"
            } else if clock.contains(name.value) {
                refused = "is the rule's clock: the statistics count per `period` of it, never per date"
            } else if let why = personal[name.value] {
                refused = "is \(why), so it is personal data the statistics must not keep"
            } else if let fk = table.foreignKeys.first(where: {
                $0.columns.contains(name.value) && people.contains($0.referencedTable)
            }) {
                refused =
                    "points at `\(fk.referencedTable)`, whose records the policy governs as people's: a group per value is a group per person"
            } else if role == "sum", !Self.isNumeric(column.declaredType) {
                refused = "is `\(column.declaredType)`, not a number, so it cannot be summed"
            } else if role == "by", Self.isBinary(column.declaredType) {
                refused = "holds binary data (`\(column.declaredType)`), which cannot name a group"
            } else {
                refused = nil
            }
            if let refused {
                error(
                    name.location,
                    "rule `\(rule.id)`: `statistics.\(role)` column `\(table.name).\(name.value)` \(refused)",
                    hint: role == "by"
                        ? "group by columns that describe the record, not the person (a queue, a type, a country)"
                        : "sum amounts, durations or quantities")
                ok = false
            }
        }
        return ok
    }

    /// The statistics table must be the tool's own: absent (created by the first run) or with the
    /// columns it writes, and no table a subject governs.
    mutating func validateStatisticsTable() {
        guard let first = policy.statisticsRules.first?.statistics else { return }
        let name = policy.statisticsTable
        if policy.subjects.contains(where: { $0.table.value == name }) {
            error(
                first.location, "the statistics table `\(name)` is a table the policy governs",
                hint:
                    "name another table under `statistics: { table: … }`, or leave the default `\(Policy.defaultStatisticsTable)`"
            )
        } else if let existing = schema.table(name), Set(existing.columns.map(\.name)) != Set(StatisticsTable.columns) {
            error(
                first.location,
                "`\(name)` exists but is not a statistics table (its columns are not \(StatisticsTable.columns.joined(separator: ", ")))",
                hint: "name another table under `statistics: { table: … }`: retentiond creates it")
        }
    }

    /// Columns of `table` that some rule of the policy anonymises, or that a subject shows for
    /// review, with what says so.
    func personalColumns(of table: String) -> [String: String] {
        var found: [String: String] = [:]
        for subject in policy.subjects where subject.table.value == table {
            for review in subject.reviewColumns {
                found[review.value] = found[review.value] ?? "a review column of `\(subject.id)`"
            }
            for rule in subject.rules {
                guard case .anonymise(let fields, _) = rule.action else { continue }
                for field in fields where field.strategy != .keep {
                    found[field.column.value] = found[field.column.value] ?? "anonymised by rule `\(rule.id)`"
                }
            }
        }
        return found
    }

    static func isNumeric(_ declared: String) -> Bool {
        let type = declared.lowercased()
        return ["int", "real", "double", "float", "numeric", "decimal", "money", "number"].contains {
            type.contains($0)
        }
    }

    static func isBinary(_ declared: String) -> Bool {
        let type = declared.lowercased()
        return ["blob", "bytea", "binary"].contains { type.contains($0) }
    }
}
