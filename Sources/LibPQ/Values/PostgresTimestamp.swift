import Foundation

/// Conversions between `Date` and PostgreSQL's timestamps.
enum PostgresTimestamp {
    /// Seconds from 1970-01-01 to PostgreSQL's epoch, 2000-01-01 UTC.
    private static let postgresEpoch: Double = 946_684_800

    /// Microseconds since 2000-01-01 UTC, rounded to the nearest microsecond.
    static func microseconds(since2000 date: Date) -> Int64 {
        Int64(((date.timeIntervalSince1970 - postgresEpoch) * 1_000_000).rounded())
    }

    /// Parses the text PostgreSQL prints for `timestamptz`, `timestamp` and `date` with
    /// `DateStyle = ISO` (which every ``PostgresConnection`` sets), for example
    /// `2026-11-25 01:02:03.456789+00`, `2026-11-25 01:02:03+05:30` or `2026-11-25`.
    /// A value without an offset is read as UTC.
    static func parse(_ text: Substring) -> Date? {
        var scanner = DigitScanner(text)
        guard let year = scanner.number(digits: 4), scanner.skip("-"),
              let month = scanner.number(digits: 2), scanner.skip("-"),
              let day = scanner.number(digits: 2)
        else { return nil }
        var seconds = Double(daysFromCivil(year: year, month: month, day: day)) * 86_400
        if scanner.skip(" ") || scanner.skip("T") {
            guard let hour = scanner.number(digits: 2), scanner.skip(":"),
                  let minute = scanner.number(digits: 2), scanner.skip(":"),
                  let second = scanner.number(digits: 2)
            else { return nil }
            seconds += Double(hour * 3600 + minute * 60 + second)
            if scanner.skip(".") {
                var fraction = 0.0
                var scale = 0.1
                while let digit = scanner.digit() {
                    fraction += Double(digit) * scale
                    scale /= 10
                }
                seconds += fraction
            }
            if let sign = scanner.sign() {
                guard let offsetHours = scanner.number(digits: 2) else { return nil }
                var offset = offsetHours * 3600
                if scanner.skip(":"), let offsetMinutes = scanner.number(digits: 2) {
                    offset += offsetMinutes * 60
                    if scanner.skip(":"), let offsetSeconds = scanner.number(digits: 2) {
                        offset += offsetSeconds
                    }
                }
                seconds -= Double(sign * offset)
            }
        }
        guard scanner.isAtEnd else { return nil }
        return Date(timeIntervalSince1970: seconds)
    }

    /// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
    private static func daysFromCivil(year: Int, month: Int, day: Int) -> Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let dayOfYear = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }
}

/// Reads digits and separators from the front of a string.
private struct DigitScanner {
    private var rest: Substring.UTF8View

    init(_ text: Substring) {
        rest = text.utf8
    }

    var isAtEnd: Bool { rest.isEmpty }

    mutating func digit() -> Int? {
        guard let byte = rest.first, byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { return nil }
        rest = rest.dropFirst()
        return Int(byte - UInt8(ascii: "0"))
    }

    mutating func number(digits count: Int) -> Int? {
        var value = 0
        for _ in 0..<count {
            guard let digit = digit() else { return nil }
            value = value * 10 + digit
        }
        return value
    }

    mutating func skip(_ character: Unicode.Scalar) -> Bool {
        guard rest.first == UInt8(ascii: character) else { return false }
        rest = rest.dropFirst()
        return true
    }

    mutating func sign() -> Int? {
        if skip("+") { return 1 }
        if skip("-") { return -1 }
        return nil
    }
}
