import Compute

/// Anything that hands out named float32 tensors in PyTorch layouts (diffusers key names).
public protocol WeightSource: AnyObject {
    func tensor(_ name: String, shape: [Int]) throws -> Tensor
    func contains(_ name: String) -> Bool
}

/// A view of a weight source under a key prefix: module code asks for `conv1.weight` and the
/// scope turns it into `down_blocks.0.resnets.1.conv1.weight`. The module tree thus mirrors the
/// checkpoint's key names, and a missing or misshapen key is reported by its full name.
public struct WeightScope {
    public let source: WeightSource
    public let prefix: String
    /// What the convolutions, linear layers and attention under this scope compute in.
    public let precision: Precision

    public init(_ source: WeightSource, prefix: String = "", precision: Precision = .fp32) {
        self.source = source
        self.prefix = prefix
        self.precision = precision
    }

    public func callAsFunction(_ name: String) -> WeightScope {
        WeightScope(source, prefix: prefix.isEmpty ? name : "\(prefix).\(name)", precision: precision)
    }

    public func tensor(_ name: String, _ shape: [Int]) throws -> Tensor {
        try source.tensor(prefix.isEmpty ? name : "\(prefix).\(name)", shape: shape)
    }

    public func contains(_ name: String) -> Bool {
        source.contains(prefix.isEmpty ? name : "\(prefix).\(name)")
    }
}

extension Conv2D {
    /// Loads `weight` `[out, in, k, k]` and `bias` `[out]` from `scope`; padding defaults to "same".
    static func load(_ scope: WeightScope, in inChannels: Int, out outChannels: Int, kernel: Int,
                     stride: Int = 1, padding: (Int, Int, Int, Int)? = nil, bias: Bool = true) throws -> Conv2D {
        let w = try scope.tensor("weight", [outChannels, inChannels, kernel, kernel])
        let b = bias ? try scope.tensor("bias", [outChannels]) : nil
        let p = (kernel - 1) / 2
        return try Conv2D(weight: w, bias: b, stride: stride, padding: padding ?? (p, p, p, p), precision: scope.precision)
    }
}

extension UpsampleConvolution {
    /// Loads an `Upsample2D`'s 3x3 convolution (`weight` `[out, in, 3, 3]`, `bias` `[out]`) from
    /// `scope`, folded with the nearest 2x upsampling before it.
    static func load(_ scope: WeightScope, in inChannels: Int, out outChannels: Int) throws -> UpsampleConvolution {
        let w = try scope.tensor("weight", [outChannels, inChannels, 3, 3])
        return try UpsampleConvolution(weight: w, bias: try scope.tensor("bias", [outChannels]), precision: scope.precision)
    }
}

extension Linear {
    static func load(_ scope: WeightScope, in inFeatures: Int, out outFeatures: Int, bias: Bool = true) throws -> Linear {
        let w = try scope.tensor("weight", [outFeatures, inFeatures])
        return try Linear(weight: w, bias: bias ? try scope.tensor("bias", [outFeatures]) : nil, precision: scope.precision)
    }

    /// Several projections of the same input fused into one matmul (their weights stacked), e.g.
    /// attention's q, k and v: one pass over the input instead of three.
    static func loadStacked(_ scopes: [WeightScope], in inFeatures: Int, out outFeatures: Int, bias: Bool) throws -> Linear {
        let parts = try scopes.map { try $0.tensor("weight", [outFeatures, inFeatures]) }
        let w = try Tensor.concatenateBatch(parts).reshaped([outFeatures * parts.count, inFeatures])
        let b = bias ? try Tensor.concatenateBatch(try scopes.map { try $0.tensor("bias", [outFeatures]).reshaped([1, outFeatures]) })
            .reshaped([outFeatures * parts.count]) : nil
        return try Linear(weight: w, bias: b, precision: scopes[0].precision)
    }
}

extension GroupNorm {
    static func load(_ scope: WeightScope, channels: Int, groups: Int, epsilon: Float) throws -> GroupNorm {
        try GroupNorm(groups: groups, epsilon: epsilon, gamma: try scope.tensor("weight", [channels]), beta: try scope.tensor("bias", [channels]))
    }
}

extension LayerNorm {
    static func load(_ scope: WeightScope, channels: Int, epsilon: Float) throws -> LayerNorm {
        try LayerNorm(epsilon: epsilon, gamma: try scope.tensor("weight", [channels]), beta: try scope.tensor("bias", [channels]))
    }
}
