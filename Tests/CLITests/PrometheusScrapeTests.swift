import Foundation
import Testing
import TestSupport

/// What a real Prometheus sees: Debian's node_exporter reads the metrics file Lethe writes, Debian's Prometheus
/// scrapes it on loopback and evaluates the shipped alert rules (contrib/prometheus/lethe-alerts.yml) on the scraped
/// series, with the `job` and `instance` labels a scrape adds (issue 29: a `job` label became `exported_job`, and the
/// purge alert matched nothing).
@Suite struct PrometheusScrapeTests {
    static let nodeExporter = "/usr/bin/prometheus-node-exporter"
    static let prometheus = "/usr/bin/prometheus"

    /// node_exporter reading `textfileDirectory` and a Prometheus scraping it every second with the shipped rules.
    struct Scrape {
        let exporter: PeerProcess
        let server: PeerProcess
        let api: String

        init(textfileDirectory: String, workDirectory: String) throws {
            let exporterPort = try PeerProcess.freePort()
            exporter = try PeerProcess(PrometheusScrapeTests.nodeExporter, [
                "--web.listen-address=127.0.0.1:\(exporterPort)", "--collector.disable-defaults", "--collector.textfile",
                "--collector.textfile.directory=\(textfileDirectory)",
            ])
            let rules = LetheProcess.packageRoot.appendingPathComponent("contrib/prometheus/lethe-alerts.yml").path
            let configuration = workDirectory + "/prometheus.yml"
            try """
                global: { scrape_interval: 1s, evaluation_interval: 1s }
                rule_files: ["\(rules)"]
                scrape_configs:
                  - job_name: node
                    static_configs: [{ targets: ["127.0.0.1:\(exporterPort)"] }]
                """.write(toFile: configuration, atomically: true, encoding: .utf8)
            let port = try PeerProcess.freePort()
            server = try PeerProcess(PrometheusScrapeTests.prometheus, [
                "--config.file=\(configuration)", "--storage.tsdb.path=\(workDirectory)/tsdb",
                "--web.listen-address=127.0.0.1:\(port)", "--log.level=warn",
            ])
            api = "http://127.0.0.1:\(port)/api/v1"
        }

        /// The result vector of an instant query, as label sets with their value.
        func query(_ expression: String) -> [(labels: [String: String], value: String)] {
            var components = URLComponents(string: api + "/query")!
            components.queryItems = [URLQueryItem(name: "query", value: expression)]
            guard let body = PeerProcess.get(components.url!.absoluteString),
                  let object = try? JSONSerialization.jsonObject(with: body) as? [String: Any],
                  let data = object["data"] as? [String: Any], let result = data["result"] as? [[String: Any]] else { return [] }
            return result.map { (($0["metric"] as? [String: String]) ?? [:], (($0["value"] as? [Any])?.last as? String) ?? "") }
        }

        /// Alerts in the firing state, as name and labels.
        func firing() -> [[String: String]] {
            guard let body = PeerProcess.get(api + "/alerts"),
                  let object = try? JSONSerialization.jsonObject(with: body) as? [String: Any],
                  let data = object["data"] as? [String: Any], let alerts = data["alerts"] as? [[String: Any]] else { return [] }
            return alerts.filter { $0["state"] as? String == "firing" }.compactMap { $0["labels"] as? [String: String] }
        }

        var logs: String { exporter.logTail + "\n" + server.logTail }
    }

    /// Not skipped when the peers are missing: `make deps` installs them, and a missing one fails here by name.
    @Test func aScrapedPurgeSuccessMatchesTheAlertsAndAFailedPurgeFiresOne() throws {
        let db = try TestDatabase()
        try PurgeFixture.load(db.connection)
        let work = try IntakeFixture.directory(prefix: "lethe-prometheus")
        defer { try? FileManager.default.removeItem(atPath: work) }
        let textfiles = work + "/textfile"
        try FileManager.default.createDirectory(atPath: textfiles, withIntermediateDirectories: true)
        let metrics = ["--metrics-file", textfiles + "/lethe.prom", "--database-url", db.conninfo]

        let purge = try LetheProcess.run(["purge"] + metrics)
        #expect(purge.status == 0, "\(purge.stderr)")
        let scrape = try Scrape(textfileDirectory: textfiles, workDirectory: work)

        // The alerts' selectors match the scraped series: jobname is Lethe's job, job is the scrape target's.
        let scraped = KnownPoint.until(seconds: 30) { !scrape.query(#"lethe_job_last_success_timestamp_seconds{jobname="purge"}"#).isEmpty }
        #expect(scraped, "Prometheus never saw the purge's success\n\(scrape.logs)")
        let series = scrape.query(#"lethe_job_last_success_timestamp_seconds{jobname="purge"}"#)
        #expect(series.count == 1 && series.first?.labels["job"] == "node", "\(series)")
        #expect(scrape.query(#"{exported_job!=""}"#).isEmpty, "no label of Lethe's collides with the scrape's own")
        let age = try #require(Double(scrape.query(#"time() - lethe_job_last_success_timestamp_seconds{jobname="purge"}"#).first?.value ?? ""))
        #expect(age >= 0 && age < 120, "the purge alert's expression sees a fresh success: \(age) s")
        #expect(!scrape.query(#"node_textfile_mtime_seconds{file=~"(.*/)?lethe\\.prom"}"#).isEmpty, "the stale-file alert's series exists")
        #expect(scrape.query("absent(lethe_job_failures_total)").isEmpty, "the missing-file alert is quiet while the file is read")
        #expect(!scrape.firing().contains { $0["alertname"] == "LetheJobFailed" }, "\(scrape.firing())")

        // A purge that fails (its ledger refuses the run) is recorded, rewrites the file, and fires on the next scrape.
        try db.connection.executeScript("""
            CREATE FUNCTION public.refuse_purge() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'refused by the test'; END $$;
            CREATE TRIGGER refuse_purge BEFORE INSERT ON lethe.purge_runs FOR EACH ROW EXECUTE FUNCTION public.refuse_purge();
            """)
        let failed = try LetheProcess.run(["purge"] + metrics)
        #expect(failed.status != 0 && failed.stderr.contains("HINT:"), "\(failed.stderr)")
        let fired = KnownPoint.until(seconds: 30) {
            scrape.firing().contains { $0["alertname"] == "LetheJobFailed" && $0["jobname"] == "purge" && $0["job"] == "node" }
        }
        #expect(fired, "LetheJobFailed never fired: \(scrape.firing())\n\(scrape.logs)")
    }
}
