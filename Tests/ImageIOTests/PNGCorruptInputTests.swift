import XCTest
@testable import ImageIO

final class PNGCorruptInputTests: XCTestCase {
    private func validPNG() throws -> [UInt8] {
        try PNG.encode(RGBImage(width: 8, height: 8, fill: (1, 2, 3)), text: [("parameters", "p")])
    }

    func testNonPNGBytesAreRejected() {
        for bytes: [UInt8] in [[], Array("GIF89a.......".utf8), [0x89, 0x50, 0x4E]] {
            XCTAssertThrowsError(try PNG.decode(bytes)) { XCTAssertEqual($0 as? PNGError, .notPNG) }
            XCTAssertThrowsError(try PNG.textChunks(bytes)) { XCTAssertEqual($0 as? PNGError, .notPNG) }
        }
    }

    func testTruncatedFilesAreRejectedAsTruncated() throws {
        let bytes = try validPNG()
        for cut in [10, 30, bytes.count / 2, bytes.count - 1] {
            XCTAssertThrowsError(try PNG.decode(Array(bytes[0..<cut])), "cut at \(cut)") { error in
                guard case .truncated = error as? PNGError else { return XCTFail("\(error)") }
            }
        }
    }

    func testAFlippedByteFailsTheCRCCheck() throws {
        var bytes = try validPNG()
        let idat = try PNGChunks.read(bytes).first { $0.type == "IDAT" }!
        bytes[idat.offset + 9] ^= 0x40
        XCTAssertThrowsError(try PNG.decode(bytes)) { error in
            XCTAssertEqual(error as? PNGError, .badCRC(chunk: "IDAT", at: idat.offset))
        }
    }

    func testAFileNotStartingWithIHDRIsRejected() throws {
        let png = PNGChunks.signature + HandMadePNG.chunk("IEND", [])
        XCTAssertThrowsError(try PNG.decode(png)) { XCTAssertEqual($0 as? PNGError, .missingIHDR) }
    }

    func testBadPixelDataIsReportedByLibpng() throws {
        // Valid chunk structure, but IDAT holds bytes that are not a zlib stream.
        let ihdr = HandMadePNG.be32(2) + HandMadePNG.be32(2) + [8, 2, 0, 0, 0]
        let png = PNGChunks.signature + HandMadePNG.chunk("IHDR", ihdr)
            + HandMadePNG.chunk("IDAT", [1, 2, 3, 4, 5]) + HandMadePNG.chunk("IEND", [])
        XCTAssertThrowsError(try PNG.decode(png)) { error in
            guard case .libpng = error as? PNGError else { return XCTFail("\(error)") }
        }
    }

    func testZeroSizedImagesCannotBeEncoded() {
        XCTAssertThrowsError(try PNG.encode(RGBImage(width: 0, height: 3)))
    }
}
