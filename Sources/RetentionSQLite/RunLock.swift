import Foundation
import RetentionStore

/// The SQLite run lock: exclusive, non-blocking, held for the length of an enforcing run.
///
/// An advisory `flock` on a file beside the database: the kernel releases it if
/// the process dies, so a crashed run never leaves a stale lock behind.
public final class RunLock: RunLockHandle, @unchecked Sendable {
    private let fd: Int32
    public let path: String

    private init(fd: Int32, path: String) {
        self.fd = fd
        self.path = path
    }

    /// Takes the lock or throws `RunLocked.held` at once if another process holds it.
    public static func acquire(path: String) throws -> RunLock {
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            throw RunLocked.failed("cannot open the lock file \(path): \(String(cString: strerror(errno)))")
        }
        if flock(fd, LOCK_EX | LOCK_NB) != 0 {
            let why = errno
            close(fd)
            if why == EWOULDBLOCK {
                throw RunLocked.heldByAnotherRun("the lock \(path)")
            }
            throw RunLocked.failed("cannot lock \(path): \(String(cString: strerror(why)))")
        }
        let pid = "\(getpid())\n"
        _ = ftruncate(fd, 0)
        _ = pid.withCString { write(fd, $0, strlen($0)) }
        return RunLock(fd: fd, path: path)
    }

    deinit {
        flock(fd, LOCK_UN)
        close(fd)
    }
}

extension RunLock {
    /// A `flock` lives as long as the process keeps its descriptor open: it cannot be lost.
    public func confirm(in session: any WritingSession) throws {}

    /// Unlocks now; the descriptor is closed with the handle.
    public func release() async {
        flock(fd, LOCK_UN)
    }
}
