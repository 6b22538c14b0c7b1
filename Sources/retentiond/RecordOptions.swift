import ArgumentParser
import RetentionCore

/// `--subject NAME --key K`: one record, named by its subject's key (`explain`, `erase`).
struct RecordOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("The policy subject the record belongs to.", valueName: "name"))
    var subject: String

    @Option(
        name: .long,
        help: ArgumentHelp(
            "The record's key (the subject's key columns, comma-separated), exactly as stored.", valueName: "key"))
    var key: String

    /// The policy's subject of that name, or exit 3 naming the subjects it has.
    func subject(in policy: Policy) throws -> Subject {
        guard let found = policy.subjects.first(where: { $0.id == subject }) else {
            throw CommandFailure.noSuchSubject(subject, in: policy)
        }
        return found
    }
}
