import Foundation
import Yams

/// A rule and its clock.
extension PolicyReader {
    mutating func rule(_ node: Node, subjectID: String, subjectExemptions: Exemptions, defaultSafety: SafetyLimits)
        -> RetentionRule?
    {
        guard let map = mapping(node, "a rule") else { return nil }
        guard let idNode = map.value("id"), let id = string(idNode, "rule id") else {
            if map.value("id") == nil {
                error(
                    node, "a rule of subject `\(subjectID)` has no `id`",
                    hint: "add `id: some-name`; reports and the audit trail name rules by id")
            }
            return nil
        }
        let what = "rule `\(id)`"
        if let first = ruleIDs[id] {
            error(
                idNode, "rule id `\(id)` is already used at \(first)",
                hint: "rule ids must be unique; the audit trail and reports name rules by id")
        } else {
            ruleIDs[id] = at(idNode)
        }
        checkKeys(map, allowed: Self.ruleKeys, in: what)
        let register = string(map.value("register"), "\(what).register")
        if map.value("register") == nil {
            error(
                node, "\(what) does not name its register entry",
                hint: "add `register: \"…\"` with the register of processing activities entry it enforces")
        }
        let legalBasis = string(map.value("legal_basis"), "\(what).legal_basis")
        if map.value("legal_basis") == nil {
            error(
                node, "\(what) has no `legal_basis`",
                hint: "say why the data may be kept until then, e.g. `legal_basis: \"contract\"`")
        }
        let clock = self.clock(map.value("clock"), what)
        if map.value("clock") == nil {
            error(
                node, "\(what) has no `clock`",
                hint: "name the date column retention counts from, e.g. `clock: closed_at`")
        }
        let after = duration(map.value("after"), "\(what).after")
        if map.value("after") == nil {
            error(node, "\(what) has no `after`", hint: "how long after the clock, e.g. `after: 3y`")
        }

        var action: RuleAction?
        if let a = map.value("action"), let text = string(a, "\(what).action") {
            switch text {
            case "flag":
                action = .flag
                if let f = map.value("fields") { error(f, "`fields` is for anonymise rules") }
                if let c = map.value("children") { error(c, "`children` is for purge rules") }
            case "anonymise", "anonymize":
                var children: [ChildTable] = []
                if let c = map.value("children") {
                    if case .scalar(let s) = c, s.string == "auto" {
                        error(
                            c, "`children: auto` is for purge rules",
                            hint:
                                "list the children an anonymisation reaches, each with its `action` (purge or anonymise)"
                        )
                    } else if let list = childTables(c, what, anonymising: true) {
                        children = list
                    }
                }
                if let f = map.value("fields") {
                    if let fields = fieldStrategies(f, what) { action = .anonymise(fields, children: children) }
                } else {
                    error(a, "\(what) anonymises but lists no `fields`", hint: "add `fields: { email: null, … }`")
                }
            case "purge", "archive":
                if let f = map.value("fields") { error(f, "`fields` is for anonymise rules") }
                if text == "archive", let c = map.value("children"), case .scalar(let s) = c, s.string == "auto" {
                    error(
                        c, "`children: auto` is for purge rules",
                        hint:
                            "list the children archived with the record: they are copied into the archive by their primary keys"
                    )
                    break
                }
                if let c = map.value("children") {
                    if case .scalar(let s) = c, s.string == "auto" {
                        action = .purge(.foreignKeys)
                    } else if let list = childTables(c, what, anonymising: false) {
                        action = .purge(.declared(list))
                    }
                } else {
                    action = .purge(.declared([]))
                }
            default:
                error(a, "unknown action `\(text)`", hint: "use flag, anonymise, purge or archive")
            }
        } else if map.value("action") == nil {
            error(node, "\(what) has no `action`", hint: "use flag, anonymise, purge or archive")
        }

        let exemptions = subjectExemptions.merged(
            with: exemptionList(map.value("exempt"), "\(what).exempt") ?? Exemptions())
        let safety = defaultSafety.overriding(with: safetyLimits(map.value("safety"), "\(what).safety"))
        var overrides: [Name] = []
        if let o = map.value("overrides") {
            if case .flag? = action {
                error(o, "`overrides` is for rules that delete (purge, or anonymise with children)")
            }
            overrides = ruleReferences(o, "\(what).overrides") ?? []
        }
        let archives = (map.value("action").flatMap { string($0, "\(what).action") }) == "archive"
        if archives, case .purge(.declared(let children))? = action, let a = map.value("action") {
            refuseUnarchivable(children, at: a, what)
        }
        var phase = Phase.active
        if let p = map.value("phase"), let text = string(p, "\(what).phase") {
            if let value = Phase(rawValue: text) {
                phase = value
            } else {
                error(
                    p, "unknown phase `\(text)`",
                    hint:
                        "use active (the application's database, the default) or archive (the records `action: archive` moved)"
                )
            }
            if phase == .archive && archives {
                error(
                    p, "\(what) archives records that are already in the archive",
                    hint: "the archive is the last phase: purge or anonymise its records there")
            }
        }
        var copies: [ArchiveCopy] = []
        if let node = map.value("copies") {
            if archives {
                copies = archiveCopies(node, what)
            } else {
                error(
                    node, "`copies` is for rules that archive",
                    hint: "it names rows copied into the archive with the records an `action: archive` rule moves")
            }
        }
        var statistics: RuleStatistics?
        if let node = map.value("statistics") {
            if archives {
                error(
                    node, "`statistics` is for rules that erase (purge or anonymise)",
                    hint: "archiving keeps the records: count them in the rule that purges them from the archive")
            } else if case .flag? = action {
                error(
                    node, "`statistics` is for rules that erase (purge or anonymise)",
                    hint: "flagging erases nothing: the records stay to be counted")
            } else {
                statistics = self.statistics(node, what)
            }
        }
        guard let clock, let after, let action, let register, let legalBasis else { return nil }
        var rule = RetentionRule(
            id: id, subjectID: subjectID, location: at(idNode), register: register, legalBasis: legalBasis,
            clock: clock, after: after, action: action, exemptions: exemptions, safety: safety)
        rule.overrides = overrides
        rule.statistics = statistics
        rule.archives = archives
        rule.phase = phase
        rule.copies = copies
        return rule
    }

