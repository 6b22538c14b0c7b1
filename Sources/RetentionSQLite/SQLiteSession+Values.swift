import Foundation
import GRDB
import GRDBSQLite
import RetentionCore

/// Values in and out of a prepared statement through SQLite's own calls, for the statements a
/// run repeats thousands of times (its reads, its audit rows).
extension SQLiteSession {
    /// Resets `handle` and binds `values` to its parameters, in order.
    func bind(_ values: [SQLValue], to handle: OpaquePointer, sql: String) throws {
        sqlite3_reset(handle)
        sqlite3_clear_bindings(handle)
        for (i, value) in values.enumerated() {
            let index = Int32(i + 1)
            let code: Int32
            switch value {
            case .null: code = sqlite3_bind_null(handle, index)
            case .integer(let n): code = sqlite3_bind_int64(handle, index, n)
            case .real(let d): code = sqlite3_bind_double(handle, index, d)
            case .text(var text):
                // An empty buffer may have no address, which SQLite would bind as NULL.
                code =
                    text.isEmpty
                    ? sqlite3_bind_text(handle, index, "", 0, Self.transient)
                    : text.withUTF8 {
                        sqlite3_bind_text(handle, index, $0.baseAddress, Int32($0.count), Self.transient)
                    }
            case .blob(let bytes):
                code =
                    bytes.isEmpty
                    ? sqlite3_bind_zeroblob(handle, index, 0)
                    : bytes.withUnsafeBytes {
                        sqlite3_bind_blob(handle, index, $0.baseAddress, Int32($0.count), Self.transient)
                    }
            }
            try check(code, expected: SQLITE_OK, sql: sql)
        }
    }

    /// A failed call as GRDB reports one (`DatabaseError`), with the connection's message.
    func check(_ code: Int32, expected: Int32, sql: String) throws {
        guard code != expected else { return }
        throw DatabaseError(
            resultCode: ResultCode(rawValue: code), message: String(cString: sqlite3_errmsg(db.sqliteConnection)),
            sql: sql)
    }

    /// Column `column` of the current row, converted as GRDB's `DatabaseValue` converts it.
    static func value(_ handle: OpaquePointer, column: Int32) -> SQLValue {
        switch sqlite3_column_type(handle, column) {
        case SQLITE_INTEGER: return .integer(sqlite3_column_int64(handle, column))
        case SQLITE_FLOAT: return .real(sqlite3_column_double(handle, column))
        case SQLITE_TEXT: return .text(String(cString: sqlite3_column_text(handle, column)))
        case SQLITE_BLOB:
            guard let bytes = sqlite3_column_blob(handle, column) else { return .blob(Data()) }
            return .blob(Data(bytes: bytes, count: Int(sqlite3_column_bytes(handle, column))))
        default: return .null
        }
    }

    /// SQLITE_TRANSIENT: SQLite copies the bound bytes before the call returns.
    static let transient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)
}
