import Foundation

/// A throwaway PgBouncer (Debian `pgbouncer`) in front of the suite's PostgreSQL, in one pool mode,
/// on a free loopback port; stopped when the process exits. As root (CI) it runs as `postgres`, as
/// the server does (PgBouncer refuses to run as root).
public final class PgBouncer: @unchecked Sendable {
    public let port: Int
    let directory: URL

    public enum PoolMode: String, Sendable { case session, transaction }

    nonisolated(unsafe) private static var started: [PoolMode: Result<PgBouncer, PostgresServer.StartFailure>] = [:]
    private static let lock = NSLock()

    /// The pooler of `mode` in front of the shared server, started on first use.
    public static func start(_ mode: PoolMode) async throws -> PgBouncer {
        let server = try await PostgresServer.start()
        return try await offThePool {
            lock.lock()
            defer { lock.unlock() }
            if let existing = started[mode] { return try existing.get() }
            let result: Result<PgBouncer, PostgresServer.StartFailure>
            do {
                result = .success(try PgBouncer(mode: mode, server: server))
            } catch let failure as PostgresServer.StartFailure {
                result = .failure(failure)
            }
            if started.isEmpty { atexit { PgBouncer.stopAll() } }
            started[mode] = result
            return try result.get()
        }
    }

    static func stopAll() {
        for case .success(let bouncer) in started.values { bouncer.stop() }
    }

    private init(mode: PoolMode, server: PostgresServer) throws {
        directory = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent(
            "retentiond-pgbouncer-\(getpid())-\(mode.rawValue)")
        try? FileManager.default.removeItem(at: directory)
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        port = try PostgresServer.freePort()
        let dir = directory.path
        let config = """
            [databases]
            * = host=127.0.0.1 port=\(server.port)

            [pgbouncer]
            listen_addr = 127.0.0.1
            listen_port = \(port)
            unix_socket_dir =
            auth_type = trust
            auth_file = \(dir)/users.txt
            pool_mode = \(mode.rawValue)
            max_client_conn = 500
            default_pool_size = 20
            logfile = \(dir)/pgbouncer.log
            pidfile = \(dir)/pgbouncer.pid

            """
        try config.write(toFile: dir + "/pgbouncer.ini", atomically: true, encoding: .utf8)
        try "\"postgres\" \"\"\n".write(toFile: dir + "/users.txt", atomically: true, encoding: .utf8)
        if getuid() == 0 { try PostgresServer.run("/bin/chown", ["-R", "postgres:postgres", dir]) }
        let binary = "/usr/sbin/pgbouncer"
        guard FileManager.default.isExecutableFile(atPath: binary) else {
            throw PostgresServer.StartFailure(
                message: "\(binary) is missing: install Debian's pgbouncer (.ci/run does)")
        }
        // -d: it daemonizes once listening.
        if getuid() == 0 {
            try PostgresServer.run("/usr/sbin/runuser", ["-u", "postgres", "--", binary, "-d", dir + "/pgbouncer.ini"])
        } else {
            try PostgresServer.run(binary, ["-d", dir + "/pgbouncer.ini"])
        }
        try waitUntilListening()
    }

    /// Until a TCP connection to its port is accepted (it may still be starting as the parent exits).
    private func waitUntilListening() throws {
        for _ in 0..<400 {
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            address.sin_port = in_port_t(UInt16(port).bigEndian)
            let connected = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0
                }
            }
            close(fd)
            if connected { return }
            usleep(50_000)
        }
        let log = (try? String(contentsOfFile: directory.path + "/pgbouncer.log", encoding: .utf8)) ?? ""
        throw PostgresServer.StartFailure(
            message: "pgbouncer did not listen on port \(port) within 20 s: \(log.suffix(2000))")
    }

    func stop() {
        if let text = try? String(contentsOfFile: directory.path + "/pgbouncer.pid", encoding: .utf8),
            let pid = Int32(text.trimmingCharacters(in: .whitespacesAndNewlines))
        {
            // Not SIGTERM: PgBouncer 1.18 catches it and was seen still running hours after the
            // suite ended. A test pooler has nothing to save.
            kill(pid, SIGKILL)
        }
        try? FileManager.default.removeItem(at: directory)
    }
}
