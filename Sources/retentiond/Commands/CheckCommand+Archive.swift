import Foundation
import RetentionCore
import RetentionEngine
import RetentionStore

/// What `check` says of the archive: where it is, whether it exists yet, and who can read it —
/// an intermediate archive is for the few who need it (docs/operations.md, "The archive").
extension CheckCommand {
    struct ArchiveAccess: Encodable {
        var database: String
        /// Rules of the archive's own (`phase: archive`); `check --archive` validates them.
        var rules: Int
        var exists: Bool
        /// SQLite: the file's owner and mode.
        var owner: String?
        var mode: String?
        /// PostgreSQL, MariaDB: the accounts that may read an archived table.
        var readers: [TableReader] = []
        var warnings: [String] = []
    }

    /// Nil when the policy names no archive. `live`: the application's database, whose readers
    /// are the application's accounts.
    func archiveAccess(_ resolved: ResolvedPolicy, live: any RecordReader) async throws -> ArchiveAccess? {
        let whole = try options.loadWholePolicy()
        guard let archive = whole.settings.archive else { return nil }
        let rules = whole.policy.enforced(in: .archive).rules
        let tables = resolved.archivedTables.map(\.name)
        var access = ArchiveAccess(database: archive.displayName, rules: rules.count, exists: false)
        if case .sqlite(let path) = archive {
            var info = stat()
            guard stat(path, &info) == 0 else { return access }
            access.exists = true
            access.owner = getpwuid(info.st_uid).map { String(cString: $0.pointee.pw_name) } ?? "uid \(info.st_uid)"
            let mode = info.st_mode & 0o777
            access.mode = String(mode, radix: 8)
            if mode & 0o077 != 0 {
                let who = [mode & 0o070 != 0 ? "its group" : nil, mode & 0o007 != 0 ? "every user" : nil].compactMap {
                    $0
                }.joined(separator: " and ")
                access.warnings.append(
                    "the archive \(path) may be read by \(who) (mode \(String(mode, radix: 8))), not only by its owner: `chmod 600 \(path)`"
                )
            }
            return access
        }
        let reader = try await options.openReader(archive)
        let (readers, present, role) = try await reader.read { session in
            let schema = try session.schema()
            return (
                try session.readers(of: tables), tables.filter { schema.table($0) != nil },
                try session.privileges([]).role
            )
        }
        access.exists = !tables.isEmpty && present.count == tables.count
        access.readers = readers
        // The application's accounts: those that may read its tables, other than retentiond's own.
        let own = role.map(Self.account)
        let application = Set(
            try await live.read { try $0.readers(of: resolved.policy.subjects.map(\.table.value)) }
                .filter { !$0.everything && Self.account($0.name) != own }.map(\.name))
        let both = readers.filter { application.contains($0.name) }.map(\.name)
        if !both.isEmpty {
            access.warnings.append(
                "\(both.map { "`\($0)`" }.joined(separator: ", ")), which may read the application's tables, may read the archive too: revoke its SELECT on the archive's tables (docs/operations.md, \"The archive\")"
            )
        }
        return access
    }

    /// An account's name without quotes (`'app'@'%'` and `app@%` are one account).
    static func account(_ name: String) -> String {
        name.replacingOccurrences(of: "'", with: "").replacingOccurrences(of: "`", with: "")
    }

    static func describe(_ access: ArchiveAccess) -> String {
        var text =
            "archive: \(access.database), \(access.rules) rule(s) of its own (`check --archive` validates them)\n"
        if !access.exists {
            text +=
                "  not made yet: the first run that archives a record creates its tables\(access.database.hasPrefix("sqlite:") ? ", in a file only its owner may read (mode 600)" : "")\n"
        }
        if let owner = access.owner, let mode = access.mode {
            text += "  readable by: \(owner) (the file's owner, mode \(mode))\n"
        }
        if !access.readers.isEmpty {
            text +=
                "  readable by: "
                + access.readers.map { $0.everything ? "\($0.name) (every table)" : $0.name }.joined(separator: ", ")
                + "\n"
        }
        return text
    }
}
