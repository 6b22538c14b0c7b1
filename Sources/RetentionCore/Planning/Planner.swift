/// Decides, for each record that is past its cutoff, whether the rule acts on it or why not.
///
/// Pure: the same facts give the same decisions. Order matters and is the safe one: a legal hold
/// wins over everything, then consent, then related records, then another rule that keeps a row
/// the action would delete; only then is "already done" checked.
public enum Planner {
    public static func decide(_ candidate: Candidate, rule: RetentionRule, held: Bool, alreadyDone: Bool) -> Decision {
        if held { return .exempt(.legalHold) }
        if candidate.consented { return .exempt(.consent) }
        if candidate.keptByRelated { return .exempt(.relatedRecord) }
        if !candidate.keptByRules.isEmpty { return .exempt(.keptByRule) }
        if case .purge = rule.action, candidate.referencedByUndeclared { return .exempt(.referenced) }
        switch rule.action {
        case .flag, .anonymise:
            if alreadyDone { return .alreadyDone }
        case .purge:
            break
        }
        return .act
    }
}
