import Foundation
import Logging
import RetentionCore
import RetentionStore

/// Keeps the erasure ledger up with a run: the entries each batch committed are copied into the
/// ledger from memory as the batch ends, and the run's end only seals them (`finish`), instead of
/// reading every entry of the run back from the trail then — on a run that erased a hundred
/// thousand records that read was a fifth of the run's time.
///
/// The lines a batch adds stay unsealed until `finish` writes the closing line: a crash before it
/// leaves them as a copy cut short, which the next copy cuts and makes again from the trail, as it
/// always did. The ledger is locked for each copy only, never between batches: another process
/// (`hold add`) may copy meanwhile — it then cuts the unsealed lines and copies them from the trail
/// itself, and the next batch's copy, finding the file changed, starts again from where that one
/// left it. A copy that fails is logged and the run goes on: its end copies from the trail
/// whatever the ledger misses, and the next run does so before changing anything.
actor LedgerFollower {
    let ledger: ErasureLedger
    let store: any RecordReader
    let logger: Logger
    /// Where this run's last copy left the ledger; nil once a copy failed (the end reads the trail).
    private var continuation: ErasureLedger.Continuation?
    private var following = true

    private init(
        ledger: ErasureLedger, store: any RecordReader, logger: Logger, continuation: ErasureLedger.Continuation?
    ) {
        self.ledger = ledger
        self.store = store
        self.logger = logger
        self.continuation = continuation
    }

    /// Brings the ledger up to the trail before the run changes anything; throws as `sync` does
    /// (a restore whose erasures were not re-applied).
    static func start(
        _ ledger: ErasureLedger, store: any RecordReader, keep: RetentionDuration?, now: Date, calendar: Calendar,
        logger: Logger
    ) async throws -> LedgerFollower {
        let copied = try await ledger.copy(from: store, closing: true, keep: keep, now: now, calendar: calendar)
        return LedgerFollower(ledger: ledger, store: store, logger: logger, continuation: copied.continuation)
    }

    /// Copies a committed batch's entries (unsealed until `finish`).
    func committed(_ entries: [AuditEntry]) async {
        guard following, !entries.isEmpty else { return }
        do {
            continuation = try await ledger.copy(
                from: store, entries: entries, continuing: continuation, closing: false
            ).continuation
        } catch {
            following = false
            continuation = nil
            logger.warning(
                "the erasure ledger could not follow the run's batches; the run's end copies them from the trail",
                metadata: [
                    "ledger": "\(ledger.path)", "error": "\(error)",
                ])
        }
    }

    /// Copies the rest of the trail and seals what the batches added. Without unsealed lines the
    /// copy reads where the ledger stands from the file, as `sync` does (and may replace a closing
    /// line that sealed nothing but its position).
    func finish(keep: RetentionDuration?, now: Date, calendar: Calendar) async throws {
        let continuing = continuation.flatMap { $0.unsealed > 0 ? $0 : nil }
        _ = try await ledger.copy(
            from: store, continuing: continuing, closing: true, keep: keep, now: now, calendar: calendar)
    }
}
