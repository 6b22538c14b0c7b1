import Foundation
import Testing

/// The HTML report as a person sees it: opened in headless Chromium (Debian's package, which
/// .ci/run installs), its rendered page has the summary, every rule and the forecast chart, with
/// the figures of the JSON report and of `forecast` beside it.
@Suite(.tags(.slow), .timeLimit(.minutes(30))) struct HTMLReportTests {
    static let chromium = ["/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"]
        .first { FileManager.default.isExecutableFile(atPath: $0) }

    @Test func theRenderedReportShowsTheSummaryEveryRuleAndTheForecast() async throws {
        let browser = try #require(
            Self.chromium, "headless Chromium is needed (Debian: apt-get install chromium; .ci/run installs it)")
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("retentiond-html-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        let now = ["--now", "2026-06-01T00:00:00Z"]
        let demo = try await BinaryRunner.run(["demo", "--seed", "4", "--dir", dir.path] + now)
        #expect(demo.status == 0, "\(demo.stderr)")
        let htmlLine = try #require(demo.stdout.split(separator: "\n").first { $0.contains(".html") })
        let htmlPath = try #require(htmlLine.split(separator: " ").first { $0.hasSuffix(".html") }.map(String.init))
        let jsonPath = htmlPath.replacingOccurrences(of: ".html", with: ".json")
        let attributes = try FileManager.default.attributesOfItem(atPath: htmlPath)
        #expect((attributes[.posixPermissions] as? Int) == 0o600, "reports may hold keys: 0600 like the others")

        let rendered = try await BinaryRunner.runProgram(
            URL(fileURLWithPath: browser),
            [
                "--headless", "--no-sandbox", "--disable-gpu", "--disable-crash-reporter", "--disable-breakpad",
                "--dump-dom", "file://" + htmlPath,
            ])
        #expect(rendered.status == 0, "\(rendered.stderr)")
        let page = rendered.stdout

        // The summary says what the JSON report counts.
        let report = try #require(
            try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: jsonPath))) as? [String: Any])
        let rules = try #require(report["rules"] as? [[String: Any]])
        func total(_ field: String) -> Int { rules.reduce(0) { $0 + (($1[field] as? Int) ?? 0) } }
        #expect(
            page.contains(
                "<p class=\"summary\" id=\"summary\">\(total("purged")) record(s) deleted, \(total("anonymised")) anonymised, \(total("flagged")) flagged"
            ), "\(page.prefix(2000))")
        #expect(total("purged") > 0)
        // Records, not rule actions: the demo's one held prospect is past the flag's and the purge's
        // cutoff (exempt under both), and is one record kept.
        let heldUnderRules = rules.reduce(0) { $0 + ((($1["exempt"] as? [String: Int])?["legal_hold"]) ?? 0) }
        let held = rules.reduce(0) {
            $0 + ((($1["exemptRecords"] as? [String: Int]) ?? ($1["exempt"] as? [String: Int]))?["legal_hold"] ?? 0)
        }
        #expect(
            heldUnderRules == 2 && held == 1 && page.contains("1 kept because of a legal hold"),
            "the demo's hold is in the summary, once")

        // Rows per table, as the JSON report counts them.
        let tables = try #require(report["tables"] as? [String: [String: Int]])
        #expect(!tables.isEmpty)
        for (table, counts) in tables {
            #expect(
                page.contains(
                    "<tr><td>\(table)</td><td class=\"n\">\(counts["deleted"] ?? -1)</td><td class=\"n\">\(counts["changed"] ?? -1)</td></tr>"
                ), "\(table)")
        }

        // Every rule has its section, with its figures.
        for rule in rules {
            let id = try #require(rule["rule"] as? String)
            #expect(page.contains("<section class=\"rule\" id=\"rule-\(id)\">"), "rule \(id)")
            #expect(page.contains("<li><a href=\"#rule-\(id)\">\(id)</a>"), "rule \(id) in the contents at the top")
        }

        // The forecast chart is drawn, with the totals `forecast` computes.
        let forecast = try await BinaryRunner.run(
            ["forecast", "--format", "json", "--config", "etc/retentiond/retentiond.yaml", "--state-dir", dir.path]
                + now)
        #expect(forecast.status == 0, "\(forecast.stderr)")
        let predicted = try #require(
            (try JSONSerialization.jsonObject(with: Data(forecast.stdout.utf8)) as? [String: Any])?["rules"]
                as? [[String: Any]])
        #expect(page.components(separatedBy: "<svg").count - 1 == predicted.count, "one chart per rule")
        for rule in predicted {
            let id = try #require(rule["rule"] as? String)
            let months = try #require(rule["months"] as? [Int])
            #expect(months.count == 12)
            #expect(
                page.contains(
                    "<figure class=\"forecast\" id=\"forecast-\(id)\" data-total=\"\(months.reduce(0, +))\">"),
                "forecast of \(id)")
        }
        #expect(
            !page.contains("src=\"http") && !page.contains("href=\"http") && !page.contains("<script"),
            "self-contained: no script, nothing fetched")
        // The charts have axes: records (0 and the peak) up the side, the months along the bottom.
        #expect(page.contains(">records</text>") && page.contains(">month the records become due</text>"))

        // `forecast --format html`: the same charts on a page of their own, with the weekly counts.
        let forecastPage = dir.appendingPathComponent("forecast.html").path
        let html = try await BinaryRunner.run(
            ["forecast", "--format", "html", "--config", "etc/retentiond/retentiond.yaml", "--state-dir", dir.path]
                + now)
        #expect(html.status == 0, "\(html.stderr)")
        try html.stdout.write(toFile: forecastPage, atomically: true, encoding: .utf8)
        let shown = try await BinaryRunner.runProgram(
            URL(fileURLWithPath: browser),
            [
                "--headless", "--no-sandbox", "--disable-gpu", "--disable-crash-reporter", "--disable-breakpad",
                "--dump-dom", "file://" + forecastPage,
            ])
        #expect(shown.status == 0, "\(shown.stderr)")
        for rule in predicted {
            let id = try #require(rule["rule"] as? String)
            let months = try #require(rule["months"] as? [Int])
            let weeks = try #require(rule["weeks"] as? [Int])
            #expect(
                shown.stdout.contains(
                    "<figure class=\"forecast\" id=\"forecast-\(id)\" data-total=\"\(months.reduce(0, +))\">"),
                "forecast page: \(id)")
            #expect(shown.stdout.contains("<a href=\"#forecast-\(id)\">\(id)</a>"), "listed at the top")
            #expect(
                shown.stdout.contains("<tr><th>records</th>" + weeks.map { "<td>\($0)</td>" }.joined() + "</tr>"),
                "weekly counts of \(id)")
        }
        #expect(shown.stdout.contains("Generated on ") && !shown.stdout.contains("<script"))
    }
}
