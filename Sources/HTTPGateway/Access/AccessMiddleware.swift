import Foundation
import Hummingbird

/// Lets a request through when it may be served: with API keys configured, every route but
/// `/metrics` and the status page's own HTML (which holds no data; its data calls carry the key)
/// needs `Authorization: Bearer KEY`. It also counts every answer for `/metrics`.
struct AccessMiddleware: RouterMiddleware {
    typealias Context = BasicRequestContext
    let keys: APIKeys?
    let metrics: GatewayMetrics

    /// Paths open to anyone who reaches the port.
    static let open: Set<String> = ["/metrics", "/", "/favicon.ico"]

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let path = request.uri.path
        let response: Response
        if let keys, !Self.open.contains(path), keys.caller(authorization: request.headers[.authorization]) == nil {
            var headers = HTTPFields()
            headers[.wwwAuthenticate] = "Bearer"
            headers[.contentType] = "application/json"
            let body = #"{"error":{"code":"not-authorized","message":"this gateway needs an API key: send 'Authorization: Bearer KEY' with a key from its --http-keys file"},"detail":"Not authenticated"}"#
            response = Response(status: .unauthorized, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(string: body)))
        } else {
            do {
                response = try await next(request, context)
            } catch let error as HTTPError {
                metrics.countRequest(route: Self.route(path), status: Int(error.status.code))
                throw error
            }
        }
        metrics.countRequest(route: Self.route(path), status: Int(response.status.code))
        return response
    }

    /// The route family of a path, so ids do not make a label per batch.
    static func route(_ path: String) -> String {
        let parts = path.split(separator: "/").map(String.init)
        if parts.count >= 2, parts[0] == "v1", parts[1] == "batches" {
            switch parts.count {
            case 2: return "/v1/batches"
            case 3: return "/v1/batches/ID"
            default: return "/v1/batches/ID/" + parts[3]
            }
        }
        let known: Set<String> = ["/", "/metrics", "/openapi.json", "/v1/status", "/sdapi/v1/txt2img", "/sdapi/v1/sd-models",
                                  "/sdapi/v1/samplers", "/sdapi/v1/schedulers", "/sdapi/v1/progress", "/sdapi/v1/options",
                                  "/sdapi/v1/interrupt"]
        return known.contains(path) ? path : "other"
    }
}
