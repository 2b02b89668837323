import XCTest
@testable import ImageIO

final class PNGTextChunkTests: XCTestCase {
    private let image = RGBImage(width: 4, height: 2, fill: (20, 40, 60))

    func testLatin1TextRoundTripsAsTEXt() throws {
        let text = "a red circle\nNegative prompt: blurry\nSteps: 25, Sampler: DDIM, CFG scale: 7.5, Seed: 42, Size: 128x128 café ±½"
        let bytes = try PNG.encode(image, text: [("parameters", text), ("Software", "sdcluster")])
        let chunks = try PNGChunks.read(bytes)
        XCTAssertEqual(chunks.map(\.type).prefix(3), ["IHDR", "tEXt", "tEXt"], "text right after IHDR")
        let read = try PNG.textChunks(bytes)
        XCTAssertEqual(read.map { $0.0 }, ["parameters", "Software"])
        XCTAssertEqual(read.map { $0.1 }, [text, "sdcluster"])
        XCTAssertEqual(try PNG.decode(bytes), image, "pixels unaffected by the inserted chunks")
    }

    func testTEXtIsStoredAsLatin1BytesPerSpec() throws {
        let bytes = try PNG.encode(image, text: [("k", "é")])
        let chunk = try PNGChunks.read(bytes)[1]
        XCTAssertEqual(chunk.data, [0x6B, 0, 0xE9])
    }

    func testNonLatin1TextRoundTripsAsITXt() throws {
        let text = "a 赤い circle ✨ on a синий background"
        let bytes = try PNG.encode(image, text: [("parameters", text)])
        XCTAssertEqual(try PNGChunks.read(bytes)[1].type, "iTXt")
        XCTAssertEqual(try PNG.textChunks(bytes).first?.1, text)
    }

    func testWrittenChunkCRCMatchesAnIndependentCRC() throws {
        let bytes = try PNG.encode(image, text: [("parameters", "x")])
        let c = try PNGChunks.read(bytes)[1]
        let stored = PNGChunks.readUInt32(bytes, at: c.offset + 8 + c.data.count)
        XCTAssertEqual(stored, HandMadePNG.crc(Array("tEXt".utf8) + c.data))
    }

    func testCRC32OfTheStandardCheckString() {
        // The CRC-32 catalogue's check value for "123456789".
        XCTAssertEqual(CRC32.checksum(Array("123456789".utf8)), 0xCBF4_3926)
    }

    func testReadsTextFromAHandMadeFile() throws {
        var png = HandMadePNG.make(width: 1, height: 1, colorType: 2, rows: [[1, 2, 3]])
        let text = HandMadePNG.chunk("tEXt", Array("Title".utf8) + [0] + Array("hello".utf8))
        png.insert(contentsOf: text, at: 8 + 25)
        XCTAssertEqual(try PNG.textChunks(png).first?.0, "Title")
        XCTAssertEqual(try PNG.textChunks(png).first?.1, "hello")
    }

    func testInvalidKeywordsAreRefused() {
        for bad in ["", String(repeating: "k", count: 80), " lead", "tab\tkey", "键"] {
            XCTAssertThrowsError(try PNG.encode(image, text: [(bad, "v")]), "keyword \"\(bad)\"") { error in
                XCTAssertEqual(error as? PNGError, .badKeyword(bad))
            }
        }
    }

    func testTextWithNULIsRefused() {
        XCTAssertThrowsError(try PNG.encode(image, text: [("k", "a\u{0}b")]))
    }
}
