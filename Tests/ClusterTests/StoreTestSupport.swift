import XCTest
import StableDiffusion
@testable import Cluster

/// A fresh folder under the system temp directory, removed when the test ends.
func temporaryFolder(_ test: XCTestCase) throws -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("sdcluster-tests-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    test.addTeardownBlock { try? FileManager.default.removeItem(at: url) }
    return url
}

func requests(_ count: Int) -> [GenerationRequest] {
    (0..<count).map { i in
        GenerationRequest(prompt: "shape \(i)", negativePrompt: i % 2 == 0 ? "" : "blurry", seed: UInt64(1000 + i),
                          steps: 10 + i, guidanceCutoff: i % 3 == 0 ? 1 : 0.5, scheduler: .ddim)
    }
}

func outcome(_ index: Int, seed: Int) -> ImageOutcome {
    ImageOutcome(fileName: "\(index)-\(seed).png", manifestLine: #"{"index":\#(index)}"#, unetEvaluations: 30 + index,
                 workers: ["w1", "w2"])
}
