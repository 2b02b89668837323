import CDNNL
import Foundation

/// A fully connected layer `y = x W^T + b` over the last dimension, on oneDNN's matmul with
/// weights pre-packed once.
///
/// The output is cut into tiles fixed by the layer's shape and the row count alone, and each tile
/// is one single-threaded matmul; the engine's threads share out the tiles. So a value's
/// arithmetic never depends on the thread count (oneDNN's own threading splits the reduction
/// over K between threads for some shapes, which changes the bits: seen on AVX2 with 64-row
/// inputs), and rows are processed per sample (leading dimension), so results are independent
/// of the batch too. The tiles:
/// - fp32: at most 256 rows by 128 columns, written in place into the output (`gemm:jit:f32`
///   with strided rows was as fast as oneDNN's `brg` kernels or faster);
/// - bf16: whole output rows (all columns, so that each tile's output is dense and oneDNN takes
///   its `brg` kernels, AMX tiles where there are; strided rows get its slower `gemm:jit:bf16`),
///   256 rows at a time, fewer for short inputs so that several threads still share a layer
///   (`bf16RowTile`). The 128-column tiles before needed a dense staging buffer copied into the
///   output: 1.7x the time of whole rows at SD 1.5's 4096 x 320 -> 1280 (a C harness over
///   oneDNN 3.2, one thread), the copy the larger part. With AMX a bf16 matmul's bits did not
///   depend on the tiling (7 SD and CLIP shapes checked).
public final class Linear: @unchecked Sendable {
    public let inFeatures: Int
    public let outFeatures: Int
    public var precision: Precision { blocks[0].weights.precision }
    private let bias: Tensor?
    /// The weights' output columns in blocks (`columnTile` wide in fp32, all of them in bf16),
    /// each packed for its own matmul.
    private let blocks: [(start: Int, count: Int, weights: PackedWeights)]
    private var kernels: [Key: Kernel] = [:]
    private let lock = NSLock()

    /// fp32 tiles: rows and output columns of one tile (one single-threaded matmul).
    static let rowTile = 256
    static let columnTile = 128

    /// bf16 tiles' rows for an input of `rows` rows: 256 from 512 rows on (SD 1.5's 64x64 and
    /// 32x32 levels: 16 and 4 tiles), 128 from 128 rows (16x16: 2 tiles), else 32 (8x8's 64 rows
    /// and CLIP's 77: 2 and 3 tiles). A function of the shape alone, never of the thread count.
    static func bf16RowTile(rows: Int) -> Int { rows >= 512 ? 256 : rows >= 128 ? 128 : 32 }

    /// Rows of one tile for an input of `rows` rows, in this layer's precision.
    private func rowTile(rows: Int) -> Int { precision == .bf16 ? Linear.bf16RowTile(rows: rows) : Linear.rowTile }

    private struct Key: Hashable { let rows: Int, columns: Int, post: PostOps }
    private struct Kernel {
        let primitive: Primitive
        let src, weights, dst, bias: MemoryDesc
        /// The packed weights of each block this kernel's width serves (by block index).
        var packed: [Int: AlignedBuffer]
    }

    public enum Activation: Hashable {
        case none, silu, geluErf, quickGELU
        var postOp: PostOps.Op? {
            switch self {
            case .none: return nil
            case .silu: return .eltwise(dnnl_eltwise_swish, 1)
            case .geluErf: return .eltwise(dnnl_eltwise_gelu_erf, 0)
            case .quickGELU: return .eltwise(dnnl_eltwise_swish, 1.702)
            }
        }
    }

    /// `weight` is PyTorch's `[out, in]` (a 1x1 convolution's `[out, in, 1, 1]` is accepted too).
    /// Throws `ShapeError` for a weight that is not `[out, in]` or a bias that is not `[out]`,
    /// `DNNLError` when oneDNN cannot describe the weights.
    public init(weight: Tensor, bias: Tensor?, precision: Precision = .fp32) throws {
        guard weight.shape.count == 2 || (weight.shape.count == 4 && weight.shape[2] == 1 && weight.shape[3] == 1),
              weight.shape.allSatisfy({ $0 > 0 }) else {
            throw ShapeError("linear weight", expected: "[out, in] (or [out, in, 1, 1])", got: weight.shape)
        }
        if let bias, bias.count != weight.shape[0] {
            throw ShapeError("linear bias", expected: "[\(weight.shape[0])]", got: bias.shape)
        }
        outFeatures = weight.shape[0]
        inFeatures = weight.shape[1]
        self.bias = bias
        // PyTorch's [out, in] row-major is the [in, out] matrix in column-major ("ba"); a block of
        // output columns is a run of its rows.
        let k = inFeatures, width = precision == .bf16 ? outFeatures : Linear.columnTile
        blocks = try stride(from: 0, to: outFeatures, by: width).map { start in
            let count = min(width, weight.shape[0] - start)
            return (start, count, try PackedWeights(weight, offset: start * k, dims: [k, count], tag: dnnl_ba, precision: precision))
        }
    }

