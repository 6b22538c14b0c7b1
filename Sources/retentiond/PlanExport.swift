import Foundation
import RetentionCore
import RetentionEngine

/// `plan --format csv` and `--format jsonl`: one line per record the dry run decided, written as
/// the pass decides it (memory stays flat at any number of records), for a DPO to filter, sort
/// and keep. The fields: the rule and its action, the record's key, the decision (`due`,
/// `exempt`, `already done`), why it is kept, what keeps it (the rules, or where the related
/// records are), the clock's value and the column it came from, and for a due record an earlier
/// rule deletes first, that rule (`taken_by`: counted there, not planned again), and a due
/// record's child rows per table (`child_rows`: the rows that belong to it, a row two records
/// share under each; the report's per-table counts are the exact totals).
enum PlanExport {
    enum Format { case csv, jsonl }

    static let csvHeader = "rule,action,key,decision,reason,kept_by,clock,clock_from,taken_by,child_rows"

    struct Fields {
        var decision: String
        var reason: String?
        var clock: String?
        var clockFrom: String?
    }

    static func fields(_ line: DetailLine) -> Fields {
        var fields = Fields(decision: "due")
        switch line.decision {
        case .act: break
        case .exempt(let reason):
            fields.decision = "exempt"
            fields.reason = reason.rawValue
        case .alreadyDone: fields.decision = "already done"
        }
        // The value the clock took (the latest, or the first set) and where it came from.
        let used = line.clock.count == 1 ? 0 : line.clockUsed
        if let used, line.clock.indices.contains(used), line.clock[used] != .null {
            fields.clock = line.clock[used].description
            fields.clockFrom = line.clockNames.indices.contains(used) ? line.clockNames[used] : nil
        }
        return fields
    }

    static func line(_ detail: DetailLine, action: String, format: Format) -> String {
        let f = fields(detail)
        switch format {
        case .csv:
            let key = detail.key.values.map(\.description).joined(separator: ",")
            return [
                detail.rule, action, key, f.decision, f.reason ?? "", detail.keptBy.joined(separator: ";"),
                f.clock ?? "", f.clockFrom ?? "", detail.takenBy ?? "",
                detail.childRows.map { "\($0.table)=\($0.rows)" }.joined(separator: ";"),
            ]
            .map(csvField).joined(separator: ",")
        case .jsonl:
            let key = "[" + detail.key.values.map(jsonValue).joined(separator: ",") + "]"
            let keptBy = "[" + detail.keptBy.map(JSONText.quoted).joined(separator: ",") + "]"
            let optional = { (text: String?) in text.map(JSONText.quoted) ?? "null" }
            return "{\"rule\":\(JSONText.quoted(detail.rule)),\"action\":\(JSONText.quoted(action)),\"key\":\(key),"
                + "\"decision\":\(JSONText.quoted(f.decision)),\"reason\":\(optional(f.reason)),\"kept_by\":\(keptBy),"
                + "\"clock\":\(optional(f.clock)),\"clock_from\":\(optional(f.clockFrom)),\"taken_by\":\(optional(detail.takenBy)),"
                + "\"child_rows\":{"
                + detail.childRows.map { "\(JSONText.quoted($0.table)):\($0.rows)" }.joined(separator: ",") + "}}"
        }
    }

    /// RFC 4180: a field with a comma, a quote or a line break is quoted, its quotes doubled.
    static func csvField(_ text: String) -> String {
        guard text.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) else { return text }
        return "\"" + text.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }

    /// A key value as JSON: numbers as numbers, everything else as a string.
    static func jsonValue(_ value: SQLValue) -> String {
        switch value {
        case .integer(let i): return String(i)
        case .null: return "null"
        default: return JSONText.quoted(value.description)
        }
    }
}
