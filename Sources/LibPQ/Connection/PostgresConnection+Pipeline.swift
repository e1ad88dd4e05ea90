import CLibPQ
import Foundation

extension PostgresConnection {
    /// Sends all statements in one go and reads their results after: one network
    /// round trip instead of one per statement (libpq's pipeline mode).
    ///
    /// The statements run as one implicit transaction: if one fails, none of them
    /// takes effect, and the error says which failed. Returns each statement's rows,
    /// in order.
    @discardableResult
    public func pipeline(_ queries: [PostgresQuery]) throws -> [PostgresRows] {
        guard !queries.isEmpty else { return [] }
        let handle = try liveHandle(for: queries.first?.sql)
        // Refuse bad values before anything is queued: a half-sent pipeline can't be taken back.
        for query in queries { try BoundParameters.validate(query) }
        Self.sentStatements.add(queries.count, ordering: .relaxed)
        guard PQenterPipelineMode(handle) == 1 else { throw connectionError(query: nil) }
        PQsetnonblocking(handle, 1)
        defer {
            PQexitPipelineMode(handle)
            PQsetnonblocking(handle, 0)
        }
        for query in queries {
            let sent = try BoundParameters.with(query) { parameters in
                PQsendQueryParams(
                    handle, query.sql, parameters.count, parameters.types, parameters.values,
                    parameters.lengths, parameters.formats, 0
                )
            }
            guard sent == 1 else { throw connectionError(query: query.sql) }
        }
        guard PQpipelineSync(handle) == 1 else { throw connectionError(query: nil) }
        return try readPipelineResults(handle, queries: queries)
    }

    /// Reads results until the sync point, flushing what is left to send while the
    /// server answers, so neither side ever waits on a full socket buffer.
    private func readPipelineResults(_ handle: OpaquePointer, queries: [PostgresQuery]) throws -> [PostgresRows] {
        var results: [PostgresRows] = []
        results.reserveCapacity(queries.count)
        var failure: PostgresError?
        var index = 0
        while true {
            let flush = PQflush(handle)
            guard flush >= 0 else { throw connectionError(query: nil) }
            if PQisBusy(handle) == 1 {
                var descriptor = pollfd(
                    fd: PQsocket(handle),
                    events: Int16(POLLIN) | (flush == 1 ? Int16(POLLOUT) : 0),
                    revents: 0
                )
                guard poll(&descriptor, 1, -1) >= 0 || errno == EINTR else { throw connectionError(query: nil) }
                if descriptor.revents & Int16(POLLIN | POLLERR | POLLHUP) != 0, PQconsumeInput(handle) == 0 {
                    throw connectionError(query: nil)
                }
                continue
            }
            guard let result = PQgetResult(handle) else { continue }  // end of one statement's results
            let status = PQresultStatus(result)
            if status == PGRES_PIPELINE_SYNC {
                PQclear(result)
                break
            }
            let sql = queries[min(index, queries.count - 1)].sql
            switch status {
            case PGRES_PIPELINE_ABORTED:
                PQclear(result)
            case PGRES_TUPLES_OK, PGRES_COMMAND_OK, PGRES_EMPTY_QUERY:
                results.append(try rows(from: result, query: sql))
            default:
                do {
                    _ = try rows(from: result, query: sql)
                } catch var error as PostgresError {
                    if failure == nil {
                        error.message = "statement \(index + 1) of \(queries.count) in the pipeline failed: \(error.message)"
                        failure = error
                    }
                }
            }
            index += 1
        }
        if let failure { throw failure }
        guard results.count == queries.count else {
            throw PostgresError(code: .protocolViolation, message: "pipeline returned \(results.count) results for \(queries.count) statements")
        }
        return results
    }
}