    /// Applies the layer to `x` of shape `[..., inFeatures]`. The leading dimension is the batch:
    /// each sample's rows go through their own matmul call.
    ///
    /// Throws `ShapeError` when `x`'s last dimension is not `inFeatures` (or `x` is empty) or
    /// `residual` is not the output's shape, `DNNLError` when oneDNN fails.
    public func callAsFunction(_ x: Tensor, activation: Activation = .none, residual: Tensor? = nil) throws -> Tensor {
        guard x.shape.count >= 1, x.shape.last == inFeatures, x.count > 0 else {
            throw ShapeError(name, expected: "[..., \(inFeatures)]", got: x.shape)
        }
        let batch = x.shape.count >= 3 ? x.shape[0] : 1
        let rows = x.count / inFeatures / batch
        var outShape = x.shape
        outShape[outShape.count - 1] = outFeatures
        if let residual, residual.shape != outShape {
            throw ShapeError("\(name) residual", expected: "the output's shape \(outShape)", got: residual.shape)
        }
        let out = residual?.copy() ?? Tensor(uninitialized: outShape)
        try apply(x.pointer, rows: rows, batch: batch, into: out.pointer, activation: activation, accumulate: residual != nil)
        return out
    }

    /// Raw form: `batch` blocks of `rows` rows, input and output densely packed. With
    /// `accumulate`, the result is added to what `output` already holds. The caller vouches for
    /// the buffers' sizes (`batch * rows * inFeatures` in, `batch * rows * outFeatures` out);
    /// throws `ShapeError` for `rows` or `batch` below 1, `DNNLError` when oneDNN fails.
    public func apply(_ input: UnsafePointer<Float>, rows: Int, batch: Int = 1, into output: UnsafeMutablePointer<Float>,
                      activation: Activation = .none, accumulate: Bool = false) throws {
        guard rows >= 1, batch >= 1 else { throw ShapeError(name, expected: "at least one row and one sample", got: [batch, rows]) }
        var post = PostOps()
        if let op = activation.postOp { post.ops.append(op) }
        if accumulate { post.ops.append(.sum) }
        let tile = rowTile(rows: rows)
        let rowTiles = (rows + tile - 1) / tile
        // Every kernel the tiles need, made before the threads start (creation is not thread-safe).
        var tileKernels: [[Kernel]] = []
        for r in 0..<rowTiles {
            let tileRows = min(tile, rows - r * tile)
            tileKernels.append(try blocks.indices.map { try kernel(rows: tileRows, block: $0, post: post) })
        }
        let scratchBytes = tileKernels.joined().map(\.primitive.scratchpadBytes).max() ?? 0
        let (k, n, elementSize) = (inFeatures, outFeatures, precision.bytesPerElement)
        let tilesPerSample = rowTiles * blocks.count
        try OpStatistics.shared.measure("linear \(k)->\(n) x\(rows)", flops: 2.0 * Double(batch * rows * k * n)) {
            try withInput(input, count: batch * rows * k, precision: precision) { src in
                let failure = FirstError()
                Threads.parallelFor(batch * tilesPerSample, itemCost: 2 * min(rows, tile) * k * blocks[0].count) { first, end in
                    failure.capture {
                        let scratchpad = try AlignedBuffer(bytes: max(64, scratchBytes))
                        for item in first..<end where !failure.isSet {
                            let b = item / tilesPerSample, r = (item % tilesPerSample) / blocks.count, c = item % blocks.count
                            let kernel = tileKernels[r][c], block = blocks[c]
                            let row0 = b * rows + r * tile
                            var args: [(Int32, MemoryDesc, UnsafeMutableRawPointer)] = [
                                (DNNLArg.src, kernel.src, src + row0 * k * elementSize),
                                (DNNLArg.weights, kernel.weights, kernel.packed[c]!.raw),
                                (DNNLArg.dst, kernel.dst, UnsafeMutableRawPointer(output + row0 * n + block.start)),
                            ]
                            if let bias { args.append((DNNLArg.bias, kernel.bias, UnsafeMutableRawPointer(bias.pointer + block.start))) }
                            try kernel.primitive.executeConcurrently(args, scratchpad: scratchpad.raw)
                        }
                    }
                }
                try failure.rethrow()
            }
        }
    }

    /// What the layer is, for errors.
    private var name: String { "linear \(inFeatures)->\(outFeatures)" }

    /// The single-threaded matmul of a `rows` x `blocks[block].count` tile, with that block's
    /// weights packed for it.
    private func kernel(rows: Int, block: Int, post: PostOps) throws -> Kernel {
        let columns = blocks[block].count
        let key = Key(rows: rows, columns: columns, post: post)
        lock.lock()
        defer { lock.unlock() }
        if var cached = kernels[key] {
            if cached.packed[block] == nil {
                cached.packed[block] = try blocks[block].weights.buffer(for: cached.weights)
                kernels[key] = cached
            }
            return cached
        }
        let src = try MemoryDesc.tagged([rows, inFeatures], dnnl_ab, precision.dataType)
        let wts = try MemoryDesc.tagged([inFeatures, columns], dnnl_format_tag_any, precision.dataType)
        let dst = try MemoryDesc.strided([rows, columns], strides: [outFeatures, 1])
        let b = try MemoryDesc.tagged([1, columns], dnnl_ab)
        let hasBias = bias != nil
        let prim = try Primitive.make(postOps: post, forOneThread: true, name: "linear \(inFeatures)->\(columns) x\(rows)") { pd, engine, attr in
            dnnl_matmul_primitive_desc_create(pd, engine, src.handle, wts.handle, hasBias ? b.handle : nil, dst.handle, attr)
        }
        let packedMD = try prim.queryMD(dnnl_query_weights_md)
        let kernel = Kernel(primitive: prim, src: src, weights: packedMD, dst: dst, bias: b,
                            packed: [block: try blocks[block].weights.buffer(for: packedMD)])
        kernels[key] = kernel
        return kernel
    }
}
