import Foundation
import Testing

@testable import RetentionCore

@Suite struct PlannerTests {
    func rule(_ action: RuleAction) -> RetentionRule {
        let here = SourceLocation(file: "p.yaml", line: 1, column: 1)
        return RetentionRule(
            id: "r", subjectID: "s", location: here, register: "reg", legalBasis: "basis",
            clock: RetentionClock(columns: [Name("c", at: here)]), after: RetentionDuration(years: 1), action: action,
            exemptions: Exemptions(), safety: SafetyLimits())
    }

    let key = RecordKey([.integer(1)])

    @Test func aLegalHoldWinsOverEverything() {
        let c = Candidate(key: key, consented: true, keptByRelated: true, referencedByUndeclared: true)
        #expect(
            Planner.decide(c, rule: rule(.purge(.foreignKeys)), held: true, alreadyDone: false) == .exempt(.legalHold))
    }

    @Test func consentThenRelatedRecordsThenReferencesKeepARecord() {
        #expect(
            Planner.decide(
                Candidate(key: key, consented: true, keptByRelated: true), rule: rule(.flag), held: false,
                alreadyDone: false) == .exempt(.consent))
        #expect(
            Planner.decide(Candidate(key: key, keptByRelated: true), rule: rule(.flag), held: false, alreadyDone: false)
                == .exempt(.relatedRecord))
        #expect(
            Planner.decide(
                Candidate(key: key, referencedByUndeclared: true), rule: rule(.purge(.declared([]))), held: false,
                alreadyDone: false) == .exempt(.referenced))
    }

    @Test func referencesOnlyMatterToPurges() {
        #expect(
            Planner.decide(
                Candidate(key: key, referencedByUndeclared: true), rule: rule(.anonymise([])), held: false,
                alreadyDone: false) == .act)
    }

    @Test func whatARuleAlreadyDidIsNotDoneAgain() {
        #expect(
            Planner.decide(Candidate(key: key), rule: rule(.anonymise([])), held: false, alreadyDone: true)
                == .alreadyDone)
        #expect(Planner.decide(Candidate(key: key), rule: rule(.flag), held: false, alreadyDone: true) == .alreadyDone)
        #expect(Planner.decide(Candidate(key: key), rule: rule(.flag), held: false, alreadyDone: false) == .act)
    }
}

/// Plan entry lines written and read without Codable must mean exactly what Codable reads.
@Suite struct PlanEntryLineTests {
    func codable(_ line: [UInt8]) throws -> PlanDocument.Entry? {
        if case .entry(let e) = try PlanDocument.decoder().decode(PlanDocument.Line.self, from: Data(line)) { return e }
        return nil
    }

    @Test func linesWrittenByHandReadBackAsCodableReadsThem() throws {
        var rng = SystemRandomNumberGenerator()
        let alphabet = Array("aé\"\\/\n\r\t\u{1}\u{8}\u{c}\u{1f}z 0😀,:[]{}".unicodeScalars)
        for _ in 0..<2000 {
            func text() -> String {
                String(
                    String.UnicodeScalarView(
                        (0..<Int.random(in: 0...12, using: &rng)).map { _ in alphabet.randomElement(using: &rng)! }))
            }
            func value() -> SQLValue {
                switch Int.random(in: 0..<3, using: &rng) {
                case 0: return .null
                case 1: return .integer(Int64.random(in: Int64.min...Int64.max, using: &rng))
                default: return .text(text())
                }
            }
            let entry = PlanDocument.Entry(
                rule: text(), key: RecordKey((0..<Int.random(in: 1...3, using: &rng)).map { _ in value() }),
                action: text(), clock: (0..<Int.random(in: 0...2, using: &rng)).map { _ in value() })
            let line = try #require(PlanDocument.EntryLine.encode(entry))
            let viaCodable = try #require(try codable(line))
            let viaHand = try #require(PlanDocument.EntryLine.decode(line))
            #expect(
                viaHand.rule == entry.rule && viaHand.action == entry.action && viaHand.key == entry.key
                    && viaHand.clock == entry.clock)
            #expect(
                viaCodable.rule == entry.rule && viaCodable.action == entry.action && viaCodable.key == entry.key
                    && viaCodable.clock == entry.clock)
            // And what JSONEncoder writes reads back the same by hand.
            let encoded = [UInt8](try PlanDocument.encoder().encode(PlanDocument.Line.entry(entry)))
            if let again = PlanDocument.EntryLine.decode(encoded) {
                #expect(again.key == entry.key && again.clock == entry.clock && again.rule == entry.rule)
            }
        }
    }

    @Test func integerEdgesReadBackExactly() throws {
        for n in [Int64.min, Int64.min + 1, -10, -1, 0, 1, 9, 10, Int64.max - 1, Int64.max] {
            let entry = PlanDocument.Entry(
                rule: "r", key: RecordKey([.integer(n)]), action: "purge", clock: [.integer(n)])
            let line = try #require(PlanDocument.EntryLine.encode(entry))
            #expect(PlanDocument.EntryLine.decode(line)?.key == entry.key, "\(n)")
            #expect(PlanDocument.EntryLine.decode(line)?.clock == entry.clock, "\(n)")
            #expect(
                String(decoding: line, as: UTF8.self).contains(#""key":[\#(n)]"#), "written as Swift writes it: \(n)")
        }
        for text in ["9223372036854775808", "-9223372036854775809", "-", "--1", "1-"] {
            #expect(
                PlanDocument.EntryLine.decode(
                    Array(#"{"entry":{"action":"purge","clock":[],"key":[\#(text)],"rule":"r"}}"#.utf8)) == nil,
                "\(text)")
        }
    }

    @Test func otherShapesAreLeftToCodable() throws {
        let real = PlanDocument.Entry(rule: "r", key: RecordKey([.real(2460000.5)]), action: "purge", clock: [])
        #expect(PlanDocument.EntryLine.encode(real) == nil)
        // Written into a buffer holding earlier lines: the buffer is left as it was.
        var buffer = Array("earlier line\n".utf8)
        #expect(!PlanDocument.EntryLine.encode(real, into: &buffer))
        #expect(buffer == Array("earlier line\n".utf8))
        for line in [
            #"{"entry": {"action":"purge","clock":[],"key":[1],"rule":"r"}}"#,
            #"{"entry":{"action":"purge","clock":[1.5],"key":[1],"rule":"r"}}"#,
            #"{"entry":{"rule":"r","action":"purge","clock":[],"key":[1]}}"#,
            #"{"entry":{"action":"purge","clock":[],"key":[1],"rule":"r"}} "#,
            #"{"entry":{"action":"purge","clock":["\u00e9"],"key":[1],"rule":"r"}}"#,
        ] {
            #expect(PlanDocument.EntryLine.decode(Array(line.utf8)) == nil, "\(line)")
            #expect(try codable(Array(line.trimmingCharacters(in: .whitespaces).utf8)) != nil, "\(line)")
        }
    }
}
