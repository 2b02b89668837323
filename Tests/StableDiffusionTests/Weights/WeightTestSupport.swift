import Compute
import Foundation
import XCTest
@testable import StableDiffusion

/// A fresh temporary folder per test, removed afterwards.
final class TemporaryFolder {
    let path: String

    init() throws {
        path = NSTemporaryDirectory() + "sdcluster-weights-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }

    /// Writes `data` to `name` (folders created as needed) and returns the full path.
    @discardableResult
    func write(_ data: Data, to name: String) throws -> String {
        let full = path + "/" + name
        try FileManager.default.createDirectory(atPath: (full as NSString).deletingLastPathComponent,
                                                withIntermediateDirectories: true)
        try data.write(to: URL(fileURLWithPath: full))
        return full
    }

    @discardableResult
    func write(_ text: String, to name: String) throws -> String { try write(Data(text.utf8), to: name) }

    @discardableResult
    func write(_ writer: SafeTensorsWriter, to name: String) throws -> String { try write(writer.serialized(), to: name) }
}

/// A raw safetensors file: 8-byte length, the given header text, then `body`.
func rawSafeTensors(header: String, body: Data = Data(), claimedLength: UInt64? = nil) -> Data {
    var data = Data()
    data.appendLittleEndian(claimedLength ?? UInt64(header.utf8.count))
    data.append(Data(header.utf8))
    data.append(body)
    return data
}

/// Asserts that `body` throws a `WeightError` whose message contains every fragment.
func assertWeightError(_ fragments: [String], file: StaticString = #filePath, line: UInt = #line,
                       _ body: () throws -> Void) {
    do {
        try body()
        XCTFail("expected an error mentioning \(fragments)", file: file, line: line)
    } catch let error as WeightError {
        for fragment in fragments {
            XCTAssertTrue(error.description.contains(fragment), "'\(error)' lacks '\(fragment)'", file: file, line: line)
        }
    } catch {
        XCTFail("expected WeightError, got \(error)", file: file, line: line)
    }
}

/// Deterministic pseudo-random values for test tensors (xorshift; no global RNG state).
func testValues(_ count: Int, seed: UInt64) -> [Float] {
    var state = seed &* 0x9E37_79B9_7F4A_7C15 | 1
    var out = [Float](repeating: 0, count: count)
    for i in 0..<count {
        state ^= state << 13
        state ^= state >> 7
        state ^= state << 17
        out[i] = Float(Int32(truncatingIfNeeded: state >> 50) - 8192) / 4096
    }
    return out
}

/// The fixture written by scripts/weights/make_compvis_key_fixtures.py (diffusers-checked pairs).
struct CompVisKeyFixture: Decodable {
    struct Case: Decodable {
        let name: String
        let unet: [Row]
        let vae: [Row]
        let textEncoder: [Row]
        let unetConfig: AnyJSON
        let vaeConfig: AnyJSON
        let textEncoderConfig: AnyJSON

        enum CodingKeys: String, CodingKey {
            case name, unet, vae, textEncoder = "text_encoder", unetConfig = "unet_config"
            case vaeConfig = "vae_config", textEncoderConfig = "text_encoder_config"
        }
    }

    /// [compvis name, diffusers name, compvis shape, diffusers shape]
    struct Row: Decodable {
        let compVis: String
        let diffusers: String
        let compVisShape: [Int]
        let diffusersShape: [Int]

        init(from decoder: Decoder) throws {
            var c = try decoder.unkeyedContainer()
            compVis = try c.decode(String.self)
            diffusers = try c.decode(String.self)
            compVisShape = try c.decode([Int].self)
            diffusersShape = try c.decode([Int].self)
        }
    }

    let cases: [Case]

    /// Decoded once per test run: the file is large enough for repeated decoding to show.
    static func load() throws -> CompVisKeyFixture { try cached.get() }

    private static let cached = Result { try decode() }

    private static func decode() throws -> CompVisKeyFixture {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("Fixtures/compvis_keys.json")
        return try JSONDecoder().decode(CompVisKeyFixture.self, from: Data(contentsOf: url))
    }
}

/// Raw JSON kept as bytes, to feed config decoders exactly what diffusers wrote.
struct AnyJSON: Decodable {
    let data: Data

    init(from decoder: Decoder) throws {
        let value = try JSONValue(from: decoder)
        data = try JSONSerialization.data(withJSONObject: value.object, options: [.fragmentsAllowed])
    }
}

private enum JSONValue: Decodable {
    case null, bool(Bool), number(Double), string(String), array([JSONValue]), object([String: JSONValue])

    init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        if c.decodeNil() { self = .null }
        else if let b = try? c.decode(Bool.self) { self = .bool(b) }
        else if let d = try? c.decode(Double.self) { self = .number(d) }
        else if let s = try? c.decode(String.self) { self = .string(s) }
        else if let a = try? c.decode([JSONValue].self) { self = .array(a) }
        else { self = .object(try c.decode([String: JSONValue].self)) }
    }

    var object: Any {
        switch self {
        case .null: return NSNull()
        case .bool(let b): return b
        case .number(let d): return d == d.rounded() && abs(d) < 1e15 ? Int(d) as Any : d as Any
        case .string(let s): return s
        case .array(let a): return a.map(\.object)
        case .object(let o): return o.mapValues(\.object)
        }
    }
}