    /// `copies: [{ table: llx_societe, foreign_key: fk_soc }]` (`references` optional).
    mutating func archiveCopies(_ node: Node, _ what: String) -> [ArchiveCopy] {
        guard case .sequence(let items) = node else {
            error(
                node, "`copies` is a list of `{ table, foreign_key, references }`",
                hint: "e.g. `copies: [{ table: llx_societe, foreign_key: fk_soc }]`")
            return []
        }
        var copies: [ArchiveCopy] = []
        for item in items {
            guard let map = mapping(item, "\(what).copies item") else { continue }
            checkKeys(map, allowed: ["table", "foreign_key", "references"], in: "\(what).copies item")
            let table = name(map.value("table"), "\(what).copies table")
            let foreignKey = map.value("foreign_key").flatMap { names($0, "\(what).copies foreign_key") }
            let references = map.value("references").flatMap { names($0, "\(what).copies references") } ?? []
            guard let table, let foreignKey else {
                error(
                    item,
                    "a copied table needs `table` and `foreign_key` (the record's columns that point at its rows)",
                    hint: "e.g. `{ table: llx_societe, foreign_key: fk_soc }`")
                continue
            }
            copies.append(ArchiveCopy(table: table, foreignKey: foreignKey, references: references))
        }
        return copies
    }

    /// The children an archive moves are copied row for row, found again by their primary keys
    /// and by their own columns: rows they own, trees, `children: auto` and conditions through
    /// other tables (which the archive does not have) are refused.
    mutating func refuseUnarchivable(_ children: [ChildTable], at node: Node, _ what: String) {
        for child in children {
            let table = child.table.value
            if !child.owns.isEmpty {
                error(
                    node, "\(what): child `\(table)` owns rows, which an archive does not move",
                    hint: "archive the owned table's rows with a rule of their own, or purge instead")
            }
            if child.tree != nil {
                error(
                    node, "\(what): child `\(table)` has a `tree`, which an archive does not move",
                    hint: "list the levels as children, or purge instead")
            }
            if child.autoChildren {
                error(
                    node, "\(what): child `\(table)` has `children: auto`", hint: "list the children archived with it")
            }
            let throughOthers = child.conditions.contains { condition in
                if case .exists = condition.test { return true }
                return condition.column.value.contains(".")
            }
            if !child.relations.isEmpty || throughOthers {
                error(
                    node, "\(what): child `\(table)` is chosen through other tables, which the archive does not have",
                    hint: "archive children chosen by their own columns only")
            }
            refuseUnarchivable(child.children, at: node, what)
        }
    }

