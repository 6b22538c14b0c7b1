import Crypto
import Foundation

/// The secret behind the audit chain, record references and pseudonyms.
///
/// One 256-bit key in a file (hex), from which separate keys are derived per purpose, so a
/// pseudonym can never be confused with an audit reference. The key is never logged or printed.
public struct AuditKey: Sendable {
    /// Derived once: every reference, MAC and pseudonym uses one of these.
    public let chainKey: SymmetricKey
    public let referenceKey: SymmetricKey
    public let pseudonymKey: SymmetricKey
    /// Seals the erasure ledger kept in the state directory (`ErasureLedger`).
    public let ledgerKey: SymmetricKey

    public init(bytes: Data) {
        let master = SymmetricKey(data: bytes)
        func derive(_ label: String) -> SymmetricKey {
            SymmetricKey(data: Data(HMAC<SHA256>.authenticationCode(for: Data(label.utf8), using: master)))
        }
        chainKey = derive("retentiond/audit-chain/v1")
        referenceKey = derive("retentiond/record-reference/v1")
        pseudonymKey = derive("retentiond/pseudonym/v1")
        ledgerKey = derive("retentiond/erasure-ledger/v1")
    }

    /// A short public name for the key (16 hex digits), recorded in the trail and the erasure
    /// ledger: which key sealed what, without revealing anything of it.
    public var fingerprint: String {
        String(
            AuditChain(key: self).reference(table: "retentiond", key: RecordKey([.text("key fingerprint")])).prefix(16))
    }

    public enum LoadError: Error, CustomStringConvertible {
        case unreadable(String)
        case malformed(String)
        case insecurePermissions(String, String)
        case cannotCreate(String, String)

        public var description: String {
            switch self {
            case .unreadable(let p): return "cannot read the audit key file \(p); check its owner and permissions"
            case .malformed(let p):
                return "the audit key file \(p) does not hold 64 hexadecimal characters; restore it from your backup"
            case .insecurePermissions(let p, let mode):
                return "the audit key file \(p) is readable by others (mode \(mode)); run `chmod 600 \(p)`"
            case .cannotCreate(let p, let why): return "cannot create the audit key file \(p): \(why)"
            }
        }
    }

    /// Reads the key file; creates it (0600, 32 random bytes) when `createIfMissing` and absent.
    /// A key inside `credentialsDirectory` (systemd's, which sets its own modes) is not mode-checked.
    public static func load(path: String, createIfMissing: Bool, credentialsDirectory: String? = nil) throws -> (
        key: AuditKey, created: Bool
    ) {
        let fm = FileManager.default
        if !fm.fileExists(atPath: path) {
            guard createIfMissing else { throw LoadError.unreadable(path) }
            let bytes = SymmetricKey(size: .bits256).withUnsafeBytes { Data($0) }
            let hex = bytes.hexEncoded + "\n"
            do {
                try fm.createDirectory(
                    atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true,
                    attributes: [.posixPermissions: 0o700])
            } catch {
                throw LoadError.cannotCreate(path, "\(error.localizedDescription)")
            }
            // Written whole to a file of our own, then linked into place: link() fails if the key
            // exists, so two processes starting at once never each write a different key, and no
            // reader ever sees a key file that is still empty.
            // Named per call, not per process: two engines of one process may create it at once.
            let temporary = path + ".new-\(getpid())-\(UUID().uuidString)"
            let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
            guard fd >= 0 else { throw LoadError.cannotCreate(path, String(cString: strerror(errno))) }
            defer { unlink(temporary) }
            let written = hex.utf8CString.withUnsafeBufferPointer { write(fd, $0.baseAddress, $0.count - 1) }
            let synced = fsync(fd) == 0
            close(fd)
            guard written == hex.utf8.count, synced else {
                throw LoadError.cannotCreate(path, String(cString: strerror(errno)))
            }
            guard link(temporary, path) == 0 else {
                if errno == EEXIST {
                    return try load(path: path, createIfMissing: false, credentialsDirectory: credentialsDirectory)
                }
                throw LoadError.cannotCreate(path, String(cString: strerror(errno)))
            }
            return (AuditKey(bytes: bytes), true)
        }
        // stat, not lstat: a symbolic link's own mode is always 777; what matters is the key file it names.
        var info = stat()
        if stat(path, &info) == 0, Int(info.st_mode) & 0o077 != 0,
            !path.hasPrefix((credentialsDirectory ?? "\u{0}") + "/")
        {
            throw LoadError.insecurePermissions(path, String(Int(info.st_mode) & 0o777, radix: 8))
        }
        guard let data = fm.contents(atPath: path), let text = String(data: data, encoding: .utf8) else {
            throw LoadError.unreadable(path)
        }
        let hex = text.trimmingCharacters(in: .whitespacesAndNewlines)
        guard hex.count == 64, let bytes = Data(hexString: hex) else { throw LoadError.malformed(path) }
        return (AuditKey(bytes: bytes), false)
    }
}
