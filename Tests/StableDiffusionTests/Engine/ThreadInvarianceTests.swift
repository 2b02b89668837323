import Compute
import StableDiffusion
import XCTest

/// An image's bits do not depend on the thread count: the UNet, the text encoder, the VAE and a
/// whole `generate` give identical results on 1 and 2 threads. Every operation is forced onto
/// all threads here (the small-work thresholds set to 1), so that the tiny test models really
/// take the multi-threaded code paths a full-size model takes. Run by `scripts/test.sh` also
/// with oneDNN capped at AVX2, where the C kernels run their AVX2 code.
final class ThreadInvarianceTests: XCTestCase {
    /// `body`'s result on one thread and on two.
    private func onOneAndTwoThreads<T>(_ body: () throws -> T) rethrows -> (T, T) {
        (try Threads.withEveryOperationParallel(threads: 1, body), try Threads.withEveryOperationParallel(threads: 2, body))
    }

    func testUNetGivesTheSameBitsOnOneAndTwoThreads() throws {
        // Fresh models per thread count: primitives are created for the count in force.
        for (folder, io) in [("tiny-sd/unet", "unet-a"), ("unet-b", "unet-b")] {
            let data = try Fixtures.io(io)
            let (one, two) = try onOneAndTwoThreads { () throws -> [Float] in
                let component = try ModelComponent<UNetConfig>.open(directory: Fixtures.path(folder))
                let unet = try UNet2DConditionModel(config: component.config, weights: component.weights)
                return try unet(sample: data["sample"]!, timesteps: data["timestep"]!.values, context: data["encoder_hidden_states"]!).values
            }
            XCTAssertEqual(one.count, two.count)
            XCTAssertTrue(one == two, "\(folder): \(zip(one, two).filter { $0 != $1 }.count) of \(one.count) values differ between 1 and 2 threads")
        }
    }

    func testWholeImageGivesTheSameBitsOnOneAndTwoThreads() throws {
        let requests = [
            GenerationRequest(prompt: "a red circle on a blue background", seed: 7, steps: 6, guidanceCutoff: 0.5, width: 64, height: 64),
            GenerationRequest(prompt: "a star", negativePrompt: "green", seed: 8, steps: 5, scheduler: .eulerAncestral, width: 48, height: 32),
        ]
        for request in requests {
            let (one, two) = try onOneAndTwoThreads { () throws -> [UInt8] in
                let pipeline = try StableDiffusionPipeline(location: ModelLocation.open(Fixtures.path("tiny-sd")))
                return try pipeline.generate(request).rgb
            }
            XCTAssertEqual(one.count, request.width! * request.height! * 3)
            XCTAssertTrue(one == two, "seed \(request.seed): \(zip(one, two).filter { $0 != $1 }.count) bytes differ between 1 and 2 threads")
        }
    }

    /// SDXL: both text encoders, the pooled text and time ids, zeros for the empty negative prompt.
    func testAnSDXLImageGivesTheSameBitsOnOneAndTwoThreads() throws {
        let request = GenerationRequest(prompt: "a red circle on a blue background", seed: 9, steps: 5, guidanceCutoff: 0.6,
                                        scheduler: .dpmpp2mKarras, width: 48, height: 32)
        let (one, two) = try onOneAndTwoThreads { () throws -> [UInt8] in
            let pipeline = try StableDiffusionPipeline(location: ModelLocation.open(Fixtures.path("tiny-sdxl")))
            return try pipeline.generate(request).rgb
        }
        XCTAssertEqual(one.count, 48 * 32 * 3)
        XCTAssertTrue(one == two, "\(zip(one, two).filter { $0 != $1 }.count) bytes differ between 1 and 2 threads")
    }
}
