import Foundation

/// The ledger file, open and locked (`flock`, exclusive) until closed.
final class LockedFile: @unchecked Sendable {
    let path: String
    let fd: Int32

    /// Opens and locks `path`, waiting while another holder has it — without blocking a thread:
    /// the lock is held across awaits, and holders waiting in `flock` on every thread of the
    /// cooperative pool (two workers in one process, on two cores) would keep the one holding it
    /// from ever resuming to let it go.
    static func locking(_ path: String) async throws -> LockedFile {
        while true {
            if let file = try LockedFile(path: path) { return file }
            try await Task.sleep(for: .milliseconds(10))
        }
    }

    /// Nil when another holder has the lock.
    private init?(path: String) throws {
        fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw StateFiles.cannotWrite(path, errno: errno) }
        self.path = path
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            let code = errno
            Foundation.close(fd)
            if code == EWOULDBLOCK { return nil }
            throw StateFiles.cannotWrite(path, errno: code)
        }
    }

    func close() { Foundation.close(fd) }

    /// The file as it stands: another process that wrote to it, or replaced it, changed this.
    struct Identity: Sendable, Equatable {
        var device: UInt64
        var inode: UInt64
        var length: Int
    }

    var identity: Identity {
        var info = stat()
        guard fstat(fd, &info) == 0 else { return Identity(device: 0, inode: 0, length: -1) }
        return Identity(device: UInt64(info.st_dev), inode: UInt64(info.st_ino), length: Int(info.st_size))
    }

    var length: Int {
        var info = stat()
        return fstat(fd, &info) == 0 ? Int(info.st_size) : 0
    }

    func contents() throws -> Data {
        var data = Data()
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        var offset: off_t = 0
        while true {
            let n = pread(fd, &buffer, buffer.count, offset)
            if n < 0 { throw StateFiles.cannotWrite(path, errno: errno) }
            if n == 0 { break }
            data.append(buffer, count: n)
            offset += off_t(n)
        }
        return data
    }

    /// Where the last sync ended.
    struct Tail {
        /// The last line that closes a sync (`Line.closes`), nil when there is none.
        var line: ErasureLedger.Line?
        /// The length of the file up to that line's start, and up to its end.
        var start = 0
        var end = 0
        /// The seal of the line before it when that line closes a copy too (then the last one
        /// seals nothing but its position, and may be replaced).
        var sealBefore: String?
    }

    /// Reads back from the end of the file only as far as the last closing line and the line
    /// before it.
    func tail() throws -> Tail {
        let size = length
        var window = 1 << 16
        let decoder = JSONDecoder()
        while true {
            let from = max(0, size - window)
            let data = try read(from: from, count: size - from)
            // The first line of the window may be cut: it is read whole when the window grows.
            var ends: [Int] = []
            var index = data.startIndex
            while let newline = data[index...].firstIndex(of: 0x0A) {
                ends.append(newline)
                index = newline + 1
            }
            func start(_ i: Int) -> Int { i == 0 ? data.startIndex : ends[i - 1] + 1 }
            func whole(_ i: Int) -> Bool { i > 0 || from == 0 }
            search: for i in ends.indices.reversed() {
                guard whole(i) else { break }
                guard let line = try? decoder.decode(ErasureLedger.Line.self, from: data[start(i)..<ends[i]]),
                    line.closes
                else { continue }
                var tail = Tail(
                    line: line, start: from + (start(i) - data.startIndex), end: from + (ends[i] - data.startIndex) + 1)
                if i > 0 {
                    guard whole(i - 1) else { break search }
                    guard
                        let before = try? decoder.decode(
                            ErasureLedger.Line.self, from: data[start(i - 1)..<ends[i - 1]])
                    else {
                        throw EnforcementError.ledgerDamaged(path: path)
                    }
                    if before.closes { tail.sealBefore = before.mac }
                }
                return tail
            }
            if from == 0 { return Tail() }
            window *= 4
        }
    }

    /// The first `entry` line, read from the beginning of the file.
    func firstEntry() throws -> ErasureLedger.Line? {
        let decoder = JSONDecoder()
        var offset = 0
        var carry = Data()
        while true {
            let chunk = try read(from: offset, count: 1 << 16)
            if chunk.isEmpty { return nil }
            offset += chunk.count
            carry.append(chunk)
            while let newline = carry.firstIndex(of: 0x0A) {
                let line = try? decoder.decode(ErasureLedger.Line.self, from: carry[carry.startIndex..<newline])
                carry = Data(carry[(newline + 1)...])
                if let line, line.kind == .entry { return line }
            }
        }
    }

    func read(from offset: Int, count: Int) throws -> Data {
        var buffer = [UInt8](repeating: 0, count: count)
        var done = 0
        while done < count {
            let n = buffer.withUnsafeMutableBytes {
                pread(fd, $0.baseAddress! + done, count - done, off_t(offset + done))
            }
            if n < 0 { throw StateFiles.cannotWrite(path, errno: errno) }
            if n == 0 { break }
            done += n
        }
        return Data(buffer.prefix(done))
    }

    func truncate(to length: Int) throws {
        guard ftruncate(fd, off_t(length)) == 0 else { throw StateFiles.cannotWrite(path, errno: errno) }
    }

    /// Writes `data` at the end of the file (not yet synced: `sync` after the last write).
    func write(_ data: Data) throws {
        var offset = off_t(length)
        try data.withUnsafeBytes { buffer in
            var written = 0
            while written < buffer.count {
                let n = pwrite(fd, buffer.baseAddress! + written, buffer.count - written, offset)
                guard n > 0 else { throw StateFiles.cannotWrite(path, errno: n == 0 ? EIO : errno) }
                written += n
                offset += off_t(n)
            }
        }
    }

    func sync() throws {
        guard fsync(fd) == 0 else { throw StateFiles.cannotWrite(path, errno: errno) }
    }
}
