import Compute

/// What one text conditions the UNet with: the cross-attention context `[1, tokens, D]` and, for
/// SDXL, the pooled text embedding `[1, P]` that `add_embedding` takes with the time ids. The
/// unit that `generate` and the cluster's text tasks (RESULT-TEXT, TASK-UNET) both carry, so
/// every family's text reaches the UNet the same way.
public struct TextConditioning: @unchecked Sendable {
    public var context: Tensor
    /// nil for SD 1.x/2.x, whose UNet takes the context only.
    public var pooled: Tensor?

    public init(context: Tensor, pooled: Tensor? = nil) {
        self.context = context
        self.pooled = pooled
    }
}

extension StableDiffusionPipeline {
    /// The conditioning of `text` read for `slot` with `encoding`, as `generate` uses it: the
    /// text embedding (SD 1.x/2.x), or both SDXL encoders' context and pooled embedding, zeros
    /// for an empty negative prompt when the model forces them (diffusers'
    /// `force_zeros_for_empty_prompt`). Cached like `embed`. Also returns the tokens cut.
    public func conditioning(_ text: String, slot: TextSlot,
                             encoding: TextEncoding) throws -> (conditioning: TextConditioning, truncatedTokens: Int) {
        guard let sdxlText else {
            let embedded = try embed(text, encoding: encoding)
            return (TextConditioning(context: embedded.embedding), embedded.truncatedTokens)
        }
        if slot == .uncond && text.isEmpty && location.forceZerosForEmptyPrompt {
            // diffusers: torch.zeros_like(prompt_embeds) and of the pooled embedding, shaped as
            // one chunk of 77 tokens would be.
            let tokens = sdxlText.first.tokenizer.modelMaxLength
            return (TextConditioning(context: Tensor(zeros: [1, tokens, sdxlText.contextWidth]),
                                     pooled: Tensor(zeros: [1, sdxlText.pooledWidth])), 0)
        }
        let encoded = try sdxlEncode(text, encoding: encoding, text: sdxlText)
        return (TextConditioning(context: encoded.context, pooled: Tensor(shape: [1, encoded.pooled.count], values: encoded.pooled)),
                encoded.truncatedTokens)
    }

    /// One UNet prediction per item, each with its conditioning; `timeIds` (SDXL's six, per
    /// item) are used with the pooled embeddings and must be given exactly when the
    /// conditionings carry them. Throws `UNetInputError` for a conditioning this UNet cannot
    /// take (SDXL's without a pooled embedding, or the reverse).
    public func predictions(latents: [Tensor], timesteps: [Float], conditionings: [TextConditioning],
                            timeIds: [[Float]]?) throws -> [Tensor] {
        let pooled = conditionings.compactMap(\.pooled)
        var added: [AddedConditioning]?
        if !pooled.isEmpty || timeIds != nil {
            guard pooled.count == conditionings.count, let timeIds, timeIds.count == conditionings.count else {
                throw UNetInputError("\(conditionings.count) evaluations came with \(pooled.count) pooled text embeddings and "
                    + "\(timeIds?.count ?? 0) time ids: SDXL needs both for every evaluation, other models neither")
            }
            added = zip(pooled, timeIds).map { AddedConditioning(pooledText: $0.values, timeIds: $1) }
        }
        return try unet.predictions(latents: latents, timesteps: timesteps, contexts: conditionings.map(\.context), added: added)
    }
}
