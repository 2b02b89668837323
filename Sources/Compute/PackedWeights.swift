import CDNNL

/// A layer's weights in the layouts oneDNN asked for. The first layout is reordered from the
/// PyTorch tensor, which is then dropped; a later primitive wanting another layout gets a
/// reorder of the first packed copy. So each layer holds one copy per layout, never the
/// plain tensor beside them.
final class PackedWeights: @unchecked Sendable {
    private var plain: Tensor?
    private let plainMD: dnnl_memory_desc_t
    private var packed: [(md: dnnl_memory_desc_t, buffer: AlignedBuffer)] = []

    /// `plainMD` describes `weights` as the primitives' logical weight shape.
    init(_ weights: Tensor, plainMD: dnnl_memory_desc_t) {
        plain = weights
        self.plainMD = plainMD
    }

    /// The weights laid out as `md`.
    func buffer(for md: dnnl_memory_desc_t) -> AlignedBuffer {
        if let hit = packed.first(where: { MemoryDesc.equal($0.md, md) }) { return hit.buffer }
        let buffer: AlignedBuffer
        if let weights = plain {
            buffer = reorder(UnsafeMutableRawPointer(weights.pointer), from: plainMD, to: md)
            plain = nil
        } else {
            buffer = reorder(packed[0].buffer.raw, from: packed[0].md, to: md)
        }
        packed.append((md, buffer))
        return buffer
    }
}
