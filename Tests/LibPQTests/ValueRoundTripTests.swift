import BatonTesting
import Foundation
import LibPQ
import Testing

@Suite("Values round-trip through PostgreSQL", .tags(.database))
struct ValueRoundTripTests {
    struct Order: Codable, Equatable, Sendable {
        var id: String
        var lines: [Int]
        var note: String?
    }

    /// Sends `value` as a parameter cast to `type`, reads it back, and returns it.
    func roundTrip<T: PostgresEncodable & PostgresDecodable>(_ value: T, as type: String, on connection: PostgresConnection) async throws -> T {
        try await connection.query(PostgresQuery(unsafeSQL: "SELECT $1::\(type)", binds: [value.postgresBind])).scalar(T.self)
    }

    @Test func everyDecodedTypeRoundTrips() async throws {
        try await TestDatabase.withFreshConnection { connection, _ in
            for text in ["", "plain", "héllo wörld 👋 日本語 \u{1F9EA}", "line\nbreak\ttab \"quote\" 'single' \\ back"] {
                #expect(try await roundTrip(text, as: "text", on: connection) == text)
            }
            #expect(try await roundTrip(true, as: "bool", on: connection) == true)
            #expect(try await roundTrip(false, as: "bool", on: connection) == false)
            for number in [Int16.min, 0, Int16.max] { #expect(try await roundTrip(number, as: "int2", on: connection) == number) }
            for number in [Int32.min, -1, Int32.max] { #expect(try await roundTrip(number, as: "int4", on: connection) == number) }
            for number in [Int.min, 0, Int.max] { #expect(try await roundTrip(number, as: "int8", on: connection) == number) }
            for number in [0.0, -0.0, .pi, 1e-300, -1.5e300, .infinity, -.infinity, .leastNonzeroMagnitude] {
                #expect(try await roundTrip(number, as: "float8", on: connection) == number)
            }
            #expect(try await roundTrip(Double.nan, as: "float8", on: connection).isNaN)
            let money = Decimal(string: "12345678901234567890.123456789")!
            #expect(try await roundTrip(money, as: "numeric", on: connection) == money)
            let id = UUID()
            #expect(try await roundTrip(id, as: "uuid", on: connection) == id)
            // PostgreSQL keeps microseconds; pick a value that has exactly that precision.
            let instant = Date(timeIntervalSince1970: 1_795_000_000.123456)
            let back = try await roundTrip(instant, as: "timestamptz", on: connection)
            #expect(abs(back.timeIntervalSince(instant)) < 0.000_001)
            let early = Date(timeIntervalSince1970: -2_000_000_000.5)
            #expect(abs(try await roundTrip(early, as: "timestamptz", on: connection).timeIntervalSince(early)) < 0.000_001)
            let bytes = Data((0...255).map(UInt8.init) + [0, 0, 255])
            #expect(try await roundTrip(bytes, as: "bytea", on: connection) == bytes)
            #expect(try await roundTrip(Data(), as: "bytea", on: connection) == Data())
            let order = Order(id: "A-1", lines: [1, 2, 3], note: "ünïcode ✓")
            #expect(try await roundTrip(PostgresJSON(order), as: "jsonb", on: connection).value == order)
        }
    }

    @Test func nullsDecodeAsNilForEveryType() async throws {
        try await TestDatabase.withFreshConnection { connection, _ in
            let row = try await connection.query("""
                SELECT NULL::text, NULL::bool, NULL::int2, NULL::int4, NULL::int8, NULL::float8,
                       NULL::numeric, NULL::uuid, NULL::timestamptz, NULL::jsonb, NULL::bytea
                """)[0]
            #expect(try row.decode(String?.self, at: 0) == nil)
            #expect(try row.decode(Bool?.self, at: 1) == nil)
            #expect(try row.decode(Int16?.self, at: 2) == nil)
            #expect(try row.decode(Int32?.self, at: 3) == nil)
            #expect(try row.decode(Int?.self, at: 4) == nil)
            #expect(try row.decode(Double?.self, at: 5) == nil)
            #expect(try row.decode(Decimal?.self, at: 6) == nil)
            #expect(try row.decode(UUID?.self, at: 7) == nil)
            #expect(try row.decode(Date?.self, at: 8) == nil)
            #expect(try row.decode(PostgresJSON<[String]>?.self, at: 9) == nil)
            #expect(try row.decode(Data?.self, at: 10) == nil)
            let error = #expect(throws: PostgresError.self) { try row.decode(String.self, at: 0) }
            #expect(error?.code == .decoding)
            #expect(error?.message.contains("NULL") == true)
            let nothing: Int? = nil
            #expect(try await connection.query("SELECT \(nothing)::int8 IS NULL").scalar(Bool.self))
        }
    }

    @Test func oneMegabyteOfTextAndBytesRoundTripThroughATable() async throws {
        try await TestDatabase.withFreshConnection { connection, _ in
            try await connection.query("CREATE TABLE blobs (id int PRIMARY KEY, body text NOT NULL, raw bytea NOT NULL)")
            let text = String(repeating: "Baton ✓ ", count: 1_048_576 / 10)
            var generator = SystemRandomNumberGenerator()
            let raw = Data((0..<1_048_576).map { _ in UInt8.random(in: 0...255, using: &generator) })
            try await connection.query("INSERT INTO blobs VALUES (1, \(text), \(raw))")
            let row = try await connection.query("SELECT body, raw FROM blobs WHERE id = 1")[0]
            #expect(try row.decode(String.self, column: "body") == text)
            #expect(try row.decode(Data.self, column: "raw") == raw)
        }
    }

    @Test func textWithANulByteIsRefusedBeforeItReachesTheServer() async throws {
        try await TestDatabase.withFreshConnection { connection, _ in
            try await connection.query("CREATE TABLE notes (body text)")
            let error = await #expect(throws: PostgresError.self) {
                try await connection.query("INSERT INTO notes VALUES (\("before\u{0}after"))")
            }
            #expect(error?.code == .invalidParameter)
            #expect(error?.message.contains("NUL byte") == true)
            #expect(error?.message.contains("$1") == true)
            #expect(try await connection.query("SELECT count(*) FROM notes").scalar(Int.self) == 0)
            // The connection is still usable.
            #expect(try await connection.query("SELECT 1").scalar(Int.self) == 1)
        }
    }

    @Test func anInjectionShapedParameterIsStoredAsData() async throws {
        try await TestDatabase.withFreshConnection { connection, _ in
            try await connection.query("CREATE TABLE t (name text)")
            let hostile = "'); DROP TABLE t; --"
            try await connection.query("INSERT INTO t VALUES (\(hostile))")
            #expect(try await connection.query("SELECT name FROM t").scalar(String.self) == hostile)
            #expect(try await connection.query("SELECT count(*) FROM t").scalar(Int.self) == 1)
        }
    }

    @Test func decodingIntoTheWrongTypeIsAClearError() async throws {
        try await TestDatabase.withFreshConnection { connection, _ in
            let row = try await connection.query("SELECT 'abc'::text AS word, 70000::int4 AS big")[0]
            let wrongType = #expect(throws: PostgresError.self) { try row.decode(Int.self, column: "word") }
            #expect(wrongType?.message == "column \"word\" (text) does not decode as Int")
            let outOfRange = #expect(throws: PostgresError.self) { try row.decode(Int16.self, column: "big") }
            #expect(outOfRange?.code == .decoding)
            let missing = #expect(throws: PostgresError.self) { try row.decode(Int.self, column: "nope") }
            #expect(missing?.message.contains("nope") == true)
            let notAUUID = #expect(throws: PostgresError.self) { try row.decode(UUID.self, column: "word") }
            #expect(notAUUID?.message == "column \"word\" (text) does not decode as UUID: \"abc\" is not a UUID")
            let numberAsUUID = #expect(throws: PostgresError.self) { try row.decode(UUID.self, column: "big") }
            #expect(numberAsUUID?.message == "column \"big\" (int4) does not decode as UUID")
        }
    }

    @Test func commandTagsReportAffectedRows() async throws {
        try await TestDatabase.withFreshConnection { connection, _ in
            try await connection.query("CREATE TABLE t (n int)")
            let inserted = try await connection.query("INSERT INTO t SELECT generate_series(1, 5)")
            #expect(inserted.affectedRows == 5)
            #expect(inserted.commandTag == "INSERT 0 5")
            let updated = try await connection.query("UPDATE t SET n = n + 1 WHERE n > \(2)")
            #expect(updated.affectedRows == 3)
        }
    }
}
