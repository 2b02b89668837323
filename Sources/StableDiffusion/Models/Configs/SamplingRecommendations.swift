import Foundation

/// `sdcluster.json` in a model folder: sampling settings the model's authors recommend, used
/// where a request leaves them unset. Stable Diffusion folders have no such file and get the
/// usual defaults (guidance scale 7.5); the shipped shapes model, small and trained briefly,
/// over-guides at 7.5 and recommends 2.5 (docs/default-model.md has the measurements).
///
///     {"guidance_scale": 2.5}
public struct SamplingRecommendations: ModelConfig, Equatable {
    /// Classifier-free guidance scale for requests that give none.
    public var guidanceScale: Float?

    public init(guidanceScale: Float? = nil) {
        self.guidanceScale = guidanceScale
    }

    enum CodingKeys: String, CodingKey {
        case guidanceScale = "guidance_scale"
    }

    public static let fileName = "sdcluster.json"

    /// The file in `root` (a diffusers folder), or nil when there is none.
    public static func load(root: String) throws -> SamplingRecommendations? {
        let path = root + "/" + fileName
        guard FileManager.default.fileExists(atPath: path) else { return nil }
        let found = try load(from: path)
        if let w = found.guidanceScale, !(w.isFinite && w >= 0) {
            throw WeightError.badConfig(file: path, key: "guidance_scale", detail: "must be a number >= 0, not \(w)")
        }
        return found
    }
}
