import CDNNL

/// A layer's weights in the layouts oneDNN asked for. The first layout is reordered from the
/// PyTorch tensor, which is then dropped; a later primitive wanting another layout gets a
/// reorder of the first packed copy. So each layer holds one copy per layout, never the
/// plain tensor beside them.
///
/// At `.bf16` the plain tensor is rounded to bfloat16 at once (the fp32 copy freed while the
/// model loads), so a bf16 model never holds its weights in fp32.
final class PackedWeights: @unchecked Sendable {
    let precision: Precision
    /// The plain weights until the first packing: an fp32 `Tensor` or a bf16 `AlignedBuffer`.
    private var plainOwner: AnyObject?
    private var plainRaw: UnsafeMutableRawPointer?
    private let plainMD: MemoryDesc
    private var packed: [(md: MemoryDesc, buffer: AlignedBuffer)] = []

    /// `dims`/`tag` describe the weights from element `offset` of `weights` on (all of them by
    /// default) as the primitives' logical weight shape.
    /// Throws `ShapeError` when `weights` hold no such block, `DNNLError`/`AllocationError`
    /// when the descriptor or the bf16 copy cannot be made.
    init(_ weights: Tensor, offset: Int = 0, dims: [Int], tag: dnnl_format_tag_t, precision: Precision) throws {
        self.precision = precision
        let count = dims.reduce(1, *)
        guard offset >= 0, dims.allSatisfy({ $0 > 0 }), offset + count <= weights.count else {
            throw ShapeError("weights", expected: "a \(dims) block at element \(offset)", got: weights.shape)
        }
        plainMD = try MemoryDesc.tagged(dims, tag, precision.dataType)
        switch precision {
        case .fp32:
            plainOwner = weights.storage
            plainRaw = UnsafeMutableRawPointer(weights.pointer + offset)
        case .bf16:
            let buffer = try AlignedBuffer(bytes: count * 2)
            BFloat16.convert(weights.pointer + offset, into: buffer.raw.assumingMemoryBound(to: UInt16.self), count: count)
            plainOwner = buffer
            plainRaw = buffer.raw
        }
    }

    /// The weights laid out as `md`.
    func buffer(for md: MemoryDesc) throws -> AlignedBuffer {
        if let hit = packed.first(where: { $0.md.equals(md) }) { return hit.buffer }
        let buffer: AlignedBuffer
        if let raw = plainRaw {
            buffer = try reorder(raw, from: plainMD, to: md)
            plainRaw = nil
            plainOwner = nil
        } else {
            buffer = try reorder(packed[0].buffer.raw, from: packed[0].md, to: md)
        }
        packed.append((md, buffer))
        return buffer
    }
}
