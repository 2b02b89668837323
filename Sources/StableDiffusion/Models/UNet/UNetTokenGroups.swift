import Compute

extension UNet2DConditionModel {
    /// One prediction (`[1, C, h, w]`) per item: latent `[1, C, h, w]`, timestep, text embedding
    /// `[1, tokens, D]`. Items whose embeddings have different token counts (A1111-style long
    /// prompts, `77 k` tokens) cannot share one `[N, tokens, D]` context, so they run in one call
    /// per token count, in order of first appearance. The UNet computes every sample of a batch
    /// on its own (batch invariance is tested bit for bit), so the grouping changes no bits.
    /// `added`: SDXL's conditioning per item (nil for other models). Throws what `callAsFunction` throws.
    public func predictions(latents: [Tensor], timesteps: [Float], contexts: [Tensor],
                            added: [AddedConditioning]? = nil) throws -> [Tensor] {
        precondition(latents.count == timesteps.count && latents.count == contexts.count && (added?.count ?? latents.count) == latents.count,
                     "one timestep, context and added conditioning per latent")
        var groups: [(tokens: Int, items: [Int])] = []
        for (i, context) in contexts.enumerated() {
            let tokens = context.shape.count == 3 ? context.shape[1] : -1
            if let g = groups.firstIndex(where: { $0.tokens == tokens }) { groups[g].items.append(i) } else { groups.append((tokens, [i])) }
        }
        var out = [Tensor?](repeating: nil, count: latents.count)
        for group in groups {
            let prediction = try self(sample: Tensor.concatenateBatch(group.items.map { latents[$0] }),
                                      timesteps: group.items.map { timesteps[$0] },
                                      context: Tensor.concatenateBatch(group.items.map { contexts[$0] }),
                                      added: added.map { all in group.items.map { all[$0] } })
            for (k, i) in group.items.enumerated() { out[i] = prediction.sample(k) }
        }
        return out.map { $0! }
    }
}
