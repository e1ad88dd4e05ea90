import AsyncHTTPClient
import Baton
import Foundation
import NIOCore
import NIOHTTP1

/// Posts a provider's JSON and returns its answer, with the retries a provider's
/// documentation asks for: 429 and 5xx (and 529, Anthropic's "overloaded") are tried
/// again after the `Retry-After` the provider gave, else after a growing pause.
///
/// The API key goes in a header and nowhere else: errors carry the model's name, the
/// status and the provider's message, never the request's headers.
struct HTTPModelTransport: Sendable {
    let client: HTTPClient
    let model: String
    let timeout: Duration
    /// Tries after the first, for statuses worth another try.
    let retries: Int
    /// The longest `Retry-After` honoured; a provider asking for longer fails the call,
    /// so the router falls back instead of holding the run.
    let maxRetryAfter: Duration

    /// The decoded JSON body of a 2xx answer.
    func post(_ url: String, headers: [(String, String)], body: Data) async throws -> Data {
        var attempt = 0
        while true {
            var request = HTTPClientRequest(url: url)
            request.method = .POST
            request.headers.add(name: "content-type", value: "application/json")
            for (name, value) in headers { request.headers.add(name: name, value: value) }
            request.body = .bytes(ByteBuffer(bytes: body))
            let response: HTTPClientResponse
            let answer: ByteBuffer
            do {
                response = try await client.execute(request, timeout: .milliseconds(Int64(timeout.milliseconds)))
                answer = try await response.body.collect(upTo: 16 * 1024 * 1024)
            } catch let error as HTTPClientError where [.deadlineExceeded, .readTimeout, .connectTimeout].contains(error) {
                throw ModelError(.timeout, model: model, "no answer within \(timeout)")
            } catch is CancellationError {
                throw CancellationError()
            } catch {
                throw ModelError(.unreachable, model: model, "\(error)")
            }
            let status = Int(response.status.code)
            let bytes = Data(answer.readableBytesView)
            if (200..<300).contains(status) { return bytes }
            let message = Self.providerMessage(bytes)
            guard Self.isRetryable(status), attempt < retries else {
                throw ModelError(.httpStatus, model: model, message, status: status)
            }
            let pause = Self.retryAfter(response.headers.first(name: "retry-after")) ?? .milliseconds(250 * (1 << attempt))
            guard pause <= maxRetryAfter else {
                throw ModelError(.httpStatus, model: model, "\(message) (asked to retry after \(pause), more than \(maxRetryAfter))", status: status)
            }
            try await Task.sleep(for: pause)
            attempt += 1
        }
    }

    static func isRetryable(_ status: Int) -> Bool { status == 429 || status == 529 || (500..<600).contains(status) }

    /// `Retry-After` as seconds or as an HTTP date.
    static func retryAfter(_ header: String?) -> Duration? {
        guard let header = header?.trimmingCharacters(in: .whitespaces), !header.isEmpty else { return nil }
        if let seconds = Double(header) { return .milliseconds(Int(max(0, seconds) * 1000)) }
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "GMT")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss zzz"
        guard let date = formatter.date(from: header) else { return nil }
        return .milliseconds(Int(max(0, date.timeIntervalSinceNow) * 1000))
    }

    /// The error message of an OpenAI-style (`{"error": {"message": …}}`) or
    /// Anthropic-style (`{"type": "error", "error": {"type": …, "message": …}}`) body.
    static func providerMessage(_ body: Data) -> String {
        struct Failure: Decodable {
            struct Detail: Decodable {
                let message: String?
                let type: String?
            }
            let error: Detail?
        }
        if let failure = try? JSONDecoder().decode(Failure.self, from: body), let detail = failure.error {
            return [detail.type, detail.message].compactMap { $0 }.joined(separator: ": ")
        }
        return String(decoding: body.prefix(200), as: UTF8.self)
    }
}
