import Foundation
import TestSupport

/// A Unix datagram socket standing in for systemd's notification socket.
final class NotifySocket: @unchecked Sendable {
    let path: String
    private let fd: Int32
    private(set) var messages: [String] = []

    init() throws {
        path =
            FileManager.default.temporaryDirectory.appendingPathComponent("notify-\(UUID().uuidString.prefix(8)).sock")
            .path
        fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: bytes) }
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        guard bound == 0 else { throw POSIXError(.EADDRINUSE) }
        var timeout = timeval(tv_sec: 0, tv_usec: 100_000)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    }

    deinit {
        close(fd)
        unlink(path)
    }

    /// Receives until a message satisfies `predicate`, or `stillWaiting` says there is no point
    /// (the service exited); returns that message. Waits off the cooperative pool; the socket's
    /// 100 ms receive timeout is how often `stillWaiting` is asked, not a bound.
    func waitFor(while stillWaiting: @escaping @Sendable () -> Bool, _ predicate: @escaping @Sendable (String) -> Bool)
        async throws -> String?
    {
        try await offThePool { self.receive(while: stillWaiting, predicate) }
    }

    private func receive(while stillWaiting: () -> Bool, _ predicate: (String) -> Bool) -> String? {
        if let found = messages.first(where: predicate) { return found }
        var buffer = [UInt8](repeating: 0, count: 8192)
        while true {
            let n = recv(fd, &buffer, buffer.count, 0)
            if n > 0 {
                let message = String(decoding: buffer[0..<n], as: UTF8.self)
                messages.append(message)
                if predicate(message) { return message }
            } else if !stillWaiting() {
                return nil
            }
        }
    }
}

/// `retentiond serve` started as systemd would start it.
final class ServiceProcess: @unchecked Sendable {
    let process: Process
    let stderrPath: String
    let notify: NotifySocket

    init(arguments: [String], in directory: URL, notify: NotifySocket, watchdogMicroseconds: Int? = nil) throws {
        self.notify = notify
        stderrPath = directory.appendingPathComponent("serve-\(UUID().uuidString.prefix(8)).err").path
        _ = FileManager.default.createFile(atPath: stderrPath, contents: nil)
        process = BinaryRunner.process(["serve"] + arguments, in: directory)
        process.environment?["NOTIFY_SOCKET"] = notify.path
        if let watchdogMicroseconds { process.environment?["WATCHDOG_USEC"] = String(watchdogMicroseconds) }
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle(forWritingAtPath: stderrPath)
        try process.run()
    }

    deinit { if process.isRunning { process.terminate() } }

    func signal(_ number: Int32) { kill(process.processIdentifier, number) }

    /// The first notification satisfying `predicate`; nil if the service exited without sending it.
    @discardableResult
    func notification(_ predicate: @escaping @Sendable (String) -> Bool) async throws -> String? {
        let process = self.process
        return try await notify.waitFor(while: { process.isRunning }, predicate)
    }

    /// Waits for the process to exit (the suite's time limit guards against a hang).
    func exitStatus() async throws -> Int32 {
        try await process.exited()
        return process.terminationStatus
    }

    var stderr: String { (try? String(contentsOfFile: stderrPath, encoding: .utf8)) ?? "" }
}
