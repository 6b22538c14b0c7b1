import Foundation
import RetentionCore
import RetentionStore

/// The legal holds the audit trail vouches for, compared with the holds table.
///
/// Every hold is placed and released with a keyed audit entry in the same transaction, so the
/// `hold-add` and `hold-release` entries say exactly which holds must be in the table and in what
/// state. A hold deleted, altered or released by hand (after its triggers were dropped) is found
/// here, and enforcement stops before any record it protected could be touched.
struct HoldLedger: Sendable {
    let chain: AuditChain

    /// One difference between the trail and the table.
    struct Finding: Sendable, CustomStringConvertible {
        var message: String
        /// A hold missing, altered or released outside retentiond: enforcement must stop.
        /// (A hold with no audit entry only protects more: it is honoured and reported.)
        var failsClosed: Bool
        var description: String { message }
    }

    private struct Expected {
        var seq: Int64
        var table: String
        var reference: String
        var until: Date?
        var released = false
    }

    /// `entries`: the trail's hold entries and key rotations, oldest first. A rotation restates
    /// every hold under the new key right after it: the record of holds starts again there.
    func findings(entries: [AuditEntry], holds: [LegalHold]) -> [Finding] {
        var findings: [Finding] = []
        var expected: [Int64: Expected] = [:]
        let rotation = entries.lastIndex { $0.action == AuditAction.keyRotated.rawValue }
        for entry in entries[(rotation.map { $0 + 1 } ?? 0)...] {
            guard chain.mac(of: entry) == entry.mac else {
                findings.append(
                    Finding(
                        message:
                            "audit entry \(entry.seq) (\(entry.action)) does not match its MAC: the record of holds was forged",
                        failsClosed: true))
                continue
            }
            let detail = (try? JSONSerialization.jsonObject(with: Data(entry.detail.utf8))) as? [String: String] ?? [:]
            guard let id = detail["hold_id"].flatMap({ Int64($0) }) else {
                findings.append(
                    Finding(message: "audit entry \(entry.seq) (\(entry.action)) names no hold", failsClosed: true))
                continue
            }
            switch entry.action {
            case AuditAction.holdAdd.rawValue:
                expected[id] = Expected(
                    seq: entry.seq, table: entry.table, reference: entry.subjectRef,
                    until: detail["until"].flatMap { ISO8601DateFormatter().date(from: $0) })
            default:
                if expected[id] == nil {
                    findings.append(
                        Finding(
                            message: "audit entry \(entry.seq) releases hold \(id), which the trail never placed",
                            failsClosed: true))
                }
                expected[id]?.released = true
            }
        }
        let rows = Dictionary(holds.map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
        for (id, hold) in expected.sorted(by: { $0.key < $1.key }) {
            let placed = "hold \(id) on `\(hold.table)` (audit entry \(hold.seq))"
            guard let row = rows[id] else {
                if !hold.released {
                    findings.append(
                        Finding(
                            message:
                                "\(placed) is missing from retentiond_holds: it was deleted by hand, without a release",
                            failsClosed: true))
                }
                continue
            }
            if row.table != hold.table || chain.reference(table: row.table, key: row.key) != hold.reference {
                findings.append(
                    Finding(
                        message: "\(placed) no longer names the record it was placed on: changed by hand",
                        failsClosed: true))
            }
            if row.until?.timeIntervalSince1970.rounded() != hold.until?.timeIntervalSince1970.rounded() {
                findings.append(
                    Finding(
                        message: "\(placed) has another end date than the one audited: changed by hand",
                        failsClosed: true))
            }
            if row.releasedAt != nil, !hold.released {
                findings.append(
                    Finding(
                        message: "\(placed) is marked released, but no release was audited: released by hand",
                        failsClosed: true))
            }
            if row.releasedAt == nil, hold.released {
                findings.append(
                    Finding(
                        message: "\(placed) was released (audited) but is active again: changed by hand",
                        failsClosed: true))
            }
        }
        for row in holds where expected[row.id] == nil {
            findings.append(
                Finding(
                    message:
                        "hold \(row.id) on `\(row.table)` has no audit entry: it was not placed through retentiond (it is honoured all the same)",
                    failsClosed: false))
        }
        return findings
    }

    /// Reads the trail's hold entries and the holds table in `session` and compares them.
    func findings(in session: any StoreSession) throws -> [Finding] {
        findings(entries: try session.holdAuditEntries(), holds: try session.holds(includeReleased: true))
    }

    /// Throws `auditTampered` listing every finding that must stop enforcement.
    func enforce(in session: any StoreSession) throws -> [Finding] {
        let all = try findings(in: session)
        let failing = all.filter(\.failsClosed)
        guard failing.isEmpty else {
            throw EnforcementError.holdsDoNotMatchTrail(failing.map(\.message))
        }
        return all
    }
}
