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
    /// calls `body` with pointers that stay valid until it returns. The arrays live in
    /// scratch space on the stack: this runs once per statement.
    static func with<Result>(_ query: PostgresQuery, _ body: (BoundParameters) throws -> Result) throws -> Result {
        try validate(query)
        let binds = query.binds
        // Text values need the NUL terminator libpq expects, hence one extra byte each.
        let byteCount = binds.reduce(1) { $0 + ($1.bytes?.count ?? 0) + 1 }
        return try withUnsafeTemporaryAllocation(of: UInt8.self, capacity: byteCount) { storage in
            try withUnsafeTemporaryAllocation(of: Oid.self, capacity: binds.count) { types in
                try withUnsafeTemporaryAllocation(of: UnsafePointer<CChar>?.self, capacity: binds.count) { values in
                    try withUnsafeTemporaryAllocation(of: Int32.self, capacity: binds.count * 2) { integers in
                        let base = UnsafeMutableRawPointer(storage.baseAddress!)
                        var offset = 0
                        for (index, bind) in binds.enumerated() {
                            types[index] = Oid(bind.type.rawValue)
                            integers[index] = Int32(bind.bytes?.count ?? 0)
                            integers[binds.count + index] = bind.format.rawValue
                            guard let bytes = bind.bytes else {
                                values[index] = nil
                                continue
                            }
                            bytes.withUnsafeBytes { source in
                                if let start = source.baseAddress { (base + offset).copyMemory(from: start, byteCount: source.count) }
                            }
                            base.storeBytes(of: 0, toByteOffset: offset + bytes.count, as: UInt8.self)
                            values[index] = UnsafePointer((base + offset).assumingMemoryBound(to: CChar.self))
                            offset += bytes.count + 1
                        }
                        return try body(BoundParameters(
                            count: Int32(binds.count),
                            types: types.baseAddress,
                            values: UnsafePointer(values.baseAddress),
                            lengths: UnsafePointer(integers.baseAddress),
                            formats: integers.baseAddress.map { UnsafePointer($0 + binds.count) }
                        ))
                    }
                }
            }
        }
    }
}
