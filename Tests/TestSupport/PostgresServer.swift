import Foundation
import RetentionCore
import RetentionPostgres
import RetentionStore

/// A throwaway PostgreSQL server for the test process: initdb in a temporary directory, pg_ctl
/// start on a free loopback port, stopped when the process exits. As root (CI), the server runs as
/// the `postgres` user, since PostgreSQL refuses to run as root. If it cannot start, every test
/// that needs it fails with the reason: nothing is skipped.
public final class PostgresServer: @unchecked Sendable {
    public let directory: URL
    public let port: Int
    public let binDirectory: String

    public static let shared: Result<PostgresServer, StartFailure> = {
        do {
            let server = try PostgresServer()
            atexit { PostgresServer.stopShared() }
            return .success(server)
        } catch let failure as StartFailure {
            return .failure(failure)
        } catch {
            return .failure(StartFailure(message: "\(error)"))
        }
    }()

    public struct StartFailure: Error, CustomStringConvertible {
        public var message: String
        public var description: String { "cannot start a test database server: \(message)" }
    }

    /// The shared server, started on first use without blocking the cooperative pool.
    public static func start() async throws -> PostgresServer {
        try await offThePool { try shared.get() }
    }

    static func stopShared() {
        if case .success(let server) = shared { server.stop() }
    }

    private init() throws {
        binDirectory = Self.findBinDirectory()
        directory = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent(
            "retentiond-pg-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        port = try Self.freePort()
        if getuid() == 0 {
            _ = try Self.run("/bin/chown", ["-R", "postgres:postgres", directory.path])
        }
        let data = directory.appendingPathComponent("data").path
        try runAsServerUser(
            "initdb", ["-D", data, "-A", "trust", "-U", "postgres", "-E", "UTF8", "--no-sync", "--locale=C"])
        // Swift Testing runs every test at once and each PostgreSQL test holds a few sessions while
        // it waits: the engine's tests alone peaked at 188 sessions (268 tests), and the binary's
        // tests share this server too. Idle sessions cost this server little; refused ones fail tests.
        let options =
            "-p \(port) -k \(directory.path) -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=600"
        try runAsServerUser(
            "pg_ctl",
            [
                "-D", data, "-o", options, "-l", directory.appendingPathComponent("server.log").path, "-w", "-t", "60",
                "start",
            ])
    }

    func stop() {
        _ = try? runAsServerUser(
            "pg_ctl", ["-D", directory.appendingPathComponent("data").path, "-m", "immediate", "-w", "stop"])
        try? FileManager.default.removeItem(at: directory)
    }

    private func runAsServerUser(_ tool: String, _ arguments: [String]) throws {
        let path = "\(binDirectory)/\(tool)"
        let output =
            getuid() == 0
            ? try Self.run("/usr/sbin/runuser", ["-u", "postgres", "--", path] + arguments)
            : try Self.run(path, arguments)
        _ = output
    }

    /// Runs a program and waits for it (`Spawn`: Foundation's Process would wait for the server
    /// pg_ctl leaves running); its output when it succeeds.
    @discardableResult
    static func run(_ executable: String, _ arguments: [String]) throws -> String {
        let result: Spawn.Result
        do {
            result = try Spawn.runBlocking(executable, arguments)
        } catch {
            throw StartFailure(message: "\(error)")
        }
        guard result.succeeded else {
            throw StartFailure(
                message:
                    "\(executable) \(arguments.joined(separator: " ")) failed (status \(result.status)): \(result.stdout)\(result.stderr)"
            )
        }
        return result.stdout + result.stderr
    }

    /// Closes every descriptor from 3 up in the child: glibc's `posix_spawn_file_actions_addclosefrom_np`
    /// (looked up at run time; Swift's Glibc module does not declare it), else one close per
    /// descriptor open now.
    static func closeInheritedDescriptors(_ actions: inout posix_spawn_file_actions_t) {
        typealias CloseFrom = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32
        if let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "posix_spawn_file_actions_addclosefrom_np") {
            _ = unsafeBitCast(symbol, to: CloseFrom.self)(&actions, 3)
            return
        }
        for name in (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd")) ?? [] {
            if let fd = Int32(name), fd > 2 { posix_spawn_file_actions_addclose(&actions, fd) }
        }
    }

    static func findBinDirectory() -> String {
        if let output = try? run("/usr/bin/pg_config", ["--bindir"]) {
            let dir = output.trimmingCharacters(in: .whitespacesAndNewlines)
            if FileManager.default.fileExists(atPath: dir + "/initdb") { return dir }
        }
        return "/usr/lib/postgresql/15/bin"
    }

    static func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let ok = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0
            }
        }
        guard ok else { throw StartFailure(message: "no free port on 127.0.0.1") }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    /// A URL for `--database-url` / `demo --postgres`.
    public func url(database: String) -> String {
        "postgres://postgres@127.0.0.1:\(port)/\(database)?sslmode=disable"
    }

    /// A store on `database` in this process, as the test's own application would hold one.
    public func store(_ database: String) async throws -> any RecordStore {
        try await PostgresStore(
            settings: PostgresLocation(
                host: "127.0.0.1", port: port, database: database, user: "postgres", tls: .disable))
    }

    /// Runs SQL with psql (off the cooperative pool) and returns its unaligned, tuples-only output.
    @discardableResult
    public func psql(_ database: String, _ sql: String) async throws -> String {
        let (binDirectory, port) = (self.binDirectory, self.port)
        return try await offThePool {
            try Self.run(
                "\(binDirectory)/psql",
                [
                    "-h", "127.0.0.1", "-p", String(port), "-U", "postgres", "-d", database, "-q", "-t", "-A",
                    "-v", "ON_ERROR_STOP=1", "-c", sql,
                ]
            ).trimmingCharacters(in: .whitespacesAndNewlines)
        }
    }

    /// Creates an empty database for one test.
    public func createDatabase() async throws -> String {
        let name = "t_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").prefix(16).lowercased()
        let (binDirectory, port) = (self.binDirectory, self.port)
        _ = try await offThePool {
            try Self.run(
                "\(binDirectory)/psql",
                [
                    "-h", "127.0.0.1", "-p", String(port), "-U", "postgres", "-d", "postgres", "-q", "-v",
                    "ON_ERROR_STOP=1",
                    "-c", "CREATE DATABASE \(name)",
                ])
        }
        return name
    }
}
