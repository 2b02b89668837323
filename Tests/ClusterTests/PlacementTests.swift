import XCTest
import StableDiffusion
@testable import Cluster

/// Which waiting evaluations one idle worker gets under each policy.
final class PlacementTests: XCTestCase {
    private let guided: [TextSlot] = [.uncond, .cond]

    private func waiting(_ images: Int) -> [Placement.Waiting] {
        (0..<images).map { Placement.Waiting(image: $0, slots: guided) }
    }

    func testSplitGivesEachWorkerOnePassOfAnImage() {
        let chosen = Placement.choose(waiting(1), policy: .split, idleWorkers: 2, maxBatch: 8)
        XCTAssertEqual(chosen, [Placement.Waiting(image: 0, slots: [.uncond])])
    }

    func testPackKeepsBothPassesTogether() {
        let chosen = Placement.choose(waiting(1), policy: .pack, idleWorkers: 2, maxBatch: 8)
        XCTAssertEqual(chosen, [Placement.Waiting(image: 0, slots: guided)])
    }

    func testAutoSplitsWhenWorkersWouldIdleAndPacksWhenTheQueueIsDeep() {
        XCTAssertEqual(Placement.choose(waiting(1), policy: .auto, idleWorkers: 2, maxBatch: 8).flatMap(\.slots).count, 1)
        let deep = Placement.choose(waiting(6), policy: .auto, idleWorkers: 2, maxBatch: 8)
        XCTAssertEqual(deep.map(\.image), [0, 1, 2], "half of 12 evaluations, whole images")
        XCTAssertTrue(deep.allSatisfy { $0.slots == self.guided })
    }

    func testBatchesSpanImagesUpToTheWorkersMaximum() {
        let chosen = Placement.choose(waiting(10), policy: .pack, idleWorkers: 1, maxBatch: 5)
        XCTAssertEqual(chosen.map(\.image), [0, 1], "two whole images fit in 5; half an image is not taken")
        XCTAssertEqual(Placement.choose(waiting(3), policy: .split, idleWorkers: 1, maxBatch: 8).map(\.slots),
                       [[.uncond], [.uncond], [.uncond]], "split: at most one pass per image in one task")
    }

    func testLateStageSinglePassesAndTinyBatches() {
        let late = (0..<4).map { Placement.Waiting(image: $0, slots: [.uncond]) }
        XCTAssertEqual(Placement.choose(late, policy: .pack, idleWorkers: 2, maxBatch: 8).map(\.image), [0, 1])
        XCTAssertEqual(Placement.choose(waiting(1), policy: .pack, idleWorkers: 1, maxBatch: 1),
                       [Placement.Waiting(image: 0, slots: [.uncond])], "a batch of one takes one pass")
        XCTAssertEqual(Placement.choose([], policy: .auto, idleWorkers: 3, maxBatch: 8), [])
    }
}
