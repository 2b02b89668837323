import Foundation

extension KeyedDecodingContainer {
    /// The value under `key`, or `fallback` (the diffusers default) when the key is absent or null.
    /// A present value of the wrong type is an error, never silently replaced by the default.
    func value<T: Decodable>(_ key: Key, default fallback: T) throws -> T {
        try decodeIfPresent(T.self, forKey: key) ?? fallback
    }
}

/// Loading a config record from a `config.json` file with errors that name the file and key.
public protocol ModelConfig: Codable, Sendable {}

extension ModelConfig {
    /// Decodes the record from JSON data; `file` names the source in errors.
    public static func decode(_ data: Data, file: String) throws -> Self {
        do {
            return try JSONDecoder().decode(Self.self, from: data)
        } catch let error as DecodingError {
            throw Self.describe(error, file: file)
        } catch let error as WeightError {
            throw error
        } catch {
            throw WeightError.badConfig(file: file, key: "(whole file)", detail: "could not be read: \(error)")
        }
    }

    /// Reads and decodes `path` (a `config.json`).
    public static func load(from path: String) throws -> Self {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw WeightError.modelNotFound(path: path, detail: "config file is missing or unreadable")
        }
        return try decode(data, file: path)
    }

    private static func describe(_ error: DecodingError, file: String) -> WeightError {
        func path(_ context: DecodingError.Context) -> String {
            let key = context.codingPath.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }.joined(separator: ".")
            return key.isEmpty ? "(whole file)" : key
        }
        switch error {
        case .typeMismatch(let type, let context):
            return .badConfig(file: file, key: path(context), detail: "has the wrong type (expected \(type))")
        case .valueNotFound(let type, let context):
            return .badConfig(file: file, key: path(context), detail: "is null where \(type) is required")
        case .keyNotFound(let key, let context):
            return .badConfig(file: file, key: path(context) + "." + key.stringValue, detail: "is required but missing")
        case .dataCorrupted(let context):
            return .badConfig(file: file, key: path(context), detail: "is not valid JSON (\(context.debugDescription))")
        @unknown default:
            return .badConfig(file: file, key: "(whole file)", detail: "could not be decoded: \(error)")
        }
    }
}
