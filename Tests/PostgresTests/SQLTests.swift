import Foundation
import LetheCore
import Postgres
import TestSupport
import Testing

/// `SQL`: values interpolated become bound parameters numbered in order, identifiers their quoted form, and
/// fragments keep their values wherever they land.
@Suite struct SQLTests {
    @Test func valuesAreNumberedInOrderAndIdentifiersQuoted() throws {
        let table = try QualifiedName(schema: SQLIdentifier("sms"), name: SQLIdentifier("select"))
        let column = try SQLIdentifier("created_at")
        let sql: SQL = "SELECT count(*) FROM \(table) WHERE customer_id = \(Int64(7)) AND \(column) < \(text: "2026-01-01")::timestamptz AND ok = \(true)"
        #expect(sql.description == #"SELECT count(*) FROM "sms"."select" WHERE customer_id = $1 AND "created_at" < $2::timestamptz AND ok = $3"#)
        #expect(sql.values == [.int(7), .text("2026-01-01"), .bool(true)])
    }

    @Test func fragmentsAreRenumberedWhereTheyLand() {
        let held: SQL = "customer_id = ANY (\([Int64(3), 5])::bigint[])"
        let cutoff: SQL = "created_at < \(text: "x")::timestamptz"
        let statement: SQL = "DELETE FROM t WHERE id > \(Int64(1)) AND \(cutoff) AND NOT \(held) AND \([cutoff, held].joined(separator: " OR "))"
        #expect(statement.description == "DELETE FROM t WHERE id > $1 AND created_at < $2::timestamptz AND NOT customer_id = ANY ($3::bigint[]) AND created_at < $4::timestamptz OR customer_id = ANY ($5::bigint[])")
        #expect(statement.values == [.int(1), .text("x"), .text("{3,5}"), .text("x"), .text("{3,5}")])
        // Text numbered by hand (the tests' shim) is renumbered too.
        let mixed: SQL = "SELECT \(Int64(9)), \(SQL(unsafeRaw: "$1 + $2", binding: [.int(1), .int(2)]))"
        #expect(mixed.description == "SELECT $1, $2 + $3" && mixed.values == [.int(9), .int(1), .int(2)])
    }

    @Test func aHostileValueStaysAValueOnTheServer() throws {
        let db = try TestDatabase(migrated: false)
        let hostile = "x'); DROP TABLE pg_class; --"
        let row = try db.connection.query("SELECT \(text: hostile) AS v, \(text: nil as String?)::text IS NULL AS n, \(literal: Date(timeIntervalSince1970: 0))::timestamptz = 'epoch' AS e")
            .single("values")
        #expect(try row.string("v") == hostile && row.bool("n") && row.bool("e"))
    }

    @Test func scriptsAndCopyRefuseAValueRatherThanSpliceIt() throws {
        let db = try TestDatabase(migrated: false)
        let script: SQL = "SELECT \(Int64(1)); SELECT 2", copy: SQL = "COPY (SELECT \(Int64(1))) TO STDOUT"
        #expect(throws: LetheError.self) { try db.connection.executeScript(script) }
        #expect(throws: LetheError.self) { _ = try db.connection.copyOut(copy) { _ in } }
    }
}
