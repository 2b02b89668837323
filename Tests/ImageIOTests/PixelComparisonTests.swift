import XCTest
@testable import ImageIO

/// `sdcluster compare-images`: pixels decide, text chunks do not; folders pair by file name.
final class PixelComparisonTests: XCTestCase {
    private func image(_ width: Int, _ height: Int, _ seed: UInt8) -> RGBImage {
        RGBImage(width: width, height: height, pixels: (0..<(width * height * 3)).map { UInt8(truncatingIfNeeded: $0 * 7 + Int(seed)) })
    }

    func testEqualPixelsAreIdenticalAndEachDifferenceIsLocated() {
        let a = image(5, 4, 1)
        XCTAssertNil(a.pixelDifference(from: a))
        var b = a
        b[2, 1] = (b[2, 1].0 &+ 3, b[2, 1].1, b[2, 1].2)
        b[4, 3] = (b[4, 3].0, b[4, 3].1 &- 1, b[4, 3].2 &+ 1)
        XCTAssertEqual(a.pixelDifference(from: b), .pixels(count: 2, x: 2, y: 1, largestDelta: 3))
        XCTAssertEqual(a.pixelDifference(from: image(4, 5, 1)), .size(width: 5, height: 4, otherWidth: 4, otherHeight: 5))
        XCTAssertEqual(PixelDifference.pixels(count: 2, x: 2, y: 1, largestDelta: 3).description,
                       "2 pixel(s) differ, the first at (2, 1), by up to 3 in a channel")
    }

    func testFoldersPairByNameIgnoringTextChunksAndReportWhatIsMissingOrBroken() throws {
        let root = NSTemporaryDirectory() + "pixel-comparison-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: root) }
        let a = root + "/a", b = root + "/b"
        for folder in [a, b] { try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true) }
        // Same pixels, different parameters text (as a cluster's PNG against generate's).
        try PNG.write(image(8, 8, 1), to: a + "/00000-1.png", text: [("parameters", "a red circle\nEngine: one")])
        try PNG.write(image(8, 8, 1), to: b + "/00000-1.png", text: [("parameters", "a red circle\nEngine: two")])
        XCTAssertNotEqual(try Data(contentsOf: URL(fileURLWithPath: a + "/00000-1.png")),
                          try Data(contentsOf: URL(fileURLWithPath: b + "/00000-1.png")))
        try PNG.write(image(8, 8, 2), to: a + "/00001-2.png")
        try PNG.write(image(8, 8, 3), to: b + "/00001-2.png")
        try PNG.write(image(8, 8, 4), to: a + "/00002-3.png")
        try PNG.write(image(8, 8, 5), to: b + "/00003-4.png")
        try Data("not a png".utf8).write(to: URL(fileURLWithPath: a + "/00004-5.png"))
        try PNG.write(image(8, 8, 6), to: b + "/00004-5.png")
        try Data("{}\n".utf8).write(to: URL(fileURLWithPath: a + "/manifest.jsonl"))

        let pairs = try PixelComparison.folders(a, b)
        XCTAssertEqual(pairs.map(\.name), ["00000-1.png", "00001-2.png", "00002-3.png", "00003-4.png", "00004-5.png"])
        XCTAssertEqual(pairs[0].verdict, .identical)
        guard case .differs(.pixels(let count, _, _, _)) = pairs[1].verdict else { return XCTFail("\(pairs[1])") }
        XCTAssertEqual(count, 64)
        XCTAssertEqual(pairs[2].verdict, .missing(inFirst: true))
        XCTAssertEqual(pairs[3].verdict, .missing(inFirst: false))
        guard case .unreadable(let reason) = pairs[4].verdict else { return XCTFail("\(pairs[4])") }
        XCTAssertTrue(reason.contains(a + "/00004-5.png"), reason)
        XCTAssertEqual(PixelComparison.files(a + "/00000-1.png", b + "/00000-1.png"), .identical)
    }
}
