import Cluster
import StableDiffusion
import XCTest

/// SDXL runs in `generate` only: a worker given an SDXL model refuses to start, saying why and
/// what to do, instead of failing its first UNet task.
final class SDXLWorkerRefusalTests: XCTestCase {
    func testAWorkerRefusesAnSDXLModelWithAClearMessage() throws {
        let pipeline = try StableDiffusionPipeline(location: ModelLocation.open(LocalCluster.fixtureModel("tiny-sdxl")))
        XCTAssertThrowsError(try PipelineEngine.checkClusterSupport(pipeline)) { error in
            let message = "\(error)"
            XCTAssertTrue(message.contains("tiny-sdxl is an SDXL model"), message)
            XCTAssertTrue(message.contains("sdcluster generate"), message)
        }
    }

    func testSD1AndSD2ModelsAreAccepted() throws {
        for name in ["tiny-sd", "tiny-sd2"] {
            let pipeline = try StableDiffusionPipeline(location: ModelLocation.open(LocalCluster.fixtureModel(name)))
            XCTAssertNoThrow(try PipelineEngine.checkClusterSupport(pipeline), name)
        }
    }
}
