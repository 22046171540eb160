import Foundation
import LetheCore
import Postgres

/// A source database for backup tests: three customers, templates, sealed-looking contacts and delivery
/// reports, with known plaintext markers in the non-personal text columns.
public enum BackupFixture {
    public static let markers = ["Boulangerie Lumiere", "Garage Vermillon", "Relance Opaline Marker"]

    public static func load(_ db: PostgresConnection, contacts: Int = 2000) throws {
        try PurgeFixture.ensurePartitions(db, monthsBack: 2)
        try db.execute("INSERT INTO sms.customers (id, name) VALUES (1, 'Boulangerie Lumiere'), (2, 'Garage Vermillon'), (3, 'Cabinet Trois')")
        try db.execute("INSERT INTO sms.templates (customer_id, name, body) SELECT c, 'relance', 'Relance Opaline Marker ' || c FROM generate_series(1, 3) c")
        try db.execute("""
            INSERT INTO sms.contacts (customer_id, phone, phone_bidx, name, created_at)
            SELECT 1 + g % 3, decode(md5('p' || g) || md5('q' || g), 'hex'), decode(substr(md5('i' || g), 1, 8), 'hex'),
                   decode(md5('n' || g) || md5('m' || g) || md5('o' || g), 'hex'), now() - (g % 150) * interval '1 day'
            FROM generate_series(1, $1) g
            """, [.int(Int64(contacts))])
        try db.execute("""
            INSERT INTO sms.delivery_reports (message_id, customer_id, status, reported_at)
            SELECT g, 1 + g % 3, 'delivered', now() - (g % 40) * interval '1 day' FROM generate_series(1, 3000) g
            """)
    }

    /// A loaded source database, a private directory with a keyring made by `lethe keys init`, and the options
    /// naming both and the repository (`DIR/repo`), for black-box backup and restore tests.
    public static func commandLineSetUp(contacts: Int = 2000) throws -> (source: TestDatabase, directory: String, options: [String]) {
        let source = try TestDatabase()
        try load(source.connection, contacts: contacts)
        let directory = try IntakeFixture.directory()
        let created = try LetheProcess.run(["keys", "init", "--keyring", directory + "/keyring"])
        guard created.status == 0 else { throw LetheError.software("lethe keys init failed: \(created.stderr)") }
        return (source, directory, ["--database-url", source.conninfo, "--keyring", directory + "/keyring", "--repo", directory + "/repo"])
    }

    /// Per table: row count and an md5 of its rows in order, to compare a restore with its source.
    public static func fingerprint(_ db: PostgresConnection) throws -> [String: String] {
        var result: [String: String] = [:]
        for (table, order) in [("sms.customers", "id"), ("sms.templates", "id"), ("sms.contacts", "id"), ("sms.delivery_reports", "id, reported_at")] {
            let row = try db.query("SELECT count(*) AS n, md5(coalesce(string_agg(t::text, '|' ORDER BY \(order)), '')) AS sum FROM \(table) t").single("fingerprint")
            result[table] = "\(try row.int("n")):\(try row.string("sum"))"
        }
        return result
    }
}
