import Baton
import LibPQ

/// The same rows inserted on one connection three ways: one statement and one
/// commit each, one statement each inside one transaction, and one pipeline.
struct PipelineBenchmark {
    struct Figure: Encodable {
        let rows: Int
        let oneAtATimeMilliseconds: Double
        let oneTransactionMilliseconds: Double
        let pipelineMilliseconds: Double
    }

    let configuration: PostgresConfiguration
    let rows: Int

    func run() async throws -> Figure {
        let connection = try await PostgresConnection.connect(to: configuration)
        try await connection.runScript("""
            DROP TABLE IF EXISTS bench_rows;
            CREATE TABLE bench_rows (id bigserial PRIMARY KEY, payload bigint NOT NULL, created_at timestamptz NOT NULL DEFAULT now());
            """)
        let inserts: [PostgresQuery] = (0..<rows).map { "INSERT INTO bench_rows (payload) VALUES (\($0))" }

        var started = ContinuousClock.now
        for insert in inserts { try await connection.query(insert) }
        let oneAtATime = (ContinuousClock.now - started).milliseconds

        started = ContinuousClock.now
        try await connection.withTransaction { connection in
            for insert in inserts { try await connection.query(insert) }
        }
        let oneTransaction = (ContinuousClock.now - started).milliseconds

        started = ContinuousClock.now
        try await connection.pipeline(inserts)
        let pipeline = (ContinuousClock.now - started).milliseconds

        let count = try await connection.query("SELECT count(*) FROM bench_rows").scalar(Int.self)
        await connection.close()
        guard count == rows * 3 else {
            throw BenchError(message: "expected \(rows * 3) rows after the pipeline comparison, found \(count)")
        }
        return Figure(rows: rows, oneAtATimeMilliseconds: oneAtATime, oneTransactionMilliseconds: oneTransaction, pipelineMilliseconds: pipeline)
    }
}
