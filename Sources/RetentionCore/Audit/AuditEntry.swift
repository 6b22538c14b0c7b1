import Foundation

/// One line of the audit trail. It says who did what to which record, under which policy and rule,
/// and never holds a personal value: records are named by a keyed digest (`subjectRef`).
public struct AuditEntry: Codable, Sendable, Hashable {
    public var seq: Int64
    public var runID: String
    public var at: String
    public var actor: String
    public var policyHash: String
    public var ruleID: String
    public var action: String
    public var table: String
    public var subjectRef: String
    /// Column names touched (never their values).
    public var fields: String
    /// Small JSON object of counts and identifiers (e.g. `{"rows":3}`), never personal values.
    public var detail: String
    public var prevMAC: String
    public var mac: String

    public init(
        seq: Int64, runID: String, at: String, actor: String, policyHash: String, ruleID: String, action: String,
        table: String, subjectRef: String, fields: String, detail: String, prevMAC: String, mac: String
    ) {
        self.seq = seq
        self.runID = runID
        self.at = at
        self.actor = actor
        self.policyHash = policyHash
        self.ruleID = ruleID
        self.action = action
        self.table = table
        self.subjectRef = subjectRef
        self.fields = fields
        self.detail = detail
        self.prevMAC = prevMAC
        self.mac = mac
    }
}

/// An audit entry before it joins the chain (no sequence number or MACs yet).
public struct AuditDraft: Sendable, Hashable {
    public var runID: String
    public var actor: String
    public var policyHash: String
    public var ruleID: String
    public var action: AuditAction
    public var table: String
    public var subjectRef: String
    public var fields: [String]
    public var detail: [String: String]

    public init(
        runID: String, actor: String, policyHash: String, ruleID: String = "", action: AuditAction, table: String = "",
        subjectRef: String = "", fields: [String] = [], detail: [String: String] = [:]
    ) {
        self.runID = runID
        self.actor = actor
        self.policyHash = policyHash
        self.ruleID = ruleID
        self.action = action
        self.table = table
        self.subjectRef = subjectRef
        self.fields = fields
        self.detail = detail
    }
}

/// The newest entry of a chain: where the next entry attaches, and what `audit verify` compares with.
public struct AuditHead: Codable, Sendable, Hashable {
    public var seq: Int64
    public var mac: String
    public init(seq: Int64, mac: String) {
        self.seq = seq
        self.mac = mac
    }

    /// The head of an empty trail.
    public static let genesis = AuditHead(seq: 0, mac: String(repeating: "0", count: 64))
}
