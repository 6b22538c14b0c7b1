import Foundation
import GRDB
import TestSupport
import Testing

/// `demo --dataset dolibarr|znuny`: a database shaped like the product's, the example policy run
/// on it as the demo runs the shipped one, the trail verified — on SQLite and on PostgreSQL.
@Suite(.tags(.slow), .timeLimit(.minutes(30))) struct ProductDemoTests {
    @Test(arguments: ["dolibarr", "znuny"])
    func theProductDemoRunsItsExamplePolicyOnSQLite(_ dataset: String) async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent(
            "retentiond-\(dataset)-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        let result = try await BinaryRunner.run([
            "demo", "--dataset", dataset, "--seed", "5", "--dir", dir.path, "--now", "2026-06-01T00:00:00Z",
        ])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("policy: etc/examples/\(dataset).yaml"))
        #expect(result.stdout.contains("verified intact"))
        #expect(result.stdout.contains("legal hold 1 placed on \(dataset == "dolibarr" ? "llx_societe" : "ticket"):"))

        // What the run did is in the database it names, and the commands it suggests work on it.
        let database = dir.appendingPathComponent("\(dataset).sqlite").path
        // The Dolibarr example archives its invoices: the demo keeps that archive beside its database.
        let archive =
            dataset == "dolibarr"
            ? ["--archive-url", "sqlite:" + dir.appendingPathComponent("dolibarr-archive.sqlite").path] : []
        if dataset == "dolibarr" {
            #expect(result.stdout.contains("dolibarr-invoices-archive         archive"), "\(result.stdout)")
            #expect(
                result.stdout.contains(
                    "--archive-url 'sqlite:\(dir.appendingPathComponent("dolibarr-archive.sqlite").path)'"),
                "the suggested commands name the demo's archive")
        }
        let queue = try DatabaseQueue(path: database)
        let purged = try await queue.read {
            try Int.fetchOne($0, sql: "SELECT count(*) FROM retentiond_audit WHERE action = 'purge'") ?? 0
        }
        #expect(purged > 0)
        // The indexes `check` advises for the example (real Dolibarr and Znuny lack them), created as it says.
        let advised =
            dataset == "dolibarr"
            ? ["llx_societe_datec_idx", "llx_societe_tms_idx"]
            : ["customer_preferences_user_id_lower_idx", "ticket_customer_user_id_lower_idx"]
        #expect(
            result.stdout.contains(
                "created the 2 index(es) `check` advises, as an operator would: " + advised.joined(separator: ", ")),
            "\(result.stdout)")
        let indexes = try await queue.read {
            try String.fetchAll(
                $0, sql: "SELECT name FROM sqlite_master WHERE type = 'index' AND name LIKE '%_idx' ORDER BY name")
        }
        #expect(indexes == advised)
        try queue.close()
        let verify = try await BinaryRunner.run(
            [
                "audit", "verify", "--config", "etc/examples/\(dataset).yaml", "--state-dir", dir.path,
                "--database-url", "sqlite:\(database)",
            ] + archive)
        #expect(verify.status == 0, "\(verify.stderr)")
        // Outside `check`, the policy's warnings are one line; `check` lists them.
        let plan = try await BinaryRunner.run(
            [
                "plan", "--config", "etc/examples/\(dataset).yaml", "--state-dir", dir.path,
                "--database-url", "sqlite:\(database)", "--now", "2026-06-01T00:00:00Z",
            ] + archive)
        #expect(
            plan.stderr.contains("warning(s); `retentiond check` lists them") && !plan.stderr.contains(": warning: "),
            "\(plan.stderr)")
        let check = try await BinaryRunner.run(
            [
                "check", "--config", "etc/examples/\(dataset).yaml", "--state-dir", dir.path,
                "--database-url", "sqlite:\(database)",
            ] + archive)
        #expect(check.status == 0, "\(check.stderr)")
        #expect(check.stderr.contains(": warning: "), "check lists the warnings")
        #expect(
            check.stdout.contains(
                dataset == "dolibarr"
                    ? "purge rule `dolibarr-prospect` deletes from llx_societe and, first:\n  llx_socpeople (fk_soc = llx_societe.rowid)\n"
                    : "purge rule `znuny-tickets` deletes from ticket and, first:\n  article (ticket_id = ticket.id)\n    article_data_mime (article_id = article.id)\n"
            ), "\(check.stdout)")
        // The register's retention section, from the policy, with the figures of this database.
        let register = try await BinaryRunner.run(
            [
                "register", "--figures", "--config", "etc/examples/\(dataset).yaml", "--state-dir", dir.path,
                "--database-url", "sqlite:\(database)", "--now", "2026-06-01T00:00:00Z",
            ] + archive)
        #expect(register.status == 0, "\(register.stderr)")
        #expect(register.stdout.contains("## LoGeAs Assistance auprès des utilisateurs LoGeAs"))
        #expect(register.stdout.contains(" due now"))
        if dataset == "znuny" {
            // What the tickets' purge counted first: the run said it, the register shows it per month.
            let counted = try await DatabaseQueue(path: database).read { db in
                try Int.fetchOne(
                    db, sql: "SELECT sum(records) FROM retentiond_statistics WHERE rule_id = 'znuny-tickets'") ?? 0
            }
            let ticketsPurged = try await DatabaseQueue(path: database).read { db in
                try Int.fetchOne(
                    db,
                    sql: "SELECT count(*) FROM retentiond_audit WHERE action = 'purge' AND rule_id = 'znuny-tickets'")
                    ?? -1
            }
            #expect(counted == ticketsPurged && counted > 0, "every purged ticket counted once")
            #expect(
                result.stdout.contains("znuny-tickets: kept as statistics: \(counted) record(s) counted in "),
                "\(result.stdout)")
            #expect(
                register.stdout.contains(
                    "## Kept as statistics: `znuny-tickets`\n\nWhat rule `znuny-tickets` counted of the `ticket` records it erased, per month of its clock"
                ))
            #expect(register.stdout.contains("| month | records |\n|---|---|\n| 2024-"), "\(register.stdout)")
        }
        let html = try await BinaryRunner.run([
            "register", "--format", "html", "--config", "etc/examples/\(dataset).yaml",
        ])
        #expect(html.status == 0 && html.stdout.hasPrefix("<!DOCTYPE html>"))
        // Why a ticket that is still there is kept, for scripts.
        let reader = try DatabaseQueue(path: database)
        let remaining = try await reader.read {
            try Int.fetchOne(
                $0, sql: dataset == "dolibarr" ? "SELECT min(rowid) FROM llx_ticket" : "SELECT min(id) FROM ticket")
                ?? 0
        }
        try reader.close()
        let explain = try await BinaryRunner.run(
            [
                "explain", "--config", "etc/examples/\(dataset).yaml", "--state-dir", dir.path,
                "--database-url", "sqlite:\(database)", "--subject", "tickets",
                "--key", String(remaining), "--format", "json", "--now", "2026-06-01T00:00:00Z",
            ] + archive)
        #expect(explain.status == 0, "\(explain.stderr)")
        #expect(explain.stdout.contains("\"verdict\" : "))
        // An erasure request on that ticket, tried first, then carried out: it is gone, and the trail still verifies.
        let erase =
            [
                "erase", "--config", "etc/examples/\(dataset).yaml", "--state-dir", dir.path, "--database-url",
                "sqlite:\(database)",
                "--subject", "tickets", "--key", String(remaining), "--request", "DSR-2026-7", "--by", "dpo@example.fr",
                "--now", "2026-06-01T00:00:00Z",
            ] + archive
        let tried = try await BinaryRunner.run(erase + ["--dry-run"])
        #expect(tried.status == 0, "\(tried.stderr)")
        #expect(tried.stdout.contains("| `\(dataset)-tickets` | purge | **"), "\(tried.stdout)")
        let erased = try await BinaryRunner.run(erase)
        #expect(erased.status == 0, "\(erased.stderr)")
        #expect(erased.stdout.contains("# Erasure request DSR-2026-7"))
        #expect(
            try await BinaryRunner.run(
                [
                    "audit", "verify", "--config", "etc/examples/\(dataset).yaml", "--state-dir", dir.path,
                    "--database-url", "sqlite:\(database)",
                ] + archive
            ).status == 0)
        let again = try await BinaryRunner.run(
            [
                "run", "--config", "etc/examples/\(dataset).yaml", "--state-dir", dir.path,
                "--database-url", "sqlite:\(database)", "--now", "2026-06-01T00:00:00Z",
            ] + archive)
        #expect(again.status == 0, "\(again.stderr)")
    }

    @Test(arguments: ["dolibarr", "znuny"])
    func theProductDemoRunsOnPostgreSQL(_ dataset: String) async throws {
        let server = try await PostgresServer.start()
        let url = server.url(database: try await server.createDatabase())
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent(
            "retentiond-pg\(dataset)-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        // The Dolibarr example archives its invoices into a second database of the server.
        let archive =
            dataset == "dolibarr" ? ["--archive-url", server.url(database: try await server.createDatabase())] : []
        let result = try await BinaryRunner.run(
            [
                "demo", "--dataset", dataset, "--seed", "5", "--dir", dir.path, "--postgres", url, "--now",
                "2026-06-01T00:00:00Z",
            ] + archive)
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("verified intact"))
        #expect(result.stdout.contains("complete"))
        if dataset == "dolibarr" {
            #expect(result.stdout.contains("dolibarr-invoices-archive         archive"), "\(result.stdout)")
        }
    }
}

