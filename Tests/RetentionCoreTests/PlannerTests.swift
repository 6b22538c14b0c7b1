import Foundation
import Testing
@testable import RetentionCore

@Suite struct PlannerTests {
    func rule(_ action: RuleAction) -> RetentionRule {
        let here = SourceLocation(file: "p.yaml", line: 1, column: 1)
        return RetentionRule(id: "r", subjectID: "s", location: here, register: "reg", legalBasis: "basis",
                             clock: Clock(columns: [Name("c", at: here)]), after: RetentionDuration(years: 1), action: action,
                             exemptions: Exemptions(), safety: SafetyLimits())
    }

    let key = RecordKey([.integer(1)])

    @Test func aLegalHoldWinsOverEverything() {
        let c = Candidate(key: key, consented: true, keptByRelated: true, referencedByUndeclared: true)
        #expect(Planner.decide(c, rule: rule(.purge(.foreignKeys)), held: true, alreadyDone: false) == .exempt(.legalHold))
    }

    @Test func consentThenRelatedRecordsThenReferencesKeepARecord() {
        #expect(Planner.decide(Candidate(key: key, consented: true, keptByRelated: true), rule: rule(.flag), held: false, alreadyDone: false) == .exempt(.consent))
        #expect(Planner.decide(Candidate(key: key, keptByRelated: true), rule: rule(.flag), held: false, alreadyDone: false) == .exempt(.relatedRecord))
        #expect(Planner.decide(Candidate(key: key, referencedByUndeclared: true), rule: rule(.purge(.declared([]))), held: false, alreadyDone: false) == .exempt(.referenced))
    }

    @Test func referencesOnlyMatterToPurges() {
        #expect(Planner.decide(Candidate(key: key, referencedByUndeclared: true), rule: rule(.anonymise([])), held: false, alreadyDone: false) == .act)
    }

    @Test func whatARuleAlreadyDidIsNotDoneAgain() {
        #expect(Planner.decide(Candidate(key: key), rule: rule(.anonymise([])), held: false, alreadyDone: true) == .alreadyDone)
        #expect(Planner.decide(Candidate(key: key), rule: rule(.flag), held: false, alreadyDone: true) == .alreadyDone)
        #expect(Planner.decide(Candidate(key: key), rule: rule(.flag), held: false, alreadyDone: false) == .act)
    }
}
