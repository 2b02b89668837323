import Foundation
import XCTest

/// A minimal HTTP/1.1 client over a plain TCP socket, enough for the gateway's tests: one
/// request per connection (`Connection: close`), the answer read to the end, `Content-Length`
/// or chunked bodies. Keeping it this small avoids a heavy client dependency and shows exactly
/// what crosses the wire.
struct HTTPTestClient {
    let baseURL: String
    var bearer: String?

    struct Answer {
        var status: Int
        var headers: [String: String]
        var body: Data

        var text: String { String(decoding: body, as: UTF8.self) }
        func json() throws -> Any { try JSONSerialization.jsonObject(with: body, options: [.fragmentsAllowed]) }
        func object(file: StaticString = #filePath, line: UInt = #line) throws -> [String: Any] {
            try XCTUnwrap(try json() as? [String: Any], "not a JSON object: \(text.prefix(300))", file: file, line: line)
        }
    }

    func get(_ path: String) throws -> Answer { try send("GET", path) }
    func delete(_ path: String) throws -> Answer { try send("DELETE", path) }

    func post(_ path: String, json: Any) throws -> Answer {
        try send("POST", path, body: try JSONSerialization.data(withJSONObject: json), contentType: "application/json")
    }

    func send(_ method: String, _ path: String, body: Data = Data(), contentType: String? = nil, headers: [String: String] = [:]) throws -> Answer {
        let (host, port) = try hostAndPort()
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw ClusterTestError.setup("socket() failed") }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        inet_pton(AF_INET, host, &address.sin_addr)
        var timeout = timeval(tv_sec: 300, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else { throw ClusterTestError.setup("cannot connect to \(baseURL)") }
        var head = "\(method) \(path) HTTP/1.1\r\nHost: \(host):\(port)\r\nConnection: close\r\nContent-Length: \(body.count)\r\n"
        if let contentType { head += "Content-Type: \(contentType)\r\n" }
        if let bearer { head += "Authorization: Bearer \(bearer)\r\n" }
        for (name, value) in headers { head += "\(name): \(value)\r\n" }
        let request = Data((head + "\r\n").utf8) + body
        try request.withUnsafeBytes { raw in
            var sent = 0
            while sent < raw.count {
                let n = Foundation.send(fd, raw.baseAddress! + sent, raw.count - sent, 0)
                guard n > 0 else { throw ClusterTestError.setup("send failed") }
                sent += n
            }
        }
        var received = Data()
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = recv(fd, &buffer, buffer.count, 0)
            if n <= 0 { break }
            received.append(contentsOf: buffer[0..<n])
        }
        return try Self.parse(received)
    }

    private func hostAndPort() throws -> (String, Int) {
        let rest = baseURL.replacingOccurrences(of: "http://", with: "")
        let parts = rest.split(separator: ":")
        guard parts.count == 2, let port = Int(parts[1]) else { throw ClusterTestError.setup("bad base URL \(baseURL)") }
        return (String(parts[0]), port)
    }

    static func parse(_ data: Data) throws -> Answer {
        let separator = Data("\r\n\r\n".utf8)
        guard let end = data.range(of: separator) else { throw ClusterTestError.setup("no HTTP head in \(data.count) bytes") }
        let headLines = String(decoding: data[..<end.lowerBound], as: UTF8.self).components(separatedBy: "\r\n")
        let statusParts = headLines[0].split(separator: " ")
        guard statusParts.count >= 2, let status = Int(statusParts[1]) else { throw ClusterTestError.setup("bad status line \(headLines[0])") }
        var headers: [String: String] = [:]
        for line in headLines.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        var body = Data(data[end.upperBound...])
        if headers["transfer-encoding"]?.lowercased() == "chunked" { body = try dechunk(body) }
        return Answer(status: status, headers: headers, body: body)
    }

    private static func dechunk(_ data: Data) throws -> Data {
        var out = Data()
        var index = data.startIndex
        let crlf = Data("\r\n".utf8)
        while let lineEnd = data.range(of: crlf, in: index..<data.endIndex) {
            let sizeText = String(decoding: data[index..<lineEnd.lowerBound], as: UTF8.self).split(separator: ";")[0]
            guard let size = Int(sizeText.trimmingCharacters(in: .whitespaces), radix: 16) else { throw ClusterTestError.setup("bad chunk size") }
            if size == 0 { break }
            let start = lineEnd.upperBound
            out.append(data[start..<start + size])
            index = start + size + 2
        }
        return out
    }
}
