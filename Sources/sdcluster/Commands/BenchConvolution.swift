import ArgumentParser
import Compute
import Foundation

/// `sdcluster bench conv`: one 3x3 convolution, the UNet's most common operation.
struct BenchConvolution: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "conv", abstract: "One 3x3 convolution (channels-last), e.g. 320 channels at 64x64 as in SD 1.5's first block.")

    @OptionGroup var options: BenchOptions

    @Option(help: "Input and output channels.")
    var channels: Int = 320

    @Option(help: "Spatial size (square).")
    var size: Int = 64

    func run() throws {
        try options.apply()
        options.report("conv3x3 \(channels)ch @\(size)x\(size)", try Self.measure(channels: channels, size: size, options: options))
    }

    /// Times one 3x3 convolution (what `--peak` calls the machine's peak).
    static func measure(channels: Int = 320, size: Int = 64, options: BenchOptions) throws -> (seconds: Double, flops: Double) {
        let weights = Tensor(zeros: [channels, channels, 3, 3]), bias = Tensor(zeros: [channels])
        let conv = try Conv2D(weight: weights, bias: bias, padding: 1, precision: options.precision)
        let x = Tensor(zeros: [1, size, size, channels])
        return try options.time { _ = try conv(x) }
    }
}
