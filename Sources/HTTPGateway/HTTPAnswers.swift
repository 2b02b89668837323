import Foundation
import Hummingbird

/// Responses the gateway builds: JSON from Foundation objects (A1111's shapes are easier to keep
/// exact that way than through Codable), plain text and raw bytes.
enum HTTPAnswers {
    static func json(_ object: Any, status: HTTPResponse.Status = .ok) -> Response {
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .fragmentsAllowed])) ?? Data("{}".utf8)
        return bytes(data, contentType: "application/json", status: status)
    }

    static func text(_ text: String, contentType: String = "text/plain; charset=utf-8", status: HTTPResponse.Status = .ok) -> Response {
        bytes(Data(text.utf8), contentType: contentType, status: status)
    }

    static func bytes(_ data: Data, contentType: String, status: HTTPResponse.Status = .ok) -> Response {
        var headers = HTTPFields()
        headers[.contentType] = contentType
        headers[.cacheControl] = "no-store"
        return Response(status: status, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(bytes: data)))
    }

    /// A1111's error shape for HTTPException (`{"error", "detail", "body", "errors"}`), which
    /// its clients print; `detail` is the message for people.
    static func a1111Error(_ status: HTTPResponse.Status, _ detail: String) -> Response {
        json(["error": "HTTPException", "detail": detail, "body": "", "errors": detail], status: status)
    }

    /// FastAPI's 422 for request bodies: `{"detail": [{"type", "loc", "msg", "input"}]}`.
    static func unprocessable(_ problems: [FieldProblem]) -> Response {
        json(["detail": problems.map(\.json)], status: .unprocessableContent)
    }

    /// The gateway's own error shape (batch API, metrics, status): `{"error": {"code", "message"}}`.
    static func error(_ status: HTTPResponse.Status, code: String, _ message: String) -> Response {
        json(["error": ["code": code, "message": message]], status: status)
    }

    /// The body as a JSON object, or a 422 that says why not.
    static func jsonObject(_ buffer: ByteBuffer) -> Result<[String: Any], FieldProblem> {
        let data = Data(buffer.readableBytesView)
        guard let value = try? JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed]) else {
            return .failure(FieldProblem(type: "json_invalid", location: [], message: "JSON decode error: the body is not valid JSON",
                                         input: String(decoding: data.prefix(200), as: UTF8.self)))
        }
        guard let object = value as? [String: Any] else {
            return .failure(FieldProblem(type: "model_attributes_type", location: [], message: "Input should be a valid dictionary or object to extract fields from",
                                         input: FieldReader.jsonText(value)))
        }
        return .success(object)
    }
}
