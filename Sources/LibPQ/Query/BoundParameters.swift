import CLibPQ

/// A query's binds laid out as the C arrays `PQexecParams` and `PQsendQueryParams` take.
struct BoundParameters {
    let count: Int32
    let types: UnsafePointer<Oid>?
    let values: UnsafePointer<UnsafePointer<CChar>?>?
    let lengths: UnsafePointer<Int32>?
    let formats: UnsafePointer<Int32>?

    /// Throws if a bind can't be sent (text with a NUL byte, a value that failed to encode).
    static func validate(_ query: PostgresQuery) throws {
        for (index, bind) in query.binds.enumerated() {
            if let problem = bind.sendingProblem {
                throw PostgresError(code: .invalidParameter, message: "parameter $\(index + 1): \(problem)", query: query.sql)
            }
        }
    }

    /// Validates the binds (a refused value throws before anything is sent), then
    /// calls `body` with pointers that stay valid until it returns.
    static func with<Result>(_ query: PostgresQuery, _ body: (BoundParameters) throws -> Result) throws -> Result {
        try validate(query)
        // One buffer for all values; text values get the NUL terminator libpq expects.
        var buffer: [UInt8] = [0]  // never empty, so it always has a base address
        var offsets: [Int?] = []
        for bind in query.binds {
            guard let bytes = bind.bytes else {
                offsets.append(nil)
                continue
            }
            offsets.append(buffer.count)
            buffer.append(contentsOf: bytes)
            buffer.append(0)
        }
        let types = query.binds.map { Oid($0.type.rawValue) }
        let lengths = query.binds.map { Int32($0.bytes?.count ?? 0) }
        let formats = query.binds.map { $0.format.rawValue }
        return try buffer.withUnsafeBufferPointer { storage in
            let base = UnsafeRawPointer(storage.baseAddress!).assumingMemoryBound(to: CChar.self)
            let values: [UnsafePointer<CChar>?] = offsets.map { $0.map { base + $0 } }
            return try types.withUnsafeBufferPointer { types in
                try values.withUnsafeBufferPointer { values in
                    try lengths.withUnsafeBufferPointer { lengths in
                        try formats.withUnsafeBufferPointer { formats in
                            try body(BoundParameters(
                                count: Int32(query.binds.count),
                                types: types.baseAddress,
                                values: values.baseAddress,
                                lengths: lengths.baseAddress,
                                formats: formats.baseAddress
                            ))
                        }
                    }
                }
            }
        }
    }
}
