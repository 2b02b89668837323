import ArgumentParser
import Compute
import Foundation

/// `sdcluster bench attention`: the attention kernel alone (fused, or the oneDNN path with `--onednn`).
struct BenchAttention: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "attention", abstract: "Multi-head attention alone (self-attention over latent pixels, or cross-attention on 77 text tokens).")

    @OptionGroup var options: BenchOptions

    @Option(help: "Query tokens (pixels of the latent: 4096 at 64x64).")
    var tokens: Int = 4096

    @Option(help: "Key tokens (equal to --tokens for self-attention, 77 for cross-attention).")
    var keys: Int?

    @Option(help: "Heads.")
    var heads: Int = 8

    @Option(name: .customLong("head-dim"), help: "Channels per head.")
    var headDim: Int = 40

    @Option(help: "Largest score tile in floats (query rows x keys) of the oneDNN path; default: the engine's.")
    var tile: Int?

    @Flag(help: "Run the oneDNN path (score and value matmuls with the softmax between them) instead of the fused kernel.")
    var onednn = false

    func run() throws {
        try options.apply()
        if let tile { Attention.maxTileFloats = tile }
        Attention.useFusedKernel = !onednn
        let c = heads * headDim, k = keys ?? tokens
        let q = Tensor(zeros: [tokens, c]), kv = Tensor(zeros: [k, 2 * c]), out = Tensor(uninitialized: [tokens, c])
        let result = try options.time {
            try Attention.compute(q: .init(q.pointer, rowStride: c), k: .init(kv.pointer, rowStride: 2 * c),
                              v: .init(kv.pointer + c, rowStride: 2 * c), queryCount: tokens, keyCount: k,
                              heads: heads, headDim: headDim, precision: options.precision, out: out.pointer, outStride: c)
        }
        options.report("attention \(tokens)x\(k) h\(heads)x\(headDim)\(onednn ? " (oneDNN)" : "")", result)
        options.printProfile()
    }
}
