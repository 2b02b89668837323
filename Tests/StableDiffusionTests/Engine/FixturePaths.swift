import Compute
import Foundation
import StableDiffusion

/// Locations of the committed reference fixtures (made by scripts/fixtures/*.py with diffusers).
enum Fixtures {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures").path

    static func path(_ relative: String) -> String { "\(root)/\(relative)" }

    /// All tensors of an `io/NAME.safetensors` file.
    static func io(_ name: String) throws -> [String: Tensor] {
        let file = try SafeTensorsFile(path: path("io/\(name).safetensors"))
        var out: [String: Tensor] = [:]
        for n in file.names { out[n] = try file.tensor(n) }
        return out
    }

    /// Largest absolute difference divided by the reference's largest absolute value.
    static func relativeError(_ got: Tensor, _ expected: Tensor) -> Float {
        precondition(got.shape == expected.shape, "shape \(got.shape) vs expected \(expected.shape)")
        var m: Float = 0
        for i in 0..<got.count { m = max(m, abs(got.pointer[i] - expected.pointer[i])) }
        return m / max(expected.maxAbs, 1e-12)
    }
}
