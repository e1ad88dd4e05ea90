import BatonTesting
import Foundation
import LibPQ
import Testing

@Suite("Errors carry the server's fields", .tags(.database))
struct ErrorTests {
    @Test func aUniqueViolationCarriesSQLState23505AndTheConstraintName() async throws {
        try await TestDatabase.withFreshConnection { connection, _ in
            try await connection.query("CREATE TABLE runs (key text CONSTRAINT runs_key_unique UNIQUE)")
            try await connection.query("INSERT INTO runs VALUES (\("order-1"))")
            let error = await #expect(throws: PostgresError.self) {
                try await connection.query("INSERT INTO runs VALUES (\("order-1"))")
            }
            #expect(error?.code == .server)
            #expect(error?.sqlState == .uniqueViolation)
            #expect(error?.sqlState?.rawValue == "23505")
            #expect(error?.constraintName == "runs_key_unique")
            #expect(error?.tableName == "runs")
            #expect(error?.detail?.contains("order-1") == true)
        }
    }

    @Test func aSyntaxErrorCarriesSQLState42601() async throws {
        try await TestDatabase.withFreshConnection { connection, _ in
            let error = await #expect(throws: PostgresError.self) { try await connection.query("SELEC 1") }
            #expect(error?.sqlState == .syntaxError)
            #expect(error?.query == "SELEC 1")
            let afterwards = try await connection.query("SELECT 2").scalar(Int.self)
            #expect(afterwards == 2)
        }
    }

    @Test func aFailedConnectionNamesHostPortAndDatabaseButNeverThePassword() async throws {
        let configuration = try PostgresConfiguration("postgresql://alice:s3cr3t-pass@127.0.0.1:1/ledger")
        let error = await #expect(throws: PostgresError.self) { try await PostgresConnection.connect(to: configuration) }
        #expect(error?.code == .connectionFailed)
        let text = "\(error!) \(String(reflecting: error!))"
        #expect(text.contains("127.0.0.1"))
        #expect(text.contains(":1"))
        #expect(text.contains("ledger"))
        #expect(!text.contains("s3cr3t-pass"))
    }

    @Test func aMalformedConnectionStringIsRefusedWhenParsed() {
        #expect(throws: PostgresError.self) { try PostgresConfiguration("host=x bogus_option=1") }
    }

    @Test func connectsOverTCPAndOverAUnixSocket() async throws {
        let socket = try TestDatabase.serverConfiguration()
        let tcpURL = try #require(ProcessInfo.processInfo.environment["BATON_TEST_DATABASE_TCP_URL"])
        let tcp = try PostgresConfiguration(tcpURL)
        for configuration in [socket, tcp] {
            let connection = try await PostgresConnection.connect(to: configuration)
            #expect(try await connection.query("SELECT current_user").scalar(String.self) == "postgres")
            await connection.close()
        }
        let keywordStyle = try PostgresConfiguration("host=\(socket.host!) port=\(socket.port!) user=postgres dbname=postgres")
        let connection = try await PostgresConnection.connect(to: keywordStyle)
        #expect(try await connection.query("SELECT inet_client_addr() IS NULL").scalar(Bool.self))
        await connection.close()
    }
}
