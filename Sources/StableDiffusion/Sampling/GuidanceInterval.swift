/// The noise levels where classifier-free guidance runs under the guidance-interval rule
/// (Kynkaanniemi et al., arXiv 2404.07724): the half-open range (sigmaLow, sigmaHigh].
/// JSON: `{"sigma_low": 0.28, "sigma_high": 5.42}`.
public struct GuidanceInterval: Codable, Sendable, Equatable {
    public var sigmaLow: Float
    public var sigmaHigh: Float

    public init(sigmaLow: Float, sigmaHigh: Float) {
        self.sigmaLow = sigmaLow
        self.sigmaHigh = sigmaHigh
    }

    /// Whether a step at noise level `sigma` is guided.
    public func contains(_ sigma: Float) -> Bool { sigma > sigmaLow && sigma <= sigmaHigh }

    enum CodingKeys: String, CodingKey {
        case sigmaLow = "sigma_low"
        case sigmaHigh = "sigma_high"
    }
}
