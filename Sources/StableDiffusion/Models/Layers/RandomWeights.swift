import Compute

/// Deterministic random weights of whatever shape a module asks for: the benchmark builds the
/// real SD 1.5 network this way, with nothing to download. Values are uniform in
/// `±1/sqrt(fan_in)` (PyTorch's default scale for linear and convolution layers); norm scales
/// are 1 and biases small, so activations stay in a realistic range.
public final class RandomWeights: WeightSource {
    private var state: UInt64
    public private(set) var parameterCount = 0

    public init(seed: UInt64 = 1) { state = seed | 1 }

    public func contains(_ name: String) -> Bool { true }

    public func tensor(_ name: String, shape: [Int]) throws -> Tensor {
        let t = Tensor(uninitialized: shape)
        parameterCount += t.count
        let isNormScale = name.hasSuffix("weight") && shape.count == 1
        if isNormScale {
            t.pointer.initialize(repeating: 1, count: t.count)
            return t
        }
        let fanIn = shape.count >= 2 ? shape.dropFirst().reduce(1, *) : shape[0]
        let bound = (name.hasSuffix("bias") ? 0.1 : 1) / Float(fanIn).squareRoot()
        for i in 0..<t.count {
            state ^= state << 13; state ^= state >> 7; state ^= state << 17
            t.pointer[i] = (Float(state >> 40) / Float(1 << 24) * 2 - 1) * bound
        }
        return t
    }
}
