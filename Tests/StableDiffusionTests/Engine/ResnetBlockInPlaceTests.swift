import Compute
@testable import StableDiffusion
import XCTest

/// A ResNet block given its input with `consume` (as the VAE and UNet blocks do, to free each
/// activation as soon as it is dead) computes the same bits as with an input the caller keeps,
/// and leaves a kept input alone: with a 1x1 shortcut (norm1 then overwrites the input) and with
/// the identity shortcut (the input is the residual conv2 sums into).
final class ResnetBlockInPlaceTests: XCTestCase {
    func testConsumedInputGivesTheSameBitsAndAKeptInputIsLeftAlone() throws {
        for (inChannels, outChannels, time) in [(64, 32, false), (32, 32, false), (32, 64, true)] {
            let weights = RandomWeights(seed: UInt64(inChannels + outChannels))
            let block = try ResnetBlock2D(WeightScope(weights), in: inChannels, out: outChannels,
                                          timeEmbeddingChannels: time ? 16 : nil, groups: 8, epsilon: 1e-6)
            let embedding: Tensor? = time ? try RandomWeights(seed: 9).tensor("t", shape: [1, 16]) : nil
            let x = try RandomWeights(seed: 5).tensor("x", shape: [1, 12, 10, inChannels])
            let kept = x.values
            let fromKept = try block(x, timeEmbedding: embedding)
            XCTAssertEqual(x.values, kept, "\(inChannels)->\(outChannels): the caller's input is unchanged")
            let owned = x.copy()
            let fromConsumed = try block(consume owned, timeEmbedding: embedding)
            XCTAssertEqual(fromConsumed.shape, [1, 12, 10, outChannels])
            XCTAssertEqual(fromConsumed.values, fromKept.values, "\(inChannels)->\(outChannels): the same bits")
        }
    }
}
