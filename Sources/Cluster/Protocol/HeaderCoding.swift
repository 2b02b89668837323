import Foundation

/// JSON for frame 2. Encoding never fails: a non-finite number is written as a string, which
/// the decoder then refuses with `invalidField` (a peer must not send NaN in a header).
enum HeaderCoding {
    static func encode<T: Encodable>(_ value: T) -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.nonConformingFloatEncodingStrategy = .convertToString(
            positiveInfinity: "Infinity", negativeInfinity: "-Infinity", nan: "NaN")
        do {
            return Array(try encoder.encode(value))
        } catch {
            // Only non-finite floats can make JSONEncoder fail, and they are handled above.
            preconditionFailure("header of \(T.self) could not be encoded: \(error)")
        }
    }

    /// Decodes a header, translating Foundation's errors into `ProtocolError`.
    static func decode<T: Decodable>(_ type: T.Type, from bytes: [UInt8]) throws -> T {
        do {
            return try JSONDecoder().decode(T.self, from: Data(bytes))
        } catch let error as DecodingError {
            throw translate(error)
        } catch let error as ProtocolError {
            throw error
        } catch {
            throw ProtocolError.headerNotJSON("\(error)")
        }
    }

    private static func translate(_ error: DecodingError) -> ProtocolError {
        switch error {
        case .keyNotFound(let key, let context):
            return .missingField(path(context.codingPath + [key]))
        case .valueNotFound(_, let context):
            return .missingField(path(context.codingPath))
        case .typeMismatch(let type, let context):
            return .invalidField(path(context.codingPath), reason: "expected \(type)")
        case .dataCorrupted(let context):
            if context.codingPath.isEmpty {
                return .headerNotJSON(context.debugDescription)
            }
            return .invalidField(path(context.codingPath), reason: context.debugDescription)
        @unknown default:
            return .headerNotJSON("\(error)")
        }
    }

    private static func path(_ keys: [CodingKey]) -> String {
        var out = ""
        for key in keys {
            if let i = key.intValue { out += "[\(i)]" } else { out += out.isEmpty ? key.stringValue : ".\(key.stringValue)" }
        }
        return out.isEmpty ? "(header)" : out
    }
}
