import Crypto
import Foundation
import Yams

/// Turns policy YAML into a `Policy` and the `RunSettings` it runs with, reporting every problem as `file:line:column: error: …`.
///
/// This checks the document on its own (syntax, unknown keys, types, durations, references between
/// rules); `SchemaValidator` then checks it against the live database.
public struct PolicyParser {
    public var path: String
    /// Replaces the policy's `state_dir` (as systemd's `$STATE_DIRECTORY` or `demo --dir` do).
    public var stateDirectoryOverride: String?
    /// systemd's credentials directory (`$CREDENTIALS_DIRECTORY`, read by the command line): an
    /// `audit.key` there replaces the policy's `audit.key_file`.
    public var credentialsDirectory: String?

    public init(path: String, stateDirectoryOverride: String? = nil, credentialsDirectory: String? = nil) {
        self.path = path
        self.stateDirectoryOverride = stateDirectoryOverride
        self.credentialsDirectory = credentialsDirectory
    }

    /// What a policy file says: the policy, where and how it runs, and the warnings found.
    public typealias Parsed = (policy: Policy, settings: RunSettings, diagnostics: [Diagnostic])

    /// Reads and parses the file; throws `PolicyInvalid` with every error found.
    public func parseFile() throws -> Parsed {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw PolicyInvalid([
                .error(
                    SourceLocation(file: path, line: 1, column: 1),
                    "cannot read the policy file", hint: "check the path given to --config and its permissions")
            ])
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw PolicyInvalid([
                .error(SourceLocation(file: path, line: 1, column: 1), "the policy file is not UTF-8 text")
            ])
        }
        let hash = SHA256.hash(data: data).hexEncoded
        return try parse(text, hash: hash)
    }

    public func parse(_ text: String, hash: String) throws -> Parsed {
        var reader = PolicyReader(file: path)
        let root: Node?
        do {
            root = try Yams.compose(yaml: text)
        } catch let error as YamlError {
            throw PolicyInvalid([reader.yamlDiagnostic(error)])
        }
        guard let root, let map = reader.mapping(root, "the policy") else {
            reader.diagnostics.append(
                .error(
                    reader.at(nil), "the policy is empty",
                    hint: "start from etc/retentiond/retentiond.yaml and docs/policy.md"))
            throw PolicyInvalid(reader.diagnostics)
        }
        let parsed = reader.policy(
            map, hash: hash, stateDirectoryOverride: stateDirectoryOverride, credentialsDirectory: credentialsDirectory,
            policyPath: path)
        if let (policy, settings) = parsed, !reader.diagnostics.contains(where: { $0.severity == .error }) {
            return (policy, settings, reader.diagnostics)
        }
        throw PolicyInvalid(reader.diagnostics)
    }
}
