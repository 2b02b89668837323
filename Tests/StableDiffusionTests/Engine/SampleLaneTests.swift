import Compute
import StableDiffusion
import XCTest

/// The samples of a batch run side by side on lanes of one thread each (`Threads.forEachSample`):
/// the same bits as one after the other on all threads, for the UNet in every precision the CPU
/// has and for whole images. Every operation is forced onto all threads (the small-work
/// thresholds at 1), so that one-by-one really takes the 2-thread primitives and loops.
final class SampleLaneTests: XCTestCase {
    /// `body`'s result on 2 threads with the samples one by one, then in lanes.
    private func oneByOneAndInLanes<T>(_ body: () throws -> T) throws -> (T, T) {
        try Threads.withEveryOperationParallel(threads: 2) {
            let oneByOne = try body()  // `withEveryOperationParallel` turns the lanes off
            Threads.sampleLanes = true
            return (oneByOne, try body())
        }
    }

    /// A batch of 3 from the fixture's samples (two run in lanes, the third alone on 2 threads).
    private func batchOfThree(_ io: [String: Tensor]) throws -> (sample: Tensor, timesteps: [Float], context: Tensor) {
        let sample = io["sample"]!, context = io["encoder_hidden_states"]!, timesteps = io["timestep"]!.values
        let n = sample.shape[0], picks = [0, 1 % n, 0]
        return (try Tensor.concatenateBatch(picks.map { sample.sample($0) }), picks.map { timesteps[$0 % timesteps.count] },
                try Tensor.concatenateBatch(picks.map { context.sample($0) }))
    }

    func testUNetSamplesInLanesGiveTheBitsOfOneByOne() throws {
        let precisions: [Precision] = EngineISA.hasNativeBFloat16 ? [.fp32, .bf16] : [.fp32]
        for precision in precisions {
            for (folder, io) in [("tiny-sd/unet", "unet-a"), ("unet-b", "unet-b")] {
                let component = try ModelComponent<UNetConfig>.open(directory: Fixtures.path(folder))
                let unet = try UNet2DConditionModel(config: component.config, weights: component.weights, precision: precision)
                let batch = try batchOfThree(try Fixtures.io(io))
                let (oneByOne, inLanes) = try oneByOneAndInLanes { () throws -> [Float] in
                    try unet(sample: batch.sample, timesteps: batch.timesteps, context: batch.context).values
                }
                XCTAssertEqual(oneByOne.count, batch.sample.count)
                XCTAssertTrue(oneByOne == inLanes,
                              "\(folder) \(precision): \(zip(oneByOne, inLanes).filter { $0 != $1 }.count) of \(oneByOne.count) values differ")
            }
        }
    }

    func testImagesWithSamplesInLanesAreTheImagesOfOneByOne() throws {
        // Guided steps (2 samples) and, after the cut-off, single ones; an SDXL model too.
        let cases: [(String, GenerationRequest)] = [
            ("tiny-sd", GenerationRequest(prompt: "a red circle on a blue background", seed: 7, steps: 5, guidanceCutoff: 0.5,
                                          width: 64, height: 64)),
            ("tiny-sdxl", GenerationRequest(prompt: "a star", negativePrompt: "green", seed: 8, steps: 4,
                                            scheduler: .dpmpp2mKarras, width: 48, height: 32)),
        ]
        for (folder, request) in cases {
            let pipeline = try StableDiffusionPipeline(location: ModelLocation.open(Fixtures.path(folder)))
            let (oneByOne, inLanes) = try oneByOneAndInLanes { try pipeline.generate(request).rgb }
            XCTAssertEqual(oneByOne.count, request.width! * request.height! * 3)
            XCTAssertTrue(oneByOne == inLanes, "\(folder): \(zip(oneByOne, inLanes).filter { $0 != $1 }.count) bytes differ")
        }
    }
}
