import Foundation
import LibPQ
import Testing

@Suite("Queries bind interpolated values")
struct PostgresQueryTests {
    @Test func interpolatedValuesBecomeNumberedParameters() {
        let name = "'); DROP TABLE t; --"
        let query: PostgresQuery = "SELECT * FROM t WHERE name = \(name) AND age > \(42) AND ok = \(true)"
        #expect(query.sql == "SELECT * FROM t WHERE name = $1 AND age > $2 AND ok = $3")
        #expect(query.binds.count == 3)
        #expect(query.binds[0] == .text(name))
        #expect(query.binds[1].type == .int8)
        #expect(query.binds[2].type == .bool)
    }

    @Test func aLiteralWithoutInterpolationHasNoBinds() {
        let query: PostgresQuery = "SELECT 1"
        #expect(query.sql == "SELECT 1")
        #expect(query.binds.isEmpty)
    }

    @Test func nilBindsSQLNull() {
        let missing: String? = nil
        let query: PostgresQuery = "SELECT \(missing)"
        #expect(query.binds == [.null])
    }
}

@Suite("Fragments carry their values into the statement they land in")
struct PostgresFragmentTests {
    @Test func fragmentValuesAreNumberedOnFromTheStatements() {
        let rows: [PostgresFragment] = [("a", 1), ("b", 2)].map { "(\($0.0), \($0.1))" }
        let query: PostgresQuery = "INSERT INTO t (tag, n) VALUES \(rows, separator: ", ") RETURNING \(true)"
        #expect(query.sql == "INSERT INTO t (tag, n) VALUES ($1, $2), ($3, $4) RETURNING $5")
        #expect(query.binds.map(\.type) == [.unspecified, .int8, .unspecified, .int8, .bool])
        #expect(query.binds[2] == .text("b"))
    }

    @Test func noFragmentsAppendNothing() {
        let query: PostgresQuery = "SELECT \(1)\([PostgresFragment](), separator: ", ")"
        #expect(query.sql == "SELECT $1")
    }
}
