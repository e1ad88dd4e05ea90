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
