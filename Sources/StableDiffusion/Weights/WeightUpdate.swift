import Compute
import Foundation

/// One tensor of a safetensors file, read only when needed (a LoRA's factors stay on disk until
/// the layer they change is built).
public struct StoredTensor: Sendable {
    public let file: SafeTensorsFile
    public let key: String

    public init(file: SafeTensorsFile, key: String) {
        self.file = file
        self.key = key
    }

    public var shape: [Int] { file.shape(of: key) ?? [] }

    public func read() throws -> Tensor { try file.tensor(key) }
}

/// A low-rank change added to one weight as the model reads it: `W += scale * up @ down`, the
/// merge of a LoRA layer. `up` is `[out, rank]` (or `[out, rank, 1, 1]`), `down` is
/// `[rank, in]` or, for convolutions, `[rank, in, kh, kw]`; the product is laid out as the
/// weight (`[out, in]` or `[out, in, kh, kw]`), so it is added element by element.
public struct WeightUpdate: Sendable {
    public let up: StoredTensor
    public let down: StoredTensor
    /// The LoRA's weight times its `alpha / rank` (1 without alpha).
    public let scale: Float
    /// Names the LoRA and its layer in messages, e.g. `myStyle.safetensors: lora_unet_..._to_q`.
    public let origin: String

    public init(up: StoredTensor, down: StoredTensor, scale: Float, origin: String) {
        self.up = up
        self.down = down
        self.scale = scale
        self.origin = origin
    }

    /// The rank, or nil when the factors' shapes do not agree with each other.
    public var rank: Int? {
        let upShape = up.shape, downShape = down.shape
        guard upShape.count >= 2, downShape.count >= 2, upShape[1] == downShape[0],
              upShape.dropFirst(2).allSatisfy({ $0 == 1 }) else { return nil }
        return downShape[0]
    }

    /// Whether `up @ down` has the size and layout of a weight of `shape`: `up`'s rows are its
    /// output channels, `down`'s remaining dimensions (input channels, kernel) the rest.
    public func fits(_ shape: [Int]) -> Bool {
        guard let rank, shape.count >= 2 else { return false }
        let upShape = up.shape, downShape = down.shape
        // A 1x1 convolution's factors may come as linear ones ([rank, in]) or the reverse.
        return upShape[0] == shape[0] && rank > 0
            && WeightStore.sameLayout(Array(downShape.dropFirst()), Array(shape.dropFirst()))
    }

    /// Adds `scale * up @ down` to `weight` in place, in float32. The product runs on the
    /// engine's matmul (`Linear`: `(scale * up) @ down`, accumulated into the weight), whose
    /// tiling is fixed by the shapes, so the same update gives the same bits with any thread
    /// count; a plain loop took 5 s for a rank-32 LoRA on SD 1.5 (docs/weights.md).
    func add(to weight: Tensor) throws {
        guard fits(weight.shape), let rank else {
            throw WeightError.wrongShape(source: origin, key: "lora_up \(up.shape) x lora_down \(down.shape)",
                                         expected: weight.shape, found: [up.shape.first ?? 0] + down.shape.dropFirst(),
                                         hint: "This LoRA was made for a model of another size.")
        }
        let upValues = try up.read(), downValues = try down.read()
        let rows = weight.shape[0], columns = weight.count / rows
        // Linear computes x W^T: x = scale * up [rows, rank], W = down^T [columns, rank].
        let scaledUp = Tensor(uninitialized: [rows, rank])
        for i in 0..<rows * rank { scaledUp.pointer[i] = scale * upValues.pointer[i] }
        let downT = Tensor(uninitialized: [columns, rank])
        for k in 0..<rank {
            for column in 0..<columns { downT.pointer[column * rank + k] = downValues.pointer[k * columns + column] }
        }
        let product = try Linear(weight: downT, bias: nil, precision: .fp32)
        try product.apply(scaledUp.pointer, rows: rows, into: weight.pointer, accumulate: true)
    }
}