    /// `statistics: { period: month, by: [queue_id], sum: [amount], min_group: 5 }`.
    mutating func statistics(_ node: Node, _ what: String) -> RuleStatistics? {
        guard let map = mapping(node, "\(what).statistics") else { return nil }
        checkKeys(map, allowed: ["period", "by", "sum", "min_group"], in: "\(what).statistics")
        var period: RuleStatistics.Period?
        if let p = map.value("period"), let text = string(p, "\(what).statistics.period") {
            period = RuleStatistics.Period(rawValue: text)
            if period == nil {
                error(
                    p, "unknown period `\(text)`",
                    hint: "use month, quarter or year (of the rule's clock, in the policy's time zone)")
            }
        } else if map.value("period") == nil {
            error(
                node, "\(what).statistics has no `period`",
                hint: "count per `month`, `quarter` or `year` of the rule's clock")
        }
        var ok = true
        var by: [Name] = []
        var sum: [Name] = []
        if let b = map.value("by") {
            if let list = names(b, "\(what).statistics.by column") { by = list } else { ok = false }
        }
        if let s = map.value("sum") {
            if let list = names(s, "\(what).statistics.sum column") { sum = list } else { ok = false }
        }
        for (list, key) in [(by, "by"), (sum, "sum")] {
            var seen = Set<String>()
            for name in list where !seen.insert(name.value).inserted {
                diagnostics.append(
                    .error(name.location, "`\(name.value)` is listed twice in `statistics.\(key)`", hint: "keep one"))
                ok = false
            }
        }
        var minGroup = RuleStatistics.defaultMinGroup
        if let m = map.value("min_group") {
            if let value = int(m, "\(what).statistics.min_group", min: 2, max: 1_000_000) {
                minGroup = value
            } else {
                ok = false
            }
        }
        guard ok, let period else { return nil }
        return RuleStatistics(by: by, period: period, sum: sum, minGroup: minGroup, location: at(node))
    }

    mutating func clock(_ node: Node?, _ what: String) -> RetentionClock? {
        guard let node else { return nil }
        var picks = ClockPicks()
        if case .scalar = node { return clockColumn(node, &picks).map { RetentionClock(columns: [$0]) } }
        guard let map = mapping(node, "\(what).clock") else { return nil }
        // `clock: { entered: closing.create_time }`: one related column, read other than by its latest value.
        if map.pairs.count == 1, ["earliest", "entered"].contains(map.pairs[0].key) {
            return clockColumn(node, &picks).map {
                RetentionClock(columns: [$0], earliest: picks.earliest, entered: picks.entered)
            }
        }
        checkKeys(map, allowed: ["column", "fallback", "latest", "anchor"], in: "\(what).clock")
        var fiscal = false
        if let a = map.value("anchor"), let text = string(a, "anchor") {
            if text == "fiscal_year_end" {
                fiscal = true
            } else {
                error(a, "unknown anchor `\(text)`", hint: "the only anchor is `fiscal_year_end`")
            }
        }
        if let latest = map.value("latest") {
            if map.value("column") != nil || map.value("fallback") != nil {
                error(node, "a clock has either `latest` or `column` (with an optional `fallback`), not both")
                return nil
            }
            guard let cols = clockColumns(latest, &picks) else { return nil }
            return RetentionClock(
                columns: cols, combination: .latest, fiscalYearEnd: fiscal, earliest: picks.earliest,
                entered: picks.entered)
        }
        guard let c = map.value("column") else {
            error(
                node, "a clock needs `column` or `latest`",
                hint: "e.g. `clock: { column: last_contact_at, fallback: collected_at }`")
            return nil
        }
        guard let column = clockColumn(c, &picks) else { return nil }
        let fallback = map.value("fallback").flatMap { clockColumns($0, &picks) } ?? []
        return RetentionClock(
            columns: [column] + fallback, combination: .firstPresent, fiscalYearEnd: fiscal, earliest: picks.earliest,
            entered: picks.entered)
    }

    /// One clock column or a list of them.
    private mutating func clockColumns(_ node: Node, _ picks: inout ClockPicks) -> [Name]? {
        guard case .sequence(let seq) = node else { return clockColumn(node, &picks).map { [$0] } }
        let result = seq.compactMap { clockColumn($0, &picks) }
        if result.isEmpty { error(node, "clock column list is empty") }
        return result.count == seq.count && !result.isEmpty ? result : nil
    }

    /// The related columns a clock reads other than by their latest value.
    struct ClockPicks {
        var earliest = Set<String>()
        var entered = Set<String>()
    }

    /// `closed_at`, `events.datep` (the latest related value), `{ earliest: events.datep }` or
    /// `{ entered: closing.create_time }` (the latest entry into the relation's `where`).
    private mutating func clockColumn(_ node: Node, _ picks: inout ClockPicks) -> Name? {
        guard case .mapping = node else { return columnRef(node, "clock column") }
        guard let map = mapping(node, "a related clock column") else { return nil }
        checkKeys(map, allowed: ["latest", "earliest", "entered"], in: "a related clock column")
        guard map.pairs.count == 1, let pair = map.pairs.first, let column = columnRef(pair.value, "clock column")
        else {
            if map.pairs.count != 1 {
                error(
                    node,
                    "a related clock column is `{ latest: relation.column }`, `{ earliest: relation.column }` or `{ entered: relation.column }`"
                )
            }
            return nil
        }
        guard column.value.contains(".") else {
            error(
                pair.value,
                "`\(pair.key)` picks among the rows of a relation; `\(column.value)` is a column of the row itself",
                hint: "write `\(column.value)` alone")
            return nil
        }
        if pair.key == "earliest" { picks.earliest.insert(column.value) }
        if pair.key == "entered" { picks.entered.insert(column.value) }
        return column
    }
}
