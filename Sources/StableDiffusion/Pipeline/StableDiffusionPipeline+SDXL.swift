import Compute

extension StableDiffusionPipeline {
    /// SDXL's text side when `location` has a second text encoder, checked against the UNet's
    /// widths; nil for SD 1.x/2.x.
    static func sdxlPromptEncoder(location: ModelLocation, firstTokenizer: CLIPTokenizer, firstTokenizerDirectory: String,
                                  firstEncoder: CLIPTextModel,
                                  unet: UNet2DConditionModel, precision: Precision,
                                  textualInversions: Bool) throws -> SDXLPromptEncoder? {
        guard let second = location.textEncoder2 else {
            if unet.needsAddedConditioning {
                throw UnsupportedModelError(component: "unet/config.json", detail: "addition_embed_type 'text_time' (SDXL) "
                    + "needs the second text encoder (text_encoder_2/), which \(location.name) does not have")
            }
            return nil
        }
        if textualInversions {
            throw UnsupportedModelError(component: location.name, detail: "textual inversion is not supported for SDXL "
                + "models yet (SDXL embeddings hold vectors for both text encoders); run without --embeddings")
        }
        // Without its own tokenizer_2/ the second tokenizer is the first's vocabulary padded with "!", as SDXL's is.
        let tokenizer2 = try location.tokenizer2Directory.map { try CLIPTokenizer(directory: $0) }
            ?? CLIPTokenizer(directory: firstTokenizerDirectory, padToken: ModelLocation.stableDiffusion2PadToken)
        let encoder2 = try CLIPTextModel(config: second.config, weights: second.weights, precision: precision)
        let text = try SDXLPromptEncoder(first: PromptEncoder(tokenizer: firstTokenizer, textEncoder: firstEncoder),
                                         second: PromptEncoder(tokenizer: tokenizer2, textEncoder: encoder2),
                                         secondConfig: second.config, secondWeights: second.weights, precision: precision)
        try second.weights.checkAllUsed()
        guard text.contextWidth == unet.crossAttentionDim, text.pooledWidth == unet.pooledTextChannels else {
            throw UnsupportedModelError(component: "unet/config.json", detail: "the text encoders give a \(text.contextWidth)-wide "
                + "context and a \(text.pooledWidth)-wide pooled embedding; the UNet takes \(unet.crossAttentionDim) "
                + "(cross_attention_dim) and \(unet.pooledTextChannels.map(String.init) ?? "none") (projection_class_embeddings_input_dim - 6 x addition_time_embed_dim)")
        }
        return text
    }

    /// Both encoders' reading of `prompt`, cached like `embed`'s (the context and the pooled
    /// embedding under two keys of this model).
    func sdxlEncode(_ prompt: String, encoding: TextEncoding,
                    text: SDXLPromptEncoder) throws -> (context: Tensor, pooled: [Float], truncatedTokens: Int) {
        let variant = [encoding.keyVariant, "sdxl"].filter { !$0.isEmpty }.joined(separator: ";")
        let contextKey = EmbeddingKey(modelHash: location.contentHash, text: prompt, variant: variant + ";context").id
        let pooledKey = EmbeddingKey(modelHash: location.contentHash, text: prompt, variant: variant + ";pooled").id
        let truncated = try text.first.prepare(prompt, syntax: encoding.syntax).truncatedTokenCount
        if let context = embeddingCache.lookup(contextKey), let pooled = embeddingCache.lookup(pooledKey) {
            return (context, pooled.values, truncated)
        }
        let encoded = try text.encode(prompt, encoding: encoding)
        embeddingCache.insert(encoded.context, id: contextKey)
        embeddingCache.insert(Tensor(shape: [1, encoded.pooled.count], values: encoded.pooled), id: pooledKey)
        return encoded
    }
}
