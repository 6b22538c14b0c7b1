import Foundation
import RetentionCore
import RetentionMariaDB
import RetentionStore

/// A throwaway MariaDB server for the test process: `mariadb-install-db` in a temporary directory,
/// `mariadbd` on a free loopback port, stopped when the process exits. As root (CI), the server
/// runs as the `mysql` user. If it cannot start, every test that needs it fails with the reason:
/// nothing is skipped.
public final class MariaDBServer: @unchecked Sendable {
    public let directory: URL
    public let port: Int
    public var socket: String { directory.appendingPathComponent("mysqld.sock").path }
    private var pid: pid_t = 0

    public static let shared: Result<MariaDBServer, PostgresServer.StartFailure> = {
        do {
            let server = try MariaDBServer()
            atexit { MariaDBServer.stopShared() }
            return .success(server)
        } catch let failure as PostgresServer.StartFailure {
            return .failure(PostgresServer.StartFailure(message: "MariaDB: " + failure.message))
        } catch {
            return .failure(PostgresServer.StartFailure(message: "MariaDB: \(error)"))
        }
    }()

    /// The shared server, started on first use without blocking the cooperative pool.
    public static func start() async throws -> MariaDBServer {
        try await offThePool { try shared.get() }
    }

    static func stopShared() {
        if case .success(let server) = shared { server.stop() }
    }

    static func stopGalera() {
        if case .success(let (first, second)) = galera {
            second.stop()
            first.stop()
        }
    }

    /// Two servers joined in one Galera cluster (galera-4, a dependency of Debian's
    /// mariadb-server): the first starts the cluster, the second joins it (state transfer by
    /// rsync) and is returned once synced. A database created on one is on both.
    public static let galera: Result<(MariaDBServer, MariaDBServer), PostgresServer.StartFailure> = {
        do {
            let (first, second) = (try PostgresServer.freePort(), try PostgresServer.freePort())
            func node(_ n: Int, base: Int, joining: String) throws -> MariaDBServer {
                let (ist, sst) = (try PostgresServer.freePort(), try PostgresServer.freePort())
                return try MariaDBServer(
                    arguments: [
                        "--wsrep_on=ON", "--wsrep_provider=/usr/lib/galera/libgalera_smm.so",
                        "--wsrep_cluster_address=gcomm://\(joining)",
                        "--wsrep_node_name=node\(n)", "--wsrep_node_address=127.0.0.1:\(base)",
                        "--wsrep_provider_options=base_port=\(base);ist.recv_addr=127.0.0.1:\(ist)",
                        "--wsrep_sst_method=rsync", "--wsrep_sst_receive_address=127.0.0.1:\(sst)",
                        "--binlog_format=ROW", "--innodb_autoinc_lock_mode=2",
                    ] + (joining.isEmpty ? ["--wsrep-new-cluster"] : []), label: "galera\(n)")
            }
            let starter = try node(1, base: first, joining: "")
            var joiner: MariaDBServer?
            do {
                let second = try node(2, base: second, joining: "127.0.0.1:\(first)")
                joiner = second
                for _ in 0..<600 {
                    let state = try Spawn.runBlocking(
                        "/usr/bin/mariadb",
                        [
                            "--no-defaults", "--socket=\(second.socket)", "--user=root", "--batch",
                            "--skip-column-names", "-e", "SHOW STATUS LIKE 'wsrep_local_state_comment'",
                        ])
                    if state.stdout.contains("Synced") {
                        atexit { MariaDBServer.stopGalera() }
                        return .success((starter, second))
                    }
                    usleep(100_000)
                }
                throw PostgresServer.StartFailure(message: "the second Galera node did not sync within a minute")
            } catch {
                joiner?.stop()
                starter.stop()
                throw error
            }
        } catch let failure as PostgresServer.StartFailure {
            return .failure(PostgresServer.StartFailure(message: "Galera: " + failure.message))
        } catch {
            return .failure(PostgresServer.StartFailure(message: "Galera: \(error)"))
        }
    }()

    /// A server that stores table names in lower case (`lower_case_table_names = 1`, set when its
    /// data directory is made, as on Windows and macOS servers and some Linux installations).
    public static let lowerCaseNames: Result<MariaDBServer, PostgresServer.StartFailure> = {
        do {
            let server = try MariaDBServer(
                arguments: ["--lower-case-table-names=1"], installArguments: ["--lower-case-table-names=1"],
                label: "mariadb-lctn")
            atexit { if case .success(let server) = MariaDBServer.lowerCaseNames { server.stop() } }
            return .success(server)
        } catch let failure as PostgresServer.StartFailure {
            return .failure(failure)
        } catch {
            return .failure(PostgresServer.StartFailure(message: "MariaDB (lower_case_table_names): \(error)"))
        }
    }()

    /// The server that stores table names in lower case, started on first use.
    public static func startLowerCaseNames() async throws -> MariaDBServer {
        try await offThePool { try lowerCaseNames.get() }
    }

    /// The two nodes of the shared Galera cluster, started on first use.
    public static func startGaleraCluster() async throws -> (MariaDBServer, MariaDBServer) {
        try await offThePool { try galera.get() }
    }

