import Compute
import StableDiffusion
import XCTest

/// Merged LoRA weights do not depend on the thread count: the merge runs on the engine's matmul,
/// whose tiling is fixed by the shapes. A whole image with both fixture LoRAs has the same bits on
/// one and two threads, every operation forced onto all threads as in ThreadInvarianceTests.
final class LoRAThreadInvarianceTests: XCTestCase {
    func testALoRAImageGivesTheSameBitsOnOneAndTwoThreads() throws {
        let request = GenerationRequest(prompt: "a red circle <lora:kohya-locon:0.6> <lora:peft:-0.7>", seed: 3, steps: 4,
                                        guidanceScale: 7.5, width: 32, height: 32)
        func image() throws -> [UInt8] {
            let base = try ModelLocation.open(Fixtures.path("tiny-sd"))
            let groups = try LoRAGroups([request], library: LoRALibrary(directory: Fixtures.path("lora")), model: base)
            return try StableDiffusionPipeline(location: base.applyingLoRAs(groups.groups[0].loras)).generate(request).rgb
        }
        let one = try Threads.withEveryOperationParallel(threads: 1, image)
        let two = try Threads.withEveryOperationParallel(threads: 2, image)
        XCTAssertEqual(one.count, 32 * 32 * 3)
        XCTAssertTrue(one == two, "\(zip(one, two).filter { $0 != $1 }.count) bytes differ between 1 and 2 threads")
    }
}