/// `demo` at a scale beyond the policy's safety limits says so, and `--allow-more` goes through.
@Suite(.tags(.slow), .timeLimit(.minutes(30))) struct DemoSafetyLimitTests {
    @Test func theDemoStopsAtASafetyLimitAndAllowMoreGoesThrough() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent(
            "retentiond-demo-limit-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        // The shipped policy with a limit the demo's data exceeds, as a larger --scale does with its 5000.
        let shipped = try String(
            contentsOf: BinaryRunner.packageRoot.appendingPathComponent("etc/retentiond/retentiond.yaml"),
            encoding: .utf8)
        let policy = dir.appendingPathComponent("policy.yaml").path
        try shipped.replacingOccurrences(of: "safety: { max_records: 5000 }", with: "safety: { max_records: 10 }")
            .write(toFile: policy, atomically: true, encoding: .utf8)
        let common = [
            "demo", "--seed", "2", "--dir", dir.appendingPathComponent("state").path, "--config", policy, "--now",
            "2026-06-01T00:00:00Z",
        ]
        let stopped = try await BinaryRunner.run(common)
        #expect(stopped.status == 4, "\(stopped.stderr)")
        #expect(
            stopped.stderr.contains("more than max_records 10") && stopped.stderr.contains("--allow-more"),
            "\(stopped.stderr)")
        let allowed = try await BinaryRunner.run(common + ["--allow-more"])
        #expect(allowed.status == 0, "\(allowed.stderr)")
        #expect(allowed.stdout.contains("verified intact"))
    }
}