    private init(arguments extra: [String] = [], installArguments: [String] = [], label: String = "mariadb") throws {
        directory = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent(
            "retentiond-\(label)-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        port = try PostgresServer.freePort()
        let data = directory.appendingPathComponent("data").path
        // Temporary tables in a directory of its own: not in /tmp, which other processes clean.
        let temporary = directory.appendingPathComponent("tmp")
        try FileManager.default.createDirectory(at: temporary, withIntermediateDirectories: true)
        let user = getuid() == 0 ? ["--user=mysql"] : []
        if getuid() == 0 { try PostgresServer.run("/bin/chown", ["-R", "mysql:mysql", directory.path]) }
        // The bootstrap server mariadb-install-db starts has failed once in CI, with several
        // servers starting beside the whole suite, leaving half its system tables: tried again
        // on a fresh data directory, up to three times, before the suite is told.
        for attempt in 1...3 {
            do {
                try PostgresServer.run(
                    "/usr/bin/mariadb-install-db",
                    [
                        "--no-defaults", "--datadir=\(data)", "--auth-root-authentication-method=normal",
                        "--skip-test-db",
                    ] + user + installArguments)
                break
            } catch let failure as PostgresServer.StartFailure where attempt < 3 {
                try? FileManager.default.removeItem(atPath: data)
                FileHandle.standardError.write(
                    Data(
                        "mariadb-install-db failed (attempt \(attempt) of 3), trying again: \(failure.message.prefix(300))\n"
                            .utf8))
            }
        }
        // Every test at once, as for PostgreSQL: many sessions; durability is not what is tested here.
        var arguments =
            [
                "mariadbd", "--no-defaults", "--datadir=\(data)", "--port=\(port)", "--socket=\(socket)",
                "--bind-address=127.0.0.1",
                "--skip-name-resolve", "--tmpdir=\(temporary.path)", "--max-connections=600",
                "--max-recursive-iterations=100000", "--innodb-flush-log-at-trx-commit=0",
                "--innodb-buffer-pool-size=256M",
                "--log-error=\(directory.appendingPathComponent("server.log").path)",
                "--pid-file=\(directory.appendingPathComponent("mariadbd.pid").path)",
            ] + user + extra
        var spawned: pid_t = 0
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
        PostgresServer.closeInheritedDescriptors(&actions)
        let argv = arguments.map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        guard posix_spawn(&spawned, "/usr/sbin/mariadbd", &actions, nil, argv, environ) == 0 else {
            throw PostgresServer.StartFailure(message: "cannot start /usr/sbin/mariadbd")
        }
        pid = spawned
        arguments.removeAll()
        // Ready once it answers a ping over its socket (each ping waits for the server's answer).
        var lastError = ""
        for _ in 0..<600 {
            let result = try Spawn.runBlocking(
                "/usr/bin/mariadb-admin",
                ["--no-defaults", "--socket=\(socket)", "--user=root", "--connect-timeout=2", "ping"])
            if result.succeeded { return }
            lastError = result.stdout + result.stderr
            var status: Int32 = 0
            if waitpid(spawned, &status, WNOHANG) == spawned {
                let log =
                    (try? String(contentsOfFile: directory.appendingPathComponent("server.log").path, encoding: .utf8))
                    ?? ""
                throw PostgresServer.StartFailure(message: "mariadbd exited (status \(status)): \(log.suffix(2000))")
            }
            usleep(100_000)
        }
        throw PostgresServer.StartFailure(message: "mariadbd did not answer within a minute: \(lastError)")
    }

    func stop() {
        if pid > 0 {
            kill(pid, SIGKILL)
            var status: Int32 = 0
            waitpid(pid, &status, 0)
        }
        try? FileManager.default.removeItem(at: directory)
    }

    /// A URL for `--database-url` / `demo --mariadb`.
    public func url(database: String) -> String {
        "mariadb://root@127.0.0.1:\(port)/\(database)?ssl-mode=disable"
    }

    /// Runs SQL with the `mariadb` client (off the cooperative pool) and returns its tab-separated output.
    @discardableResult
    public func sql(_ database: String, _ sql: String) async throws -> String {
        let (socket, database) = (self.socket, database)
        return try await offThePool {
            try PostgresServer.run(
                "/usr/bin/mariadb",
                [
                    "--no-defaults", "--socket=\(socket)", "--user=root", "--batch", "--skip-column-names",
                    database, "-e", sql,
                ]
            ).trimmingCharacters(in: .whitespacesAndNewlines)
        }
    }

    /// A read-only store on `database`, in this process: for a test that asks the same question
    /// again and again while a run works (a `mariadb` client spawned per question lags seconds
    /// behind the run on a loaded machine).
    public func reader(_ database: String) async throws -> any RecordReader {
        try await MariaDBStore.reader(
            settings: MariaDBLocation(host: "127.0.0.1", port: port, database: database, user: "root", tls: .disable))
    }

    /// Creates an empty database for one test, with the server's usual default collation
    /// (case-insensitive, trailing spaces ignored), the one most applications run with.
    public func createDatabase() async throws -> String {
        let name = "t_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").prefix(16).lowercased()
        try await sql("mysql", "CREATE DATABASE \(name) CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci")
        return name
    }
}
