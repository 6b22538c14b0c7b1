import Logging

/// Records the trail's head in the state directory while a run commits batch after batch: the
/// first batch's at once, then at most once per `interval` (the newest position kept until then),
/// and the newest whenever the run flushes — when it stops, fails or closes.
///
/// Each recording is a file written, synced and renamed; once per batch it cost a sync per batch
/// beyond the database's own commit. A crash between two recordings leaves the trail past its
/// recorded head by at most one interval's batches, which is what a crash between a commit and its
/// recording always left: the next run and `audit verify` say so, and only a copy of the head kept
/// elsewhere could tell it from a head file replaced by an older copy (docs/operations.md).
public struct HeadRecorder: Sendable {
    public static let defaultInterval = Duration.seconds(1)
    let anchor: AuditAnchor
    let interval: Duration
    private var pending: TrailPosition?
    private var recordedAt: ContinuousClock.Instant?

    init(anchor: AuditAnchor, interval: Duration = defaultInterval) {
        self.anchor = anchor
        self.interval = interval
    }

    /// Notes a committed batch's position; records it now if the last recording is `interval` old.
    mutating func committed(_ position: TrailPosition) throws {
        pending = position
        if let recordedAt, ContinuousClock.now - recordedAt < interval { return }
        try flush()
    }

    /// Records the newest position noted and not yet recorded, if any.
    mutating func flush() throws {
        guard let position = pending else { return }
        try anchor.record(position)
        pending = nil
        recordedAt = .now
    }

    /// Records the newest position after `error` ended the batches, so a run that stopped or
    /// failed still leaves its committed batches anchored; a head that cannot be written then is
    /// logged beside the error that ended the run (the next run says the trail is past its head).
    mutating func flushAfter(_ error: any Error, logger: Logger) {
        do { try flush() } catch let recording {
            logger.error(
                "the audit head could not be recorded after the run stopped",
                metadata: [
                    "error": "\(recording)", "stopped_by": "\(error)",
                ])
        }
    }
}
