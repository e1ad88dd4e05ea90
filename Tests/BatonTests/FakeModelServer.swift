import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import Synchronization

/// A real HTTP server on loopback that plays a model provider: each request is
/// answered by the test's `respond`, which sees how many requests came before, and
/// every request is kept for the test to look at.
final class FakeModelServer: Sendable {
    struct Request: Sendable {
        let method: String
        let path: String
        let headers: [String: String]
        let body: Data

        /// The body as JSON, for checking what the client sent.
        var json: [String: Any] { ((try? JSONSerialization.jsonObject(with: body)) as? [String: Any]) ?? [:] }
    }

    struct Response: Sendable {
        var status: Int = 200
        var headers: [String: String] = [:]
        var body: String
        /// How long the server waits before it answers.
        var delay: Duration = .zero
    }

    typealias Respond = @Sendable (_ index: Int, _ request: Request) -> Response

    let port: Int
    private let channel: any Channel
    private let received = Mutex<[Request]>([])
    private let respond: Respond

    var baseURL: String { "http://127.0.0.1:\(port)" }
    var requests: [Request] { received.withLock { $0 } }

    private init(channel: any Channel, respond: @escaping Respond) {
        self.channel = channel
        port = channel.localAddress?.port ?? 0
        self.respond = respond
    }

    static func start(_ respond: @escaping Respond) async throws -> FakeModelServer {
        let box = Mutex<FakeModelServer?>(nil)
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.pipeline.configureHTTPServerPipeline().flatMap {
                    channel.pipeline.addHandler(Handler { request in box.withLock { $0 }!.answer(request) })
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        let server = FakeModelServer(channel: channel, respond: respond)
        box.withLock { $0 = server }
        return server
    }

    func close() async {
        try? await channel.close()
    }

    private func answer(_ request: Request) -> Response {
        let index = received.withLock { received in
            received.append(request)
            return received.count - 1
        }
        return respond(index, request)
    }

    private final class Handler: ChannelInboundHandler, @unchecked Sendable {
        typealias InboundIn = HTTPServerRequestPart
        typealias OutboundOut = HTTPServerResponsePart

        private let answer: @Sendable (Request) -> Response
        private var head: HTTPRequestHead?
        private var body = Data()

        init(_ answer: @escaping @Sendable (Request) -> Response) { self.answer = answer }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            switch unwrapInboundIn(data) {
            case .head(let head):
                self.head = head
                body = Data()
            case .body(let buffer):
                body.append(contentsOf: buffer.readableBytesView)
            case .end:
                guard let head else { return }
                var headers: [String: String] = [:]
                for (name, value) in head.headers { headers[name.lowercased()] = value }
                let response = answer(Request(method: "\(head.method)", path: head.uri, headers: headers, body: body))
                let loopBound = NIOLoopBound(context, eventLoop: context.eventLoop)
                let keepAlive = head.isKeepAlive
                context.eventLoop.scheduleTask(in: .nanoseconds(Int64(response.delay.components.seconds) * 1_000_000_000 + response.delay.components.attoseconds / 1_000_000_000)) {
                    let context = loopBound.value
                    var headers = HTTPHeaders(response.headers.map { ($0.key, $0.value) })
                    headers.add(name: "content-type", value: "application/json")
                    headers.add(name: "content-length", value: "\(response.body.utf8.count)")
                    let responseHead = HTTPResponseHead(version: .http1_1, status: HTTPResponseStatus(statusCode: response.status), headers: headers)
                    context.write(NIOAny(HTTPServerResponsePart.head(responseHead)), promise: nil)
                    context.write(NIOAny(HTTPServerResponsePart.body(.byteBuffer(ByteBuffer(string: response.body)))), promise: nil)
                    context.writeAndFlush(NIOAny(HTTPServerResponsePart.end(nil))).whenComplete { _ in
                        if !keepAlive { loopBound.value.close(promise: nil) }
                    }
                }
            }
        }
    }
}

/// Bodies in each provider's documented wire format.
enum ProviderWire {
    static func openAI(_ content: String, promptTokens: Int = 20, completionTokens: Int = 5) -> String {
        let text = String(decoding: try! JSONSerialization.data(withJSONObject: [content], options: .fragmentsAllowed), as: UTF8.self).dropFirst().dropLast()
        return """
            {"id": "chatcmpl-1", "object": "chat.completion", "created": 1733000000, "model": "gpt-4o-mini",
             "choices": [{"index": 0, "message": {"role": "assistant", "content": \(text), "refusal": null}, "finish_reason": "stop"}],
             "usage": {"prompt_tokens": \(promptTokens), "completion_tokens": \(completionTokens), "total_tokens": \(promptTokens + completionTokens)}}
            """
    }

    static func openAIToolCall(name: String, arguments: String) -> String {
        let escaped = String(decoding: try! JSONSerialization.data(withJSONObject: [arguments]), as: UTF8.self).dropFirst().dropLast()
        return """
            {"id": "chatcmpl-2", "object": "chat.completion", "model": "gpt-4o-mini",
             "choices": [{"index": 0, "message": {"role": "assistant", "content": null,
               "tool_calls": [{"id": "call_1", "type": "function", "function": {"name": "\(name)", "arguments": \(escaped)}}]}, "finish_reason": "tool_calls"}],
             "usage": {"prompt_tokens": 30, "completion_tokens": 10, "total_tokens": 40}}
            """
    }

    static let openAIError = #"{"error": {"message": "The server had an error while processing your request.", "type": "server_error", "code": null}}"#

    static func anthropic(_ text: String, input: Int = 25, output: Int = 7) -> String {
        let escaped = String(decoding: try! JSONSerialization.data(withJSONObject: [text]), as: UTF8.self).dropFirst().dropLast()
        return """
            {"id": "msg_01", "type": "message", "role": "assistant", "model": "claude-3-5-haiku-latest",
             "content": [{"type": "text", "text": \(escaped)}], "stop_reason": "end_turn", "stop_sequence": null,
             "usage": {"input_tokens": \(input), "output_tokens": \(output)}}
            """
    }

    static let anthropicOverloaded = #"{"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}"#
}
