import Foundation

/// The API keys HTTP callers present as `Authorization: Bearer KEY` (`--http-keys FILE`): one
/// key a line, optionally after a name and a space (`alice 3f9c...`), `#` lines skipped. Keys
/// must be at least 16 characters, so a short guessable one is refused when the file is read.
public struct APIKeys: Sendable {
    /// Name by key (a key without a name is named by its line number).
    let names: [String: String]

    public static let minimumLength = 16

    public init(names: [String: String]) { self.names = names }

    /// Reads a key file; the error says which line is wrong and why.
    public static func load(_ path: String) throws -> APIKeys {
        guard let data = FileManager.default.contents(atPath: path), let text = String(data: data, encoding: .utf8) else {
            throw GatewayError.keys("--http-keys \(path): cannot be read as UTF-8 text")
        }
        var names: [String: String] = [:]
        for (number, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.isEmpty || line.hasPrefix("#") { continue }
            let parts = line.split(separator: " ", omittingEmptySubsequences: true).map(String.init)
            guard parts.count <= 2, let key = parts.last else {
                throw GatewayError.keys("--http-keys \(path) line \(number + 1): expected 'KEY' or 'NAME KEY'")
            }
            guard key.count >= minimumLength, key.allSatisfy({ $0.isASCII && !$0.isWhitespace }) else {
                throw GatewayError.keys("--http-keys \(path) line \(number + 1): a key must be at least \(minimumLength) printable ASCII characters (e.g. `openssl rand -hex 24`)")
            }
            names[key] = parts.count == 2 ? parts[0] : "key-line-\(number + 1)"
        }
        guard !names.isEmpty else { throw GatewayError.keys("--http-keys \(path): the file holds no keys") }
        return APIKeys(names: names)
    }

    /// The caller's name when `authorization` carries a known key. Every key is compared in
    /// full, in time that does not depend on where a guess first differs.
    func caller(authorization: String?) -> String? {
        guard let authorization, authorization.lowercased().hasPrefix("bearer ") else { return nil }
        let presented = Array(authorization.dropFirst("bearer ".count).trimmingCharacters(in: .whitespaces).utf8)
        var match: String?
        for (key, name) in names where Self.equalInConstantTime(Array(key.utf8), presented) { match = name }
        return match
    }

    static func equalInConstantTime(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        var difference = UInt8(a.count == b.count ? 0 : 1)
        for i in 0..<max(a.count, b.count) {
            difference |= (i < a.count ? a[i] : 0) ^ (i < b.count ? b[i] : 0)
        }
        return difference == 0
    }
}

/// Setting up the gateway failed: what was wrong and what to do.
public enum GatewayError: Error, CustomStringConvertible {
    case keys(String)
    case address(String)

    public var description: String {
        switch self {
        case .keys(let message), .address(let message): return message
        }
    }
}
