import XCTest
@testable import ImageIO

final class PNGRoundTripTests: XCTestCase {
    private func randomImage(width: Int, height: Int, seed: UInt64) -> RGBImage {
        var state = seed
        let bytes = (0..<(width * height * 3)).map { _ -> UInt8 in
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return UInt8(truncatingIfNeeded: state >> 56)
        }
        return RGBImage(width: width, height: height, pixels: bytes)
    }

    func testEncodeThenDecodeGivesTheSamePixels() throws {
        for (w, h) in [(1, 1), (3, 5), (128, 128), (17, 64)] {
            let image = randomImage(width: w, height: h, seed: UInt64(w * 1000 + h))
            let decoded = try PNG.decode(PNG.encode(image))
            XCTAssertEqual(decoded, image, "\(w)x\(h)")
        }
    }

    func testEncodedFileStartsWithSignatureAndIHDRHoldsTheSize() throws {
        let bytes = try PNG.encode(RGBImage(width: 7, height: 3))
        XCTAssertEqual(Array(bytes[0..<8]), PNGChunks.signature)
        let chunks = try PNGChunks.read(bytes)
        XCTAssertEqual(chunks.first?.type, "IHDR")
        XCTAssertEqual(chunks.last?.type, "IEND")
        let ihdr = chunks[0].data
        XCTAssertEqual(PNGChunks.readUInt32(ihdr, at: 0), 7)
        XCTAssertEqual(PNGChunks.readUInt32(ihdr, at: 4), 3)
        XCTAssertEqual(ihdr[8], 8, "bit depth")
        XCTAssertEqual(ihdr[9], 2, "colour type RGB")
    }

    func testFileHelpersWriteAndReadBack() throws {
        let path = NSTemporaryDirectory() + "imageio-\(UUID().uuidString).png"
        defer { try? FileManager.default.removeItem(atPath: path) }
        let image = randomImage(width: 9, height: 4, seed: 3)
        try PNG.write(image, to: path, text: [("parameters", "a red circle")])
        XCTAssertEqual(try PNG.read(from: path), image)
        XCTAssertEqual(try PNG.textChunks(at: path).map { $0.1 }, ["a red circle"])
    }

    func testReadingAMissingFileSaysWhichPath() {
        XCTAssertThrowsError(try PNG.read(from: "/nonexistent/x.png")) { error in
            XCTAssertTrue("\(error)".contains("/nonexistent/x.png"))
        }
    }
}
