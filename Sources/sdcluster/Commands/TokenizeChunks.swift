import StableDiffusion

extension TokenizeCommand {
    /// `--chunks`: the prompt as `PromptChunker` splits it, one block per chunk, one line per
    /// token with its weight (padding after the end token left out).
    func printChunks(tokenizer: CLIPTokenizer, length: Int) throws {
        let chunks = try PromptChunker(tokenizer: tokenizer, chunkLength: length - 2).chunks(PromptAttention.parse(prompt))
        for (index, chunk) in chunks.enumerated() {
            print("chunk \(index + 1) of \(chunks.count)\(chunk.isWeighted ? " (weighted: rows scaled, then the chunk's mean restored)" : ""):")
            // The content ends at the last token that is not the end token (padding follows).
            var end = chunk.tokens.count - 1
            while end > 1, chunk.tokens[end - 1] == tokenizer.endID { end -= 1 }
            let strings = tokenizer.tokenStrings(Array(chunk.tokens[0...end]))
            for (i, string) in strings.enumerated() {
                let id = String(chunk.tokens[i]), weight = chunk.multipliers[i]
                print(String(repeating: " ", count: max(0, 6 - id.count)) + id + "  " + string + (weight == 1 ? "" : "  x\(weight)"))
            }
            print("  (\(end - 1) tokens, padded to \(length))")
        }
        print("embedding: [1, \(chunks.count * length), width]")
    }
}
