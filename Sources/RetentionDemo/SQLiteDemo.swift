import Foundation
import GRDB
import RetentionCore
import RetentionSQLite
import RetentionStore

/// Creates the demo CRM database as a SQLite file.
public enum SQLiteDemo {

    /// Writes a new database at `path` (which must not exist) holding `dataset`.
    public static func create(at path: String, dataset: DemoDataset) async throws {
        guard !FileManager.default.fileExists(atPath: path) else {
            throw DatabaseUnavailable(
                location: "sqlite:\(path)", reason: "the file already exists; the demo only creates new databases")
        }
        let queue = try DatabaseQueue(path: path)
        try queue.close()
        let store = try SQLiteStore(path: path)
        try await store.transaction { try dataset.load(into: $0) }
    }
}
