import Crypto
import Foundation
import RetentionCore
import RetentionStore

/// What was erased, kept outside the database so that a restore cannot take it back
/// (`<state_dir>/erasure-ledger.jsonl`, 0600, beside the audit head).
///
/// One JSON line per record purged or anonymised, and per legal hold placed or released, copied
/// from the audit trail — its pseudonymous reference, the rule, the action, the run, the time and
/// the trail entry it copies (sequence number and part of its MAC); never a personal value. Each
/// copy ends with a line that seals, with a key derived from the audit key, every byte since the
/// seal before it (`Sealer`): a line changed, removed or reordered is found by `verify`.
///
/// The ledger follows the trail: `sync` appends what the trail holds past the ledger's last
/// `through` line (the trail entry it was read up to), then a new `through` line. A database
/// restored from an older copy no longer holds that entry: the ledger then holds erasures the
/// database lost (`lost`), and `Applier.replay` re-applies them (`audit reanchor`); until it has,
/// `sync` refuses, so no enforcing run starts on a database whose erasures were undone.
///
/// Files: the line and its encoding here; sealing, reading and verifying, copying from the trail,
/// and what a restore lost in the extensions beside it; the locked file in `LedgerFile.swift`.
public struct ErasureLedger: Sendable {
    public let path: String
    let key: AuditKey

    public static func path(stateDirectory: String) -> String { stateDirectory + "/erasure-ledger.jsonl" }

    public init(stateDirectory: String, key: AuditKey) {
        path = Self.path(stateDirectory: stateDirectory)
        self.key = key
    }

    /// One line of the ledger. Which fields are set depends on `kind`.
    public struct Line: Codable, Sendable, Equatable {
        public enum Kind: String, Codable, Sendable {
            /// The first line: the trail this ledger follows (its first entry's MAC).
            case start
            /// A trail entry copied: purge, anonymise, hold-add or hold-release.
            case entry
            /// The trail was read up to entry `seq`, whose MAC is `tmac`.
            case through
            /// Erasures a restore undid were re-applied (`count`), from the trail entry `seq` on.
            case replayed
            /// Entries older than `before` were dropped (`count`; `ledger.keep`), by a ledger that
            /// followed the trail whose first entry's MAC is `genesis`.
            case compacted
        }
        public var kind: Kind
        public var seq: Int64?
        /// The trail entry's MAC: whole on closing lines (the position a copy reached), its first
        /// 16 hex digits on entries (enough to tell one entry from another; the seal covers them).
        public var tmac: String?
        /// When the trail entry was made, and by which run: left out of an entry whose are those of
        /// the entry before it, and read back into it.
        public var at: String?
        public var run: String?
        public var rule: String?
        public var action: String?
        public var table: String?
        public var ref: String?
        /// The fingerprint of the audit key whose reference key made the references (`AuditKey.fingerprint`):
        /// written on closing lines, for the entries they close; read into each entry.
        public var kid: String?
        /// An erasure request's reference, or a hold's id.
        public var request: String?
        public var hold: String?
        /// When a hold placed ends, if it does (ISO 8601).
        public var until: String?
        public var genesis: String?
        public var count: Int?
        public var before: String?
        public var mac: String?

        public init(kind: Kind) { self.kind = kind }

        /// Appends the line as sealed to `out` — a JSON object of its members but `mac`, in name
        /// order, written by hand (a hundred thousand lines a run: Foundation's encoder was most of
        /// a run's time) — with `run`, `at` and `kid` in place of its own (an entry leaves out what
        /// the entry before it or its closing line says).
        func write(into out: inout [UInt8], run: String?, at: String?, kid: String?) {
            out.append(UInt8(ascii: "{"))
            var first = true
            func name(_ name: StaticString) {
                if !first { out.append(UInt8(ascii: ",")) }
                first = false
                out.append(UInt8(ascii: "\""))
                name.withUTF8Buffer { out.append(contentsOf: $0) }
                out.append(contentsOf: [UInt8(ascii: "\""), UInt8(ascii: ":")])
            }
            func member(_ label: StaticString, _ value: String?) {
                guard let value else { return }
                name(label)
                Line.append(string: value, to: &out)
            }
            func member(_ label: StaticString, _ value: Int64?) {
                guard let value else { return }
                name(label)
                out.append(contentsOf: String(value).utf8)
            }
            member("action", action)
            member("at", at)
            member("before", before)
            member("count", count.map(Int64.init))
            member("genesis", genesis)
            member("hold", hold)
            member("kid", kid)
            member("kind", kind.rawValue)
            member("ref", ref)
            member("request", request)
            member("rule", rule)
            member("run", run)
            member("seq", seq)
            member("table", table)
            member("tmac", tmac)
            member("until", until)
            out.append(UInt8(ascii: "}"))
        }

        /// A JSON string: quotes, backslashes and control characters escaped, the rest as UTF-8.
        static func append(string: String, to out: inout [UInt8]) {
            out.append(UInt8(ascii: "\""))
            var string = string
            string.withUTF8 { bytes in
                // References, MACs, names and times need no escaping: copied whole.
                guard bytes.contains(where: { $0 < 0x20 || $0 == UInt8(ascii: "\"") || $0 == UInt8(ascii: "\\") })
                else {
                    out.append(contentsOf: bytes)
                    return
                }
                for byte in bytes {
                    switch byte {
                    case UInt8(ascii: "\""): out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\"")])
                    case UInt8(ascii: "\\"): out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\\")])
                    case 0x0A: out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "n")])
                    case 0x0D: out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "r")])
                    case 0x09: out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "t")])
                    case ..<0x20: out.append(contentsOf: Array(String(format: "\\u%04x", byte).utf8))
                    default: out.append(byte)
                    }
                }
            }
            out.append(UInt8(ascii: "\""))
        }

        /// Lines a sync ends with: where the ledger stands in the trail.
        var closes: Bool { kind != .entry }
    }

    init(path: String, key: AuditKey) {
        self.path = path
        self.key = key
    }
}
