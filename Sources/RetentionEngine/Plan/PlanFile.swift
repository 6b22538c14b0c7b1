import Foundation
import RetentionCore

/// Writes a plan as JSON lines while the planner streams through the database.
final class PlanWriter {
    private let handle: FileHandle
    private let encoder = PlanDocument.encoder()
    private var buffer: [UInt8] = []
    let path: String
    /// The header and trailer written, so that the process that planned can apply its own plan
    /// without reading the file through once more to find them.
    private(set) var header: PlanDocument.Header?
    private(set) var trailer: PlanDocument.Trailer?

    init(path: String) throws {
        self.path = path
        try StateFiles.ensureDirectory((path as NSString).deletingLastPathComponent)
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        guard fd >= 0 else { throw StateFiles.cannotWrite(path, errno: errno) }
        handle = FileHandle(fileDescriptor: fd, closeOnDealloc: true)
    }

    func write(_ line: PlanDocument.Line) throws {
        if case .header(let h) = line { header = h }
        if case .trailer(let t) = line { trailer = t }
        // An entry line (one per record) is written by hand; the rest, and an entry holding a real
        // or a blob, through the encoder.
        var written = false
        if case .entry(let entry) = line { written = PlanDocument.EntryLine.encode(entry, into: &buffer) }
        if !written { buffer.append(contentsOf: try encoder.encode(line)) }
        buffer.append(0x0A)
        if buffer.count > 1 << 16 { try flush() }
    }

    /// Foundation reports write errors as Cocoa errors; the operator gets the system's reason.
    private func writing(_ body: () throws -> Void) throws {
        do {
            try body()
        } catch {
            let underlying = (error as NSError).userInfo[NSUnderlyingErrorKey] as? NSError
            throw StateFiles.cannotWrite(
                path, errno: underlying?.domain == NSPOSIXErrorDomain ? Int32(underlying!.code) : EIO)
        }
    }

    func flush() throws {
        try writing { try handle.write(contentsOf: buffer) }
        buffer.removeAll(keepingCapacity: true)
    }

    func close() throws {
        try flush()
        try writing {
            try handle.synchronize()
            try handle.close()
        }
    }
}

/// Reads a plan file line by line, in constant memory.
final class PlanReader {
    private let handle: FileHandle
    private var buffer: [UInt8] = []
    /// Where the next line starts in `buffer`: lines are read by moving it, and the consumed part
    /// is dropped once per chunk (not once per line, which moved the rest of the chunk every time).
    private var start = 0
    private var atEnd = false
    private let decoder = PlanDocument.decoder()
    let path: String
    private(set) var lineNumber = 0

    init(path: String) throws {
        self.path = path
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw EnforcementError.planUnreadable(path: path)
        }
        self.handle = handle
    }

    func next() throws -> PlanDocument.Line? {
        while true {
            if let newline = nextNewline() {
                let line = buffer[start..<newline]
                start = newline + 1
                lineNumber += 1
                if line.isEmpty { continue }
                if let entry = PlanDocument.EntryLine.decode(line) { return .entry(entry) }
                do {
                    return try decoder.decode(PlanDocument.Line.self, from: Data(line))
                } catch {
                    throw EnforcementError.notAPlanLine(path: path, line: lineNumber)
                }
            }
            if atEnd {
                guard start == buffer.count else {
                    throw EnforcementError.planTruncated(path: path, line: lineNumber + 1)
                }
                return nil
            }
            let chunk = handle.readData(ofLength: 1 << 16)
            if chunk.isEmpty {
                atEnd = true
            } else {
                buffer.removeSubrange(..<start)
                buffer.append(contentsOf: chunk)
                start = 0
            }
        }
    }

    /// The index of the next newline at or after `start` (memchr: a plan is millions of bytes).
    private func nextNewline() -> Int? {
        buffer.withUnsafeBufferPointer { bytes in
            guard start < bytes.count, let base = bytes.baseAddress,
                let hit = memchr(base + start, 0x0A, bytes.count - start)
            else { return nil }
            return base.distance(to: hit.assumingMemoryBound(to: UInt8.self))
        }
    }
}
