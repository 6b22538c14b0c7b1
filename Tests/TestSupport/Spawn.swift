import Foundation

/// Runs a program and waits for it with posix_spawn/waitpid, its output in files. Not Foundation's
/// Process, which notices a child's exit through a descriptor the child's own daemons inherit
/// (pg_ctl's server, a browser's crash handler) and then waits for them instead — and with it
/// every other test waiting on a process.
public enum Spawn {
    public struct Failure: Error, CustomStringConvertible {
        public var description: String
    }

    public struct Result: Sendable {
        public var status: Int32
        public var stdout: String
        public var stderr: String
        /// True when the program exited by itself with status 0.
        public var succeeded: Bool { status == 0 }
    }

    public static func run(_ executable: String, _ arguments: [String]) async throws -> Result {
        try await offThePool { try runBlocking(executable, arguments) }
    }

    /// The same, on the calling thread (call it off the cooperative pool).
    public static func runBlocking(_ executable: String, _ arguments: [String]) throws -> Result {
        let base = NSTemporaryDirectory() + "retentiond-spawn-\(UUID().uuidString)"
        defer {
            unlink(base + ".out")
            unlink(base + ".err")
        }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, base + ".out", O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_addopen(&actions, 2, base + ".err", O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        // Nothing else the test process has open may reach the program or what it leaves running.
        PostgresServer.closeInheritedDescriptors(&actions)
        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var pid = pid_t()
        let spawned = posix_spawn(&pid, executable, &actions, nil, argv, environ)
        guard spawned == 0 else {
            throw Failure(description: "cannot start \(executable): \(String(cString: strerror(spawned)))")
        }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        let exited = (status & 0x7f) == 0
        return Result(
            status: exited ? (status >> 8) & 0xff : 128 + (status & 0x7f),
            stdout: (try? String(contentsOfFile: base + ".out", encoding: .utf8)) ?? "",
            stderr: (try? String(contentsOfFile: base + ".err", encoding: .utf8)) ?? "")
    }
}
