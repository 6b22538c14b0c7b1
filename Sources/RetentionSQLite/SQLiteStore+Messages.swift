import Foundation
import RetentionStore

/// What the SQLite store says when it cannot open or write the database file, in one place.
extension DatabaseUnavailable {
    /// `stat` failed on the database's path: no such file, or no permission to look.
    static func sqliteFileUnreadable(path: String, errno code: Int32) -> DatabaseUnavailable {
        DatabaseUnavailable(
            location: "sqlite:\(path)",
            reason: code == ENOENT
                ? """
                no such file; check the path: `database.sqlite` in the policy (a relative path is taken from \
                state_dir), or --database-url
                """
                : "cannot read it: \(String(cString: strerror(code)))")
    }

    /// The path names a FIFO, a device or a directory: opening it would block or read garbage.
    static func sqliteNotAFile(path: String) -> DatabaseUnavailable {
        DatabaseUnavailable(
            location: "sqlite:\(path)",
            reason:
                "not a regular file (a FIFO, device or directory); `database.sqlite` must name the SQLite database file"
        )
    }

    /// A read-only open found a hot journal that only a writer may recover (`detail`: SQLite's words).
    static func sqliteNeedsRecovery(path: String, detail: String) -> DatabaseUnavailable {
        DatabaseUnavailable(
            location: "sqlite:\(path)",
            reason: """
                \(detail); a crash left the database needing recovery, which needs write access: run any writing \
                command (`retentiond run`) or `sqlite3 \(path) 'PRAGMA quick_check'` as a user who may write it
                """)
    }

    /// The run's lock file beside the database could not be created or locked (`detail`: why).
    static func sqliteLockFileRefused(location: String, detail: String) -> DatabaseUnavailable {
        DatabaseUnavailable(
            location: location,
            reason: """
                \(detail); retentiond needs write access to the database's directory (SQLite writes its journal there \
                too): grant it to the user running retentiond (under systemd, ReadWritePaths=)
                """)
    }
}

/// What keeps this user from writing the database, as `check` and a refused write say it.
enum SQLiteAccess {
    static let writeAccessHint = """
        the user running retentiond must be able to write the database file and its directory (SQLite writes its \
        journal beside the file): grant it both (under systemd, ReadWritePaths=); `retentiond check` says which is \
        missing
        """

    static func fileNotWritable(_ file: String) -> String {
        """
        the database file \(file) is not writable by this user (uid \(getuid())): enforcing commands change it; grant \
        write access to the user running retentiond
        """
    }

    static func directoryNotWritable(_ directory: String) -> String {
        """
        the directory \(directory) is not writable by this user (uid \(getuid())): SQLite writes its rollback journal \
        there, and retentiond its run lock; grant write access (under systemd, ReadWritePaths=)
        """
    }
}
